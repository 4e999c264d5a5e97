package services

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// Insights: what the plan limits do to people, computed from the sessions and events already
// stored (GET /v1/admin/stats). Every figure is one aggregate over an index made for it
// (migration 00018), so the answer stays well under a second at 1M users and 10M events
// (scripts/bench.sh stats).

// Stats computes the admins' insights.
type Stats struct {
	db  *gorm.DB
	now func() time.Time
}

// NewStats returns the insights over db; now may be nil (the wall clock).
func NewStats(db *gorm.DB, now func() time.Time) *Stats { return &Stats{db: db, now: now} }

// dailyTypes are the event types a day counts.
var dailyTypes = []models.EventType{
	models.EventLogin, models.EventEvicted, models.EventLimitRejected,
	models.EventStreamStarted, models.EventStreamRejected, models.EventStreamTakenOver,
}

// Get returns the insights over the last days UTC days, today included (days 0 means
// models.DefaultStatsDays). Errors: *models.ValidationError when days is out of 1..MaxStatsDays.
// It reads in one transaction, so the figures are of one moment on Postgres (repeatable read).
func (s *Stats) Get(ctx context.Context, days int) (models.Stats, error) {
	if days == 0 {
		days = models.DefaultStatsDays
	}
	if days < 1 || days > models.MaxStatsDays {
		return models.Stats{}, models.Invalid("days", fmt.Sprintf("must be between 1 and %d", models.MaxStatsDays))
	}
	now := clock(s.now)
	since := now.Truncate(24*time.Hour).AddDate(0, 0, -(days - 1)) // Truncate is in UTC: midnight
	out := models.Stats{Days: days, Since: since, Now: now}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		plans, err := planStats(tx, now, since)
		if err != nil {
			return err
		}
		out.Plans = plans
		out.Daily, err = dailyStats(tx, since, now, days)
		return err
	})
	if err != nil {
		return models.Stats{}, fmt.Errorf("stats over %d days: %w", days, storeError(err))
	}
	return out, nil
}

// planStats fills one row per plan, plans without users included.
func planStats(tx *gorm.DB, now, since time.Time) ([]models.PlanStats, error) {
	var plans []models.Plan
	if err := tx.Order("name").Find(&plans).Error; err != nil {
		return nil, err
	}
	out := make([]models.PlanStats, len(plans))
	byID := make(map[string]*models.PlanStats, len(plans))
	for i, p := range plans {
		out[i] = models.PlanStats{PlanID: p.ID, Name: p.Name, MaxSessions: p.MaxSessions, MaxStreams: p.MaxStreams}
		byID[p.ID] = &out[i]
	}
	var users []struct {
		PlanID string
		N      int64
	}
	// An index-only scan of users_plan_id_idx.
	if err := tx.Raw(`SELECT plan_id, COUNT(*) AS n FROM users GROUP BY plan_id`).Scan(&users).Error; err != nil {
		return nil, err
	}
	for _, u := range users {
		if p := byID[u.PlanID]; p != nil {
			p.Users = u.N
		}
	}
	// Live sessions per user from the partial index sessions_live_user_recheck_idx (no heap
	// visit) for those whose idle recheck is still ahead (idle_recheck_at is never later than
	// the idle deadline, and the index leaves idle_expires_at out so that touches stay HOT),
	// plus the few whose recheck is due, read from the rows (sessions_idle_recheck_at_idx),
	// joined per user (a FULL JOIN of two grouped scans keeps the planner's estimate of ~one
	// row per user, where a UNION regrouped made it guess 200 and loop over users); then only
	// those users' rows: the effective limit is the override while it holds.
	var live []struct {
		PlanID   string
		Sessions int64
		AtLimit  int64
	}
	err := tx.Raw(`
SELECT u.plan_id AS plan_id, SUM(a.n) AS sessions,
       SUM(CASE WHEN a.n >= CASE WHEN u.max_sessions_override IS NOT NULL
                                  AND (u.max_sessions_override_until IS NULL OR u.max_sessions_override_until > ?)
                                 THEN u.max_sessions_override ELSE p.max_sessions END
                THEN 1 ELSE 0 END) AS at_limit
FROM (SELECT user_id, COALESCE(l.n, 0) + COALESCE(d.n, 0) AS n
      FROM (SELECT user_id, COUNT(*) AS n FROM sessions
            WHERE revoked_at IS NULL AND expires_at > ? AND idle_recheck_at > ? GROUP BY user_id) l
      FULL JOIN (SELECT user_id, COUNT(*) AS n FROM sessions
            WHERE revoked_at IS NULL AND idle_recheck_at <= ? AND expires_at > ? AND idle_expires_at > ? GROUP BY user_id) d
      USING (user_id)) a
JOIN users u ON u.id = a.user_id
JOIN plans p ON p.id = u.plan_id
GROUP BY u.plan_id`, now, now, now, now, now, now).Scan(&live).Error
	if err != nil {
		return nil, err
	}
	for _, l := range live {
		if p := byID[l.PlanID]; p != nil {
			p.ActiveSessions, p.UsersAtDeviceLimit = l.Sessions, l.AtLimit
		}
	}
	// Live streams per user (streams_user_active_idx; expires_at is read from the row, kept
	// out of every index so that heartbeats stay HOT updates), then the same join.
	var playing []struct {
		PlanID  string
		Streams int64
		AtLimit int64
	}
	err = tx.Raw(`
SELECT u.plan_id AS plan_id, SUM(a.n) AS streams,
       SUM(CASE WHEN a.n >= COALESCE(u.max_streams_override, p.max_streams) THEN 1 ELSE 0 END) AS at_limit
FROM (SELECT user_id, COUNT(*) AS n FROM streams WHERE ended_at IS NULL AND expires_at > ? GROUP BY user_id) a
JOIN users u ON u.id = a.user_id
JOIN plans p ON p.id = u.plan_id
GROUP BY u.plan_id`, now).Scan(&playing).Error
	if err != nil {
		return nil, err
	}
	for _, l := range playing {
		if p := byID[l.PlanID]; p != nil {
			p.ActiveStreams, p.UsersAtStreamLimit = l.Streams, l.AtLimit
		}
	}
	// What the device limit did over the window, by the user's plan now.
	var limited []struct {
		PlanID string
		Type   models.EventType
		N      int64
	}
	err = tx.Raw(`
SELECT u.plan_id AS plan_id, e.type AS type, COUNT(*) AS n
FROM session_events e JOIN users u ON u.id = e.user_id
WHERE e.type IN ? AND e.at >= ? AND e.at <= ?
GROUP BY u.plan_id, e.type`, []models.EventType{models.EventEvicted, models.EventLimitRejected}, since, now).Scan(&limited).Error
	if err != nil {
		return nil, err
	}
	for _, l := range limited {
		if p := byID[l.PlanID]; p != nil {
			if l.Type == models.EventEvicted {
				p.Evictions = l.N
			} else {
				p.LimitRejections = l.N
			}
		}
	}
	return out, nil
}

// dailyStats counts the window's events by UTC day and type in one pass over the
// (type, at) index. The day is arithmetic on Postgres; SQLite keeps times as text, so there
// it is a CASE over the day boundaries.
func dailyStats(tx *gorm.DB, since, now time.Time, days int) ([]models.DayStats, error) {
	var b strings.Builder
	args := make([]any, 0, days+4)
	b.WriteString("SELECT type, ")
	switch {
	case tx.Dialector.Name() == "postgres":
		// Arithmetic: a CASE of 90 branches costs 45 comparisons a row over a quarter.
		b.WriteString("CAST(floor(EXTRACT(EPOCH FROM (at - CAST(? AS timestamptz))) / 86400) AS integer)")
		args = append(args, since)
	case days > 1:
		b.WriteString("CASE")
		for d := 1; d < days; d++ {
			fmt.Fprintf(&b, " WHEN at < ? THEN %d", d-1)
			args = append(args, since.AddDate(0, 0, d))
		}
		fmt.Fprintf(&b, " ELSE %d END", days-1)
	default:
		b.WriteString("0")
	}
	b.WriteString(" AS day, COUNT(*) AS n FROM session_events WHERE type IN ? AND at >= ? AND at <= ? GROUP BY type, day")
	args = append(args, dailyTypes, since, now)
	var rows []struct {
		Type models.EventType
		Day  int
		N    int64
	}
	if err := tx.Raw(b.String(), args...).Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]models.DayStats, days)
	for i := range out {
		out[i].Date = since.AddDate(0, 0, i)
	}
	for _, r := range rows {
		if r.Day < 0 || r.Day >= days {
			continue
		}
		d := &out[r.Day]
		switch r.Type {
		case models.EventLogin:
			d.Logins = r.N
		case models.EventEvicted:
			d.Evictions = r.N
		case models.EventLimitRejected:
			d.LimitRejections = r.N
		case models.EventStreamStarted:
			d.StreamStarts = r.N
		case models.EventStreamRejected:
			d.StreamRejections = r.N
		case models.EventStreamTakenOver:
			d.Takeovers = r.N
		}
	}
	return out, nil
}
