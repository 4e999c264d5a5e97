package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessiond/sessiond/services"
)

// streamMetrics count stream starts, refusals and takeovers by plan name (a bounded label:
// admins create plans), and gauge the live streams by plan (issue 22).
type streamMetrics struct {
	started, rejected, takenOver *prometheus.CounterVec
}

var _ services.StreamObserver = (*metrics)(nil)

func (m *metrics) registerStreams(health *services.Health, log *slog.Logger) {
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"plan"})
	}
	m.streams = streamMetrics{
		started:   counter("sessiond_stream_starts_total", "Streams started, by plan."),
		rejected:  counter("sessiond_stream_rejections_total", "Stream starts refused at the stream limit (reject policy), by plan."),
		takenOver: counter("sessiond_stream_takeovers_total", "Streams ended because another device took their place, by plan."),
	}
	active := &activeStreams{health: health, log: log, desc: prometheus.NewDesc(
		"sessiond_active_streams", "Live stream leases (not ended, not lapsed) by plan, counted at most every 15 s.", []string{"plan"}, nil)}
	m.reg.MustRegister(m.streams.started, m.streams.rejected, m.streams.takenOver, active)
}

func (m *metrics) StreamStarted(plan string, takenOver int) {
	m.streams.started.WithLabelValues(plan).Inc()
	if takenOver > 0 {
		m.streams.takenOver.WithLabelValues(plan).Add(float64(takenOver))
	}
}

func (m *metrics) StreamRejected(plan string) { m.streams.rejected.WithLabelValues(plan).Inc() }

// activeStreams is the gauge of live streams by plan, counted on scrape at most once per
// activeCountTTL, within activeCountTimeout; a failed count keeps the last values.
type activeStreams struct {
	health *services.Health
	log    *slog.Logger
	desc   *prometheus.Desc

	mu      sync.Mutex
	values  map[string]int64
	counted time.Time
}

func (a *activeStreams) Describe(ch chan<- *prometheus.Desc) { ch <- a.desc }

func (a *activeStreams) Collect(ch chan<- prometheus.Metric) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if time.Since(a.counted) >= activeCountTTL {
		ctx, cancel := context.WithTimeout(context.Background(), activeCountTimeout)
		v, err := a.health.ActiveStreamsByPlan(ctx, time.Now())
		cancel()
		if err != nil {
			a.log.Warn("count active streams for metrics", "err", err)
		} else {
			a.values, a.counted = v, time.Now()
		}
	}
	for plan, n := range a.values {
		ch <- prometheus.MustNewConstMetric(a.desc, prometheus.GaugeValue, float64(n), plan)
	}
}
