package services

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/services/store"
)

// purgeLockKey is the Postgres advisory lock that makes one purger run at a time across every
// sessiond process on a database ("sessiond" in ASCII).
const purgeLockKey = 0x73657373696f6e64

// PurgeConfig says what the purge removes and how.
type PurgeConfig struct {
	RevokedRetention time.Duration  // revoked sessions stay this long to explain themselves
	EventRetention   time.Duration  // session history stays this long
	BatchSize        int            // rows per DELETE, at least 1; each batch is its own short transaction
	Throttle         ThrottleConfig // whose stale counters and rate-limit states go too; LockAfter is required
	Observer         Observer       // hears of every run that was not skipped; nil: nobody
	Now              func() time.Time
	Log              *slog.Logger
}

// PurgeResult counts what one purge run removed (or, in a dry run, would remove).
type PurgeResult struct {
	Expired      int64         // sessions past their idle or absolute expiry
	Revoked      int64         // revoked sessions older than the retention
	Events       int64         // session events older than their retention
	Throttles    int64         // login counters left alone past their window (not locks), spent rate limits, expired device keys
	SignIns      int64         // unfinished sign-ins (held at the limit, gone to a provider, TV codes), spent ID tokens past expiry
	Enforced     int64         // sessions evicted finishing plan enforcements (enforce=now) left unfinished
	Enforcements int           // plan enforcements finished
	StreamsEnded int64         // stream leases past their TTL marked expired
	Streams      int64         // ended stream leases older than the retention, deleted
	Batches      int           // DELETE statements that removed rows
	LongestBatch time.Duration // the slowest of them
	Duration     time.Duration
	Skipped      bool // another purger held the lock: nothing was done
	DryRun       bool
}

// Purger deletes expired sessions, old revoked sessions and old events, in batches small
// enough that logins and checks never wait on it. First it finishes the plan enforcements
// (enforce=now) that their request left unfinished, having run out of time or died.
type Purger struct {
	db    *gorm.DB
	cfg   PurgeConfig
	local sync.Mutex // one run at a time in this process (SQLite has no advisory locks)
}

// NewPurger returns a Purger over db.
func NewPurger(db *gorm.DB, cfg PurgeConfig) *Purger {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cfg.Observer = observerOr(cfg.Observer)
	cfg.Throttle = cfg.Throttle.withConstants()
	return &Purger{db: db, cfg: cfg}
}

// purgeTarget is one kind of row the purge removes: the rows of table matching cond (with
// its arguments), selected in the order of an index so every batch starts where rows are.
type purgeTarget struct {
	table, cond, order string
	args               []any
	count              *int64
}

// Purge runs one pass. If another purger holds the lock (another process on Postgres, or
// another run in this one) it returns at once with Skipped set and no error. progress, if
// not nil, is called after every batch. Cancelling ctx stops the run after the current batch.
func (p *Purger) Purge(ctx context.Context, dryRun bool, progress func(PurgeResult)) (PurgeResult, error) {
	res, err := p.purge(ctx, dryRun, progress)
	if !res.Skipped && !dryRun {
		p.cfg.Observer.PurgeFinished(res, err)
	}
	return res, err
}

func (p *Purger) purge(ctx context.Context, dryRun bool, progress func(PurgeResult)) (PurgeResult, error) {
	res := PurgeResult{DryRun: dryRun}
	// No defaults here: the settings and their defaults are config's. A purger built without
	// them would quietly delete nothing (LIMIT 0) or no login counter (failures < 0).
	if p.cfg.BatchSize < 1 || p.cfg.Throttle.LockAfter < 1 {
		return res, fmt.Errorf("purge: batch size %d and throttle lock-after %d must be at least 1", p.cfg.BatchSize, p.cfg.Throttle.LockAfter)
	}
	if !p.local.TryLock() {
		res.Skipped = true
		return res, nil
	}
	defer p.local.Unlock()
	unlock, ok, err := p.lock(ctx)
	if err != nil {
		return res, fmt.Errorf("purge lock: %w", storeError(err))
	}
	if !ok {
		res.Skipped = true
		return res, nil
	}
	defer unlock()

	start := time.Now()
	var enforceErr error // reported once the deletes are done: one failing enforcement must not stop them
	if !dryRun {
		enf := enforcer{db: p.db, obs: p.cfg.Observer, now: p.cfg.Now, log: p.cfg.Log}
		if res.Enforced, res.Enforcements, enforceErr = enf.resume(ctx); enforceErr != nil {
			enforceErr = fmt.Errorf("purge: finish plan enforcements: %w", enforceErr)
		}
	}
	now := clock(p.cfg.Now)
	if err := p.expireStreams(ctx, dryRun, now, &res); err != nil {
		return res, err
	}
	targets := []purgeTarget{
		// idle_expires_at never passes expires_at, so it alone finds both kinds of expiry.
		{"sessions", "revoked_at IS NULL AND idle_expires_at <= ?", "idle_expires_at", []any{now}, &res.Expired},
		{"sessions", "revoked_at IS NOT NULL AND revoked_at < ?", "revoked_at", []any{now.Add(-p.cfg.RevokedRetention)}, &res.Revoked},
		{"streams", "ended_at IS NOT NULL AND ended_at < ?", "ended_at", []any{now.Add(-p.cfg.RevokedRetention)}, &res.Streams},
		{"session_events", "at < ?", "at", []any{now.Add(-p.cfg.EventRetention)}, &res.Events},
		// A count nobody added to for a window starts again at the next failure anyway.
		{"login_throttle", "failures < ? AND updated_at < ?", "updated_at",
			[]any{p.cfg.Throttle.LockAfter, now.Add(-p.cfg.Throttle.Window)}, &res.Throttles},
		{"rate_limits", "expires_at <= ?", "expires_at", []any{now}, &res.Throttles},
		{"device_keys", "expires_at <= ?", "expires_at", []any{now}, &res.Throttles},
		{"pending_logins", "expires_at <= ?", "expires_at", []any{now}, &res.SignIns},
		{"oidc_states", "expires_at <= ?", "expires_at", []any{now}, &res.SignIns},
		{"oidc_used_tokens", "expires_at <= ?", "expires_at", []any{now}, &res.SignIns},
		// TV codes past their life: spent, denied or never answered (an approved one's session lives on).
		{"device_authorizations", "expires_at <= ?", "expires_at", []any{now}, &res.SignIns},
	}
	for _, t := range targets {
		if dryRun {
			err := p.db.WithContext(ctx).Table(t.table).Where(t.cond, t.args...).Count(t.count).Error
			if err != nil {
				return res, fmt.Errorf("purge count %s: %w", t.table, storeError(err))
			}
			continue
		}
		if err := p.purgeTarget(ctx, t, &res, progress); err != nil {
			return res, err
		}
	}
	res.Duration = time.Since(start)
	return res, enforceErr
}

// purgeTarget deletes t's rows batch by batch until none are left or ctx ends, walking t's
// index or, on Postgres when the rows are many, the table itself (see heapWalkPays).
func (p *Purger) purgeTarget(ctx context.Context, t purgeTarget, res *PurgeResult, progress func(PurgeResult)) error {
	if store.Dialect(p.db) == "postgres" {
		pages, heap, err := p.heapWalkPays(ctx, t)
		if err != nil {
			return fmt.Errorf("purge %s: %w", t.table, storeError(err))
		}
		if heap {
			return p.walkHeap(ctx, t, pages, res, progress)
		}
	}
	stmt := p.indexBatch(t)
	for ctx.Err() == nil {
		n, err := p.batch(ctx, t, res, progress, stmt, append(t.args, p.cfg.BatchSize)...)
		if err != nil || n == 0 {
			return err // done, or every remaining row is locked by a login: next run
		}
	}
	return nil
}

// batch runs one batch statement, its own short transaction, and accounts for it.
func (p *Purger) batch(ctx context.Context, t purgeTarget, res *PurgeResult, progress func(PurgeResult), stmt string, args ...any) (int64, error) {
	began := time.Now()
	del := p.db.WithContext(ctx).Exec(stmt, args...)
	if err := del.Error; err != nil {
		return 0, fmt.Errorf("purge %s: %w", t.table, storeError(err))
	}
	if del.RowsAffected == 0 {
		return 0, nil
	}
	*t.count += del.RowsAffected
	res.Batches++
	res.LongestBatch = max(res.LongestBatch, time.Since(began))
	if progress != nil {
		progress(*res)
	}
	return del.RowsAffected, nil
}

// indexBatch deletes up to a batch of t's rows. On Postgres the rows are picked through t's
// index in index order with FOR UPDATE SKIP LOCKED (rows a login holds are left for the next
// run, so neither waits) and deleted by ctid, the cheapest way back to them. SQLite has no
// row locks and is one process; it deletes by rowid.
func (p *Purger) indexBatch(t purgeTarget) string {
	if store.Dialect(p.db) == "postgres" {
		return fmt.Sprintf(`DELETE FROM %[1]s WHERE ctid = ANY(ARRAY(
  SELECT ctid FROM %[1]s WHERE %[2]s ORDER BY %[3]s LIMIT ? FOR UPDATE SKIP LOCKED))`, t.table, t.cond, t.order)
	}
	return fmt.Sprintf(`DELETE FROM %[1]s WHERE rowid IN (SELECT rowid FROM %[1]s WHERE %[2]s ORDER BY %[3]s LIMIT ?)`, t.table, t.cond, t.order)
}

// heapWalkPays says whether t's rows are so many that walking the whole table in physical
// order beats walking t's index, and how many pages the table has. The index walk reaches
// the rows in index order, which is not the order they lie in the table: with rows on every
// page, each page is read and dirtied again by batch after batch (measured: a 2M-row table
// with 1M expired rows, 5.2–8.8× one DELETE, batches over 100 ms). The heap walk reads and
// dirties every page once, but reads every page, so it only pays when there are at least
// as many rows to delete as pages: counting that far is cheap (an index-only count capped
// at the page count).
func (p *Purger) heapWalkPays(ctx context.Context, t purgeTarget) (pages int64, heap bool, err error) {
	db := p.db.WithContext(ctx)
	err = db.Raw(`SELECT pg_relation_size(CAST(? AS regclass)) / current_setting('block_size')::bigint`, t.table).Scan(&pages).Error
	if err != nil || pages < minHeapWalkPages {
		return pages, false, err
	}
	var rows int64
	err = db.Raw(fmt.Sprintf(`SELECT count(*) FROM (SELECT 1 FROM %s WHERE %s LIMIT ?) AS r`, t.table, t.cond),
		append(t.args, pages)...).Scan(&rows).Error
	return pages, rows >= pages, err
}

// minHeapWalkPages is the table size (8 KiB pages) below which the purge always walks the
// index: a table that small is cached, and its walk fast either way.
const minHeapWalkPages = 1024

// walkHeap deletes t's rows in physical order, a range of pages per batch: each batch selects
// the range's matching rows by a TID range scan with FOR UPDATE SKIP LOCKED and deletes them
// by ctid. The range starts at 64 pages, then follows the density of rows met so far (and
// widens while it has met none), so that batches stay near BatchSize rows however the rows are
// spread. Pages appended after the walk began hold only rows written since: the next run's.
func (p *Purger) walkHeap(ctx context.Context, t purgeTarget, pages int64, res *PurgeResult, progress func(PurgeResult)) error {
	stmt := fmt.Sprintf(`DELETE FROM %[1]s WHERE ctid = ANY(ARRAY(
  SELECT ctid FROM %[1]s WHERE ctid >= CAST(? AS tid) AND ctid < CAST(? AS tid) AND %[2]s FOR UPDATE SKIP LOCKED))`, t.table, t.cond)
	size := int64(64) // pages in the next batch
	var walked, deleted int64
	for from := int64(0); from < pages && ctx.Err() == nil; from += size {
		switch {
		case deleted > 0:
			size = min(max(int64(p.cfg.BatchSize)*walked/deleted, 1), maxHeapBatchPages)
		case walked > 0: // nothing met yet: widen the range until rows turn up
			size = min(2*size, maxHeapBatchPages)
		}
		n, err := p.batch(ctx, t, res, progress, stmt,
			append([]any{fmt.Sprintf("(%d,0)", from), fmt.Sprintf("(%d,0)", from+size)}, t.args...)...)
		if err != nil {
			return err
		}
		walked, deleted = walked+size, deleted+n
	}
	return nil
}

// maxHeapBatchPages bounds one heap batch's range (64 MiB) where matching rows are sparse.
const maxHeapBatchPages = 8192

// lock takes the cross-process purge lock on Postgres: pg_try_advisory_lock on a dedicated
// connection, held until unlock (a session lock lives and dies with its connection, so it must
// not go back to the pool while held). On SQLite the in-process lock suffices.
func (p *Purger) lock(ctx context.Context) (unlock func(), ok bool, err error) {
	if store.Dialect(p.db) != "postgres" {
		return func() {}, true, nil
	}
	sqlDB, err := p.db.DB()
	if err != nil {
		return nil, false, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, false, err
	}
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", int64(purgeLockKey)).Scan(&ok); err != nil || !ok {
		conn.Close()
		return nil, false, err
	}
	return func() { p.unlock(conn) }, true, nil
}

func (p *Purger) unlock(conn *sql.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", int64(purgeLockKey)); err != nil {
		// Closing the connection below ends the session, and with it the lock.
		p.cfg.Log.Warn("purge unlock failed", "err", err)
		_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // discard the connection, never pool it
	}
	conn.Close()
}
