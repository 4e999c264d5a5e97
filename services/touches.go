package services

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/services/store"
)

// The flusher's shape. Not settings: they bound memory and the write rate, and no operator
// has a reason to trade them (see README, "Scale model").
const (
	// DefaultTouchQueue is how many sessions' touches may wait at most: about 100 bytes each,
	// so ~10 MB. Beyond it a touch is dropped (and counted), never waited for.
	DefaultTouchQueue = 100_000
	// DefaultTouchBatch is the most sessions one statement writes, and how many waiting
	// touches start a flush before the tick.
	DefaultTouchBatch = 1_000
	// DefaultTouchEvery is how long a touch waits at most before it is written.
	DefaultTouchEvery = time.Second
	// touchShutdownTimeout bounds the last flush at shutdown.
	touchShutdownTimeout = 5 * time.Second
)

// TouchesConfig shapes a Touches; zero values take the defaults above.
type TouchesConfig struct {
	QueueSize int
	BatchSize int
	Every     time.Duration
	OnFlush   func(TouchFlush)    // hears of every flush that had touches to write; nil: nobody
	Cache     *store.SessionCache // sessions a flush did not write are dropped from it; nil: none
	Log       *slog.Logger
}

// TouchFlush is what one flush did.
type TouchFlush struct {
	Sessions   int   // touches taken from the queue
	Rows       int64 // rows written: the others were revoked, deleted, already newer or locked
	Statements int
	Elapsed    time.Duration
	Err        error
}

// TouchStats are the flusher's counters since it was made, and its queue now.
type TouchStats struct {
	Queued, Dropped, Rows, Statements uint64
	Depth                             int
}

// pendingTouch is one session seen: when, and the idle deadline that follows from it.
type pendingTouch struct {
	id         string
	seen, idle time.Time
}

// Touches writes the "seen" of sessions in use behind the checks (write-behind): a check notes
// it in memory (Note) and returns; Run writes what is due in batches, one statement per batch,
// every Every or as soon as BatchSize sessions wait, and once more when it stops. A touch never
// resurrects a revoked session nor moves last_seen_at back, and skips rows another transaction
// holds (a revocation, the purge): the next interval's touch carries it. A crash loses what
// waits, at most one touch interval of last_seen_at per session (DESIGN, README "Scale model").
// Safe for concurrent use; Run is called once.
type Touches struct {
	db  *gorm.DB
	cfg TouchesConfig

	mu      sync.Mutex
	pending map[string]pendingTouch // by session: the latest seen wins
	kick    chan struct{}           // a batch is waiting

	queued, dropped, rows, statements atomic.Uint64
}

// NewTouches returns a flusher over db. Run starts it.
func NewTouches(db *gorm.DB, cfg TouchesConfig) *Touches {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultTouchQueue
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultTouchBatch
	}
	if cfg.Every <= 0 {
		cfg.Every = DefaultTouchEvery
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Touches{db: db, cfg: cfg, pending: map[string]pendingTouch{}, kick: make(chan struct{}, 1)}
}

// Note queues a touch of session id, seen at seen, sliding its idle deadline to idle. It
// never blocks on the store: when the queue is full it drops the touch, counts it and reports
// false.
func (t *Touches) Note(id string, seen, idle time.Time) bool {
	t.mu.Lock()
	old, waiting := t.pending[id]
	if !waiting && len(t.pending) >= t.cfg.QueueSize {
		t.mu.Unlock()
		t.dropped.Add(1)
		return false
	}
	if !waiting || seen.After(old.seen) {
		t.pending[id] = pendingTouch{id: id, seen: seen, idle: idle}
	}
	full := len(t.pending) >= t.cfg.BatchSize
	t.mu.Unlock()
	t.queued.Add(1)
	if full {
		select {
		case t.kick <- struct{}{}:
		default: // a flush is already asked for
		}
	}
	return true
}

// Stats returns the counters and the queue's depth.
func (t *Touches) Stats() TouchStats {
	t.mu.Lock()
	depth := len(t.pending)
	t.mu.Unlock()
	return TouchStats{Queued: t.queued.Load(), Dropped: t.dropped.Load(), Rows: t.rows.Load(),
		Statements: t.statements.Load(), Depth: depth}
}

// Run writes queued touches until ctx ends, then flushes what waits (within a bound of its
// own: ctx is over by then) and returns.
func (t *Touches) Run(ctx context.Context) {
	tick := time.NewTicker(t.cfg.Every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), touchShutdownTimeout)
			defer cancel()
			if _, err := t.Flush(last); err != nil {
				t.cfg.Log.Warn("last touch flush failed", "err", err)
			}
			return
		case <-tick.C:
		case <-t.kick:
		}
		if _, err := t.Flush(ctx); err != nil {
			t.cfg.Log.Warn("touch flush failed", "err", err)
		}
	}
}

// Flush writes every touch queued now, BatchSize sessions a statement. Touches of a batch
// that fails go back to the queue (unless newer ones or a full queue are there) for the next
// flush. It returns what it did, and the first error.
func (t *Touches) Flush(ctx context.Context) (TouchFlush, error) {
	t.mu.Lock()
	batch := make([]pendingTouch, 0, len(t.pending))
	for _, p := range t.pending {
		batch = append(batch, p)
	}
	clear(t.pending)
	t.mu.Unlock()
	if len(batch) == 0 {
		return TouchFlush{}, nil
	}
	// In id order: concurrent flushers (other processes) meet rows in the same order.
	slices.SortFunc(batch, func(a, b pendingTouch) int { return strings.Compare(a.id, b.id) })
	began := time.Now()
	res := TouchFlush{Sessions: len(batch)}
	for chunk := range slices.Chunk(batch, t.cfg.BatchSize) {
		missed, err := writeTouches(ctx, t.db, chunk)
		if err != nil {
			if res.Err == nil {
				res.Err = err
			}
			t.requeue(chunk)
			continue
		}
		res.Rows += int64(len(chunk) - len(missed))
		res.Statements++
		// Whatever the touch found revoked (or could not tell) is not trusted in the cache
		// any longer: its next check asks the store.
		t.cfg.Cache.DropSessions(missed)
	}
	res.Elapsed = time.Since(began)
	t.rows.Add(uint64(res.Rows))
	t.statements.Add(uint64(res.Statements))
	if t.cfg.OnFlush != nil {
		t.cfg.OnFlush(res)
	}
	return res, res.Err
}

// requeue puts back the touches of a failed batch, unless a newer one of the session waits
// or the queue is full (then they are dropped and counted).
func (t *Touches) requeue(chunk []pendingTouch) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range chunk {
		if _, newer := t.pending[p.id]; newer {
			continue
		}
		if len(t.pending) >= t.cfg.QueueSize {
			t.dropped.Add(1)
			continue
		}
		t.pending[p.id] = p
	}
}

// touchBatchPostgres writes a batch in one statement and returns the sessions it wrote.
// Rows another transaction holds are skipped, not waited for (SKIP LOCKED: a revocation or the
// purge has them, and neither the flusher nor they should wait). The conditions are repeated
// in the UPDATE because under READ COMMITTED it rechecks them on the row's newest version: a
// revocation that committed meanwhile leaves the row revoked and untouched. The batch comes as
// three array literals (GORM would spell Go slices out as lists of parameters).
const touchBatchPostgres = `WITH v AS (
  SELECT * FROM unnest(CAST(? AS uuid[]), CAST(? AS timestamptz[]), CAST(? AS timestamptz[])) AS v(id, seen, idle)
), due AS (
  SELECT s.id, v.seen, v.idle FROM sessions s JOIN v ON v.id = s.id
  WHERE s.revoked_at IS NULL AND s.last_seen_at < v.seen
  ORDER BY s.id FOR UPDATE OF s SKIP LOCKED
)
UPDATE sessions s SET last_seen_at = due.seen, idle_expires_at = due.idle FROM due
WHERE s.id = due.id AND s.revoked_at IS NULL AND s.last_seen_at < due.seen
RETURNING s.id`

const touchOneSQLite = `UPDATE sessions SET last_seen_at = ?, idle_expires_at = ?
WHERE id = ? AND revoked_at IS NULL AND last_seen_at < ?`

// writeTouches writes a batch, on Postgres in one statement; on SQLite (one process, no row
// locks) one statement a session in one transaction. It returns the sessions it did not
// write: revoked, deleted, seen later already, or (Postgres) locked by another transaction.
func writeTouches(ctx context.Context, db *gorm.DB, batch []pendingTouch) (missed []string, err error) {
	db = db.WithContext(ctx)
	if store.Dialect(db) != "postgres" {
		err = db.Transaction(func(tx *gorm.DB) error {
			for _, p := range batch {
				res := tx.Exec(touchOneSQLite, p.seen, p.idle, p.id, p.seen)
				if res.Error != nil {
					return res.Error
				}
				if res.RowsAffected == 0 {
					missed = append(missed, p.id)
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("write touches: %w", storeError(err))
		}
		return missed, nil
	}
	var ids, seen, idle strings.Builder
	for i, p := range batch {
		sep := ","
		if i == 0 {
			sep = "{"
		}
		ids.WriteString(sep + p.id)
		seen.WriteString(sep + p.seen.UTC().Format(time.RFC3339Nano))
		idle.WriteString(sep + p.idle.UTC().Format(time.RFC3339Nano))
	}
	var written []string
	err = db.Raw(touchBatchPostgres, ids.String()+"}", seen.String()+"}", idle.String()+"}").Scan(&written).Error
	if err != nil {
		return nil, fmt.Errorf("write touches: %w", storeError(err))
	}
	if len(written) == len(batch) {
		return nil, nil
	}
	done := make(map[string]bool, len(written))
	for _, id := range written {
		done[id] = true
	}
	for _, p := range batch {
		if !done[p.id] {
			missed = append(missed, p.id)
		}
	}
	return missed, nil
}
