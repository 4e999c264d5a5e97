package models

import "time"

// LimitPolicy says what happens when a login would exceed a user's device limit.
type LimitPolicy string

// The limit policies a plan or a user override may carry.
const (
	PolicyEvictOldest      LimitPolicy = "evict_oldest"       // revoke the sessions created first
	PolicyEvictLeastRecent LimitPolicy = "evict_least_recent" // revoke the sessions seen least recently
	PolicyReject           LimitPolicy = "reject"             // refuse the login with DeviceLimitError
)

// Valid reports whether p is one of the known policies.
func (p LimitPolicy) Valid() bool {
	switch p {
	case PolicyEvictOldest, PolicyEvictLeastRecent, PolicyReject:
		return true
	}
	return false
}

// Plan is a subscription tier: how many sessions its users may hold at once, how long those
// sessions live and how many of them may play at once. Nil timeouts fall back to the server defaults.
type Plan struct {
	ID                     string `gorm:"primaryKey"`
	Name                   string
	MaxSessions            int
	LimitPolicy            LimitPolicy
	IdleTimeoutSeconds     *int64
	AbsoluteTimeoutSeconds *int64
	MaxStreams             int               // how many devices may play at once (issue 22)
	StreamPolicy           StreamPolicy      // what a start at MaxStreams does
	StreamClassLimits      StreamClassLimits // lower caps for some classes: {"live": 1}
	CreatedAt              time.Time
	UpdatedAt              time.Time
}

// Timeouts are the two lifetimes of a session: idle (since last seen) and absolute (since login).
type Timeouts struct {
	Idle     time.Duration
	Absolute time.Duration
}

// Timeouts returns the plan's timeouts, each falling back to the matching default when unset.
func (p Plan) Timeouts(defaults Timeouts) Timeouts {
	t := defaults
	if p.IdleTimeoutSeconds != nil {
		t.Idle = time.Duration(*p.IdleTimeoutSeconds) * time.Second
	}
	if p.AbsoluteTimeoutSeconds != nil {
		t.Absolute = time.Duration(*p.AbsoluteTimeoutSeconds) * time.Second
	}
	return t
}
