package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/store"
)

const ttl = 30 * 24 * time.Hour // the bench's leases and sessions never lapse while it runs (nor while kept)

// bench is one seeded database and sessiond's services on it.
type bench struct {
	name    string
	db      *gorm.DB           // concurrency + 2 connections
	svc     *services.Sessions // on db
	one     *gorm.DB           // one connection, its statements counted: serial measures and costs
	svc1    *services.Sessions // on one
	stmts   *atomic.Int64      // statements one sent, BEGIN and COMMIT included
	pool    *pgxpool.Pool      // the raw baseline, and statistics
	cache   *store.SessionCache
	hot     []lease
	seeded  time.Duration // 0: a kept database was reused
	closers []func()
}

func (b *bench) close() {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
}

// flush makes the statistics of one's connection visible to the others (PostgreSQL 15
// flushes a backend's counters before it answers ReadyForQuery after this call) and returns
// the statements one sent since the last flush.
func (b *bench) flush(ctx context.Context) (int64, error) {
	sqlDB, err := b.one.DB()
	if err != nil {
		return 0, err
	}
	if _, err := sqlDB.ExecContext(ctx, "SELECT pg_stat_force_next_flush()"); err != nil {
		return 0, err
	}
	return b.stmts.Swap(0) - 1, nil // not the flush itself
}

// open creates (or, with keep, reuses) a database of n leases, inUse of them in use, and
// sessiond's services on it.
func open(ctx context.Context, server *url.URL, cfg config, n int) (b *bench, err error) {
	b = &bench{name: "sessiond_bench_streams_" + randomHex(6)}
	if cfg.keep {
		b.name = fmt.Sprintf("sessiond_bench_streams_kept_%d_%d", n, cfg.inUse)
	}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	var exists bool
	if err := adminQuery(ctx, server.String(), "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", []any{b.name}, &exists); err != nil {
		return b, err
	}
	if !exists {
		if err := adminQuery(ctx, server.String(), "CREATE DATABASE "+b.name, nil); err != nil {
			return b, err
		}
	}
	if !cfg.keep {
		b.closers = append(b.closers, func() {
			_ = adminQuery(context.Background(), server.String(), "DROP DATABASE IF EXISTS "+b.name+" WITH (FORCE)", nil)
		})
	}
	u := *server
	u.Path = "/" + b.name
	dsn := u.String()
	if b.db, err = store.Open("postgres", dsn, store.Options{MaxOpenConns: cfg.concurrency + 2, MaxIdleConns: cfg.concurrency + 2}); err != nil {
		return b, err
	}
	b.closers = append(b.closers, func() { sqlDB, _ := b.db.DB(); _ = sqlDB.Close() })
	if b.one, b.stmts, err = openCounted(dsn); err != nil {
		return b, err
	}
	b.closers = append(b.closers, func() { sqlDB, _ := b.one.DB(); _ = sqlDB.Close() })
	if err := services.Migrate(ctx, b.db, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		return b, err
	}
	if b.pool, err = pgxpool.New(ctx, dsn+"&pool_max_conns="+fmt.Sprint(cfg.concurrency+2)); err != nil {
		return b, err
	}
	b.closers = append(b.closers, b.pool.Close)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return b, err
	}
	defer conn.Close(context.Background())
	if cfg.keep && exists {
		if b.hot, err = seeded(ctx, conn, n, cfg.inUse); err != nil {
			return b, err
		}
		if b.hot == nil {
			return b, fmt.Errorf("database %s holds no complete seed of %d leases: drop it", b.name, n)
		}
	} else {
		t := time.Now()
		if b.hot, err = seed(ctx, conn, n, cfg.inUse); err != nil {
			return b, err
		}
		b.seeded = time.Since(t)
	}
	b.cache = store.NewSessionCache(2*cfg.inUse+8*cfg.concurrency*perWorker, time.Hour)
	b.closers = append(b.closers, b.cache.Close)
	sc := services.SessionsConfig{
		Defaults: models.Timeouts{Idle: ttl, Absolute: ttl}, TouchInterval: time.Hour, Cache: b.cache,
		Streams: services.StreamsConfig{HeartbeatInterval: time.Minute, LeaseTTL: ttl},
	}
	b.svc = services.NewSessions(b.db, nil, sc)
	b.svc1 = services.NewSessions(b.one, nil, sc)
	return b, nil
}

// warm checks every token in use once (filling the session cache) and reads every lease in
// use (their heap and index pages), on both the pool and the serial connection.
func (b *bench) warm(ctx context.Context, conc int) error {
	auth := func(ctx context.Context, w, k int) error {
		if i := k*conc + w; i < len(b.hot) {
			_, err := b.svc.Authenticate(ctx, b.hot[i].token)
			return err
		}
		return errDone
	}
	if _, err := throughput(ctx, auth, conc, time.Hour); err != nil && !errors.Is(err, errDone) {
		return err
	}
	ids := make([]string, len(b.hot))
	for i, l := range b.hot {
		ids[i] = l.stream
	}
	var n int64
	if err := b.one.WithContext(ctx).Raw("SELECT count(*) FROM streams WHERE id IN ? AND ended_at IS NULL", ids).Scan(&n).Error; err != nil {
		return err
	}
	if int(n) != len(ids) {
		return fmt.Errorf("%d of %d leases in use are live", n, len(ids))
	}
	return nil
}

var errDone = errors.New("done")

func adminQuery(ctx context.Context, serverURL, sql string, args []any, dest ...any) error {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if len(dest) == 0 {
		_, err = conn.Exec(ctx, sql, args...)
		return err
	}
	return conn.QueryRow(ctx, sql, args...).Scan(dest...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// openCounted opens a one-connection store on dsn whose statements are counted by pgx (so
// also those sent past GORM, and BEGIN and COMMIT). It is store.Open's Postgres store but for
// the translation of errors into unavailable, which the benchmark does not need.
func openCounted(dsn string) (*gorm.DB, *atomic.Int64, error) {
	pgCfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, nil, err
	}
	n := new(atomic.Int64)
	pgCfg.Tracer = counter{n}
	db, err := gorm.Open(postgres.New(postgres.Config{Conn: stdlib.OpenDB(*pgCfg)}), &gorm.Config{
		TranslateError: true, SkipDefaultTransaction: true, Logger: logger.Discard,
		NowFunc: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
	})
	if err != nil {
		return nil, nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, nil, err
	}
	sqlDB.SetMaxOpenConns(1)
	sqlDB.SetMaxIdleConns(1)
	return db, n, nil
}

// counter counts the statements a connection sends.
type counter struct{ n *atomic.Int64 }

func (c counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
