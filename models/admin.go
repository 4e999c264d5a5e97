package models

import "time"

// ServiceClient is a credential another service uses to call /v1/introspect. Only the hash of
// its secret is stored; the secret is shown once, at creation.
type ServiceClient struct {
	ID         string `gorm:"primaryKey"`
	Name       string
	SecretHash []byte
	CreatedAt  time.Time
	DisabledAt *time.Time
}

// AuditEvent records one admin or operator action.
type AuditEvent struct {
	ID         string `gorm:"primaryKey"`
	ActorKind  ActorKind
	ActorID    string
	Action     string
	TargetType string
	TargetID   string
	At         time.Time
	Details    string
}

// Optional is a field of a partial update: absent (Set false), null (Set, Value nil), or a value.
type Optional[T any] struct {
	Set   bool
	Value *T
}

// PlanInput creates a plan or, with Optional-like pointers, patches one. Nil timeouts mean
// "server default".
type PlanInput struct {
	Name            *string
	MaxSessions     *int
	LimitPolicy     *LimitPolicy
	IdleTimeout     Optional[time.Duration]
	AbsoluteTimeout Optional[time.Duration]

	// Streams (issue 22). On create, absent fields take DefaultMaxStreams and StreamReject.
	MaxStreams        *int
	StreamPolicy      *StreamPolicy
	StreamClassLimits *StreamClassLimits
}

// DefaultMaxStreams is the stream limit of a plan created without one.
const DefaultMaxStreams = 2

// UserPatch is an admin's partial update of a user.
type UserPatch struct {
	PlanID                   *string
	MaxSessionsOverride      Optional[int]
	MaxSessionsOverrideUntil Optional[time.Time]
	LimitPolicyOverride      Optional[LimitPolicy]
	MaxStreamsOverride       Optional[int] // null clears it
	Role                     *Role
	Disabled                 *bool
}

// UserFilter narrows an admin's user listing.
type UserFilter struct {
	EmailPrefix string
	PlanID      string
}

// EnforceResult says what applying a lowered limit at once did: so far, when Enforcing.
type EnforceResult struct {
	Users     int  // users brought down to the limit
	Sessions  int  // sessions evicted
	Streams   int  // streams ended (limit_lowered): the newest over a lowered max_streams
	Enforcing bool // not finished yet: the purge job's next pass (on any process) finishes it
}

// Admin is who acts in an admin use case: an admin user, or an operator on the command line.
type Admin struct {
	ID       string // the admin's user id; "" on the command line
	Operator bool   // true on the command line
}

// AsAdmin returns the principal as the actor of admin use cases, or ErrForbidden when its user
// is not an admin. It is the one place that says who may administer: the API's admin routes
// and the admin pages both ask it, and only render its refusal their own way.
func (p Principal) AsAdmin() (Admin, error) {
	if p.User.Role != RoleAdmin {
		return Admin{}, ErrForbidden
	}
	return Admin{ID: p.User.ID}, nil
}

// EmailCollision is what `sessiond users collisions` reports: accounts whose stored emails are
// one address in the one spelling sessiond now gives it (Email), at least one of them stored in
// another spelling; or, with Email "" and Problem set, an account whose stored email is refused
// outright. Users are oldest first, each with the email as stored. An account stored in another
// spelling than its normal one is not found at sign-in by that email until an operator acts.
type EmailCollision struct {
	Email   string
	Problem string
	Users   []User
}
