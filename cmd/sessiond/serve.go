package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

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
	a, err := newApp(env)
	if err != nil {
		return err
	}
	defer a.close()
	if a.cfg.MigrateOnStart {
		if err := a.migrate(ctx); err != nil {
			return err
		}
	}
	if err := a.users.CheckDefaultPlan(ctx); err != nil {
		return err
	}
	if err := a.bootstrapAdmin(ctx); err != nil {
		return err
	}
	oidc, err := a.newOIDC(ctx)
	if err != nil {
		return err
	}
	var draining atomic.Bool // set at shutdown: /readyz answers 503 from then on
	// /metrics on the API's port, unless it has a listener of its own.
	var metricsOnMain http.Handler
	if a.cfg.MetricsAddr == "" {
		metricsOnMain = a.metrics.handler()
	}
	pages, err := web.New(web.Deps{
		Sessions: a.sessions, Plans: a.plans, Admin: a.users, OIDC: oidc, DeviceGrant: a.grant, Log: a.log, CookieSecure: a.cfg.CookieSecure,
	})
	if err != nil {
		return err
	}
	handler, err := api.NewHandler(api.Deps{
		Sessions:       a.sessions,
		Users:          a.users,
		Plans:          a.plans,
		Admin:          a.users,
		OIDC:           oidc,
		DeviceGrant:    a.grant,
		Pages:          pages,
		Store:          a.health,
		Log:            a.log,
		CookieSecure:   a.cfg.CookieSecure,
		TrustedProxies: a.cfg.TrustedProxies,
		MaxBodyBytes:   a.cfg.MaxBodyBytes,
		RequestTimeout: a.cfg.RequestTimeout,
		Requests:       a.metrics,
		Metrics:        metricsOnMain,
		Draining:       draining.Load,
	})
	if err != nil {
		return fmt.Errorf("trusted proxies: %w", err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()                    // Serve closes it; this covers the returns before Serve
	metricsSrv, err := a.serveMetrics() // before "listening": once that is logged, all is up
	if err != nil {
		return err
	}
	if metricsSrv != nil {
		defer metricsSrv.Close() // Shutdown below, or the returns before it
	}
	dbCfg, _ := a.cfg.Database()
	a.log.InfoContext(ctx, "listening", "addr", ln.Addr().String(), "store", dbCfg.Dialect)

	purgeCtx, stopPurges := context.WithCancel(context.Background())
	defer stopPurges()
	sched, err := a.schedulePurge(purgeCtx)
	if err != nil {
		return err
	}
	sched.Start()
	listenerDone := make(chan struct{})
	if a.listener != nil {
		go func() { defer close(listenerDone); a.listener.Run(purgeCtx) }()
	} else {
		close(listenerDone)
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	serveEnded := false
	select {
	case err = <-served:
		serveEnded = true
	case <-ctx.Done():
	}
	// Shut down in reverse order of start: readiness off (and, with a delay, keep serving while
	// the balancer notices), drain HTTP, then stop the purge (a running pass stops after its
	// current batch, and Stop waits for it), then close the store (deferred).
	draining.Store(true)
	a.log.Info("shutting down", "delay", a.cfg.ShutdownDelay, "timeout", a.cfg.ShutdownTimeout)
	if err == nil && a.cfg.ShutdownDelay > 0 {
		delay := time.NewTimer(a.cfg.ShutdownDelay)
		select {
		case <-delay.C:
		case err = <-served:
			serveEnded = true
		}
		delay.Stop()
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	shutErr := srv.Shutdown(shutCtx)
	if metricsSrv != nil {
		_ = metricsSrv.Shutdown(shutCtx)
	}
	stopPurges() // and the cache listener
	<-sched.Stop().Done()
	<-listenerDone
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if shutErr != nil {
		return fmt.Errorf("shutdown: %w", shutErr)
	}
	if !serveEnded {
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	a.log.Info("stopped")
	return nil
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
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	a.log.Info("metrics listening", "addr", ln.Addr().String())
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("metrics listener stopped", "err", err)
		}
	}()
	return srv, nil
}
