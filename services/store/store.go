package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/sessiond/sessiond/models"
)

// Options tune the connection pool and, on Postgres, bound every wait on the server.
type Options struct {
	MaxOpenConns     int
	MaxIdleConns     int
	ConnMaxLifetime  time.Duration // 0: connections live until they fail or idle out
	ConnectTimeout   time.Duration // Postgres: dialling and the handshake; 0: the DSN's, else none
	StatementTimeout time.Duration // Postgres: the server cancels a statement (and its lock waits) past this; 0: none
}

// Open connects to the store. dialect is "postgres" (dsn is a pgx connection string) or
// "sqlite" (dsn is a file path). SQLite runs in WAL mode with immediate transactions, so
// every transaction takes the write lock at BEGIN: that is its user lock.
func Open(dialect, dsn string, opts Options) (*gorm.DB, error) {
	var dialector gorm.Dialector
	switch dialect {
	case "postgres":
		pgCfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		if opts.ConnectTimeout > 0 {
			pgCfg.ConnectTimeout = opts.ConnectTimeout
		}
		if opts.StatementTimeout > 0 {
			pgCfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
		}
		dialector = pgDialector{&postgres.Dialector{Config: &postgres.Config{Conn: stdlib.OpenDB(*pgCfg)}}}
	case "sqlite":
		// _txlock must not follow _time_format in this driver (it stops reading there);
		// the default time format is the sortable "2006-01-02 15:04:05.999999999-07:00".
		dialector = sqliteDialector{&sqlite.Dialector{DSN: dsn + "?_txlock=immediate&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)"}}
	default:
		return nil, fmt.Errorf("open store: unknown dialect %q", dialect)
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		TranslateError:         true,
		SkipDefaultTransaction: true,
		Logger:                 logger.Discard,
		NowFunc:                func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
	})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", Translate(err))
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	sqlDB.SetMaxOpenConns(max(opts.MaxOpenConns, 1))
	sqlDB.SetMaxIdleConns(max(opts.MaxIdleConns, 0))
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	sqlDB.SetConnMaxLifetime(opts.ConnMaxLifetime)
	return db, nil
}

// Dialect returns "postgres" or "sqlite" for a store opened by Open.
func Dialect(db *gorm.DB) string { return db.Name() }

// Migrate applies the pending migrations up to version (goose.MaxVersion: all of them): the
// SQL files models embeds for db's dialect, and the Go migrations given (the caller's: those
// that apply a rule to rows, which this package does not know). On Postgres a session-level
// advisory lock makes concurrent starts of several processes safe.
func Migrate(ctx context.Context, db *gorm.DB, log *slog.Logger, version int64, goMigrations ...*goose.Migration) error {
	dialect := Dialect(db)
	fsys, err := models.Migrations(dialect)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true), goose.WithGoMigrations(goMigrations...)}
	gooseDialect := goose.DialectSQLite3
	if dialect == "postgres" {
		gooseDialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gooseDialect, sqlDB, fsys, opts...)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	results, err := p.UpTo(ctx, version)
	if err != nil {
		return fmt.Errorf("migrate: %w", Translate(err))
	}
	for _, r := range results {
		log.InfoContext(ctx, "migration applied", "version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}

// Translate translates what the driver says into the domain's words: a missing row is
// models.ErrNotFound, a unique violation models.ErrConflict, and anything that means the store
// could not be asked (no connection, deadline) models.ErrUnavailable, so callers fail closed.
// Other errors pass through unchanged.
func Translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return models.ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey), errors.Is(err, gorm.ErrForeignKeyViolated):
		// A foreign key refused: the row it names went away meanwhile (a plan deleted
		// while a user moved onto it).
		return fmt.Errorf("%w: %w", models.ErrConflict, err)
	case isDataException(err):
		return models.Invalid("body", "holds a value the store cannot accept")
	}
	return AsUnavailable(err)
}

// Ping round-trips to the store within ctx's deadline; any failure is models.ErrUnavailable.
func Ping(ctx context.Context, db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", Unavailable(err))
	}
	return nil
}
