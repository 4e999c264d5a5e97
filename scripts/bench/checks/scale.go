package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessiond/sessiond/services"
)

// scaleConfig is `scripts/bench.sh scale`: checks with a random token each over many
// sessions in use, for long enough that touches fall due again and again (issue 21).
type scaleConfig struct {
	databaseURL, sessiond string
	sessions, concurrency int
	touch, window         time.Duration
	windows               int
	noop                  time.Duration // the no-op route, measured after each window
}

// scaleRounds is how many times the check and the no-op route alternate within a window.
const scaleRounds = 5

// scaleWindow is one window's figures.
type scaleWindow struct {
	at                                     time.Duration // since the load began (end of window)
	checks, noop                           float64       // req/s
	rows, stmts, upd, hot, wal, checksDone float64
	errs                                   int
}

func runScale(cfg scaleConfig) error {
	ctx := context.Background()
	server, err := url.Parse(cfg.databaseURL)
	if err != nil {
		return err
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "sessiond_scale_" + hex.EncodeToString(b)
	if err := execAdmin(ctx, cfg.databaseURL, "CREATE DATABASE "+name); err != nil {
		return err
	}
	defer func() {
		_ = execAdmin(context.Background(), cfg.databaseURL, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}()
	u := *server
	u.Path = "/" + name
	dsn := u.String()
	var serverName string
	if err := migrate(ctx, dsn, &serverName); err != nil {
		return err
	}
	hasher := services.NewHasher(services.DefaultArgon2, services.HasherConfig{})
	hash, err := hasher.Hash(ctx, loginPassword)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if err := seed(ctx, conn, 0, cfg.sessions, hash); err != nil { // 10 sessions a user
		return err
	}
	procs := &processes{}
	defer procs.stop()
	// The cache at its defaults (10m, 200,000): what an operator runs.
	base, err := procs.startSessiond(cfg.sessiond, "SESSIOND_DATABASE_URL="+dsn, "SESSIOND_LOG_LEVEL=warn",
		"SESSIOND_SESSION_TOUCH_INTERVAL="+cfg.touch.String(), "SESSIOND_COOKIE_SECURE=false", "SESSIOND_PURGE_SCHEDULE=@every 24h")
	if err != nil {
		return err
	}
	fmt.Printf("%s; %d sessions in use over %d users, a random token a request, %d connections;\n"+
		"touch interval %s, %s windows, each alternating with %s of the no-op route\n\n",
		serverName, cfg.sessions, cfg.sessions/10, cfg.concurrency, cfg.touch, cfg.window, cfg.noop)
	tokens := tokenPool(cfg.sessions, cfg.sessions)
	load := &loader{cfg: config{concurrency: cfg.concurrency}}
	checks := target{"check", cfg.concurrency, getWithToken(base+"/v1/auth/session", tokens)}
	noop := target{"no-op", cfg.concurrency, get(base + "/healthz")}
	prev, err := sample(ctx, conn, base)
	if err != nil {
		return err
	}
	// Every token checked once: the first window then measures the warm cache, as the first
	// minute of a running service would, before the touches fall due.
	// Best effort: on this shared machine a check now and then meets a busy store (503).
	if err := prewarm(base+"/v1/auth/session", tokens, cfg.concurrency); err != nil {
		say("  warm-up incomplete: %v", err)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "window\tchecks/s\tno-op/s\tchecks/no-op\ttouch rows/s\tstatements/s\trows/stmt\tHOT %\tWAL B/check\terrors\t")
	began := time.Now()
	var out []scaleWindow
	for i := range cfg.windows {
		// The check and the no-op route alternate in five rounds, so the machine's slow
		// spells fall on both alike.
		var w scaleWindow
		var took, noopTook time.Duration
		var noopDone int
		for range scaleRounds {
			lat, errs, t := load.load(checks, cfg.window/scaleRounds)
			w.checksDone, w.errs, took = w.checksDone+float64(len(lat)), w.errs+errs, took+t
			nl, _, nt := load.load(noop, cfg.noop/scaleRounds)
			noopDone, noopTook = noopDone+len(nl), noopTook+nt
		}
		cur, err := sample(ctx, conn, base)
		if err != nil {
			return err
		}
		w.at, w.checks, w.noop = time.Since(began), w.checksDone/took.Seconds(), float64(noopDone)/noopTook.Seconds()
		secs := (took + noopTook).Seconds()
		w.rows, w.stmts = (cur.rows-prev.rows)/secs, (cur.stmts-prev.stmts)/secs
		w.upd, w.hot, w.wal = cur.upd-prev.upd, cur.hot-prev.hot, cur.wal-prev.wal
		prev = cur
		out = append(out, w)
		say("window %d: %.0f checks/s, %.0f no-op/s", i+1, w.checks, w.noop)
		fmt.Fprintf(tw, "%d (%s)\t%.0f\t%.0f\t%.2f\t%.0f\t%.1f\t%s\t%s\t%.0f\t%d\t\n", i+1, w.at.Round(time.Second), w.checks, w.noop,
			w.checks/w.noop, w.rows, w.stmts, ratio(w.rows, w.stmts, "%.0f"), ratio(100*w.hot, w.upd, "%.0f"), w.wal/w.checksDone, w.errs)
	}
	tw.Flush()
	return scaleVerdict(cfg, out)
}

func ratio(a, b float64, format string) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf(format, a/b)
}

// scaleVerdict prints the targets, over the windows after three touch intervals
// (the steady state), but the HOT share over all of them.
func scaleVerdict(cfg scaleConfig, ws []scaleWindow) error {
	var steady []scaleWindow
	for _, w := range ws {
		if w.at-cfg.window >= 3*cfg.touch {
			steady = append(steady, w)
		}
	}
	if len(steady) == 0 {
		return fmt.Errorf("no window began after three touch intervals (%s): run more windows", 3*cfg.touch)
	}
	var checks, noop, rows, stmts, upd, hot float64
	for _, w := range steady {
		checks, noop, rows, stmts = checks+w.checks, noop+w.noop, rows+w.rows, stmts+w.stmts
	}
	// HOT over every window: the first ones hold the worst case, when the warm-up has made
	// every touch fall due at once.
	for _, w := range ws {
		upd, hot = upd+w.upd, hot+w.hot
	}
	n := float64(len(steady))
	fmt.Printf("\nsteady state (%d windows after three intervals):\n", len(steady))
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ratio\tvalue\ttarget\t")
	missed := 0
	for _, r := range []struct {
		name   string
		v, min float64
		target string
	}{
		{"steady checks / first window", checks / n / ws[0].checks, 0.8, "≥ 0.80"},
		{"steady checks / no-op route", checks / noop, 0.6, "≥ 0.60"},
		{"touch rows per statement", safeDiv(rows, stmts), 100, "≥ 100"},
		{"HOT share of updates (all windows)", safeDiv(hot, upd), 0.9, "≥ 0.90"},
	} {
		verdict := "ok"
		if !(r.v >= r.min) {
			verdict, missed = "MISSED", missed+1
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%s\t%s\n", r.name, r.v, r.target, verdict)
	}
	tw.Flush()
	if missed > 0 {
		return fmt.Errorf("%d targets missed", missed)
	}
	return nil
}

func safeDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// counters are what a window's figures are deltas of.
type counters struct{ rows, stmts, upd, hot, wal float64 }

func sample(ctx context.Context, conn *pgx.Conn, base string) (counters, error) {
	var c counters
	// Statistics are sent by backends at the end of transactions, with a delay: ask for them fresh.
	_, _ = conn.Exec(ctx, "SELECT pg_stat_force_next_flush()")
	err := conn.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd, pg_current_wal_lsn() - '0/0'::pg_lsn
FROM pg_stat_user_tables WHERE relname = 'sessions'`).Scan(&c.upd, &c.hot, &c.wal)
	if err != nil {
		return c, fmt.Errorf("read table statistics: %w", err)
	}
	m, err := scrape(base + "/metrics")
	if err != nil {
		return c, err
	}
	c.rows, c.stmts = m["sessiond_touch_rows_total"], m["sessiond_touch_statements_total"]
	return c, nil
}

// scrape reads the unlabelled samples of a Prometheus text page (absent ones read as 0: a
// sessiond before issue 21 has no touch counters).
func scrape(u string) (map[string]float64, error) {
	resp, err := http.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil, errors.New("metrics: " + resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(val, 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}
