package models

import "time"

// PlanEnforcement is a plan's limit being applied at once to every user of the plan over it
// (PATCH …?enforce=now), recorded in the transaction that changed the plan so that it always
// finishes: whoever runs it (the request, or a purge pass on any process once the request
// stopped or died) brings users down one by one in user-id order, and LastUserID, Users and
// SessionsEvicted advance in each user's own transaction. ClaimedBy names the run working on
// it until ClaimedUntil, a lease it renews with every user; a lapsed lease (the run died) lets
// another run take over. A newer enforcement of the same plan finishes (supersedes) an older
// one unfinished.
type PlanEnforcement struct {
	ID              string `gorm:"primaryKey"`
	PlanID          string
	RequestedAt     time.Time
	RequestedByKind ActorKind // the admin, or the operator on the command line (system)
	RequestedBy     string
	LastUserID      string // the last user done; every user of the plan above it is still to do
	Users           int    // users brought down so far
	SessionsEvicted int    // sessions evicted so far
	ClaimedBy       *string
	ClaimedUntil    *time.Time
	FinishedAt      *time.Time
	SupersededBy    *string // the newer enforcement that finished this one, if any
}

// Finished reports whether nothing is left to do.
func (e PlanEnforcement) Finished() bool { return e.FinishedAt != nil }
