// Command streams benchmarks the stream lease heartbeat (issue 22) on Postgres, in one run:
//
//   - heartbeats through services.Sessions.Heartbeat (token checked through the session cache,
//     then the one UPDATE) against a raw pgx single-row UPDATE … WHERE id = $1 AND ended_at IS
//     NULL RETURNING … on the same table, at the same concurrency (target ≥ 0.8×);
//   - the heartbeat's p50 with N leases against 10,000 leases (target ≤ 1.15×);
//   - the write amplification per heartbeat: WAL bytes and rows touched, and the share of HOT
//     updates, from pg_stat deltas.
//
// Stream starts against the login transaction without the hash are not measured (yet).
// It prints a table and, with -json, writes the figures. Run it through scripts/bench.sh streams.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/store"
)

const (
	rawSQL = `UPDATE streams SET last_heartbeat_at = $2, expires_at = $3 WHERE id = $1 AND ended_at IS NULL
RETURNING id, user_id, session_id, device_id, device_name, device_type, content_id, class, started_at, last_heartbeat_at, expires_at`
	small = 10_000
	ttl   = time.Hour // the bench's leases never lapse while it runs
)

type config struct {
	databaseURL string
	leases      int
	concurrency int
	duration    time.Duration
	rounds      int
	jsonPath    string
}

// Result is what one run measured.
type Result struct {
	Server         string  `json:"server"`
	Leases         int     `json:"leases"`
	Concurrency    int     `json:"concurrency"`
	ServiceOps     float64 `json:"service_heartbeats_per_s"`
	RawOps         float64 `json:"raw_pgx_updates_per_s"`
	Ratio          float64 `json:"ratio"`
	P50SmallMS     float64 `json:"p50_at_10k_ms"`
	P50LargeMS     float64 `json:"p50_at_n_ms"`
	P50Ratio       float64 `json:"p50_ratio"`
	WALPerBeat     float64 `json:"wal_bytes_per_heartbeat"`
	RowsPerBeat    float64 `json:"rows_updated_per_heartbeat"`
	HOTShare       float64 `json:"hot_share"`
	RatioTarget    float64 `json:"ratio_target"`
	P50RatioTarget float64 `json:"p50_ratio_target"`
}

func main() {
	var cfg config
	flag.StringVar(&cfg.databaseURL, "database-url", "", "Postgres server URL; a database of its own is created and dropped there")
	flag.IntVar(&cfg.leases, "leases", 100_000, "active leases in the table (1000000 for the documented run; 10000000 allowed)")
	flag.IntVar(&cfg.concurrency, "concurrency", 16, "heartbeats in flight")
	flag.DurationVar(&cfg.duration, "duration", 3*time.Second, "per measure")
	flag.IntVar(&cfg.rounds, "rounds", 3, "the two sides alternate; the median round counts")
	flag.StringVar(&cfg.jsonPath, "json", "", "also write the results as JSON here")
	flag.Parse()
	res, err := run(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	fmt.Printf("\nstreams benchmark, %s, %d leases, concurrency %d\n", res.Server, res.Leases, res.Concurrency)
	fmt.Printf("%-44s %12s %12s %8s %8s\n", "measure", "sessiond", "baseline", "ratio", "target")
	fmt.Printf("%-44s %12.0f %12.0f %8.2f %8s\n", "heartbeats/s vs raw pgx UPDATE", res.ServiceOps, res.RawOps, res.Ratio, "≥ 0.80")
	fmt.Printf("%-44s %12.3f %12.3f %8.2f %8s\n", "heartbeat p50 ms, N leases vs 10k", res.P50LargeMS, res.P50SmallMS, res.P50Ratio, "≤ 1.15")
	fmt.Printf("%-44s %12.0f\n", "WAL bytes per heartbeat", res.WALPerBeat)
	fmt.Printf("%-44s %12.2f\n", "rows updated per heartbeat", res.RowsPerBeat)
	fmt.Printf("%-44s %11.1f%%\n", "HOT share of heartbeat updates", 100*res.HOTShare)
	if cfg.jsonPath != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(cfg.jsonPath, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			os.Exit(1)
		}
	}
}

func run(ctx context.Context, cfg config) (res Result, err error) {
	res = Result{Leases: cfg.leases, Concurrency: cfg.concurrency, RatioTarget: 0.8, P50RatioTarget: 1.15}
	if cfg.databaseURL == "" || cfg.leases < small || cfg.concurrency < 1 {
		return res, fmt.Errorf("need -database-url, -leases ≥ %d, -concurrency ≥ 1", small)
	}
	server, err := url.Parse(cfg.databaseURL)
	if err != nil {
		return res, err
	}
	name := "sessiond_bench_streams_" + randomHex(6)
	if err := execAdmin(ctx, cfg.databaseURL, "CREATE DATABASE "+name); err != nil {
		return res, err
	}
	defer func() {
		if dropErr := execAdmin(context.Background(), cfg.databaseURL, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); dropErr != nil {
			err = errors.Join(err, dropErr)
		}
	}()
	bench := *server
	bench.Path = "/" + name
	db, err := store.Open("postgres", bench.String(), store.Options{MaxOpenConns: cfg.concurrency + 2, MaxIdleConns: cfg.concurrency + 2})
	if err != nil {
		return res, err
	}
	defer func() { sqlDB, _ := db.DB(); _ = sqlDB.Close() }()
	if err := services.Migrate(ctx, db, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		return res, err
	}
	pool, err := pgxpool.New(ctx, bench.String()+"&pool_max_conns="+fmt.Sprint(cfg.concurrency+2))
	if err != nil {
		return res, err
	}
	defer pool.Close()
	if err := db.Raw("SELECT 'PostgreSQL ' || current_setting('server_version')").Scan(&res.Server).Error; err != nil {
		return res, err
	}

	hot, err := seedHot(ctx, db, cfg.concurrency*8)
	if err != nil {
		return res, err
	}
	cache := store.NewSessionCache(len(hot)*2, time.Hour)
	defer cache.Close()
	sessions := services.NewSessions(db, nil, services.SessionsConfig{
		Defaults: models.Timeouts{Idle: 24 * time.Hour, Absolute: 48 * time.Hour}, TouchInterval: time.Hour, Cache: cache,
		Streams: services.StreamsConfig{HeartbeatInterval: time.Minute, LeaseTTL: ttl},
	})
	service := func(ctx context.Context, l lease) error {
		_, err := sessions.Heartbeat(ctx, l.token, l.stream)
		return err
	}
	raw := func(ctx context.Context, l lease) error {
		now := time.Now()
		rows, err := pool.Query(ctx, rawSQL, l.stream, now, now.Add(ttl))
		if err != nil {
			return err
		}
		_, err = pgx.CollectExactlyOneRow(rows, pgx.RowToMap)
		return err
	}
	if err := seedBulk(ctx, db, small-len(hot)); err != nil {
		return res, err
	}
	if res.P50SmallMS, err = p50(ctx, hot, service, cfg.duration); err != nil {
		return res, err
	}
	if err := seedBulk(ctx, db, cfg.leases-small); err != nil {
		return res, err
	}
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE streams"); err != nil {
		return res, err
	}
	if res.P50LargeMS, err = p50(ctx, hot, service, cfg.duration); err != nil {
		return res, err
	}
	res.P50Ratio = res.P50LargeMS / res.P50SmallMS

	var svc, rw []float64
	for range cfg.rounds {
		n, err := throughput(ctx, hot, service, cfg.concurrency, cfg.duration)
		if err != nil {
			return res, err
		}
		svc = append(svc, n)
		if n, err = throughput(ctx, hot, raw, cfg.concurrency, cfg.duration); err != nil {
			return res, err
		}
		rw = append(rw, n)
	}
	res.ServiceOps, res.RawOps = median(svc), median(rw)
	res.Ratio = res.ServiceOps / res.RawOps

	// Write amplification of the service's heartbeats alone, from the statistics' deltas.
	before, err := stats(ctx, pool)
	if err != nil {
		return res, err
	}
	var beats atomic.Int64
	counted := func(ctx context.Context, l lease) error { beats.Add(1); return service(ctx, l) }
	if _, err := throughput(ctx, hot, counted, cfg.concurrency, cfg.duration); err != nil {
		return res, err
	}
	time.Sleep(1500 * time.Millisecond) // backends flush their table statistics at most once a second
	after, err := stats(ctx, pool)
	if err != nil {
		return res, err
	}
	n := float64(beats.Load())
	res.WALPerBeat = float64(after.wal-before.wal) / n
	res.RowsPerBeat = float64(after.upd-before.upd) / n
	if d := after.upd - before.upd; d > 0 {
		res.HOTShare = float64(after.hot-before.hot) / float64(d)
	}
	return res, nil
}

type lease struct{ token, stream string }

// seedHot stores n sessions with tokens and a lease each: the ones the heartbeats renew.
func seedHot(ctx context.Context, db *gorm.DB, n int) ([]lease, error) {
	userID := uuid.NewString()
	if err := db.WithContext(ctx).Exec(`INSERT INTO users (id, email, password_hash, role, plan_id, created_at, updated_at)
SELECT ?, ?, 'x', 'user', id, now(), now() FROM plans WHERE name = 'premium'`, userID, "bench-"+userID[:8]+"@example.com").Error; err != nil {
		return nil, err
	}
	out := make([]lease, n)
	now := time.Now()
	for i := range out {
		id := uuid.Must(uuid.NewV7())
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		sum := sha256.Sum256(secret)
		sess := models.Session{ID: id.String(), UserID: userID, SecretHash: sum[:], DeviceName: fmt.Sprint("tv ", i), DeviceType: "tv",
			CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(48 * time.Hour), IdleExpiresAt: now.Add(24 * time.Hour)}
		st := models.Stream{ID: uuid.Must(uuid.NewV7()).String(), UserID: userID, SessionID: sess.ID, DeviceName: sess.DeviceName,
			DeviceType: "tv", Class: models.ClassVOD, ContentID: "film", StartedAt: now, LastHeartbeatAt: now, ExpiresAt: now.Add(ttl)}
		if err := db.WithContext(ctx).Create(&sess).Error; err != nil {
			return nil, err
		}
		if err := db.WithContext(ctx).Create(&st).Error; err != nil {
			return nil, err
		}
		out[i] = lease{token: base64.RawURLEncoding.EncodeToString(id[:]) + "." + base64.RawURLEncoding.EncodeToString(secret), stream: st.ID}
	}
	return out, nil
}

// seedBulk adds n more users' worth of live leases (4 per user), in SQL.
func seedBulk(ctx context.Context, db *gorm.DB, n int) error {
	for done := 0; done < n; done += 200_000 {
		k := min(200_000, n-done)
		err := db.WithContext(ctx).Exec(`
WITH u AS (
  INSERT INTO users (id, email, password_hash, role, plan_id, created_at, updated_at)
  SELECT gen_random_uuid(), 'bulk-' || gen_random_uuid() || '@example.com', 'x', 'user', (SELECT id FROM plans WHERE name = 'premium'), now(), now()
  FROM generate_series(1, ceil(?::numeric / 4)::int) RETURNING id)
INSERT INTO streams (id, user_id, session_id, device_name, device_type, content_id, class, started_at, last_heartbeat_at, expires_at)
SELECT gen_random_uuid(), u.id, gen_random_uuid(), 'tv', 'tv', 'film', 'vod', now(), now(), now() + interval '1 hour'
FROM u, generate_series(1, 4) LIMIT ?`, k, k).Error
		if err != nil {
			return fmt.Errorf("seed leases: %w", err)
		}
	}
	return nil
}

func throughput(ctx context.Context, hot []lease, beat func(context.Context, lease) error, conc int, d time.Duration) (float64, error) {
	var ops atomic.Int64
	var firstErr error
	var once sync.Once
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			for i := w; time.Now().Before(deadline); i += conc {
				if err := beat(ctx, hot[i%len(hot)]); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				ops.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(ops.Load()) / d.Seconds(), firstErr
}

func p50(ctx context.Context, hot []lease, beat func(context.Context, lease) error, d time.Duration) (float64, error) {
	var lat []float64
	deadline := time.Now().Add(d)
	for i := 0; time.Now().Before(deadline); i++ {
		t := time.Now()
		if err := beat(ctx, hot[i%len(hot)]); err != nil {
			return 0, err
		}
		lat = append(lat, float64(time.Since(t).Microseconds())/1000)
	}
	return median(lat), nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

type pgStats struct{ wal, upd, hot int64 }

func stats(ctx context.Context, pool *pgxpool.Pool) (pgStats, error) {
	var s pgStats
	err := pool.QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, n_tup_upd, n_tup_hot_upd
FROM pg_stat_user_tables WHERE relname = 'streams'`).Scan(&s.wal, &s.upd, &s.hot)
	return s, err
}

func execAdmin(ctx context.Context, serverURL, sql string) error {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
