// Command stats measures GET /v1/admin/stats's query (services.Stats.Get) on Postgres at
// scale: -users accounts (1,000,000) with their live sessions and streams, and -events
// session events (10,000,000) spread over 90 days. It times the insights over 7 and 90 days
// with the indexes of migration 00018, then again without them, and prints both: the
// absolute time is the README's figure, the ratio says what the indexes buy.
//
// It works in a database of its own, sessiond_bench_<random>, created on the server that
// -database-url names and dropped (WITH (FORCE)) when it ends. Run it through
// scripts/bench.sh stats.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/store"
)

// The seeded plans (migration 00001).
const (
	planBasic    = "0190a000-0000-7000-8000-000000000001"
	planStandard = "0190a000-0000-7000-8000-000000000002"
	planPremium  = "0190a000-0000-7000-8000-000000000004"
)

// Seeding: user i has id md5('u'||i), so sessions, streams and events name their user
// without a join. Plans: 30 % basic, 50 % standard, 20 % premium. Live sessions: (7i mod 5)
// per user (0 to 4, 2 on average), every tenth revoked. A stream plays for every third user
// with a session. Events: 70 % login, 10 % logout, 8 % evicted, 3 % limit_rejected, 5 %
// stream_started, 2 % stream_rejected, 2 % stream_taken_over, their times scattered over 90
// days by a multiplicative hash.
const (
	seedUsers = `
INSERT INTO users (id, email, password_hash, role, plan_id, created_at, updated_at)
SELECT md5('u' || i)::uuid, 'u' || i || '@bench.example', 'x', 'user',
       CASE WHEN i % 10 < 3 THEN '` + planBasic + `'::uuid WHEN i % 10 < 8 THEN '` + planStandard + `'::uuid
            ELSE '` + planPremium + `'::uuid END, now(), now()
FROM generate_series(CAST(@from AS bigint), CAST(@to AS bigint) - 1) AS i`
	seedSessions = `
INSERT INTO sessions (id, user_id, secret_hash, device_name, device_type, created_at, last_seen_at, expires_at,
                      idle_expires_at, idle_recheck_at, revoked_at, revoke_reason)
SELECT gen_random_uuid(), md5('u' || i)::uuid, '\x00', 'TV ' || j, 'tv', now() - interval '1 day', now(),
       now() + interval '20 days', now() + interval '1 day', now() + interval '1 day',
       CASE WHEN (i + j) % 10 = 0 THEN now() END, CASE WHEN (i + j) % 10 = 0 THEN 'evicted' END
FROM generate_series(CAST(@from AS bigint), CAST(@to AS bigint) - 1) AS i, generate_series(1, 4) AS j
WHERE j <= (i * 7) % 5`
	seedStreams = `
INSERT INTO streams (id, user_id, session_id, class, started_at, last_heartbeat_at, expires_at)
SELECT gen_random_uuid(), md5('u' || i)::uuid, gen_random_uuid(), 'vod', now(), now(), now() + interval '3 minutes'
FROM generate_series(CAST(@from AS bigint), CAST(@to AS bigint) - 1) AS i
WHERE i % 3 = 0 AND (i * 7) % 5 > 0`
	seedEvents = `
INSERT INTO session_events (id, user_id, type, actor_kind, at)
SELECT gen_random_uuid(), md5('u' || (i % CAST(@users AS bigint)))::uuid,
       CASE WHEN i % 100 < 70 THEN 'login' WHEN i % 100 < 80 THEN 'logout' WHEN i % 100 < 88 THEN 'evicted'
            WHEN i % 100 < 91 THEN 'limit_rejected' WHEN i % 100 < 96 THEN 'stream_started'
            WHEN i % 100 < 98 THEN 'stream_rejected' ELSE 'stream_taken_over' END,
       'user', now() - ((i * 2654435761) % 7776000000) * interval '1 millisecond'
FROM generate_series(CAST(@from AS bigint), CAST(@to AS bigint) - 1) AS i`
)

type config struct {
	databaseURL   string
	users, events int
	rounds        int
	progress      io.Writer
}

func main() {
	cfg := config{progress: os.Stderr}
	flag.StringVar(&cfg.databaseURL, "database-url", "", "Postgres server URL (postgres://…); the benchmark creates and drops a database of its own there")
	flag.IntVar(&cfg.users, "users", 1_000_000, "accounts")
	flag.IntVar(&cfg.events, "events", 10_000_000, "session events over 90 days")
	flag.IntVar(&cfg.rounds, "rounds", 5, "timings per measure (the median counts)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench stats: FAIL:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) (err error) {
	server, err := url.Parse(cfg.databaseURL)
	if err != nil || (server.Scheme != "postgres" && server.Scheme != "postgresql") {
		return errors.New("-database-url must be a postgres:// URL")
	}
	if cfg.users < 1 || cfg.events < 0 || cfg.rounds < 1 {
		return errors.New("need -users ≥ 1, -events ≥ 0, -rounds ≥ 1")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "sessiond_bench_" + hex.EncodeToString(b)
	if err := execAdmin(ctx, cfg.databaseURL, "CREATE DATABASE "+name); err != nil {
		return err
	}
	defer func() {
		dropCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if dropErr := execAdmin(dropCtx, cfg.databaseURL, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); dropErr != nil {
			err = errors.Join(err, fmt.Errorf("drop database %s (drop it by hand): %w", name, dropErr))
		}
	}()
	bench := *server
	bench.Path = "/" + name
	say(cfg, "database %s on %s", name, server.Redacted())
	db, err := store.Open("postgres", bench.String(), store.Options{MaxOpenConns: 4, MaxIdleConns: 4})
	if err != nil {
		return err
	}
	defer func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	}()
	if err := services.Migrate(ctx, db, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))); err != nil {
		return err
	}
	if err := seed(ctx, cfg, db); err != nil {
		return err
	}
	stats := services.NewStats(db, nil)
	with7, with90, err := measure(ctx, cfg, stats)
	if err != nil {
		return err
	}
	say(cfg, "dropping migration 00018's indexes")
	if err := db.WithContext(ctx).Exec(`DROP INDEX session_events_type_at_idx; DROP INDEX sessions_live_user_recheck_idx; ANALYZE`).Error; err != nil {
		return err
	}
	without7, without90, err := measure(ctx, cfg, stats)
	if err != nil {
		return err
	}
	var version string
	db.WithContext(ctx).Raw("SELECT 'PostgreSQL ' || current_setting('server_version')").Scan(&version)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "GET /v1/admin/stats (services.Stats.Get), %s, %d users, %d events, median of %d\n", version, cfg.users, cfg.events, cfg.rounds)
	fmt.Fprintln(w, "window\twith 00018\twithout\tratio")
	fmt.Fprintf(w, "7 days\t%v\t%v\t%.1f×\n", with7, without7, float64(without7)/float64(with7))
	fmt.Fprintf(w, "90 days\t%v\t%v\t%.1f×\n", with90, without90, float64(without90)/float64(with90))
	return w.Flush()
}

// seed fills the tables in chunks of 500,000 rows (progress, bounded transactions), then
// VACUUM ANALYZE: the visibility map that index-only scans need, as autovacuum keeps it.
func seed(ctx context.Context, cfg config, db *gorm.DB) error {
	const chunk = 500_000
	for _, step := range []struct {
		what string
		sql  string
		n    int
	}{{"users", seedUsers, cfg.users}, {"sessions", seedSessions, cfg.users}, {"streams", seedStreams, cfg.users}, {"events", seedEvents, cfg.events}} {
		began := time.Now()
		for from := 0; from < step.n; from += chunk {
			to := min(from+chunk, step.n)
			if err := db.WithContext(ctx).Exec(step.sql, map[string]any{"from": from, "to": to, "users": cfg.users}).Error; err != nil {
				return fmt.Errorf("seed %s: %w", step.what, err)
			}
		}
		say(cfg, "seeded %s in %v", step.what, time.Since(began).Round(time.Millisecond))
	}
	began := time.Now()
	for _, table := range []string{"users", "sessions", "streams", "session_events"} {
		if err := db.WithContext(ctx).Exec("VACUUM ANALYZE " + table).Error; err != nil {
			return fmt.Errorf("vacuum %s: %w", table, err)
		}
	}
	say(cfg, "vacuumed in %v", time.Since(began).Round(time.Millisecond))
	return nil
}

// measure times the insights over 7 and 90 days: the median of cfg.rounds, after one warm-up.
func measure(ctx context.Context, cfg config, stats *services.Stats) (week, quarter time.Duration, err error) {
	times := func(days int) (time.Duration, error) {
		var ds []time.Duration
		for i := 0; i <= cfg.rounds; i++ {
			began := time.Now()
			if _, err := stats.Get(ctx, days); err != nil {
				return 0, err
			}
			if i > 0 {
				ds = append(ds, time.Since(began))
			}
		}
		slices.Sort(ds)
		return ds[len(ds)/2].Round(time.Millisecond), nil
	}
	if week, err = times(7); err != nil {
		return 0, 0, err
	}
	quarter, err = times(90)
	say(cfg, "7 days: %v, 90 days: %v", week, quarter)
	return week, quarter, err
}

func execAdmin(ctx context.Context, serverURL, sql string) error {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		u, _ := url.Parse(serverURL)
		return fmt.Errorf("connect to %s: %w", u.Redacted(), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

func say(cfg config, format string, args ...any) {
	fmt.Fprintf(cfg.progress, "==> "+format+"\n", args...)
}
