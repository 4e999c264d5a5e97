package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/store"
)

// watchCache registers the session cache's metrics (a nil cache reports zeros) and returns
// what the touch flusher calls after each flush (TouchesConfig.OnFlush). With watchTouches
// they let an operator see the working set and the write rate without a profiler.
func (m *metrics) watchCache(c *store.SessionCache) func(services.TouchFlush) {
	counter := func(name, help string, v func(store.CacheStats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(v(c.Stats())) })
	}
	flushes := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "sessiond_touch_flush_duration_seconds",
		Help:    "Duration of the touch flushes that had touches to write (all their batch statements).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 4, 8),
	})
	m.reg.MustRegister(flushes,
		counter("sessiond_cache_hits_total", "Checks answered from the session cache.", func(s store.CacheStats) uint64 { return s.Hits }),
		counter("sessiond_cache_misses_total", "Checks the session cache could not answer (the store did).", func(s store.CacheStats) uint64 { return s.Misses }),
		counter("sessiond_cache_evictions_total", "Sessions the cache let go for room or age (SESSIOND_CACHE_SIZE, SESSIOND_CACHE_TTL), not revocations.", func(s store.CacheStats) uint64 { return s.Evictions }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sessiond_cache_entries", Help: "Sessions in the cache now (about 1.2 KiB each)."},
			func() float64 { return float64(c.Stats().Entries) }),
	)
	return func(f services.TouchFlush) { flushes.Observe(f.Elapsed.Seconds()) }
}

// watchTouches registers the touch flusher's counters and queue depth.
func (m *metrics) watchTouches(t *services.Touches) {
	counter := func(name, help string, v func(services.TouchStats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(v(t.Stats())) })
	}
	m.reg.MustRegister(
		counter("sessiond_touches_queued_total", "Touches (a session seen, its idle deadline slid) checks queued for writing.", func(s services.TouchStats) uint64 { return s.Queued }),
		counter("sessiond_touches_dropped_total", "Touches dropped because the queue was full (never waited for).", func(s services.TouchStats) uint64 { return s.Dropped }),
		counter("sessiond_touch_rows_total", "Session rows the touch flushes wrote.", func(s services.TouchStats) uint64 { return s.Rows }),
		counter("sessiond_touch_statements_total", "Batch statements the touch flushes ran (rows per statement: the ratio of the two rates).", func(s services.TouchStats) uint64 { return s.Statements }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sessiond_touch_queue_depth", Help: "Sessions whose touch waits to be written."},
			func() float64 { return float64(t.Stats().Depth) }),
	)
}
