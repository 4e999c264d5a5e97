package store

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/maypok86/otter/v2/stats"

	"github.com/sessiond/sessiond/models"
)

// SessionCache keeps validated sessions (with their user and plan) in memory, so that a check
// needs no store round trip. It is bounded in size and in age (maypok86/otter). Correctness
// never depends on it: a hit is still checked for its secret and its expiry; every revocation,
// eviction, password change, user or plan change drops entries at once in this process and,
// through Postgres LISTEN/NOTIFY (see Listener), in every other; and while the listener is not
// connected the cache is bypassed altogether. A nil *SessionCache is a cache that is off.
type SessionCache struct {
	entries *otter.Cache[string, *models.Principal]
	stats   *stats.Counter

	// mu orders puts against drops: a check that read the store before a drop began must not
	// put what it read after the drop (it may be the session just revoked). gen counts drops.
	mu   sync.Mutex
	gen  atomic.Uint64 // moved on under mu; read without it
	live atomic.Bool   // false: bypassed (the cross-process listener is down)
}

// NewSessionCache returns a cache of at most size sessions, each kept at most ttl. It starts
// live: on SQLite (one process) that is right; on Postgres the Listener turns it off until
// it listens.
func NewSessionCache(size int, ttl time.Duration) *SessionCache {
	counter := stats.NewCounter()
	c := &SessionCache{stats: counter, entries: otter.Must(&otter.Options[string, *models.Principal]{
		MaximumSize:   size,
		StatsRecorder: counter,
		// From creation: refreshing an entry (a touch) must not extend its life.
		ExpiryCalculator: otter.ExpiryCreating[string, *models.Principal](ttl),
	})}
	c.live.Store(true)
	return c
}

// Close stops the cache's maintenance goroutines.
func (c *SessionCache) Close() {
	if c != nil {
		c.entries.StopAllGoroutines()
	}
}

// Len is the number of cached sessions (an estimate while maintenance is pending).
func (c *SessionCache) Len() int {
	if c == nil {
		return 0
	}
	return c.entries.EstimatedSize()
}

// CacheStats are a cache's counters since it was made, and its size now.
type CacheStats struct {
	Hits, Misses, Evictions uint64 // evictions: for room or age, not drops
	Entries                 int
}

// Stats returns the cache's counters (zero for a nil cache).
func (c *SessionCache) Stats() CacheStats {
	if c == nil {
		return CacheStats{}
	}
	s := c.stats.Snapshot()
	return CacheStats{Hits: s.Hits, Misses: s.Misses, Evictions: s.Evictions, Entries: c.entries.EstimatedSize()}
}

// Lookup returns the cached principal of session id, and the drop generation to pass to
// Put when the caller then reads the store instead. The principal is the cache's own:
// read it, never write it.
func (c *SessionCache) Lookup(id string) (p *models.Principal, gen uint64, ok bool) {
	if c == nil || !c.live.Load() {
		return p, 0, false
	}
	gen = c.gen.Load()
	p, ok = c.entries.GetIfPresent(id)
	return p, gen, ok
}

// Generation is the current drop generation (for a store read that follows a drop).
func (c *SessionCache) Generation() uint64 {
	if c == nil {
		return 0
	}
	return c.gen.Load()
}

// Put caches p unless something was dropped since gen was taken. p is then shared: nobody
// may write it any more.
func (c *SessionCache) Put(p *models.Principal, gen uint64) {
	if c == nil || !c.live.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() == gen {
		c.entries.Set(p.Session.ID, p)
	}
}

// drop runs remove under the lock, after moving the generation on.
func (c *SessionCache) drop(remove func()) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	remove()
}

// DropSessions forgets these sessions.
func (c *SessionCache) DropSessions(ids []string) {
	c.drop(func() {
		for _, id := range ids {
			c.entries.Invalidate(id)
		}
	})
}

// DropUsers forgets every session of these users (their role, plan, password or state changed).
func (c *SessionCache) DropUsers(userIDs []string) {
	c.drop(func() {
		users := make(map[string]bool, len(userIDs))
		for _, id := range userIDs {
			users[id] = true
		}
		for id, p := range c.entries.All() {
			if users[p.User.ID] {
				c.entries.Invalidate(id)
			}
		}
	})
}

// Flush forgets everything (a plan changed, or invalidations may have been missed).
func (c *SessionCache) Flush() { c.drop(func() { c.entries.InvalidateAll() }) }

// SetLive turns the cache on or off; off flushes it.
func (c *SessionCache) SetLive(live bool) {
	if c == nil {
		return
	}
	if !live {
		c.live.Store(false)
		c.Flush()
		return
	}
	c.Flush() // anything cached before the listener came (back) may have missed a notification
	c.live.Store(true)
}

// Apply applies one invalidation payload (see NotifyPayloads).
func (c *SessionCache) Apply(payload string) {
	kind, list, _ := strings.Cut(payload, " ")
	switch kind {
	case "s":
		c.DropSessions(strings.Split(list, ","))
	case "u":
		c.DropUsers(strings.Split(list, ","))
	default: // "*", or anything this version does not know: be safe
		c.Flush()
	}
}
