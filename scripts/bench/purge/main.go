// Command purge measures how long services.Purger takes to remove a large number of expired
// sessions from a large sessions table, and how long its slowest batch runs, on Postgres.
//
// The purge deletes in small batches, each its own short transaction, so that logins and token
// checks never queue behind it; the price is overhead (one index scan, one statement and one
// commit per batch). To say what that price is, the same run also times the cheapest way to
// remove exactly the same rows: one plain DELETE, on a table re-seeded the same way. Absolute
// times depend on the machine; the ratio between the two, taken on the same server within the
// same run, does much less, so the targets are a ratio (purge ≤ 5× the plain DELETE) and a
// bound on the longest batch (≤ 100 ms: how long the purge may hold the locks of one batch).
// A missed target is reported (MISSED), not an error: the exit status is non-zero only when
// the run itself fails, e.g. when the purge or the DELETE removes the wrong number of rows.
//
// It works in a database of its own, sessiond_bench_<random>, created on the server that
// -database-url names and dropped (WITH (FORCE)) when it ends, whether it succeeded or not.
// Run it through scripts/bench.sh purge.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	settings "github.com/sessiond/sessiond/config"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/store"
)

// Targets the purge should hold to.
const (
	maxRatio        = 5.0                    // purge total / plain DELETE
	maxLongestBatch = 100 * time.Millisecond // one batch's DELETE
)

// planStandard is the 'standard' plan, seeded by the migrations.
const planStandard = "0190a000-0000-7000-8000-000000000002"

// seedSessions inserts @rows sessions of @user in one server-side statement. Of row i
// (0 ≤ i < @rows), the expired ones are those where ⌊(i+1)·@expired/@rows⌋ steps up: exactly
// @expired rows, spread evenly through the insertion (and so heap) order; with -expired half
// of -rows that is every other row, so no batch finds its rows packed in a few pages.
//
// Expired rows are idle-expired (idle_expires_at in the past, revoked_at NULL, expires_at
// still ahead), the rest live (both deadlines ahead). Deadlines are scattered over a day by a
// multiplicative hash of i, so the purge's index order (idle_recheck_at, set to the deadline
// as at sign-in and by the purge's recheck) is not the heap
// order, as in production, where activity reshuffles idle deadlines. The statement is
// deterministic apart from ids and now(), so every seeding lays out the same table.
const seedSessions = `
WITH p AS (
    SELECT CAST(@rows AS bigint) AS rows, CAST(@expired AS bigint) AS expired, CAST(@user AS uuid) AS user_id
), s AS (
    SELECT i,
           (i + 1) * p.expired / p.rows > i * p.expired / p.rows AS expired,
           ((i * 2654435761) % 86400000) * interval '1 millisecond' AS scatter
    FROM p, generate_series(0, p.rows - 1) AS i
)
INSERT INTO sessions (id, user_id, secret_hash, device_name, device_type,
                      created_at, last_seen_at, expires_at, idle_expires_at, idle_recheck_at)
SELECT gen_random_uuid(), p.user_id, sha256(int8send(i)), 'Living room TV ' || i, 'tv',
       now() - interval '10 days' + i * interval '1 millisecond',
       idle - interval '7 days', now() + interval '20 days', idle, idle
FROM p, s, LATERAL (SELECT CASE WHEN s.expired THEN now() - interval '1 minute' - s.scatter
                                ELSE now() + interval '1 hour' + s.scatter END AS idle) AS d`

// plainDelete is the baseline: the purge's expired-session condition in one statement.
const plainDelete = `DELETE FROM sessions WHERE revoked_at IS NULL AND idle_expires_at <= now()`

// Result is what one run measured; it is printed as a table and, with -json, written as JSON.
type Result struct {
	Server          string  `json:"server"`
	Rows            int     `json:"rows"`
	Expired         int     `json:"expired"`
	BatchSize       int     `json:"batch_size"`
	PurgeTotalMS    float64 `json:"purge_total_ms"`
	Batches         int     `json:"batches"`
	LongestBatchMS  float64 `json:"longest_batch_ms"`
	PlainDeleteMS   float64 `json:"plain_delete_ms"`
	Ratio           float64 `json:"ratio_purge_to_delete"`
	RatioTarget     float64 `json:"ratio_target"`
	RatioOK         bool    `json:"ratio_ok"`
	LongestTargetMS float64 `json:"longest_batch_target_ms"`
	LongestBatchOK  bool    `json:"longest_batch_ok"`
	TargetsHold     bool    `json:"targets_hold"`
	// The same times unrounded, for the table.
	purgeTotal       time.Duration
	longestBatch     time.Duration
	plainDeleteTotal time.Duration
}

// config is the command line, plus where progress and migration logs go.
type config struct {
	databaseURL          string
	rows, expired, batch int
	jsonPath             string
	progress             io.Writer
	migrationLog         *slog.Logger
	dropTimeout          time.Duration
}

func main() {
	cfg := config{progress: os.Stderr, dropTimeout: 30 * time.Second}
	flag.StringVar(&cfg.databaseURL, "database-url", "", "Postgres server URL (postgres://…); the benchmark creates and drops a database of its own there")
	flag.IntVar(&cfg.rows, "rows", 2_000_000, "sessions in the table")
	flag.IntVar(&cfg.expired, "expired", 1_000_000, "of which idle-expired, spread evenly among the live ones")
	flag.IntVar(&cfg.batch, "batch", 5000, "purge batch size (PurgeConfig.BatchSize)")
	flag.StringVar(&cfg.jsonPath, "json", "", "also write the results as JSON to this file")
	flag.Parse()
	if flag.NArg() > 0 {
		fail(fmt.Errorf("unexpected arguments: %q", flag.Args()))
	}
	cfg.migrationLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, cfg)
	if err != nil {
		fail(err)
	}
	printTable(os.Stdout, res)
	if cfg.jsonPath != "" {
		if err := writeJSON(cfg.jsonPath, res); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench purge: FAIL:", err)
	os.Exit(1)
}

// run validates cfg, creates the benchmark database, measures, and drops the database again.
func run(ctx context.Context, cfg config) (res Result, err error) {
	switch {
	case cfg.databaseURL == "":
		return res, errors.New("-database-url is required")
	case cfg.rows < 1 || cfg.expired < 1 || cfg.expired > cfg.rows:
		return res, fmt.Errorf("need 1 ≤ -expired ≤ -rows, got -expired %d -rows %d", cfg.expired, cfg.rows)
	case cfg.batch < 1:
		return res, fmt.Errorf("-batch must be at least 1, got %d", cfg.batch)
	}
	server, err := url.Parse(cfg.databaseURL)
	if err != nil || (server.Scheme != "postgres" && server.Scheme != "postgresql") {
		return res, errors.New("-database-url must be a postgres:// URL")
	}

	name := "sessiond_bench_" + randomHex(6)
	if err := execAdmin(ctx, cfg.databaseURL, "CREATE DATABASE "+name); err != nil {
		return res, err
	}
	defer func() {
		// Not ctx: the database must go even when the run was interrupted.
		dropCtx, cancel := context.WithTimeout(context.Background(), cfg.dropTimeout)
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
		return res, err
	}
	defer closeDB(db)
	if err := services.Migrate(ctx, db, cfg.migrationLog); err != nil {
		return res, err
	}
	return measure(ctx, cfg, db)
}

// measure seeds the table, times the purge, re-seeds it identically and times the plain DELETE.
func measure(ctx context.Context, cfg config, db *gorm.DB) (Result, error) {
	res := Result{Rows: cfg.rows, Expired: cfg.expired, BatchSize: cfg.batch,
		RatioTarget: maxRatio, LongestTargetMS: ms(maxLongestBatch)}
	if err := db.WithContext(ctx).Raw("SELECT 'PostgreSQL ' || current_setting('server_version')").Scan(&res.Server).Error; err != nil {
		return res, fmt.Errorf("server version: %w", err)
	}
	userID := uuid.NewString()
	if err := db.WithContext(ctx).Exec(`INSERT INTO users (id, email, password_hash, role, plan_id, created_at, updated_at)
VALUES (?, ?, 'x', 'user', ?, now(), now())`, userID, "bench-"+userID[:8]+"@example.com", planStandard).Error; err != nil {
		return res, fmt.Errorf("seed user: %w", err)
	}

	// The purge, as the scheduled job runs it (PurgeConfig as in production, but the batch size).
	if err := seed(ctx, cfg, db, userID); err != nil {
		return res, err
	}
	say(cfg, "purging (batch %d)", cfg.batch)
	prod, err := settings.Load(func(string) string { return "" }) // production's defaults
	if err != nil {
		return res, fmt.Errorf("load default settings: %w", err)
	}
	purger := services.NewPurger(db, services.PurgeConfig{
		RevokedRetention: prod.RevokedRetention,
		EventRetention:   prod.EventRetention,
		BatchSize:        cfg.batch,
		Throttle:         services.ThrottleConfig{LockAfter: prod.LoginLockAfter},
	})
	began := time.Now()
	pr, err := purger.Purge(ctx, false, nil)
	res.purgeTotal = time.Since(began)
	switch {
	case err != nil:
		return res, fmt.Errorf("purge: %w", err)
	case pr.Skipped:
		return res, errors.New("purge skipped: another purger holds the lock")
	case ctx.Err() != nil:
		return res, ctx.Err()
	case pr.Expired != int64(cfg.expired):
		return res, fmt.Errorf("purge removed %d expired sessions, want %d", pr.Expired, cfg.expired)
	}
	res.Batches, res.longestBatch = pr.Batches, pr.LongestBatch

	// The baseline: the same rows, laid out the same way, in one statement.
	if err := db.WithContext(ctx).Exec("TRUNCATE sessions").Error; err != nil {
		return res, fmt.Errorf("truncate sessions: %w", err)
	}
	if err := seed(ctx, cfg, db, userID); err != nil {
		return res, err
	}
	say(cfg, "plain DELETE")
	began = time.Now()
	del := db.WithContext(ctx).Exec(plainDelete)
	res.plainDeleteTotal = time.Since(began)
	if del.Error != nil {
		return res, fmt.Errorf("plain delete: %w", del.Error)
	}
	if del.RowsAffected != int64(cfg.expired) {
		return res, fmt.Errorf("plain DELETE removed %d sessions, want %d", del.RowsAffected, cfg.expired)
	}

	res.PurgeTotalMS, res.LongestBatchMS, res.PlainDeleteMS = ms(res.purgeTotal), ms(res.longestBatch), ms(res.plainDeleteTotal)
	res.Ratio = res.purgeTotal.Seconds() / res.plainDeleteTotal.Seconds()
	res.RatioOK = res.Ratio <= maxRatio
	res.LongestBatchOK = res.longestBatch <= maxLongestBatch
	res.TargetsHold = res.RatioOK && res.LongestBatchOK
	return res, nil
}

// seed fills the (empty) sessions table, then vacuums and analyzes it, as a table at rest in
// production would be, and checkpoints so neither measurement pays for the other's writes.
func seed(ctx context.Context, cfg config, db *gorm.DB, userID string) error {
	say(cfg, "seeding %d sessions (%d expired)", cfg.rows, cfg.expired)
	began := time.Now()
	ins := db.WithContext(ctx).Exec(seedSessions, map[string]any{"rows": cfg.rows, "expired": cfg.expired, "user": userID})
	if ins.Error != nil {
		return fmt.Errorf("seed sessions: %w", ins.Error)
	}
	if ins.RowsAffected != int64(cfg.rows) {
		return fmt.Errorf("seed sessions: inserted %d rows, want %d", ins.RowsAffected, cfg.rows)
	}
	say(cfg, "  inserted in %s; VACUUM ANALYZE", since(began))
	began = time.Now()
	if err := db.WithContext(ctx).Exec("VACUUM ANALYZE sessions").Error; err != nil {
		return fmt.Errorf("vacuum analyze sessions: %w", err)
	}
	// CHECKPOINT needs superuser or pg_checkpoint; without it the measurement is only noisier.
	if err := db.WithContext(ctx).Exec("CHECKPOINT").Error; err != nil {
		say(cfg, "  warning: CHECKPOINT failed (%v); a checkpoint may land inside the measurement", err)
	}
	say(cfg, "  vacuumed in %s", since(began))
	return nil
}

func printTable(w io.Writer, r Result) {
	verdict := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "MISSED"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "server\t%s\n", r.Server)
	fmt.Fprintf(tw, "rows\t%d\n", r.Rows)
	fmt.Fprintf(tw, "expired\t%d\n", r.Expired)
	fmt.Fprintf(tw, "batch size\t%d\n", r.BatchSize)
	fmt.Fprintf(tw, "purge total\t%s\n", r.purgeTotal.Round(time.Millisecond))
	fmt.Fprintf(tw, "batches\t%d\n", r.Batches)
	fmt.Fprintf(tw, "longest batch\t%s\t(target ≤ %s: %s)\n", r.longestBatch.Round(100*time.Microsecond), maxLongestBatch, verdict(r.LongestBatchOK))
	fmt.Fprintf(tw, "plain DELETE\t%s\n", r.plainDeleteTotal.Round(time.Millisecond))
	fmt.Fprintf(tw, "purge / DELETE\t%.2f×\t(target ≤ %g×: %s)\n", r.Ratio, maxRatio, verdict(r.RatioOK))
	fmt.Fprintf(tw, "targets\t%s\n", map[bool]string{true: "hold", false: "MISSED"}[r.TargetsHold])
	tw.Flush()
}

func writeJSON(path string, r Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write -json: %w", err)
	}
	return nil
}

// execAdmin runs one statement on the server URL itself (CREATE and DROP DATABASE cannot run
// in the database they name, nor in a transaction).
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

func closeDB(db *gorm.DB) {
	if sqlDB, err := db.DB(); err == nil {
		_ = sqlDB.Close()
	}
}

func say(cfg config, format string, args ...any) {
	fmt.Fprintf(cfg.progress, "==> "+format+"\n", args...)
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
