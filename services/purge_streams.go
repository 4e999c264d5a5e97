package services

import (
	"context"
	"fmt"
	"time"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/store"
)

// expireStreams marks the stream leases whose heartbeats stopped (expires_at passed) as ended
// (reason expired, at their expiry), in batches, so that the history and the player's next
// heartbeat say so; the deletes come later, after the retention. Their slot was free already:
// a start counts only unlapsed leases. There is no index on expires_at (it would make every
// heartbeat a non-HOT update), so each batch walks the live leases.
func (p *Purger) expireStreams(ctx context.Context, dryRun bool, now time.Time, res *PurgeResult) error {
	if dryRun {
		err := p.db.WithContext(ctx).Model(&models.Stream{}).Where("ended_at IS NULL AND expires_at <= ?", now).Count(&res.StreamsEnded).Error
		if err != nil {
			return fmt.Errorf("purge count streams: %w", storeError(err))
		}
		return nil
	}
	pick := `SELECT id FROM streams WHERE ended_at IS NULL AND expires_at <= ? LIMIT ?`
	if store.Dialect(p.db) == "postgres" {
		pick += ` FOR UPDATE SKIP LOCKED` // a start holding its user's leases is not waited for
	}
	stmt := `UPDATE streams SET ended_at = expires_at, end_reason = 'expired', ended_by = 'purge'
WHERE ended_at IS NULL AND id IN (` + pick + `)`
	for ctx.Err() == nil {
		began := time.Now()
		upd := p.db.WithContext(ctx).Exec(stmt, now, p.cfg.BatchSize)
		if err := upd.Error; err != nil {
			return fmt.Errorf("purge expire streams: %w", storeError(err))
		}
		if upd.RowsAffected == 0 {
			return nil
		}
		res.StreamsEnded += upd.RowsAffected
		res.Batches++
		res.LongestBatch = max(res.LongestBatch, time.Since(began))
	}
	return nil
}
