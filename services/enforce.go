package services

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/sessiond/sessiond/models"
)

// Plan enforcement: a plan's limit applied at once to every user over it (PATCH …?enforce=now),
// recorded with the plan change and finished by whoever finds it unfinished.

const (
	// enforceBatch is how many over-limit users one read picks; each is then brought down in a
	// short transaction of its own, so a plan with 100,000 users never holds one huge transaction.
	enforceBatch = 500
	// enforceLease is how long a run's claim on an enforcement holds without news. The run
	// renews it with every user, so only a run that died (or stalled that long) loses it, to the
	// next purge pass.
	enforceLease = 15 * time.Second
	// enforceMargin is how long before its context's deadline a run stops taking on users (at
	// most a fifth of the time it has), so that a request still answers in time.
	enforceMargin = time.Second
)

// enforcer runs plan enforcements (models.PlanEnforcement): for the request that records one
// (Plans.Update) and for the purge pass that finishes those left unfinished.
//
// Concurrency: each user is brought down in a transaction under the user's lock (the login
// lock) that also advances the enforcement's cursor and counts, if the run still holds the
// claim, so a user is done and counted exactly once however runs stop or die. Only the run
// holding the claim does users; the others leave it alone until its lease lapses.
type enforcer struct {
	db  *gorm.DB
	obs Observer
	now func() time.Time
	log *slog.Logger
}

// startEnforcement records, in the caller's transaction (the one that changes the plan), an
// enforcement of the plan claimed by runner, and finishes the plan's older unfinished ones:
// the new one enforces the plan as it is now, from its first user.
func startEnforcement(tx *gorm.DB, planID string, by models.Admin, runner string, now time.Time) (models.PlanEnforcement, error) {
	a := actorOf(by)
	until := now.Add(enforceLease)
	enf := models.PlanEnforcement{
		ID: newID(), PlanID: planID, RequestedAt: now, RequestedByKind: a.kind, RequestedBy: a.id,
		LastUserID: uuid.Nil.String(), ClaimedBy: &runner, ClaimedUntil: &until,
	}
	if err := storeError(tx.Create(&enf).Error); err != nil {
		return enf, err
	}
	err := tx.Model(&models.PlanEnforcement{}).Where("plan_id = ? AND finished_at IS NULL AND id <> ?", planID, enf.ID).
		Updates(map[string]any{"finished_at": now, "superseded_by": enf.ID, "claimed_by": nil, "claimed_until": nil}).Error
	return enf, storeError(err)
}

// run brings the users of enf's plan who are over its limit down to it, in user-id order from
// where enf stopped, while runner holds the claim and ctx leaves time. It returns the
// enforcement's totals, with Enforcing set unless it is finished: ctx ran out (the claim is
// then released, for the next purge pass), another run took over, or a newer enforcement of
// the plan superseded this one; and how many sessions this run evicted. After an error the
// claim is released too: nothing is lost, and the next pass goes on from the last user done.
func (e enforcer) run(ctx context.Context, enf models.PlanEnforcement, runner string) (models.EnforceResult, int, error) {
	res := models.EnforceResult{Users: enf.Users, Sessions: enf.SessionsEvicted, Enforcing: true}
	mine := 0
	// ended ends the run in the state cur (the enforcement as last read) is in.
	ended := func(cur models.PlanEnforcement, state stepState, err error) (models.EnforceResult, int, error) {
		switch {
		case state == stepFinished && cur.SupersededBy == nil:
			res.Enforcing = false
			if cur.ID != "" { // else it went with its plan
				res.Users, res.Sessions = cur.Users, cur.SessionsEvicted // whoever finished it
			}
		case state == stepDone: // out of time, or an error: the next purge pass goes on
			e.release(ctx, enf.ID, runner)
		}
		return res, mine, err
	}
	stop := stopTime(ctx)
	after := enf.LastUserID
	for {
		ids, err := e.overLimit(ctx, enf.PlanID, after)
		if err != nil {
			return ended(enf, stepDone, err)
		}
		for _, userID := range ids {
			if ctx.Err() != nil || (!stop.IsZero() && !time.Now().Before(stop)) {
				return ended(enf, stepDone, nil)
			}
			n, err := e.step(ctx, enf, runner, userID)
			if errors.Is(err, errClaimLost) {
				return ended(e.whyLost(ctx, enf.ID))
			}
			if err != nil {
				return ended(enf, stepDone, err)
			}
			mine, res.Sessions = mine+n, res.Sessions+n
			if n > 0 {
				res.Users++
			}
		}
		if len(ids) < enforceBatch {
			return ended(e.finish(ctx, enf.ID, runner))
		}
		after = ids[len(ids)-1]
	}
}

// overLimit returns up to a batch of the plan's users above after, in id order, who hold more
// active sessions than the plan's limit as it is now.
func (e enforcer) overLimit(ctx context.Context, planID, after string) ([]string, error) {
	now := clock(e.now)
	var ids []string
	err := e.db.WithContext(ctx).Raw(`SELECT s.user_id FROM sessions s JOIN users u ON u.id = s.user_id JOIN plans p ON p.id = u.plan_id
WHERE u.plan_id = ? AND s.user_id > ? AND s.revoked_at IS NULL AND s.expires_at > ? AND s.idle_expires_at > ?
GROUP BY s.user_id HAVING count(*) > min(p.max_sessions) ORDER BY s.user_id LIMIT ?`,
		planID, after, now, now, enforceBatch).Scan(&ids).Error
	return ids, storeError(err)
}

// stepState is what a run learns from the enforcement's row when it takes a step.
type stepState int

const (
	stepDone     stepState = iota // the run may go on
	stepLost                      // another run holds the claim now
	stepFinished                  // finished (by this run, another, or a newer enforcement), or its plan deleted
)

// errClaimLost rolls a step back: the enforcement is no longer the run's to advance.
var errClaimLost = errors.New("plan enforcement no longer claimed by this run")

// step brings one user down and returns how many sessions it evicted. The enforcement's
// progress (cursor, counts) and the renewal of runner's lease commit in the same transaction,
// and only while runner holds the claim: otherwise the step rolls back with errClaimLost. The
// progress UPDATE takes the enforcement's row lock after the user's (lock order: user, then
// enforcement; nothing takes them the other way round), which serialises it with a takeover,
// a supersede or a finish.
func (e enforcer) step(ctx context.Context, enf models.PlanEnforcement, runner, userID string) (int, error) {
	now := clock(e.now)
	var n int
	err := transact(ctx, e.db, e.obs, func(tx *gorm.DB, out *ended) error {
		var err error
		if n, err = bringDown(tx, out, enf, userID, now); err != nil {
			return err
		}
		users := 0
		if n > 0 {
			users = 1
		}
		upd := tx.Model(&models.PlanEnforcement{}).Where("id = ? AND claimed_by = ? AND finished_at IS NULL", enf.ID, runner).
			Updates(map[string]any{
				"last_user_id": userID, "users": gorm.Expr("users + ?", users),
				"sessions_evicted": gorm.Expr("sessions_evicted + ?", n), "claimed_until": now.Add(enforceLease),
			})
		if err := storeError(upd.Error); err != nil {
			return err
		}
		if upd.RowsAffected == 0 {
			return errClaimLost
		}
		return nil
	})
	return n, err
}

// whyLost reads why a step found the enforcement no longer its run's: finished (or gone with
// its plan), or claimed by another run.
func (e enforcer) whyLost(ctx context.Context, id string) (models.PlanEnforcement, stepState, error) {
	var cur models.PlanEnforcement
	err := storeError(e.db.WithContext(ctx).Where("id = ?", id).Take(&cur).Error)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return cur, stepFinished, nil
	case err != nil:
		return cur, stepLost, err
	case cur.Finished():
		return cur, stepFinished, nil
	}
	return cur, stepLost, nil
}

// finish marks the enforcement finished, if runner still holds it.
func (e enforcer) finish(ctx context.Context, id, runner string) (models.PlanEnforcement, stepState, error) {
	now := clock(e.now)
	var (
		cur   models.PlanEnforcement
		state stepState
	)
	err := e.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if cur, state, err = lockClaimed(tx, id, runner); err != nil || state != stepDone {
			return err
		}
		state, cur.FinishedAt = stepFinished, &now
		return storeError(tx.Model(&models.PlanEnforcement{}).Where("id = ?", id).
			Updates(map[string]any{"finished_at": now, "claimed_by": nil, "claimed_until": nil}).Error)
	})
	return cur, state, err
}

// lockClaimed locks the enforcement's row and says whether runner may go on with it.
func lockClaimed(tx *gorm.DB, id, runner string) (models.PlanEnforcement, stepState, error) {
	var cur models.PlanEnforcement
	err := storeError(tx.Clauses(clause.Locking{Strength: "NO KEY UPDATE"}).Where("id = ?", id).Take(&cur).Error)
	switch {
	case errors.Is(err, models.ErrNotFound): // its plan was deleted, and it with it
		return cur, stepFinished, nil
	case err != nil:
		return cur, stepDone, err
	case cur.Finished():
		return cur, stepFinished, nil
	case cur.ClaimedBy == nil || *cur.ClaimedBy != runner:
		return cur, stepLost, nil
	}
	return cur, stepDone, nil
}

// bringDown evicts, under the user's lock, the user's sessions above their effective limit in
// the policy's order (reject: oldest first; existing sessions cannot be refused), and returns
// how many. A user who left the plan meanwhile is left alone: their new plan's limit applies.
func bringDown(tx *gorm.DB, out *ended, enf models.PlanEnforcement, userID string, now time.Time) (int, error) {
	u, err := lockUser(tx, userID)
	if errors.Is(err, models.ErrNotFound) || (err == nil && u.PlanID != enf.PlanID) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	plan, err := planOf(tx, u.PlanID)
	if err != nil {
		return 0, err
	}
	active, err := activeSessions(tx, userID, now)
	if err != nil {
		return 0, err
	}
	victims := models.EvictionOrder(active, u.EffectiveLimit(plan, now))
	by := "" // the admin who asked; the command line is nobody's id
	if enf.RequestedByKind == models.ActorAdmin {
		by = enf.RequestedBy
	}
	return len(victims), revoke(tx, out, victims, models.ReasonEvicted, by, actor{enf.RequestedByKind, enf.RequestedBy}, now)
}

// release gives up runner's claim on an unfinished enforcement, so that the next purge pass
// takes over at once rather than after the lease. It runs even when ctx has ended (the
// request's deadline); should it fail, the lease lapses by itself.
func (e enforcer) release(ctx context.Context, id, runner string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	err := e.db.WithContext(ctx).Model(&models.PlanEnforcement{}).
		Where("id = ? AND claimed_by = ? AND finished_at IS NULL", id, runner).
		Updates(map[string]any{"claimed_by": nil, "claimed_until": nil}).Error
	if err != nil {
		e.log.WarnContext(ctx, "release plan enforcement failed", "enforcement_id", id, "err", err)
	}
}

// claim takes for runner the oldest unfinished enforcement that nobody holds (its run stopped,
// or died and its lease lapsed). SKIP LOCKED: a row that a run is stepping on is not waited for.
func (e enforcer) claim(ctx context.Context, runner string) (models.PlanEnforcement, bool, error) {
	now := clock(e.now)
	var enf models.PlanEnforcement
	found := false
	err := e.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := storeError(tx.Clauses(clause.Locking{Strength: "NO KEY UPDATE", Options: "SKIP LOCKED"}).
			Where("finished_at IS NULL AND (claimed_until IS NULL OR claimed_until <= ?)", now).
			Order("requested_at, id").Take(&enf).Error)
		if errors.Is(err, models.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		until := now.Add(enforceLease)
		enf.ClaimedBy, enf.ClaimedUntil, found = &runner, &until, true
		return storeError(tx.Model(&models.PlanEnforcement{}).Where("id = ?", enf.ID).
			Updates(map[string]any{"claimed_by": runner, "claimed_until": until}).Error)
	})
	return enf, found, err
}

// resume finishes the enforcements left unfinished, oldest first, until none is left or ctx
// runs out. It returns the sessions it evicted and the enforcements it saw finished.
func (e enforcer) resume(ctx context.Context) (evicted int64, finished int, err error) {
	runner := newID()
	for ctx.Err() == nil {
		enf, ok, err := e.claim(ctx, runner)
		if err != nil || !ok {
			return evicted, finished, err
		}
		res, mine, err := e.run(ctx, enf, runner)
		evicted += int64(mine)
		if err != nil || res.Enforcing {
			return evicted, finished, err // out of time or taken over: the next pass goes on
		}
		finished++
		e.log.InfoContext(ctx, "plan enforcement finished", "enforcement_id", enf.ID, "plan_id", enf.PlanID,
			"users", res.Users, "sessions_evicted", res.Sessions)
	}
	return evicted, finished, nil
}

// stopTime is when a run under ctx stops taking on users: enforceMargin (at most a fifth of
// the time left) before ctx's deadline. Zero: no deadline.
func stopTime(ctx context.Context) time.Time {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Time{}
	}
	return d.Add(-min(enforceMargin, time.Until(d)/5))
}
