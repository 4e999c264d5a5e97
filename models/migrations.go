package models

import (
	"embed"
	"io/fs"
)

//go:embed migrations
var migrations embed.FS

// Migrations returns the versioned schema migrations for dialect ("postgres" or "sqlite"),
// embedded in the binary. Both dialects describe the same schema.
func Migrations(dialect string) (fs.FS, error) {
	return fs.Sub(migrations, "migrations/"+dialect)
}
