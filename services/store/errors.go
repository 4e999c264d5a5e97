package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/driver/postgres"

	"github.com/sessiond/sessiond/models"
)

// IsUnavailable reports whether err means the store could not be reached or did not answer
// in time, as opposed to refusing a statement. Such errors become 503s, never 500s or 401s.
// It decides by the error's type and SQLSTATE, never by its text.
func IsUnavailable(err error) bool {
	switch {
	case err == nil:
		return false
	// A cancelled context is a client that went away (or a shutdown): not the request's fault.
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		// The connection is gone: database/sql's and pgx's words for it, and the socket's.
		errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone), errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		// database/sql ends a transaction itself when its context ends, and GORM's Commit then
		// hears "already done". sessiond never uses a transaction after it ended (GORM's
		// Transaction runs each closure once), so here it always means that.
		errors.Is(err, sql.ErrTxDone),
		// pgx: a deadline or a cancel (Timeout), or a failure before anything reached the
		// server (SafeToRetry: a dial, a closed connection, a write that never left).
		pgconn.Timeout(err), pgconn.SafeToRetry(err):
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && len(pgErr.Code) == 5 {
		// Class 08: connection exception; 53: insufficient resources (disk full, too many
		// connections); 58: system error (I/O) on the server; 57P01-03: shutdown, crash, not
		// yet accepting; 57014: statement timeout or cancel; 55P03: lock timeout; 40001/40P01:
		// serialization failure or deadlock victim; 25006: a read-only transaction, i.e. a
		// standby answered during a failover. All say "try again", none says the request was wrong.
		switch class := pgErr.Code[:2]; {
		case class == "08", class == "53", class == "58",
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", pgErr.Code == "57014",
			pgErr.Code == "55P03", pgErr.Code == "40001", pgErr.Code == "40P01", pgErr.Code == "25006":
			return true
		}
	}
	// SQLite busy after the busy timeout: the store is overloaded, try again later.
	var coded interface{ Code() int }
	if errors.As(err, &coded) && (coded.Code()&0xff == 5 || coded.Code()&0xff == 6) { // SQLITE_BUSY, SQLITE_LOCKED
		return true
	}
	return false
}

// AsUnavailable marks err as models.ErrUnavailable when it means the store could not be asked;
// other errors, and errors already marked, come back unchanged.
func AsUnavailable(err error) error {
	if IsUnavailable(err) && !errors.Is(err, models.ErrUnavailable) {
		return Unavailable(err)
	}
	return err
}

// The store's GORM dialectors, each with one change: Translate also marks what IsUnavailable
// recognises as models.ErrUnavailable. GORM passes every error through Translate (Open sets
// TranslateError): a statement's, and those of BEGIN, COMMIT and ROLLBACK, which no callback
// sees. So every use case's store errors are classified in this one place, whether it runs
// its transaction through services' transact or db.Transaction, and the API never meets an
// unclassified store error.
type (
	pgDialector     struct{ *postgres.Dialector }
	sqliteDialector struct{ *sqlite.Dialector }
)

// Translate is the driver's translation (unique and foreign-key violations), then AsUnavailable.
func (d pgDialector) Translate(err error) error { return AsUnavailable(d.Dialector.Translate(err)) }

// Translate is the driver's translation (unique and foreign-key violations), then AsUnavailable.
func (d sqliteDialector) Translate(err error) error {
	return AsUnavailable(d.Dialector.Translate(err))
}

// isDataException reports a Postgres data exception (class 22: a NUL in text, a malformed
// uuid, an out-of-range number): input that validation should have caught, answered 400.
func isDataException(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && len(pgErr.Code) == 5 && pgErr.Code[:2] == "22"
}

// Unavailable marks any error as models.ErrUnavailable: for calls whose only purpose is to
// reach the store.
func Unavailable(err error) error { return fmt.Errorf("%w: %w", models.ErrUnavailable, err) }
