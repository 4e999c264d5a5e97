package services

import "github.com/sessiond/sessiond/models"

// Hooks for tests that interleave a cache put and a drop by hand.

func CacheGeneration(c *SessionCache) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func CacheStore(c *SessionCache, p models.Principal, gen uint64) { c.store(p, gen) }
