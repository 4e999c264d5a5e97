package services

import (
	"context"
	"fmt"
	"time"

	"github.com/sessiond/sessiond/services/store"
)

// The purge finds idle sessions through idle_recheck_at, not idle_expires_at: a touch slides
// idle_expires_at at most once per touch interval for every session in use, and an index on
// it would make every one of those writes a full (non-HOT) update of the row and all its
// indexes. idle_recheck_at is never later than idle_expires_at (both are set at sign-in;
// touches only move idle_expires_at later), so every idle- or absolute-expired session has
// idle_recheck_at <= now. A session whose idle_recheck_at has passed but which is still in
// use is rechecked here: its idle_recheck_at moves up to its idle deadline, one indexed write
// per session about once per idle timeout.

// expiredTarget is the purge's target of expired sessions: candidates by idle_recheck_at,
// rechecked against the real deadline.
func expiredTarget(now time.Time, count *int64) purgeTarget {
	return purgeTarget{"sessions", "revoked_at IS NULL AND idle_recheck_at <= ? AND idle_expires_at <= ?", "idle_recheck_at",
		[]any{now, now}, count}
}

// recheckIdle moves idle_recheck_at up to idle_expires_at for the sessions the purge was due
// to look at that are still in use, in batches (Postgres: FOR UPDATE SKIP LOCKED, so a login
// or a touch flush never waits on it; a skipped row is rechecked by the next run). What is
// left due after it is expired. It returns how many sessions it rechecked.
func (p *Purger) recheckIdle(ctx context.Context, now time.Time) (int64, error) {
	const cond = "revoked_at IS NULL AND idle_recheck_at <= ? AND idle_expires_at > ?"
	stmt := `UPDATE sessions SET idle_recheck_at = idle_expires_at WHERE ctid = ANY(ARRAY(
  SELECT ctid FROM sessions WHERE ` + cond + ` ORDER BY idle_recheck_at LIMIT ? FOR UPDATE SKIP LOCKED))`
	if store.Dialect(p.db) != "postgres" {
		stmt = `UPDATE sessions SET idle_recheck_at = idle_expires_at WHERE rowid IN (
  SELECT rowid FROM sessions WHERE ` + cond + ` ORDER BY idle_recheck_at LIMIT ?)`
	}
	var total int64
	for ctx.Err() == nil {
		res := p.db.WithContext(ctx).Exec(stmt, now, now, p.cfg.BatchSize)
		if res.Error != nil {
			return total, fmt.Errorf("purge recheck idle sessions: %w", storeError(res.Error))
		}
		total += res.RowsAffected
		if res.RowsAffected == 0 {
			break // done, or every remaining one is locked: next run
		}
	}
	return total, nil
}
