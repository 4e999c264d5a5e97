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
// through the partial index on idle expiry.
func (h *Health) ActiveSessions(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := h.db.WithContext(ctx).Model(&models.Session{}).
		Where("revoked_at IS NULL AND idle_expires_at > ?", now).Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("count active sessions: %w", storeError(err))
	}
	return n, nil
}

// ActiveStreamsByPlan counts the live stream leases (not ended, not lapsed) at now, by the
// name of their user's plan: for the metrics gauge.
func (h *Health) ActiveStreamsByPlan(ctx context.Context, now time.Time) (map[string]int64, error) {
	var rows []struct {
		Name string
		N    int64
	}
	err := h.db.WithContext(ctx).Table("streams").Select("plans.name AS name, COUNT(*) AS n").
		Joins("JOIN users ON users.id = streams.user_id").Joins("JOIN plans ON plans.id = users.plan_id").
		Where("streams.ended_at IS NULL AND streams.expires_at > ?", now).Group("plans.name").Scan(&rows).Error
	if err != nil {
		return nil, storeError(err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.Name] = r.N
	}
	return out, nil
}
