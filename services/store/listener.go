package store

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
)

// ListenerApplicationName marks the listener's connection in pg_stat_activity.
const ListenerApplicationName = "sessiond-listener"

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
	// The connection is idle but for notifications: without keepalives a half-open one (a
	// failover, a NAT timeout) would go unnoticed for minutes while notifications are lost.
	// These find a dead peer within about 20 s, and then the cache goes off.
	dialer := &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 5 * time.Second, Interval: 5 * time.Second, Count: 3}}
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
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		l.cache.Apply(n.Payload)
	}
}
