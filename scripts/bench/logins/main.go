// Command logins measures what a flood of concurrent logins does to sessiond: -logins of them
// (500), of distinct users, released at once against a fresh sessiond process on Postgres. It
// reports:
//
//   - the answers by status: with a bounded hashing queue only 201 (admitted) and 503
//     (refused at once, or a deadline passed) may come; anything else fails the run;
//   - the peak RSS of sessiond (VmHWM, reset when the flood starts) above its idle RSS
//     (measured before its first login), against the bound the hashing slots allow:
//     (N + 1) × 19 MiB, N the slots (GOMAXPROCS), one more for the garbage collector's lag;
//   - the p50, p99 and maximum latency of the admitted logins, against one login alone
//     (the median of ten, measured first in the same process), and how fast refusals came.
//
// Each -queues entry is one flood on its own sessiond, started with that SESSIOND_HASH_QUEUE
// and otherwise the defaults (SESSIOND_REQUEST_TIMEOUT 10 s); the default "64,500" sets the
// default queue beside one where all 500 may wait, as all did before the queue was bounded:
// then only each login's deadline turns it away. sessiond inherits this program's environment,
// so e.g. GOMEMLIMIT set for the run applies to it.
//
// It works in a database of its own, created on the server -database-url names and dropped
// (WITH (FORCE)) when it ends. scripts/bench.sh logins builds sessiond and runs it.
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
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/store"
)

const (
	planStandard  = "0190a000-0000-7000-8000-000000000002" // seeded by the migrations
	loginPassword = "benchmark passphrase"
	argonMiB      = 19 // services.DefaultArgon2's memory
	alone         = 10 // logins measured one at a time first
)

type config struct {
	databaseURL, sessiond, jsonPath string
	logins                          int
	queues                          []int
}

// Flood is one flood of logins against one sessiond.
type Flood struct {
	HashQueue   int            `json:"hash_queue"`
	Slots       int            `json:"slots"`
	Answers     map[string]int `json:"answers"` // "201", "503 unavailable", …
	Unexpected  int            `json:"unexpected"`
	IdleRSSMiB  float64        `json:"idle_rss_mib"`
	PeakRSSMiB  float64        `json:"peak_rss_mib"`
	BoundMiB    float64        `json:"bound_mib"` // idle + (slots + 1) × 19
	WithinBound bool           `json:"within_bound"`
	AloneMS     float64        `json:"login_alone_ms"` // median of ten, one at a time
	AdmittedP50 float64        `json:"admitted_p50_ms"`
	AdmittedP99 float64        `json:"admitted_p99_ms"`
	AdmittedMax float64        `json:"admitted_max_ms"`
	RefusedP99  float64        `json:"refused_p99_ms"`
	TookMS      float64        `json:"took_ms"` // until the last answer
}

// Result is the whole run.
type Result struct {
	Server string  `json:"server"`
	Logins int     `json:"logins"`
	Floods []Flood `json:"floods"`
}

func main() {
	var cfg config
	var queues string
	flag.StringVar(&cfg.databaseURL, "database-url", "", "Postgres server URL")
	flag.StringVar(&cfg.sessiond, "sessiond", "", "sessiond binary")
	flag.StringVar(&cfg.jsonPath, "json", "", "also write the results as JSON here")
	flag.IntVar(&cfg.logins, "logins", 500, "concurrent logins per flood, each of its own user")
	flag.StringVar(&queues, "queues", "64,500", "SESSIOND_HASH_QUEUE of each flood, comma-separated")
	flag.Parse()
	for _, q := range strings.Split(queues, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(q))
		if err != nil || n < 0 {
			fail(fmt.Errorf("-queues: %q is not a queue size", q))
		}
		cfg.queues = append(cfg.queues, n)
	}
	if cfg.databaseURL == "" || cfg.sessiond == "" || cfg.logins < 1 || len(cfg.queues) == 0 {
		fail(errors.New("need -database-url, -sessiond, -logins ≥ 1 and -queues"))
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
	for _, f := range res.Floods {
		if f.Unexpected > 0 {
			fail(fmt.Errorf("queue %d: %d answers were neither 201 nor 503: %v", f.HashQueue, f.Unexpected, f.Answers))
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench logins: FAIL:", err)
	os.Exit(1)
}

func say(format string, args ...any) { fmt.Fprintf(os.Stderr, "==> "+format+"\n", args...) }

func run(cfg config) (res Result, err error) {
	ctx := context.Background()
	res.Logins = cfg.logins
	server, err := url.Parse(cfg.databaseURL)
	if err != nil {
		return res, err
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "sessiond_bench_logins_" + hex.EncodeToString(b)
	if err := execAdmin(ctx, cfg.databaseURL, "CREATE DATABASE "+name); err != nil {
		return res, err
	}
	defer func() {
		if dropErr := execAdmin(context.Background(), cfg.databaseURL, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); dropErr != nil {
			err = errors.Join(err, dropErr)
		}
	}()
	u := *server
	u.Path = "/" + name
	dsn := u.String()
	if err := seed(ctx, dsn, len(cfg.queues)*(cfg.logins+alone), &res.Server); err != nil {
		return res, err
	}
	for i, q := range cfg.queues {
		first := i * (cfg.logins + alone)
		f, err := flood(cfg, dsn, q, first)
		if err != nil {
			return res, fmt.Errorf("queue %d: %w", q, err)
		}
		res.Floods = append(res.Floods, f)
	}
	return res, nil
}

// seed migrates the database and inserts n users, login<i>@example.com, sharing one
// password hash (computed here with sessiond's parameters).
func seed(ctx context.Context, dsn string, n int, server *string) error {
	db, err := store.Open("postgres", dsn, store.Options{MaxOpenConns: 2})
	if err != nil {
		return err
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close()
	if err := services.Migrate(ctx, db, slog.New(slog.DiscardHandler)); err != nil {
		return err
	}
	hash, err := services.NewHasher(services.DefaultArgon2, services.HasherConfig{}).Hash(ctx, loginPassword)
	if err != nil {
		return err
	}
	err = db.Exec(`INSERT INTO users (id, email, password_hash, role, plan_id, created_at, updated_at)
SELECT md5('user' || u)::uuid, 'login' || u || '@example.com', ?, 'user', ?, now(), now()
FROM generate_series(0, ? - 1) u`, hash, planStandard, n).Error
	if err != nil {
		return fmt.Errorf("seed users: %w", err)
	}
	return db.Raw("SELECT 'PostgreSQL ' || current_setting('server_version')").Scan(server).Error
}

// flood starts sessiond with the hash queue q, measures its idle RSS and ten logins alone
// (users first…first+9), then releases cfg.logins logins of the next users at once.
func flood(cfg config, dsn string, q, first int) (Flood, error) {
	f := Flood{HashQueue: q, Slots: runtime.GOMAXPROCS(0), Answers: map[string]int{}}
	cmd, base, err := startSessiond(cfg.sessiond, "SESSIOND_DATABASE_URL="+dsn, "SESSIOND_HASH_QUEUE="+strconv.Itoa(q),
		"SESSIOND_LOGIN_RATE_PER_IP=0", "SESSIOND_LOG_LEVEL=warn")
	if err != nil {
		return f, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	pid := cmd.Process.Pid
	if f.IdleRSSMiB, err = status(pid, "VmRSS"); err != nil {
		return f, err
	}
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.logins}}
	var solo []time.Duration
	for i := range alone {
		a := login(client, base, first+i)
		if a.status != http.StatusCreated {
			return f, fmt.Errorf("a login alone answered %d %s", a.status, a.code)
		}
		solo = append(solo, a.took)
	}
	f.AloneMS = ms(percentile(solo, 0.5))
	// The peak from here on: writing 5 to clear_refs resets VmHWM to the current RSS.
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		return f, fmt.Errorf("reset the peak RSS: %w", err)
	}
	say("queue %d: %d logins at once (idle RSS %.1f MiB, a login alone %.0f ms)", q, cfg.logins, f.IdleRSSMiB, f.AloneMS)
	answers := make([]answer, cfg.logins)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range cfg.logins {
		wg.Go(func() {
			<-start
			answers[i] = login(client, base, first+alone+i)
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	f.TookMS = ms(time.Since(began))
	if f.PeakRSSMiB, err = status(pid, "VmHWM"); err != nil {
		return f, err
	}
	f.BoundMiB = f.IdleRSSMiB + float64((f.Slots+1)*argonMiB)
	f.WithinBound = f.PeakRSSMiB <= f.BoundMiB
	var admitted, refused []time.Duration
	for _, a := range answers {
		key := strconv.Itoa(a.status)
		if a.code != "" {
			key += " " + a.code
		}
		if a.err != nil {
			key = "no answer"
		}
		f.Answers[key]++
		switch {
		case a.status == http.StatusCreated:
			admitted = append(admitted, a.took)
		case a.status == http.StatusServiceUnavailable && a.code == "unavailable" && a.retryAfter:
			refused = append(refused, a.took)
		default:
			f.Unexpected++
		}
	}
	f.AdmittedP50, f.AdmittedP99, f.AdmittedMax = ms(percentile(admitted, 0.5)), ms(percentile(admitted, 0.99)), ms(percentile(admitted, 1))
	f.RefusedP99 = ms(percentile(refused, 0.99))
	return f, nil
}

type answer struct {
	status     int
	code       string
	retryAfter bool
	took       time.Duration
	err        error
}

// login signs user i in and returns the answer.
func login(c *http.Client, base string, i int) answer {
	body := fmt.Sprintf(`{"email":"login%d@example.com","password":%q,"device":{"name":"Bench TV","type":"tv"}}`, i, loginPassword)
	began := time.Now()
	resp, err := c.Post(base+"/v1/auth/login", "application/json", strings.NewReader(body))
	if err != nil {
		return answer{err: err, took: time.Since(began)}
	}
	defer resp.Body.Close()
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return answer{status: resp.StatusCode, code: e.Error.Code, retryAfter: resp.Header.Get("Retry-After") != "", took: time.Since(began)}
}

// status reads a memory figure (VmRSS, VmHWM) of process pid, in MiB.
func status(pid int, field string) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, field)
}

// percentile returns the p-quantile (0 < p ≤ 1) of ds by the nearest rank; 0 for none.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// startSessiond runs bin serve with env on a free port and returns it once /readyz answers.
func startSessiond(bin string, env ...string) (*exec.Cmd, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), append(env, "SESSIOND_ADDR="+addr)...)
	cmd.Stderr = os.Stderr // warnings and errors only
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	base := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd, base, nil
			}
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return nil, "", errors.New("sessiond did not become ready within 30s")
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
	fmt.Fprintf(w, "%s, %d concurrent logins of distinct users per flood\n\n", r.Server, r.Logins)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "hash queue\tanswers\tidle RSS MiB\tpeak RSS MiB\t(peak-idle)/19 MiB\tbound MiB\t\talone ms\tadmitted p50 ms\tp99 ms\tmax ms\trefused p99 ms\t")
	for _, f := range r.Floods {
		var answers []string
		for k, n := range f.Answers {
			answers = append(answers, fmt.Sprintf("%d×%s", n, k))
		}
		slices.Sort(answers)
		verdict := "ok"
		if !f.WithinBound {
			verdict = "OVER"
		}
		fmt.Fprintf(tw, "%d\t%s\t%.1f\t%.1f\t%.1f\t%.1f\t%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.1f\t\n", f.HashQueue, strings.Join(answers, " "),
			f.IdleRSSMiB, f.PeakRSSMiB, (f.PeakRSSMiB-f.IdleRSSMiB)/argonMiB, f.BoundMiB, verdict, f.AloneMS, f.AdmittedP50, f.AdmittedP99, f.AdmittedMax, f.RefusedP99)
	}
	tw.Flush()
	if len(r.Floods) > 0 {
		f := r.Floods[0]
		fmt.Fprintf(w, "\nbound = idle + (N + 1) × %d MiB, N = %d hashing slots; admitted p99 / a login alone = %.1f (queue %d)\n",
			argonMiB, f.Slots, f.AdmittedP99/f.AloneMS, f.HashQueue)
	}
}
