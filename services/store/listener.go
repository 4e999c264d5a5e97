package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
)

// ListenerApplicationName marks the listener's connection in pg_stat_activity.
const ListenerApplicationName = "sessiond-listener"

// ProbeInterval is how long the listener waits for a notification before it asks the server
// whether it is still there, and still the primary; probeTimeout bounds that question. A
// half-open connection (the primary's host gone, a link cut) says nothing by itself, and
// notifications are lost meanwhile: the probe finds it within about ProbeInterval +
// probeTimeout (1 s), then the cache goes off and the listener reconnects through the
// multi-host URL to whichever server is now read-write.
const (
	ProbeInterval = 500 * time.Millisecond
	probeTimeout  = 500 * time.Millisecond
)

// errStandby: the listener's server is in recovery. A standby never sends the primary's
// notifications, so listening there would hear nothing.
var errStandby = errors.New("the listener's server is a standby (in recovery)")

// Listener keeps a SessionCache coherent across processes: it LISTENs on Postgres for what
// other processes (and this one) commit, and drops those entries. The cache is bypassed until
// the listener listens, and again from the moment its connection fails until it listens again,
// then flushed: notifications sent meanwhile are lost, so nothing cached before may be trusted.
type Listener struct {
	dsn            string
	cache          *SessionCache
	log            *slog.Logger
	connectTimeout time.Duration
	listening      chan struct{} // receives after every successful LISTEN (tests wait on it)
}

// NewListener returns a listener for the Postgres at dsn. Run it.
func NewListener(dsn string, cache *SessionCache, connectTimeout time.Duration, log *slog.Logger) *Listener {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cache.SetLive(false)
	return &Listener{dsn: dsn, cache: cache, log: log, connectTimeout: connectTimeout, listening: make(chan struct{}, 1)}
}

// Listening receives a value each time the listener (re)starts listening.
func (l *Listener) Listening() <-chan struct{} { return l.listening }

// Run listens until ctx ends, reconnecting after failures with a backoff from 50 ms to 2 s.
func (l *Listener) Run(ctx context.Context) {
	const first = 50 * time.Millisecond
	backoff := first
	for ctx.Err() == nil {
		listened, err := l.listen(ctx)
		l.cache.SetLive(false)
		if ctx.Err() != nil {
			return
		}
		if listened {
			backoff = first
		}
		l.log.WarnContext(ctx, "cache listener lost its connection; the session cache is off until it is back", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// listen holds one connection: LISTEN, turn the cache on (flushed), apply notifications.
func (l *Listener) listen(ctx context.Context) (listened bool, err error) {
	cfg, err := pgx.ParseConfig(l.dsn)
	if err != nil {
		return false, err
	}
	if l.connectTimeout > 0 {
		cfg.ConnectTimeout = l.connectTimeout
	}
	cfg.RuntimeParams["application_name"] = ListenerApplicationName
	// The connection is idle but for notifications: the probe (see ProbeInterval) finds a
	// dead or demoted server within about a second. Keepalives are the second line, for a
	// peer that vanishes while the probe's answer is on its way: they give up after about 4 s.
	dialer := &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: time.Second, Interval: time.Second, Count: 3}}
	cfg.DialFunc = dialer.DialContext
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		return false, err
	}
	l.cache.SetLive(true)
	select {
	case l.listening <- struct{}{}:
	default:
	}
	l.log.InfoContext(ctx, "cache listener listening")
	for {
		// Bounded waits: a deadline that passes leaves the connection usable (pgx's default
		// context handler only sets a read deadline), and notifications that arrive during
		// the probe are buffered by pgx for the next wait.
		wait, cancel := context.WithTimeout(ctx, ProbeInterval)
		n, err := conn.WaitForNotification(wait)
		cancel()
		switch {
		case err == nil:
			l.cache.Apply(n.Payload)
		case ctx.Err() != nil:
			return true, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			if err := probe(ctx, conn); err != nil {
				return true, err
			}
		default:
			return true, err
		}
	}
}

// probe asks the server whether it is still the primary, within probeTimeout.
func probe(ctx context.Context, conn *pgx.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var standby bool
	if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&standby); err != nil {
		return fmt.Errorf("probe the listener's connection: %w", err)
	}
	if standby {
		return errStandby
	}
	return nil
}
