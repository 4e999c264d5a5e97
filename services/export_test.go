package services

import "github.com/sessiond/sessiond/models"

// Hooks for tests that interleave a cache put and a drop by hand.

func CacheGeneration(c *SessionCache) uint64 { return c.gen.Load() }

func CacheStore(c *SessionCache, p *models.Principal, gen uint64) { c.store(p, gen) }

// StoreError is the classification every store error of a use case goes through.
var StoreError = storeError
