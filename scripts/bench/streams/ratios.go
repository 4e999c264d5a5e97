package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"runtime/pprof"
	"time"

	"github.com/jackc/pgx/v5"
)

const rawSQL = `UPDATE streams SET last_heartbeat_at = $2, expires_at = $3 WHERE id = $1 AND ended_at IS NULL
RETURNING id, user_id, session_id, device_id, device_name, device_type, content_id, class, started_at, last_heartbeat_at, expires_at`

func run(ctx context.Context, cfg config) (res Result, err error) {
	res = Result{Leases: cfg.leases, InUse: cfg.inUse, Concurrency: cfg.concurrency, Rounds: cfg.rounds, P50Rounds: cfg.p50Rounds}
	if cfg.databaseURL == "" || cfg.inUse < cfg.concurrency || cfg.leases < cfg.inUse || cfg.concurrency < 1 || cfg.rounds < 1 || cfg.p50Rounds < 1 {
		return res, fmt.Errorf("need -database-url, -leases ≥ -in-use ≥ -concurrency ≥ 1, -rounds and -p50-rounds ≥ 1")
	}
	server, err := url.Parse(cfg.databaseURL)
	if err != nil {
		return res, err
	}
	large, err := open(ctx, server, cfg, cfg.leases)
	if err != nil {
		return res, fmt.Errorf("seed %d leases: %w", cfg.leases, err)
	}
	defer large.close()
	small, err := open(ctx, server, cfg, cfg.inUse)
	if err != nil {
		return res, fmt.Errorf("seed %d leases: %w", cfg.inUse, err)
	}
	defer small.close()
	res.SeedSeconds, res.Reused = large.seeded.Seconds(), large.seeded == 0
	if err := large.pool.QueryRow(ctx, "SELECT 'PostgreSQL ' || current_setting('server_version')").Scan(&res.Server); err != nil {
		return res, err
	}
	for _, b := range []*bench{large, small} {
		if err := b.warm(ctx, cfg.concurrency); err != nil {
			return res, err
		}
	}
	conc := cfg.concurrency

	// Heartbeat p50 at N against 10k: serial heartbeats through one connection, interleaved.
	var p10k, pN []float64
	var next10k, nextN int
	var miss10k, missN tableStats
	for range cfg.p50Rounds {
		for _, side := range []struct {
			b    *bench
			p    *[]float64
			next *int
			miss *tableStats
		}{{small, &p10k, &next10k, &miss10k}, {large, &pN, &nextN, &missN}} {
			before, err := side.b.statsNow(ctx)
			if err != nil {
				return res, err
			}
			lat, next, err := serial(ctx, side.b.heartbeat(side.b.svc1, 1), *side.next, cfg.p50Slice)
			if err != nil {
				return res, err
			}
			after, err := side.b.statsNow(ctx)
			if err != nil {
				return res, err
			}
			d := after.minus(before)
			side.miss.blksRead += d.blksRead
			side.miss.blksHit += d.blksHit
			*side.p, *side.next = append(*side.p, median(lat)), next
		}
	}
	res.P50 = pair(fmt.Sprint(cfg.leases, " leases"), fmt.Sprint(cfg.inUse, " leases"), "≤ 1.15", pN, p10k)
	res.Sizes.MissShareN, res.Sizes.MissShare10k = missN.missShare(), miss10k.missShare()

	// Throughput at N: heartbeats against the raw UPDATE; starts against logins. The sides
	// alternate A B, B A, … so that a drift of the machine's load falls on both.
	raw := func(ctx context.Context, w, k int) error {
		return rawBeat(ctx, large.pool, large.hot[(k*conc+w)%len(large.hot)].stream)
	}
	accs, err := newAccounts(ctx, large, conc)
	if err != nil {
		return res, err
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return res, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return res, err
		}
		defer pprof.StopCPUProfile()
	}
	for _, m := range []struct {
		p          *Pair
		a, b       op
		aName, bNm string
	}{
		{&res.Heartbeats, large.heartbeat(large.svc, conc), raw, "service heartbeats/s", "raw pgx UPDATEs/s"},
		{&res.Starts, accs.startOp(large.svc), accs.loginOp(large.svc), "stream starts/s", "logins without the hash/s"},
	} {
		var as, bs []float64
		for r := range cfg.rounds {
			order := []op{m.a, m.b}
			if r%2 == 1 {
				order = []op{m.b, m.a}
			}
			var got [2]float64
			for i, o := range order {
				if got[i], err = throughput(ctx, o, conc, cfg.duration); err != nil {
					return res, fmt.Errorf("%s: %w", m.aName, err)
				}
			}
			if r%2 == 1 {
				got[0], got[1] = got[1], got[0]
			}
			as, bs = append(as, got[0]), append(bs, got[1])
		}
		*m.p = pair(m.aName, m.bNm, "≥ 0.80", as, bs)
	}

	// What each transaction does, serially on one connection.
	const windows, n = 3, 200
	flush := func() (int64, error) { return large.flush(ctx) }
	if res.Heartbeat, err = account(ctx, large.pool, large.heartbeat(large.svc1, 1), flush, windows, n); err != nil {
		return res, err
	}
	if res.Start, err = account(ctx, large.pool, accs.startOp(large.svc1), flush, windows, n); err != nil {
		return res, err
	}
	if res.Login, err = account(ctx, large.pool, accs.loginOp(large.svc1), flush, windows, n); err != nil {
		return res, err
	}
	if res.Raw, err = rawCost(ctx, large, windows, n); err != nil {
		return res, err
	}
	res.Sizes, err = sizes(ctx, large, small, res.Sizes)
	return res, err
}

func rawBeat(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, stream string) error {
	now := time.Now()
	rows, err := q.Query(ctx, rawSQL, stream, now, now.Add(ttl))
	if err != nil {
		return err
	}
	_, err = pgx.CollectExactlyOneRow(rows, pgx.RowToMap)
	return err
}

// rawCost is account's figures for the raw UPDATE, on one connection of the pool.
func rawCost(ctx context.Context, b *bench, windows, n int) (Cost, error) {
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return Cost{}, err
	}
	defer conn.Release()
	var sent int64
	do := func(ctx context.Context, _, k int) error {
		sent++
		return rawBeat(ctx, conn, b.hot[k%len(b.hot)].stream)
	}
	flush := func() (int64, error) {
		_, err := conn.Exec(ctx, "SELECT pg_stat_force_next_flush()")
		s := sent
		sent = 0
		return s, err
	}
	return account(ctx, b.pool, do, flush, windows, n)
}
