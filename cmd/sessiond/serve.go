package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/spf13/cobra"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/api/web"
)

func serveCmd(env *environment) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Serve the HTTP API (the default command)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return serve(cmd.Context(), env) },
	}
}

// serve runs the HTTP server until ctx is cancelled, then drains in-flight requests and closes
// the store.
func serve(ctx context.Context, env *environment) error {
	s := &server{env: env}
	if err := s.start(ctx); err != nil {
		s.abort()
		return err
	}
	return s.stop(s.wait(ctx))
}

// server is what `serve` runs. start brings the parts up in order, each step needing the
// ones before it; stop takes them down in reverse; abort undoes a start that failed part-way.
type server struct {
	env      *environment
	a        *app
	draining atomic.Bool // set at shutdown: /readyz answers 503 from then on

	http       *http.Server
	ln         net.Listener
	metricsSrv *http.Server // nil: /metrics is on the API's port

	stopWork     context.CancelFunc // ends the purges and the cache listener; nil: not started
	sched        *cron.Cron
	listenerDone chan struct{}
	touchesDone  chan struct{}      // the touch flusher's end, after its last flush
	stopMailLoop context.CancelFunc // ends the outbox sender; nil: not running
	mailDone     chan struct{}

	served     chan error // srv.Serve's end
	serveEnded bool       // served has been received from
}

func (s *server) start(ctx context.Context) error {
	for _, step := range []func(context.Context) error{
		s.openStore,       // configuration, logger, store, use cases
		s.prepareStore,    // migrations (SESSIOND_MIGRATE_ON_START), the default plan, the first admin
		s.buildHTTP,       // identity providers, pages, the API
		s.listen,          // the API's listener, and the metrics' own when configured
		s.startBackground, // the purge schedule, the cache's change listener, the touch flusher
		s.startMail,       // the outbox sender (mail/SMTP)
	} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	s.served = make(chan error, 1)
	go func() { s.served <- s.http.Serve(s.ln) }()
	return nil
}

func (s *server) openStore(context.Context) error {
	a, err := newApp(s.env)
	if err != nil {
		return err
	}
	s.a = a
	return nil
}

func (s *server) prepareStore(ctx context.Context) error {
	if s.a.cfg.MigrateOnStart {
		if err := s.a.migrate(ctx); err != nil {
			return err
		}
	}
	if err := s.a.users.CheckDefaultPlan(ctx); err != nil {
		return err
	}
	return s.a.bootstrapAdmin(ctx)
}

func (s *server) buildHTTP(ctx context.Context) error {
	a := s.a
	oidc, err := a.newOIDC(ctx)
	if err != nil {
		return err
	}
	// /metrics on the API's port, unless it has a listener of its own.
	var metricsOnMain http.Handler
	if a.cfg.MetricsAddr == "" {
		metricsOnMain = a.metrics.handler()
	}
	pages, err := web.New(web.Deps{
		Sessions: a.sessions, Plans: a.plans, Admin: a.users, OIDC: oidc, DeviceGrant: a.grant, Streams: a.sessions,
		Recovery: a.recovery, Log: a.log, CookieSecure: a.cfg.CookieSecure,
		Users: a.users, Clients: a.clients, Stats: a.stats, RegistrationClosed: !a.cfg.RegistrationOpen(),
	})
	if err != nil {
		return err
	}
	handler, err := api.NewHandler(api.Deps{
		Sessions:       a.sessions,
		Users:          a.users,
		Plans:          a.plans,
		Admin:          a.users,
		Clients:        a.clients,
		Stats:          a.stats,
		OIDC:           oidc,
		DeviceGrant:    a.grant,
		Streams:        a.sessions,
		Recovery:       a.recovery,
		Pages:          pages,
		Store:          a.health,
		Log:            a.log,
		CookieSecure:   a.cfg.CookieSecure,
		TrustedProxies: a.cfg.TrustedProxies,
		MaxBodyBytes:   a.cfg.MaxBodyBytes,
		RequestTimeout: a.cfg.RequestTimeout,
		Requests:       a.metrics,
		Metrics:        metricsOnMain,
		Draining:       s.draining.Load,
	})
	if err != nil {
		return err
	}
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: a.cfg.HTTPReadHeaderTimeout,
		ReadTimeout:       a.cfg.HTTPReadTimeout,
		WriteTimeout:      a.cfg.HTTPWriteTimeout,
		IdleTimeout:       a.cfg.HTTPIdleTimeout,
		MaxHeaderBytes:    16 << 10, // not a setting: no header we read comes near it
	}
	return nil
}

func (s *server) listen(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.ln = ln
	// Before "listening": once that is logged, all is up.
	if s.metricsSrv, err = s.a.serveMetrics(); err != nil {
		return err
	}
	s.a.log.InfoContext(ctx, "listening", "addr", ln.Addr().String(), "store", s.a.cfg.Database.Dialect)
	return nil
}

func (s *server) startBackground(context.Context) error {
	// Not the request's ctx: shutdown stops the background work itself, after draining HTTP.
	workCtx, stop := context.WithCancel(context.Background())
	s.stopWork = stop
	sched, err := s.a.schedulePurge(workCtx)
	if err != nil {
		return err
	}
	s.sched = sched
	sched.Start()
	s.touchesDone = make(chan struct{})
	go func() { defer close(s.touchesDone); s.a.touches.Run(workCtx) }()
	s.listenerDone = make(chan struct{})
	if s.a.listener != nil {
		go func() { defer close(s.listenerDone); s.a.listener.Run(workCtx) }()
	} else {
		close(s.listenerDone)
	}
	return nil
}

// wait returns nil when ctx is cancelled, or the error with which serving ended by itself.
func (s *server) wait(ctx context.Context) error {
	select {
	case err := <-s.served:
		s.serveEnded = true
		return err
	case <-ctx.Done():
		return nil
	}
}

// stop shuts down in reverse order of start: readiness off (and, with a delay, keep serving
// while the balancer notices), drain HTTP, then stop the purge (a running pass stops after
// its current batch, and the stop waits for it) and the cache listener, then close the
// store. err is why serving ended (nil: asked to stop).
func (s *server) stop(err error) error {
	a := s.a
	defer a.close()
	s.draining.Store(true)
	a.log.Info("shutting down", "delay", a.cfg.ShutdownDelay, "timeout", a.cfg.ShutdownTimeout)
	if err == nil && a.cfg.ShutdownDelay > 0 {
		delay := time.NewTimer(a.cfg.ShutdownDelay)
		select {
		case <-delay.C:
		case err = <-s.served:
			s.serveEnded = true
		}
		delay.Stop()
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	shutErr := s.http.Shutdown(shutCtx)
	if s.metricsSrv != nil {
		if err := s.metricsSrv.Shutdown(shutCtx); err != nil {
			a.log.Warn("shut down metrics listener", "err", err)
		}
	}
	s.stopBackground()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if shutErr != nil {
		return fmt.Errorf("shutdown: %w", shutErr)
	}
	if !s.serveEnded {
		if err := <-s.served; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	a.log.Info("stopped")
	return nil
}

// stopBackground ends the outbox sender, the purge schedule (waiting for a running pass), the
// cache listener and the touch flusher (waiting for its last flush: HTTP is drained by then,
// so no check queues a touch after it).
func (s *server) stopBackground() {
	s.stopMail()
	if s.stopWork == nil {
		return
	}
	s.stopWork()
	if s.touchesDone != nil {
		<-s.touchesDone
	}
	if s.sched != nil {
		<-s.sched.Stop().Done()
	}
	if s.listenerDone != nil {
		<-s.listenerDone
	}
}

// abort undoes, in reverse order, the steps of a start that failed part-way.
func (s *server) abort() {
	s.stopBackground()
	if s.metricsSrv != nil {
		if err := s.metricsSrv.Close(); err != nil {
			s.a.log.Warn("close metrics listener", "err", err)
		}
	}
	if s.ln != nil {
		if err := s.ln.Close(); err != nil {
			s.a.log.Warn("close listener", "err", err)
		}
	}
	if s.a != nil {
		s.a.close()
	}
}

// serveMetrics serves /metrics on SESSIOND_METRICS_ADDR, when set, so that it need not be
// reachable where the API is. It returns nil when metrics stay on the API's port.
func (a *app) serveMetrics() (*http.Server, error) {
	if a.cfg.MetricsAddr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", a.cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metrics.handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: a.cfg.HTTPReadHeaderTimeout}
	a.log.Info("metrics listening", "addr", ln.Addr().String())
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("metrics listener stopped", "err", err)
		}
	}()
	return srv, nil
}
