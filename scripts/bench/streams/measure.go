package main

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// op is one operation of a measure, by the worker's k-th item (its lease or its user).
type op func(ctx context.Context, worker, k int) error

// throughput runs op on conc workers for d and returns operations per second, over the time
// until the last one finished. Worker w's k-th operation gets k: each worker owns its items.
func throughput(ctx context.Context, do op, conc int, d time.Duration) (float64, error) {
	var ops atomic.Int64
	var firstErr error
	var once sync.Once
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			for k := 0; time.Now().Before(deadline); k++ {
				if err := do(ctx, w, k); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				ops.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(ops.Load()) / time.Since(start).Seconds(), firstErr
}

// serial runs op one at a time for d, from item from on, and returns the latencies in ms and
// the next item.
func serial(ctx context.Context, do op, from int, d time.Duration) ([]float64, int, error) {
	var lat []float64
	deadline := time.Now().Add(d)
	k := from
	for ; time.Now().Before(deadline); k++ {
		t := time.Now()
		if err := do(ctx, 0, k); err != nil {
			return nil, k, err
		}
		lat = append(lat, float64(time.Since(t).Nanoseconds())/1e6)
	}
	return lat, k, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

// pair makes the ratio of two sides measured in rounds: the median of the rounds' ratios.
func pair(aName, bName, target string, a, b []float64) Pair {
	p := Pair{AName: aName, BName: bName, AMed: median(a), BMed: median(b), Target: target}
	for i := range a {
		p.Ratios = append(p.Ratios, a[i]/b[i])
	}
	p.Ratio = median(p.Ratios)
	return p
}

// tableStats are the database's statistics that a transaction's cost is read from.
type tableStats struct{ wal, ins, upd, del, hot, blksRead, blksHit int64 }

// readStats sums the statistics of the database's tables (heap and index blocks of streams
// only). It is read on pool, after force flushed the statistics of the connection that did
// the work.
func readStats(ctx context.Context, pool *pgxpool.Pool) (tableStats, error) {
	var s tableStats
	err := pool.QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint,
  (SELECT sum(n_tup_ins)::bigint FROM pg_stat_user_tables), (SELECT sum(n_tup_upd)::bigint FROM pg_stat_user_tables),
  (SELECT sum(n_tup_del)::bigint FROM pg_stat_user_tables), (SELECT sum(n_tup_hot_upd)::bigint FROM pg_stat_user_tables),
  (SELECT heap_blks_read + idx_blks_read FROM pg_statio_user_tables WHERE relname = 'streams'),
  (SELECT heap_blks_hit + idx_blks_hit FROM pg_statio_user_tables WHERE relname = 'streams')`).
		Scan(&s.wal, &s.ins, &s.upd, &s.del, &s.hot, &s.blksRead, &s.blksHit)
	return s, err
}

func (s tableStats) minus(b tableStats) tableStats {
	return tableStats{s.wal - b.wal, s.ins - b.ins, s.upd - b.upd, s.del - b.del, s.hot - b.hot, s.blksRead - b.blksRead, s.blksHit - b.blksHit}
}

// missShare is the share of block reads that were not in shared buffers.
func (s tableStats) missShare() float64 {
	if s.blksRead+s.blksHit == 0 {
		return 0
	}
	return float64(s.blksRead) / float64(s.blksRead+s.blksHit)
}

// account measures the cost of windows × n serial operations on one connection: do runs
// them, flush makes that connection's statistics visible and returns the statements it
// sent. Rows are the counts over all windows; WAL the least window, since other databases'
// work on the server only adds to it, and without full-page images (each window runs twice
// over its items, measured the second time).
func account(ctx context.Context, pool *pgxpool.Pool, do op, flush func() (int64, error), windows, n int) (Cost, error) {
	var c Cost
	var total tableStats
	var stmts int64
	from := 1 << 20 // items past the ones the measures use, yet the same kind
	for w := range windows {
		// A page's first change after a checkpoint logs a full-page image; the heartbeats in use
		// are spread over as many pages, so the window first touches its pages unmeasured.
		for k := range n {
			if err := do(ctx, 0, from+w*n+k); err != nil {
				return c, err
			}
		}
		if _, err := flush(); err != nil {
			return c, err
		}
		before, err := readStats(ctx, pool)
		if err != nil {
			return c, err
		}
		for k := range n {
			if err := do(ctx, 0, from+w*n+k); err != nil {
				return c, err
			}
		}
		s, err := flush()
		if err != nil {
			return c, err
		}
		stmts += s
		after, err := readStats(ctx, pool)
		if err != nil {
			return c, err
		}
		d := after.minus(before)
		if wal := float64(d.wal) / float64(n); w == 0 || wal < c.WALBytes {
			c.WALBytes = wal
		}
		total = tableStats{ins: total.ins + d.ins, upd: total.upd + d.upd, del: total.del + d.del, hot: total.hot + d.hot}
	}
	ops := float64(windows * n)
	c.Statements = float64(stmts) / ops
	c.Inserted, c.Updated, c.Deleted = float64(total.ins)/ops, float64(total.upd)/ops, float64(total.del)/ops
	if total.upd > 0 {
		c.HOTShare = float64(total.hot) / float64(total.upd)
	}
	return c, nil
}
