// Package store is sessiond's store technology, and knows no business rule: it opens and
// migrates Postgres or SQLite, hides their differences, reads a session's principal on the
// hot path, carries cache invalidations between processes, keeps the session cache, and
// says what a driver's error means. The use cases are package services.
//
// # Where things live
//
//	store.go      Open (pool and timeouts, SQLite in WAL with immediate transactions),
//	              Dialect, Migrate (embedded SQL files plus the caller's Go migrations, under
//	              an advisory lock on Postgres), Translate (driver error to domain error), Ping
//	errors.go     IsUnavailable, AsUnavailable, Unavailable: which errors mean "the store could
//	              not be asked" (by type and SQLSTATE, never by text); the GORM dialectors
//	              whose Translate applies that to every statement, BEGIN and COMMIT
//	principal.go  LoadPrincipal: a session with its user, plan and identities in one round
//	              trip, scanned by hand (pgx on Postgres); PrincipalQueryPostgres and
//	              ScanPrincipal, shared with the raw baseline of scripts/bench
//	notify.go     Notify, NotifyPayloads: the invalidation sent inside a transaction on
//	              NotifyChannel ("s ids", "u ids", "*")
//	listener.go   Listener: LISTENs on its own connection and applies what it hears
//	cache.go      SessionCache: bounded in size and age; Lookup, Put, Drop*, Flush, Apply
//
// # Invariants
//
// A put never undoes a drop: a reader takes the drop generation before reading the store
// (Lookup, Generation) and Put caches only if no drop happened since. NOTIFY is
// transactional, so other processes hear of a change only once it is committed. On Postgres
// the cache is live only while its Listener listens, and is flushed whenever it starts to:
// notifications sent while it was deaf are lost, so nothing cached before may be trusted.
// SQLite runs in one process and has no NOTIFY; there the cache is off (cmd/sessiond).
package store
