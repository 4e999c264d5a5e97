package services

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// isUnavailable reports whether err means the store could not be reached or did not answer
// in time, as opposed to refusing a statement. Such errors become 503s, never 500s or 401s.
func isUnavailable(err error) bool {
	// A cancelled context is a client that went away (or a shutdown): not the request's fault.
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
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
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 53: insufficient resources; 57P01-03: shutdown;
		// 57014: statement timeout or cancel; 55P03: lock timeout; 40001/40P01: serialization
		// failure or deadlock victim. All say "try again", none says the request was wrong.
		switch {
		case len(pgErr.Code) == 5 && (pgErr.Code[:2] == "08" || pgErr.Code[:2] == "53"),
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", pgErr.Code == "57014",
			pgErr.Code == "55P03", pgErr.Code == "40001", pgErr.Code == "40P01":
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

// isDataException reports a Postgres data exception (class 22: a NUL in text, a malformed
// uuid, an out-of-range number): input that validation should have caught, answered 400.
func isDataException(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && len(pgErr.Code) == 5 && pgErr.Code[:2] == "22"
}
