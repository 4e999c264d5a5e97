package services

import (
	"context"
	"log/slog"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// Hooks for tests that interleave a cache put and a drop by hand.

func CacheGeneration(c *SessionCache) uint64 { return c.gen.Load() }

func CacheStore(c *SessionCache, p *models.Principal, gen uint64) { c.store(p, gen) }

// MigrateTo applies the migrations up to version, for tests that write rows as an older
// version stored them.
func MigrateTo(ctx context.Context, db *gorm.DB, log *slog.Logger, version int64) error {
	return migrateTo(ctx, db, log, version)
}
