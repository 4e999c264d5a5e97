package services

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/store"
)

// Health answers whether the store can be reached.
type Health struct{ db *gorm.DB }

// NewHealth returns a Health over db.
func NewHealth(db *gorm.DB) *Health { return &Health{db: db} }

// Ping round-trips to the store within ctx's deadline; any failure is models.ErrUnavailable.
func (h *Health) Ping(ctx context.Context) error { return store.Ping(ctx, h.db) }

// ActiveSessions counts the sessions that are live now (not revoked, not past either expiry),
// through the partial index of live sessions (idle_expires_at has no index of its own: it is
// written by every touch, which must stay a HOT update).
func (h *Health) ActiveSessions(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := h.db.WithContext(ctx).Model(&models.Session{}).
		Where("revoked_at IS NULL AND idle_expires_at > ?", now).Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("count active sessions: %w", storeError(err))
	}
	return n, nil
}
