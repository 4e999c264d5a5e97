package models

import "time"

// Role is what a user may do beyond managing their own sessions.
type Role string

// The roles a user may have.
const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleUser || r == RoleAdmin }

// User is an account. Email is stored in the one spelling services.NormalizeEmail gives it (local
// part PRECIS-normalised and case-folded, domain in IDNA ASCII form); PasswordHash is an argon2id
// PHC string. The overrides, when set, win over the plan's limit and policy.
type User struct {
	ID                       string `gorm:"primaryKey"`
	Email                    string
	PasswordHash             string
	DisplayName              string
	Role                     Role
	PlanID                   string
	MaxSessionsOverride      *int
	MaxSessionsOverrideUntil *time.Time // the override lapses at this time; nil = never
	LimitPolicyOverride      *LimitPolicy
	MaxStreamsOverride       *int // wins over the plan's max_streams
	DisabledAt               *time.Time
	CreatedAt                time.Time
	UpdatedAt                time.Time
}

// Disabled reports whether an admin has disabled the account.
func (u User) Disabled() bool { return u.DisabledAt != nil }

// Limit is the effective device limit of one user at one moment.
type Limit struct {
	Max    int
	Policy LimitPolicy
}

// EffectiveLimit returns the user's device limit at now: the user's overrides where set (and,
// for the count, not lapsed), else the plan's.
func (u User) EffectiveLimit(p Plan, now time.Time) Limit {
	l := Limit{Max: p.MaxSessions, Policy: p.LimitPolicy}
	if u.MaxSessionsOverride != nil && (u.MaxSessionsOverrideUntil == nil || now.Before(*u.MaxSessionsOverrideUntil)) {
		l.Max = *u.MaxSessionsOverride
	}
	if u.LimitPolicyOverride != nil {
		l.Policy = *u.LimitPolicyOverride
	}
	return l
}

// RegisterParams is a self-service sign-up.
type RegisterParams struct {
	Email       string
	Password    string
	DisplayName string
	IP          string // the client's address, for its rate limit
}
