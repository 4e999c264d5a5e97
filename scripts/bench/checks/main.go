// Command checks measures sessiond's per-request session check and its login against the
// baselines that bound them, all in one run on one machine, and prints the ratios:
//
//   - cached check (GET /v1/auth/session, cache on) against a no-op route of the same server
//     (GET /healthz: the ceiling for any handler behind sessiond's middleware);
//   - uncached check (cache off) against a bare Gin + pgx server running the same lookup (the
//     same prepared query, scanned the same way) on the same table (scripts/bench/rawpgx: the
//     floor for a store-backed check); the same server reading only seven columns is shown
//     for reference;
//   - login throughput against argon2id verification alone at the same concurrency;
//   - the uncached p50 with the table at -sessions against the p50 with a table of 10,000
//     sessions (a second database, its own server, measured alongside), 10,000 of them in use
//     either way.
//
// Absolute numbers depend on the machine (and here the load generator shares its cores with
// the servers and Postgres); the ratios, taken in one run, much less. The sides of each ratio
// are measured in alternating rounds (-rounds, 5) and the ratio is the median round's
// (for the p50s: the p50s of all their rounds' latencies), so that a slow spell of the machine
// falls on both sides instead of on one. A round's rate is over the time until its last
// request finished. scripts/bench.sh builds
// the binaries and finds Postgres; run it, not this. The benchmark database is created and
// dropped (WITH (FORCE)), with the 10k one, on the server -database-url names.
package main

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/store"
)

const planStandard = "0190a000-0000-7000-8000-000000000002"

const loginPassword = "benchmark passphrase"

type config struct {
	databaseURL, sessiond, rawpgx, jsonPath string
	sessions, concurrency, loginConcurrency int
	rounds                                  int
	duration, loginDuration, warmup         time.Duration
}

// Measure is one load run against one target.
type Measure struct {
	Name      string  `json:"name"`
	Requests  int     `json:"requests"`
	Errors    int     `json:"errors"`
	PerSecond float64 `json:"per_second"`
	P50MS     float64 `json:"p50_ms"`
	P99MS     float64 `json:"p99_ms"`
	// Rounds is the throughput of each round (req/s).
	Rounds []float64 `json:"rounds_per_second"`
}

// Ratio is one target: a measure against its baseline.
type Ratio struct {
	Name     string    `json:"name"`
	Value    float64   `json:"value"` // the median of the rounds' ratios
	Rounds   []float64 `json:"rounds"`
	Target   string    `json:"target"`
	Holds    bool      `json:"holds"`
	Limiting string    `json:"what_limits_it"`
}

type Result struct {
	Server      string    `json:"server"`
	Sessions    int       `json:"sessions"`
	Concurrency int       `json:"concurrency"`
	Duration    string    `json:"duration_per_measure"`
	LoginTime   string    `json:"duration_per_login_measure"`
	Rounds      int       `json:"rounds"`
	Measures    []Measure `json:"measures"`
	Ratios      []Ratio   `json:"ratios"`
}

func main() {
	var cfg config
	flag.StringVar(&cfg.databaseURL, "database-url", "", "Postgres server URL")
	flag.StringVar(&cfg.sessiond, "sessiond", "", "sessiond binary")
	flag.StringVar(&cfg.rawpgx, "rawpgx", "", "rawpgx binary")
	flag.StringVar(&cfg.jsonPath, "json", "", "also write the results as JSON here")
	flag.IntVar(&cfg.sessions, "sessions", 1_000_000, "sessions in the table (at least 10000)")
	flag.IntVar(&cfg.concurrency, "concurrency", 32, "concurrent connections for the checks")
	flag.IntVar(&cfg.loginConcurrency, "login-concurrency", 8, "concurrent logins, and argon2id verifications")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "measured time per target, over all rounds")
	flag.DurationVar(&cfg.loginDuration, "login-duration", 10*time.Second, "the same for logins and argon2id (some 70 a second)")
	flag.IntVar(&cfg.rounds, "rounds", 5, "rounds each pair of a ratio is measured in, alternating")
	flag.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured time before each target's first round")
	var sc scaleConfig
	scale := flag.Bool("scale", false, "run the scale benchmark instead (scripts/bench.sh scale; -scale-* flags)")
	flag.IntVar(&sc.sessions, "scale-sessions", 100_000, "scale: sessions in use, 10 a user")
	flag.DurationVar(&sc.touch, "scale-touch-interval", 20*time.Second, "scale: SESSIOND_SESSION_TOUCH_INTERVAL of the run")
	flag.DurationVar(&sc.window, "scale-window", 15*time.Second, "scale: length of a window of checks")
	flag.IntVar(&sc.windows, "scale-windows", 7, "scale: windows (the steady state is those after three touch intervals)")
	flag.DurationVar(&sc.noop, "scale-noop", 5*time.Second, "scale: the no-op route's time in each window (alternating with the checks)")
	flag.Parse()
	if *scale {
		sc.databaseURL, sc.sessiond, sc.concurrency = cfg.databaseURL, cfg.sessiond, cfg.concurrency
		if err := runScale(sc); err != nil {
			fail(err)
		}
		return
	}
	if cfg.databaseURL == "" || cfg.sessiond == "" || cfg.rawpgx == "" || cfg.sessions < 10_000 || cfg.rounds < 1 {
		fail(errors.New("need -database-url, -sessiond, -rawpgx, -sessions ≥ 10000 and -rounds ≥ 1"))
	}
	res, err := run(cfg)
	if err != nil {
		fail(err)
	}
	printTable(os.Stdout, res)
	if cfg.jsonPath != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(cfg.jsonPath, append(b, '\n'), 0o644); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench checks: FAIL:", err)
	os.Exit(1)
}

func say(format string, args ...any) { fmt.Fprintf(os.Stderr, "==> "+format+"\n", args...) }

func run(cfg config) (res Result, err error) {
	ctx := context.Background()
	res = Result{Sessions: cfg.sessions, Concurrency: cfg.concurrency, Duration: cfg.duration.String(), LoginTime: cfg.loginDuration.String(), Rounds: cfg.rounds}
	server, err := url.Parse(cfg.databaseURL)
	if err != nil {
		return res, err
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "sessiond_bench_" + hex.EncodeToString(b)
	// Two databases: the table at -sessions, where everything is measured, and one of 10,000
	// sessions, whose p50 the big table's is held against, measured alongside it.
	var dsn, smallDSN string
	for _, db := range []struct {
		name string
		dsn  *string
	}{{name, &dsn}, {name + "_10k", &smallDSN}} {
		if err := execAdmin(ctx, cfg.databaseURL, "CREATE DATABASE "+db.name); err != nil {
			return res, err
		}
		defer func() {
			if dropErr := execAdmin(context.Background(), cfg.databaseURL, "DROP DATABASE IF EXISTS "+db.name+" WITH (FORCE)"); dropErr != nil {
				err = errors.Join(err, dropErr)
			}
		}()
		u := *server
		u.Path = "/" + db.name
		*db.dsn = u.String()
		if err := migrate(ctx, *db.dsn, &res.Server); err != nil {
			return res, err
		}
	}

	// As in sessiond: a slot per core, and here room for every login client to wait.
	hasher := services.NewHasher(services.DefaultArgon2, services.HasherConfig{Queue: cfg.loginConcurrency})
	hash, err := hasher.Hash(ctx, loginPassword)
	if err != nil {
		return res, err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return res, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO users (id, email, password_hash, role, plan_id, created_at, updated_at)
SELECT md5('login' || u)::uuid, 'login' || u || '@example.com', $1, 'user', $2, now(), now() FROM generate_series(0, 255) u`, hash, planStandard); err != nil {
		return res, fmt.Errorf("seed login users: %w", err)
	}
	if err := seed(ctx, conn, 0, cfg.sessions, hash); err != nil {
		return res, err
	}
	smallConn, err := pgx.Connect(ctx, smallDSN)
	if err != nil {
		return res, err
	}
	defer smallConn.Close(ctx)
	if err := seed(ctx, smallConn, 0, 10_000, hash); err != nil {
		return res, err
	}

	procs := &processes{}
	defer procs.stop()
	env := []string{"SESSIOND_LOG_LEVEL=warn", "SESSIOND_SESSION_TOUCH_INTERVAL=1h",
		"SESSIOND_LOGIN_RATE_PER_IP=0", "SESSIOND_COOKIE_SECURE=false", "SESSIOND_PURGE_SCHEDULE=@every 24h"}
	cachedURL, err := procs.startSessiond(cfg.sessiond, append(env, "SESSIOND_DATABASE_URL="+dsn, "SESSIOND_CACHE_SIZE=200000")...)
	if err != nil {
		return res, err
	}
	uncachedURL, err := procs.startSessiond(cfg.sessiond, append(env, "SESSIOND_DATABASE_URL="+dsn, "SESSIOND_CACHE_SIZE=0")...)
	if err != nil {
		return res, err
	}
	smallURL, err := procs.startSessiond(cfg.sessiond, append(env, "SESSIOND_DATABASE_URL="+smallDSN, "SESSIOND_CACHE_SIZE=0")...)
	if err != nil {
		return res, err
	}
	rawURL, err := procs.startRaw(cfg.rawpgx, dsn)
	if err != nil {
		return res, err
	}

	load := &loader{cfg: cfg}
	small := tokenPool(10_000, 10_000)
	large := tokenPool(cfg.sessions, 100_000)
	say("measuring against %d sessions; each ratio's two sides in %d alternating rounds", cfg.sessions, cfg.rounds)
	if err := prewarm(cachedURL+"/v1/auth/session", small, cfg.concurrency); err != nil {
		return res, err
	}
	checks := load.alternate(cfg.duration,
		target{"no-op route (GET /healthz)", cfg.concurrency, get(cachedURL + "/healthz")},
		target{"check, cache on", cfg.concurrency, getWithToken(cachedURL+"/v1/auth/session", small)})
	noop, cached := checks[0], checks[1]
	// Both store-backed servers read the same rows, and each warms up on its own: the rows
	// come into shared buffers once, but every Postgres backend faults the shared-buffer pages
	// it touches into its own address space the first time (costly on this virtual machine).
	// Unwarmed, a side paid for that during its measure: the uncached check ran at 0.55-0.67
	// of the raw lookup warmed before it, and caught up over minutes.
	for _, u := range []string{rawURL + "/check", uncachedURL + "/v1/auth/session"} {
		if err := prewarm(u, large, cfg.concurrency); err != nil {
			return res, err
		}
	}
	lookups := load.alternate(cfg.duration,
		target{"check, cache off", cfg.concurrency, getWithToken(uncachedURL+"/v1/auth/session", large)},
		target{"raw pgx lookup, same query (Gin + pgx)", cfg.concurrency, getWithToken(rawURL+"/check", large)},
		target{"raw pgx lookup, 7 columns (reference)", cfg.concurrency, getWithToken(rawURL+"/check-narrow", large)})
	uncached, raw, narrow := lookups[0], lookups[1], lookups[2]
	// Table size alone: the same number of sessions in use at both sizes (10,000, at -sessions
	// drawn from the whole table). With the 100,000 of the measures above, the rows in use
	// outgrow Postgres's shared buffers (Debian's 128 MB) where the 10k table fits, and misses
	// are what the p50 measures.
	hot := tokenPool(cfg.sessions, 10_000)
	for _, w := range []struct {
		url    string
		tokens []string
	}{{smallURL, small}, {uncachedURL, hot}} {
		if err := prewarm(w.url+"/v1/auth/session", w.tokens, cfg.concurrency); err != nil {
			return res, err
		}
	}
	sizes := load.alternate(cfg.duration,
		target{"uncached check, 10k sessions", cfg.concurrency, getWithToken(smallURL+"/v1/auth/session", small)},
		target{fmt.Sprintf("uncached check, %d sessions", cfg.sessions), cfg.concurrency, getWithToken(uncachedURL+"/v1/auth/session", hot)})
	at10k, atN := sizes[0], sizes[1]
	logins := load.alternate(cfg.loginDuration,
		target{"login (argon2id + transaction)", cfg.loginConcurrency, postLogin(cachedURL + "/v1/auth/login")},
		target{"argon2id verify alone", cfg.loginConcurrency, func(*http.Client, *mrand.Rand) error {
			ok, err := hasher.Verify(ctx, loginPassword, hash)
			if err == nil && !ok {
				err = errors.New("verify failed")
			}
			return err
		}})
	login, argon := logins[0], logins[1]
	res.Measures = []Measure{noop, cached, uncached, raw, narrow, login, argon, at10k, atN}
	for _, m := range res.Measures {
		if m.Errors > 0 {
			return res, fmt.Errorf("%s: %d of %d requests failed", m.Name, m.Errors, m.Requests+m.Errors)
		}
	}
	// ratio is a over b, round by round; its value the median round's.
	ratio := func(name string, a, b Measure, target float64, atLeast bool, limiting string) Ratio {
		r := Ratio{Name: name, Limiting: limiting}
		for i := range a.Rounds {
			r.Rounds = append(r.Rounds, a.Rounds[i]/b.Rounds[i])
		}
		r.Value = median(r.Rounds)
		if atLeast {
			r.Target, r.Holds = fmt.Sprintf("≥ %.2f", target), r.Value >= target
		} else {
			r.Target, r.Holds = fmt.Sprintf("≤ %.2f", target), r.Value <= target
		}
		return r
	}
	p50 := func(m Measure) Measure { m.Rounds = []float64{m.P50MS}; return m }
	res.Ratios = []Ratio{
		ratio("cached check / no-op route", cached, noop, 0.75, true,
			"finding the token in the cache, and the JSON of session, user and plan"),
		ratio("uncached check / raw pgx lookup", uncached, raw, 0.9, true,
			"sessiond's middleware chain and its longer answer (the lookup itself costs the same)"),
		ratio("login / argon2id alone", login, argon, 0.9, true,
			"the cores argon2id shares with Postgres, and the login's round trips (README)"),
		ratio(fmt.Sprintf("p50 at %d / at 10k sessions", cfg.sessions), p50(atN), p50(at10k), 1.15, false,
			"one more B-tree level or two, for 10,000 sessions in use either way"),
	}
	return res, nil
}

// migrate brings the database at dsn to the current schema, and notes the server's version.
func migrate(ctx context.Context, dsn string, server *string) error {
	db, err := store.Open("postgres", dsn, store.Options{MaxOpenConns: 2})
	if err != nil {
		return err
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close()
	if err := services.Migrate(ctx, db, slog.New(slog.DiscardHandler)); err != nil {
		return err
	}
	return db.Raw("SELECT 'PostgreSQL ' || current_setting('server_version')").Scan(server).Error
}

// seed inserts sessions [from, to): 10 per user, ids and secrets derived from the index so
// that tokens can be rebuilt without storing them (token(i)).
func seed(ctx context.Context, conn *pgx.Conn, from, to int, hash string) error {
	say("seeding sessions %d to %d", from, to)
	began := time.Now()
	for lo := from; lo < to; lo += 500_000 {
		hi := min(lo+500_000, to)
		if _, err := conn.Exec(ctx, `INSERT INTO users (id, email, password_hash, role, plan_id, created_at, updated_at)
SELECT md5('user' || u)::uuid, 'user' || u || '@example.com', $3, 'user', $4, now(), now()
FROM generate_series($1::bigint / 10, ($2::bigint - 1) / 10) u ON CONFLICT DO NOTHING`, lo, hi, hash, planStandard); err != nil {
			return fmt.Errorf("seed users: %w", err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO sessions (id, user_id, secret_hash, device_name, device_type,
    created_at, last_seen_at, expires_at, idle_expires_at, idle_recheck_at)
SELECT md5('session' || i)::uuid, md5('user' || (i / 10))::uuid, sha256(sha256(int8send(i) || '\x62656e6368'::bytea)),
       'Bench ' || i, 'tv', now(), now(), now() + interval '30 days', now() + interval '14 days',
       now() + interval '14 days'
FROM generate_series($1::bigint, $2::bigint - 1) i`, lo, hi); err != nil {
			return fmt.Errorf("seed sessions: %w", err)
		}
	}
	// Statistics for the planner, visibility for index-only checks, and the seed's dirty pages
	// written out now rather than by the checkpointer in the middle of a measure.
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE users, sessions"); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		say("  no CHECKPOINT (%v): the seed's pages are written out during the measures", err)
	}
	say("  seeded in %s", time.Since(began).Round(time.Millisecond))
	return nil
}

// token rebuilds the token of seeded session i.
func token(i int) string {
	id := md5.Sum([]byte(fmt.Sprint("session", i)))
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(i))
	secret := sha256.Sum256(append(n[:], "bench"...))
	b64 := base64.RawURLEncoding
	return b64.EncodeToString(id[:]) + "." + b64.EncodeToString(secret[:])
}

// tokenPool returns the tokens of size sessions drawn at random from [0, of), no two alike.
func tokenPool(of, size int) []string {
	out := make([]string, 0, size)
	for _, i := range mrand.Perm(of)[:size] { // distinct sessions: size of them in use
		out = append(out, "Bearer "+token(i))
	}
	return out
}

// prewarm checks every token once: the cached measure then measures hits, and the
// store-backed ones find their rows in memory.
func prewarm(u string, tokens []string, concurrency int) error {
	say("  warming %s with %d sessions", u, len(tokens))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}}
	defer client.CloseIdleConnections()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for w := range concurrency {
		wg.Go(func() {
			for i := w; i < len(tokens); i += concurrency {
				req, _ := http.NewRequest(http.MethodGet, u, nil)
				req.Header.Set("Authorization", tokens[i])
				if err := do(client, req, http.StatusOK); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

type request func(c *http.Client, rng *mrand.Rand) error

func do(c *http.Client, req *http.Request, want int) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d", req.Method, req.URL.Path, resp.StatusCode)
	}
	return nil
}

func get(u string) request {
	return func(c *http.Client, _ *mrand.Rand) error {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		return do(c, req, http.StatusOK)
	}
}

func getWithToken(u string, tokens []string) request {
	return func(c *http.Client, rng *mrand.Rand) error {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Authorization", tokens[rng.IntN(len(tokens))])
		return do(c, req, http.StatusOK)
	}
}

func postLogin(u string) request {
	return func(c *http.Client, rng *mrand.Rand) error {
		body := fmt.Sprintf(`{"email":"login%d@example.com","password":%q,"device":{"name":"Bench TV","type":"tv"}}`, rng.IntN(256), loginPassword)
		req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		return do(c, req, http.StatusCreated)
	}
}

type loader struct{ cfg config }

// target is one thing to measure: req from concurrency workers.
type target struct {
	name        string
	concurrency int
	req         request
}

// alternate measures targets in turn, round after round, so that the machine's slow spells
// fall on all of them alike; each is measured for d in all, after a warm-up.
func (l *loader) alternate(d time.Duration, targets ...target) []Measure {
	per := d / time.Duration(l.cfg.rounds)
	out := make([]Measure, len(targets))
	lat := make([][]time.Duration, len(targets))
	elapsed := make([]time.Duration, len(targets))
	for i, t := range targets {
		out[i].Name = t.name
		say("  %s", t.name)
		l.load(t, l.cfg.warmup) // unmeasured
	}
	for range l.cfg.rounds {
		for i, t := range targets {
			latencies, errs, took := l.load(t, per)
			out[i].Requests += len(latencies)
			out[i].Errors += errs
			out[i].Rounds = append(out[i].Rounds, float64(len(latencies))/took.Seconds())
			elapsed[i] += took
			lat[i] = append(lat[i], latencies...)
		}
	}
	for i := range out {
		out[i].PerSecond = float64(out[i].Requests) / elapsed[i].Seconds()
		out[i].P50MS, out[i].P99MS = percentiles(lat[i])
	}
	return out
}

// load starts requests of t for d and returns the latencies of those that succeeded, how many
// failed, and the time until the last finished: the rate is over that time, not d, since a
// request started just before d ends is counted (for a login, a tenth of a one-second round).
func (l *loader) load(t target, d time.Duration) (latencies []time.Duration, errs int, took time.Duration) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: t.concurrency, MaxConnsPerHost: t.concurrency}}
	defer client.CloseIdleConnections()
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	start := time.Now()
	end := start.Add(d)
	for w := range t.concurrency {
		wg.Go(func() {
			rng := mrand.New(mrand.NewPCG(uint64(w), uint64(start.UnixNano())))
			var mine []time.Duration
			bad := 0
			for {
				began := time.Now()
				if began.After(end) {
					break
				}
				if err := t.req(client, rng); err != nil {
					bad++
				} else {
					mine = append(mine, time.Since(began))
				}
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			errs += bad
			mu.Unlock()
		})
	}
	wg.Wait()
	return latencies, errs, time.Since(start)
}

func percentiles(latencies []time.Duration) (p50, p99 float64) {
	if len(latencies) == 0 {
		return 0, 0
	}
	slices.Sort(latencies)
	return ms(latencies[len(latencies)/2]), ms(latencies[len(latencies)*99/100])
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// processes are the servers under test; stop kills them.
type processes struct{ cmds []*exec.Cmd }

func (p *processes) stop() {
	for _, c := range p.cmds {
		_ = c.Process.Kill()
		_ = c.Wait()
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func (p *processes) startSessiond(bin string, env ...string) (string, error) {
	addr, err := freeAddr()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), append(env, "SESSIOND_ADDR="+addr)...)
	cmd.Stderr = os.Stderr // warnings and errors only
	if err := cmd.Start(); err != nil {
		return "", err
	}
	p.cmds = append(p.cmds, cmd)
	base := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, nil
			}
		}
	}
	return "", errors.New("sessiond did not become ready within 30s")
}

func (p *processes) startRaw(bin, dsn string) (string, error) {
	cmd := exec.Command(bin, "-database-url", dsn)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
	p.cmds = append(p.cmds, cmd)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("rawpgx: %w", err)
	}
	return "http://" + strings.TrimSpace(strings.TrimPrefix(line, "listening ")), nil
}

func execAdmin(ctx context.Context, serverURL, sql string) error {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func printTable(w io.Writer, r Result) {
	fmt.Fprintf(w, "%s, %d sessions, %d connections, %s per measure (logins %s; %d rounds)\n\n", r.Server, r.Sessions, r.Concurrency, r.Duration, r.LoginTime, r.Rounds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measure\treq/s\tp50 ms\tp99 ms\t")
	for _, m := range r.Measures {
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t\n", m.Name, m.PerSecond, m.P50MS, m.P99MS)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ratio\tvalue\ttarget\t\tlimited by")
	for _, x := range r.Ratios {
		verdict := "ok"
		if !x.Holds {
			verdict = "MISSED"
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%s\t%s\t%s\n", x.Name, x.Value, x.Target, verdict, x.Limiting)
	}
	tw.Flush()
}
