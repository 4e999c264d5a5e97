package services

import (
	"context"
	"encoding/json"
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

// ActiveExactBelow is up to how many live sessions ActiveSessions counts them: a count reads
// every live session's index entry or row (about 20 ms per 100,000 here), which at millions
// of sessions, every scrape of every process, would cost more than the number is worth.
const ActiveExactBelow = 100_000

// ActiveCount is how many sessions are live, and whether the number is the planner's estimate.
type ActiveCount struct {
	N         int64
	Estimated bool
}

// ActiveSessions returns how many sessions are live at now: not revoked, idle deadline ahead
// (it never passes the absolute one). On Postgres it first asks the planner how many rows
// match (EXPLAIN: table statistics from autovacuum's ANALYZE, scaled to the table's current
// size; no row is read). At ActiveExactBelow or more that estimate is the answer; below, the
// sessions are counted exactly. On SQLite (one process, small) they are always counted.
func (h *Health) ActiveSessions(ctx context.Context, now time.Time) (ActiveCount, error) {
	return h.activeSessions(ctx, now, ActiveExactBelow)
}

const activeWhere = "revoked_at IS NULL AND idle_expires_at > ?"

func (h *Health) activeSessions(ctx context.Context, now time.Time, exactBelow int64) (ActiveCount, error) {
	db := h.db.WithContext(ctx)
	if store.Dialect(db) == "postgres" {
		var plan string
		if err := db.Raw("EXPLAIN (FORMAT JSON) SELECT 1 FROM sessions WHERE "+activeWhere, now).Row().Scan(&plan); err != nil {
			return ActiveCount{}, fmt.Errorf("estimate active sessions: %w", storeError(err))
		}
		var explained []struct {
			Plan struct {
				Rows float64 `json:"Plan Rows"`
			}
		}
		if err := json.Unmarshal([]byte(plan), &explained); err != nil || len(explained) != 1 {
			return ActiveCount{}, fmt.Errorf("estimate active sessions: unexpected plan %.200q", plan)
		}
		if est := int64(explained[0].Plan.Rows); est >= exactBelow {
			return ActiveCount{N: est, Estimated: true}, nil
		}
	}
	var n int64
	if err := db.Model(&models.Session{}).Where(activeWhere, now).Count(&n).Error; err != nil {
		return ActiveCount{}, fmt.Errorf("count active sessions: %w", storeError(err))
	}
	return ActiveCount{N: n}, nil
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
