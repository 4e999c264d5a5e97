package services

import (
	"context"
	"log/slog"

	"github.com/pressly/goose/v3"
	"gorm.io/gorm"

	"github.com/sessiond/sessiond/services/store"
)

// Migrate applies every pending migration: the SQL files, and the Go ones that apply a rule
// to stored rows (version 9 normalises stored emails). Several processes may run it at once.
func Migrate(ctx context.Context, db *gorm.DB, log *slog.Logger) error {
	return migrateTo(ctx, db, log, goose.MaxVersion)
}

// migrateTo applies the pending migrations up to version.
func migrateTo(ctx context.Context, db *gorm.DB, log *slog.Logger, version int64) error {
	return store.Migrate(ctx, db, log, version, emailMigration(db, log))
}
