package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/store"
)

// collectActive returns the gauge's samples of one scrape.
func collectActive(t *testing.T, a *activeSessions) []float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(a)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for _, f := range families {
		for _, m := range f.GetMetric() {
			out = append(out, m.GetGauge().GetValue())
		}
	}
	return out
}

// TestActiveSessionsGauge: the gauge reports the store's number; when the store stops
// answering it keeps the last number for a while, then reports nothing rather than a stale one.
func TestActiveSessionsGauge(t *testing.T) {
	db, err := store.Open("sqlite", filepath.Join(t.TempDir(), "sessiond.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := services.Migrate(context.Background(), db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	a := &activeSessions{health: services.NewHealth(db), log: slog.New(slog.DiscardHandler),
		desc: prometheus.NewDesc("sessiond_active_sessions", "test", nil, nil)}
	if got := collectActive(t, a); len(got) != 1 || got[0] != 0 {
		t.Fatalf("gauge on an empty store = %v, want [0]", got)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlDB.Close(); err != nil { // the store stops answering
		t.Fatal(err)
	}
	a.value, a.asked = 7, time.Time{} // a number from before, and a scrape due to ask again
	if got := collectActive(t, a); len(got) != 1 || got[0] != 7 {
		t.Errorf("gauge after a failed count = %v, want the last number [7]", got)
	}
	a.counted, a.asked = time.Now().Add(-activeCountStale), time.Time{}
	if got := collectActive(t, a); len(got) != 0 {
		t.Errorf("gauge whose number is %s old = %v, want none", activeCountStale, got)
	}
}
