// Command streams benchmarks stream leases (issue 22) on Postgres, in one run:
//
//   - heartbeats through services.Sessions.Heartbeat (token checked through the session cache,
//     then the one UPDATE) against a raw pgx single-row UPDATE … WHERE id = $1 AND ended_at IS
//     NULL RETURNING … on the same table, at the same concurrency (target ≥ 0.8×);
//   - stream starts (services.Sessions.StartStream) against the login transaction without the
//     hash (services.Sessions.SignIn with the user known, as OIDC and TV codes call it), at the
//     same concurrency, on users of the same plan, where each start replaces the session's own
//     stream and each login the same device's session: both end one row and write one, neither
//     is refused nor evicts (target ≥ 0.8×), with statements, rows and WAL per transaction;
//   - the heartbeat's p50 with N leases against 10,000 leases, in interleaved rounds (10k, N,
//     10k, N…), with 10,000 leases in use on both sides (target: median ratio ≤ 1.15×);
//   - the write amplification per heartbeat: WAL bytes and rows touched, and the share of HOT
//     updates, from pg_stat deltas.
//
// It prints a table and, with -json, writes the figures. Run it through scripts/bench.sh streams.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"
)

type config struct {
	databaseURL string
	leases      int
	inUse       int
	concurrency int
	duration    time.Duration
	rounds      int
	p50Rounds   int
	p50Slice    time.Duration
	keep        bool
	cpuProfile  string
	jsonPath    string
}

// Result is what one run measured.
type Result struct {
	Server      string  `json:"server"`
	Leases      int     `json:"leases"`
	InUse       int     `json:"leases_in_use"`
	Concurrency int     `json:"concurrency"`
	Rounds      int     `json:"rounds"`
	P50Rounds   int     `json:"p50_rounds"`
	SeedSeconds float64 `json:"seed_seconds"`
	Reused      bool    `json:"reused_kept_database"`

	Heartbeats Pair `json:"heartbeats"` // service vs raw pgx UPDATE, per second
	Starts     Pair `json:"starts"`     // StartStream vs SignIn without the hash, per second
	P50        Pair `json:"p50_ms"`     // heartbeat p50 at N vs at 10k (ratio: median of the rounds' ratios)

	Heartbeat Cost `json:"heartbeat_cost"`
	Start     Cost `json:"start_cost"`
	Login     Cost `json:"login_cost"`
	Raw       Cost `json:"raw_update_cost"`

	Sizes Sizes `json:"sizes"`
}

// Pair is one ratio: the median of the A/B rounds' ratios, with each side's median.
type Pair struct {
	AName  string    `json:"a"`
	BName  string    `json:"b"`
	AMed   float64   `json:"a_median"`
	BMed   float64   `json:"b_median"`
	Ratio  float64   `json:"ratio"`
	Ratios []float64 `json:"round_ratios"`
	Target string    `json:"target"`
}

// Cost is what one transaction of a kind does, per operation, from pg_stat deltas over serial
// operations on one connection (WAL: the least over the windows, since other work on the
// server only adds to it).
type Cost struct {
	Statements float64 `json:"statements"` // as pgx sent them, BEGIN and COMMIT included
	Inserted   float64 `json:"rows_inserted"`
	Updated    float64 `json:"rows_updated"`
	Deleted    float64 `json:"rows_deleted"`
	HOTShare   float64 `json:"hot_share_of_updates"`
	WALBytes   float64 `json:"wal_bytes"` // without full-page images
}

func main() {
	var cfg config
	flag.StringVar(&cfg.databaseURL, "database-url", "", "Postgres server URL; databases of its own are created and dropped there")
	flag.IntVar(&cfg.leases, "leases", 1_000_000, "active leases in the large table (10000000 allowed)")
	flag.IntVar(&cfg.inUse, "in-use", 10_000, "leases that heartbeat, on both sides of the p50 ratio (the small table holds exactly these)")
	flag.IntVar(&cfg.concurrency, "concurrency", 16, "heartbeats, starts or logins in flight")
	flag.DurationVar(&cfg.duration, "duration", 2*time.Second, "per side and round of the throughput ratios")
	flag.IntVar(&cfg.rounds, "rounds", 9, "rounds of the throughput ratios (the sides alternate; the median round's ratio counts)")
	flag.IntVar(&cfg.p50Rounds, "p50-rounds", 21, "rounds of the p50 ratio (10k, N, 10k, N…; the median round's ratio counts)")
	flag.DurationVar(&cfg.p50Slice, "p50-duration", time.Second, "per side and round of the p50 ratio: short, so that both sides of a round see the same load")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the seeded databases and reuse them on the next -keep run of the same size (for iterating; documented runs seed afresh)")
	flag.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the throughput rounds (both sides) here")
	flag.StringVar(&cfg.jsonPath, "json", "", "also write the results as JSON here")
	flag.Parse()
	res, err := run(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	print(res)
	if cfg.jsonPath != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(cfg.jsonPath, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			os.Exit(1)
		}
	}
}

func print(r Result) {
	seed := fmt.Sprintf("seeded in %.1f s", r.SeedSeconds)
	if r.Reused {
		seed = "kept databases reused"
	}
	fmt.Printf("\nstreams benchmark, %s, %d leases (%d in use), concurrency %d, %d rounds (p50: %d), %s\n",
		r.Server, r.Leases, r.InUse, r.Concurrency, r.Rounds, r.P50Rounds, seed)
	fmt.Printf("%-46s %12s %12s %8s %8s  %s\n", "measure", "sessiond", "baseline", "ratio", "target", "rounds' ratios")
	for _, p := range []struct {
		name string
		p    Pair
		f    string
	}{
		{"heartbeats/s vs raw pgx UPDATE", r.Heartbeats, "%12.0f %12.0f"},
		{"stream starts/s vs login without the hash", r.Starts, "%12.0f %12.0f"},
		{fmt.Sprintf("heartbeat p50 ms, %d leases vs 10k", r.Leases), r.P50, "%12.3f %12.3f"},
	} {
		fmt.Printf("%-46s "+p.f+" %8.2f %8s  %.2f\n", p.name, p.p.AMed, p.p.BMed, p.p.Ratio, p.p.Target, p.p.Ratios)
	}
	fmt.Printf("\n%-22s %10s %9s %8s %8s %8s %6s %9s\n", "per transaction", "statements", "inserted", "updated", "deleted", "HOT", "", "WAL bytes")
	for _, c := range []struct {
		name string
		c    Cost
	}{{"heartbeat (service)", r.Heartbeat}, {"raw pgx UPDATE", r.Raw}, {"stream start", r.Start}, {"login without hash", r.Login}} {
		fmt.Printf("%-22s %10.1f %9.2f %8.2f %8.2f %7.0f%% %6s %9.0f\n", c.name, c.c.Statements, c.c.Inserted, c.c.Updated, c.c.Deleted,
			100*c.c.HOTShare, "", c.c.WALBytes)
	}
	s := r.Sizes
	fmt.Printf("\nstreams at N: heap %s, primary key %s (depth %d), all indexes %s; at 10k: heap %s (depth %d); shared_buffers %s\n",
		mb(s.HeapN), mb(s.PKeyN), s.PKeyDepthN, mb(s.IndexesN), mb(s.Heap10k), s.PKeyDepth10k, s.SharedBuffers)
	fmt.Printf("p50 rounds at N: %.1f%% of the heartbeats' heap and index blocks read from outside shared buffers (10k: %.1f%%)\n",
		100*s.MissShareN, 100*s.MissShare10k)
}

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }
