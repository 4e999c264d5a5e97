package services

import (
	"context"
	"log/slog"
	"time"

	"gorm.io/gorm"
)

// Hooks for tests that hold a hashing slot, and watch the queue, by hand.

func HasherAcquire(ctx context.Context, h *Hasher) (release func(), err error) { return h.acquire(ctx) }

func HasherWaiting(h *Hasher) int64 { return h.waiting.Load() }

// StoreError is the classification every store error of a use case goes through.
var StoreError = storeError

// MigrateTo applies the migrations up to version, for tests that write rows as an older
// version stored them.
func MigrateTo(ctx context.Context, db *gorm.DB, log *slog.Logger, version int64) error {
	return migrateTo(ctx, db, log, version)
}

// HealthActiveSessions is Health.ActiveSessions with another bound for the exact count.
func HealthActiveSessions(ctx context.Context, h *Health, now time.Time, exactBelow int64) (ActiveCount, error) {
	return h.activeSessions(ctx, now, exactBelow)
}
