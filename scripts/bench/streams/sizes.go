package main

import (
	"context"

	"github.com/sessiond/sessiond/services"
)

// Sizes are what the p50 ratio depends on: the streams table and its indexes against the
// shared buffers, and how many of the heartbeats' block reads missed them.
type Sizes struct {
	HeapN         int64   `json:"streams_heap_bytes_at_n"`
	PKeyN         int64   `json:"streams_pkey_bytes_at_n"`
	PKeyDepthN    int     `json:"streams_pkey_depth_at_n"`
	PKeyDepth10k  int     `json:"streams_pkey_depth_at_10k"`
	IndexesN      int64   `json:"streams_index_bytes_at_n"`
	Heap10k       int64   `json:"streams_heap_bytes_at_10k"`
	SharedBuffers string  `json:"shared_buffers"`
	MissShareN    float64 `json:"p50_block_miss_share_at_n"`
	MissShare10k  float64 `json:"p50_block_miss_share_at_10k"`
}

func sizes(ctx context.Context, large, small *bench, s Sizes) (Sizes, error) {
	q := `SELECT pg_relation_size('streams'), pg_relation_size('streams_pkey'), pg_indexes_size('streams'), current_setting('shared_buffers')`
	if err := large.pool.QueryRow(ctx, q).Scan(&s.HeapN, &s.PKeyN, &s.IndexesN, &s.SharedBuffers); err != nil {
		return s, err
	}
	if err := small.pool.QueryRow(ctx, "SELECT pg_relation_size('streams')").Scan(&s.Heap10k); err != nil {
		return s, err
	}
	s.PKeyDepthN, s.PKeyDepth10k = depth(ctx, large), depth(ctx, small)
	return s, nil
}

// depth is the primary key's B-tree levels from pageinspect's metapage (the root's level + 1),
// or 0 when the extension is not available.
func depth(ctx context.Context, b *bench) int {
	if _, err := b.pool.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pageinspect"); err != nil {
		return 0
	}
	var level int
	if err := b.pool.QueryRow(ctx, "SELECT level FROM bt_metap('streams_pkey')").Scan(&level); err != nil {
		return 0
	}
	return level + 1
}

// statsNow flushes the serial connection's statistics and reads them.
func (b *bench) statsNow(ctx context.Context) (tableStats, error) {
	if _, err := b.flush(ctx); err != nil {
		return tableStats{}, err
	}
	return readStats(ctx, b.pool)
}

// heartbeat renews the leases in use through s, worker w's k-th being lease k*conc + w.
func (b *bench) heartbeat(s *services.Sessions, conc int) op {
	return func(ctx context.Context, w, k int) error {
		_, err := s.Heartbeat(ctx, b.hot[(k*conc+w)%len(b.hot)].token, b.hot[(k*conc+w)%len(b.hot)].stream)
		return err
	}
}
