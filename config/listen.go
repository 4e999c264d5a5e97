package config

import (
	"errors"
	"fmt"
	"strings"
)

// Listen is the cache listener's own way to Postgres. The listener holds one connection open
// for LISTEN; behind PgBouncer in transaction mode (where LISTEN does not work: the server
// connection is handed to someone else after every transaction) it needs a direct URL to
// Postgres, or to PgBouncer in session mode, while requests go through the pooler.
type Listen struct {
	// URL is SESSIOND_DATABASE_LISTEN_URL: a postgres:// URL, possibly multi-host with
	// target_session_attrs=read-write like SESSIOND_DATABASE_URL. Empty: the listener uses
	// SESSIOND_DATABASE_URL.
	URL string `env:"DATABASE_LISTEN_URL"`
}

// ListenDSN is the connection string of the cache listener: SESSIOND_DATABASE_LISTEN_URL when
// set, else SESSIOND_DATABASE_URL's.
func (c Config) ListenDSN() string {
	if c.Listen.URL != "" {
		return c.Listen.URL
	}
	return c.Database.DSN
}

// validate checks the listener's URL against the store's dialect.
func (l Listen) validate(db Database) error {
	if l.URL == "" {
		return nil
	}
	if !strings.HasPrefix(l.URL, "postgres://") && !strings.HasPrefix(l.URL, "postgresql://") {
		return errors.New("must start with postgres://")
	}
	if db.Dialect != Postgres {
		return fmt.Errorf("needs a postgres:// %sDATABASE_URL (SQLite has no LISTEN), got %s", Prefix, db.Dialect)
	}
	return nil
}
