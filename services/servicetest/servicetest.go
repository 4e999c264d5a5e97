// Package servicetest gives tests real databases: a fresh SQLite file per call, and one fresh
// Postgres database per test package, migrated, and dropped when the package's tests end.
//
// Postgres is found through TEST_DATABASE_URL (any database on a server where the role may
// CREATE DATABASE), else at 127.0.0.1:5432. Without one, Postgres tests fail under CI=true and
// are skipped, loudly, elsewhere.
package servicetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/store"
)

// DefaultAdminURL is where tests look for Postgres when TEST_DATABASE_URL is unset.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Store is one migrated database a suite runs against.
type Store struct {
	Name    string // "sqlite" or "postgres": use as the subtest name
	Dialect string
	DSN     string // what store.Open takes to reach the same database
	DB      *gorm.DB
}

// Open returns a second, independent connection pool to the same database, as another
// server process would have. It is closed when the test ends.
func (s Store) Open(tb testing.TB) *gorm.DB {
	tb.Helper()
	db, err := store.Open(s.Dialect, s.DSN, store.Options{MaxOpenConns: 20, MaxIdleConns: 20})
	if err != nil {
		tb.Fatalf("store.Open(%s) = %v", s.Name, err)
	}
	tb.Cleanup(func() { closeDB(db) })
	return db
}

// Stores returns a fresh SQLite store and the package's Postgres store, for suites that must
// hold on both dialects.
func Stores(tb testing.TB) []Store {
	tb.Helper()
	out := []Store{SQLite(tb)}
	if pg, ok := postgres(tb); ok {
		out = append(out, pg)
	}
	return out
}

// SQLite returns a fresh, migrated SQLite database in a temporary directory.
func SQLite(tb testing.TB) Store {
	tb.Helper()
	s := Store{Name: "sqlite", Dialect: "sqlite", DSN: filepath.Join(tb.TempDir(), "sessiond.db")}
	s.DB = s.Open(tb)
	if err := services.Migrate(context.Background(), s.DB, slog.New(slog.DiscardHandler)); err != nil {
		tb.Fatalf("Migrate(sqlite) = %v", err)
	}
	return s
}

// Postgres returns the package's migrated Postgres database (created on first use). It fails
// the test under CI=true when no Postgres answers, and skips it elsewhere.
func Postgres(tb testing.TB) Store {
	tb.Helper()
	s, ok := postgres(tb)
	if !ok {
		tb.SkipNow()
	}
	return s
}

var pkg struct {
	once  sync.Once
	admin string // server URL to create and drop databases with
	dsn   string // the package database
	err   error
}

func postgres(tb testing.TB) (Store, bool) {
	tb.Helper()
	pkg.once.Do(createPackageDB)
	if pkg.err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("Postgres is required under CI=true: %v", pkg.err)
		}
		tb.Logf("SKIPPING Postgres: %v (set TEST_DATABASE_URL or run scripts/test.sh)", pkg.err)
		return Store{}, false
	}
	s := Store{Name: "postgres", Dialect: "postgres", DSN: pkg.dsn}
	s.DB = s.Open(tb)
	return s, true
}

// FreshStores is Stores with a Postgres database of the test's own (created now, dropped when
// the test ends), for tests that count every row of a table.
func FreshStores(tb testing.TB) []Store {
	tb.Helper()
	out := EmptyStores(tb)
	for _, s := range out {
		if err := services.Migrate(context.Background(), s.DB, slog.New(slog.DiscardHandler)); err != nil {
			tb.Fatalf("Migrate(fresh %s) = %v", s.Name, err)
		}
	}
	return out
}

// EmptyStores is FreshStores with no migration applied: for tests of a migration, which write
// rows as an older version stored them (services.MigrateTo) and then migrate.
func EmptyStores(tb testing.TB) []Store {
	tb.Helper()
	sqlite := Store{Name: "sqlite", Dialect: "sqlite", DSN: filepath.Join(tb.TempDir(), "sessiond.db")}
	sqlite.DB = sqlite.Open(tb)
	out := []Store{sqlite}
	if _, ok := postgres(tb); !ok {
		return out
	}
	name := "sessiond_test_" + randomHex(6)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := execAdmin(ctx, pkg.admin, "CREATE DATABASE "+name); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := execAdmin(context.Background(), pkg.admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop database %s: %v", name, err)
		}
	})
	u := must(url.Parse(pkg.dsn))
	u.Path = "/" + name
	s := Store{Name: "postgres", Dialect: "postgres", DSN: u.String()}
	s.DB = s.Open(tb)
	return append(out, s)
}

// PostgresURL returns the package database's URL, for tests that start server processes on it.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	return Postgres(tb).DSN
}

func createPackageDB() {
	admin := os.Getenv("TEST_DATABASE_URL")
	if admin == "" {
		admin = DefaultAdminURL
	}
	name := "sessiond_test_" + randomHex(6)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := execAdmin(ctx, admin, "CREATE DATABASE "+name); err != nil {
		pkg.err = err
		return
	}
	u, err := url.Parse(admin)
	if err != nil {
		pkg.err = err
		return
	}
	u.Path = "/" + name
	pkg.admin, pkg.dsn = admin, u.String()
	db, err := store.Open("postgres", pkg.dsn, store.Options{MaxOpenConns: 2})
	if err != nil {
		pkg.err = err
		return
	}
	defer closeDB(db)
	pkg.err = services.Migrate(ctx, db, slog.New(slog.DiscardHandler))
}

// Main runs a package's tests and then drops its Postgres database. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(servicetest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if pkg.dsn != "" {
		name := strings.TrimPrefix(must(url.Parse(pkg.dsn)).Path, "/")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := execAdmin(ctx, pkg.admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "servicetest: drop database %s: %v\n", name, err)
		}
	}
	return code
}

func execAdmin(ctx context.Context, admin, sql string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", redact(admin), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// FastHasher hashes with argon2id at minimal cost: the real algorithm, quick enough for
// suites that log in thousands of times under the race detector. Its queue has room for any
// test's burst of concurrent logins.
func FastHasher() *services.Hasher {
	return services.NewHasher(argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32},
		services.HasherConfig{Queue: 1 << 20})
}

// Email returns an address no other test uses.
func Email(tb testing.TB) string {
	local := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(tb.Name()))
	return fmt.Sprintf("%.40s-%s@example.com", local, randomHex(4))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}

func closeDB(db *gorm.DB) {
	if sqlDB, err := db.DB(); err == nil {
		_ = sqlDB.Close()
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
