package services_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
	"github.com/sessiond/sessiond/services/store"
)

// realPgxErrors provokes, on a real Postgres, the errors pgx gives when the store cannot be
// asked: a refused dial, a closed connection, a backend terminated under it, a deadline
// during a statement, a context already done, and the server's statement timeout.
func realPgxErrors(t *testing.T) map[string]error {
	t.Helper()
	ctx := context.Background()
	url := servicetest.PostgresURL(t)
	out := map[string]error{}
	_, out["dial refused"] = pgconn.Connect(ctx, "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")

	connect := func() *pgconn.PgConn {
		t.Helper()
		c, err := pgconn.Connect(ctx, url)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c
	}
	closed := connect()
	closed.Close(ctx)
	out["closed connection"] = closed.Exec(ctx, "SELECT 1").Close()

	victim, killer := connect(), connect()
	if err := killer.Exec(ctx, fmt.Sprintf("SELECT pg_terminate_backend(%d)", victim.PID())).Close(); err != nil {
		t.Fatalf("terminate: %v", err)
	}
	out["backend terminated"] = victim.Exec(ctx, "SELECT 1").Close()
	out["after the termination"] = victim.Exec(ctx, "SELECT 1").Close()

	slow := connect()
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	out["deadline in a statement"] = slow.Exec(short, "SELECT pg_sleep(5)").Close()
	out["context already done"] = connect().Exec(short, "SELECT 1").Close()
	timeouts := connect()
	out["statement timeout"] = timeouts.Exec(ctx, "SET statement_timeout = 10; SELECT pg_sleep(1)").Close()
	for what, err := range out {
		if err == nil {
			t.Fatalf("%s: no error provoked", what)
		}
	}
	return out
}

// TestStoreFailuresAreUnavailable tables the errors a store failure comes as — real ones from
// pgx and the server, and the values database/sql, net and context use — and checks that both
// classifications a use case's error passes (the dialectors' Translate, which GORM applies to
// every error including BEGIN's and COMMIT's, and storeError) make each models.ErrUnavailable,
// by type and code, and leave errors that say the request was wrong alone.
func TestStoreFailuresAreUnavailable(t *testing.T) {
	down := realPgxErrors(t)
	classes := classifications(t)
	for what, err := range map[string]error{
		"driver.ErrBadConn":                driver.ErrBadConn,
		"sql.ErrConnDone":                  sql.ErrConnDone,
		"sql.ErrTxDone (context ended)":    fmt.Errorf("commit: %w", sql.ErrTxDone),
		"pgconn.ErrConnClosed, wrapped":    fmt.Errorf("begin: %w", pgconn.ErrConnClosed),
		"context deadline, wrapped":        fmt.Errorf("query: %w", context.DeadlineExceeded),
		"context cancelled":                context.Canceled,
		"reset connection (net.OpError)":   fmt.Errorf("read: %w", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}),
		"broken pipe":                      fmt.Errorf("write: %w", syscall.EPIPE),
		"unexpected EOF":                   fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF),
		"57P01 admin shutdown":             &pgconn.PgError{Severity: "FATAL", Code: "57P01"},
		"57P02 crash shutdown":             &pgconn.PgError{Severity: "FATAL", Code: "57P02"},
		"57P03 starting up":                &pgconn.PgError{Severity: "FATAL", Code: "57P03"},
		"08006 connection failure":         &pgconn.PgError{Severity: "FATAL", Code: "08006"},
		"53300 too many connections":       &pgconn.PgError{Severity: "FATAL", Code: "53300"},
		"53100 disk full":                  &pgconn.PgError{Severity: "ERROR", Code: "53100"},
		"58030 I/O error":                  &pgconn.PgError{Severity: "ERROR", Code: "58030"},
		"55P03 lock timeout":               &pgconn.PgError{Severity: "ERROR", Code: "55P03"},
		"40P01 deadlock victim":            &pgconn.PgError{Severity: "ERROR", Code: "40P01"},
		"25006 read-only (a standby)":      &pgconn.PgError{Severity: "ERROR", Code: "25006"},
		"ErrUnavailable, already marked":   fmt.Errorf("x: %w", models.ErrUnavailable),
		"real: dial refused":               down["dial refused"],
		"real: closed connection":          down["closed connection"],
		"real: backend terminated":         down["backend terminated"],
		"real: after the termination":      down["after the termination"],
		"real: deadline in a statement":    down["deadline in a statement"],
		"real: context already done":       down["context already done"],
		"real: server's statement timeout": down["statement timeout"],
	} {
		for _, c := range classes {
			if got := c.classify(err); !errors.Is(got, models.ErrUnavailable) {
				t.Errorf("%s(%s: %v) = %v, want models.ErrUnavailable", c.name, what, err, got)
			}
		}
	}
	for what, err := range map[string]error{
		"23505 unique violation": &pgconn.PgError{Severity: "ERROR", Code: "23505"},
		"22P02 malformed input":  &pgconn.PgError{Severity: "ERROR", Code: "22P02"},
		"42601 syntax error":     &pgconn.PgError{Severity: "ERROR", Code: "42601"},
		"no row":                 gorm.ErrRecordNotFound,
		"something else":         errors.New("boom"),
	} {
		for _, c := range classes {
			if got := c.classify(err); errors.Is(got, models.ErrUnavailable) {
				t.Errorf("%s(%s) = %v, want it not taken for an outage", c.name, what, got)
			}
		}
	}
}

type classification struct {
	name     string
	classify func(error) error
}

// classifications are the store's error translations: storeError, and each store's dialector.
func classifications(t *testing.T) []classification {
	t.Helper()
	out := []classification{{"storeError", services.StoreError}}
	for _, s := range servicetest.Stores(t) {
		tr, ok := s.DB.Dialector.(gorm.ErrorTranslator)
		if !ok {
			t.Fatalf("the %s dialector translates no errors", s.Name)
		}
		out = append(out, classification{s.Name + " Translate", tr.Translate})
	}
	return out
}

// outageEnv is every use case wired over a throwaway cluster, with a user of four sessions,
// a plan and a service client to act on.
type outageEnv struct {
	cluster  *servicetest.Cluster
	db       *gorm.DB
	users    *services.Users
	sessions *services.Sessions
	plans    *services.Plans
	clients  *services.Clients
	throttle *services.Throttle
	user     models.User
	logins   []models.LoginResult
	plan     models.Plan
	client   models.ServiceClient
	secret   string
}

func newOutageEnv(t *testing.T) *outageEnv {
	t.Helper()
	ctx := context.Background()
	e := &outageEnv{cluster: servicetest.NewCluster(t)}
	var err error
	e.db, err = store.Open("postgres", e.cluster.URL, store.Options{MaxOpenConns: 40, MaxIdleConns: 40, ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := e.db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	if err := services.Migrate(ctx, e.db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	e.throttle, err = services.NewThrottle(e.db, servicetest.Throttle())
	if err != nil {
		t.Fatal(err)
	}
	h := servicetest.FastHasher()
	e.users = services.NewUsers(e.db, h, services.UsersConfig{DefaultPlan: "standard", RegistrationOpen: true, Throttle: e.throttle})
	e.sessions = services.NewSessions(e.db, h, services.SessionsConfig{Defaults: defaultTimeouts, TouchInterval: time.Minute, Throttle: e.throttle})
	e.plans = services.NewPlans(e.db, nil, nil, nil)
	e.clients = services.NewClients(e.db, services.ClientsConfig{})
	if e.user, err = e.users.Register(ctx, models.RegisterParams{Email: servicetest.Email(t), Password: testPassword}); err != nil {
		t.Fatal(err)
	}
	setLimit(t, e.db, e.user.ID, models.Limit{Max: 10, Policy: models.PolicyReject})
	for i := range 4 {
		res, err := e.sessions.Login(ctx, loginParams(e.user, fmt.Sprint("device ", i)))
		if err != nil {
			t.Fatal(err)
		}
		e.logins = append(e.logins, res)
	}
	name, limit, policy := "outage", 3, models.PolicyEvictOldest
	if e.plan, err = e.plans.Create(ctx, models.Admin{Operator: true}, models.PlanInput{Name: &name, MaxSessions: &limit, LimitPolicy: &policy}); err != nil {
		t.Fatal(err)
	}
	if e.client, e.secret, err = e.clients.Create(ctx, models.Admin{Operator: true}, "catalog"); err != nil {
		t.Fatal(err)
	}
	return e
}

// useCase is one call of a use case against the outage env.
type useCase struct {
	name string
	call func(ctx context.Context) error
}

// useCases lists every use case the API reaches, with arguments valid enough to get to the
// store. writers are those that take the user's lock.
func (e *outageEnv) useCases() (all, writers []useCase) {
	admin := models.Admin{Operator: true}
	yes, one := true, 1
	u, s := e.user, e.logins
	writers = []useCase{
		{"Login", func(ctx context.Context) error {
			_, err := e.sessions.Login(ctx, loginParams(u, "newcomer"))
			return err
		}},
		{"Logout", func(ctx context.Context) error { return e.sessions.Logout(ctx, u.ID, s[0].Session.ID) }},
		{"Revoke", func(ctx context.Context) error {
			return e.sessions.Revoke(ctx, u.ID, s[1].Session.ID, s[2].Session.ID, "")
		}},
		{"RevokeAll", func(ctx context.Context) error {
			_, err := e.sessions.RevokeAll(ctx, u.ID, s[3].Session.ID, testPassword, models.ScopeOthers)
			return err
		}},
		{"ChangePassword", func(ctx context.Context) error {
			return e.users.ChangePassword(ctx, u.ID, s[3].Session.ID, testPassword, "a different long passphrase", true)
		}},
		{"Update (disable)", func(ctx context.Context) error {
			_, err := e.users.Update(ctx, admin, u.ID, models.UserPatch{Disabled: &yes})
			return err
		}},
		{"RevokeSessions (admin)", func(ctx context.Context) error {
			_, err := e.users.RevokeSessions(ctx, admin, u.ID)
			return err
		}},
	}
	all = append(writers, []useCase{
		{"Authenticate", func(ctx context.Context) error {
			_, err := e.sessions.Authenticate(ctx, s[3].Token)
			return err
		}},
		{"Authenticate (client)", func(ctx context.Context) error { return e.clients.Authenticate(ctx, e.client.ID, e.secret) }},
		{"Introspect", func(ctx context.Context) error {
			_, err := e.sessions.Introspect(ctx, s[3].Token)
			return err
		}},
		{"Clients", func(ctx context.Context) error { _, err := e.clients.List(ctx); return err }},
		{"List", func(ctx context.Context) error { _, err := e.sessions.List(ctx, u.ID); return err }},
		{"History", func(ctx context.Context) error { _, _, err := e.sessions.History(ctx, u.ID, 0, ""); return err }},
		{"Register", func(ctx context.Context) error {
			_, err := e.users.Register(ctx, models.RegisterParams{Email: "newcomer-" + randomSuffix() + "@example.com", Password: testPassword})
			return err
		}},
		{"RevokeSession (admin)", func(ctx context.Context) error { return e.users.RevokeSession(ctx, admin, s[1].Session.ID) }},
		{"Unlock", func(ctx context.Context) error { return e.users.Unlock(ctx, admin, u.ID) }},
		{"Users.List", func(ctx context.Context) error {
			_, _, err := e.users.List(ctx, models.UserFilter{}, 0, "")
			return err
		}},
		{"Users.Sessions", func(ctx context.Context) error { _, err := e.users.Sessions(ctx, u.ID); return err }},
		{"CreateClient", func(ctx context.Context) error { _, _, err := e.clients.Create(ctx, admin, "other"); return err }},
		{"DeleteClient", func(ctx context.Context) error { return e.clients.Delete(ctx, admin, e.client.ID) }},
		{"Plans.Create", func(ctx context.Context) error {
			name, policy := "another", models.PolicyReject
			_, err := e.plans.Create(ctx, admin, models.PlanInput{Name: &name, MaxSessions: &one, LimitPolicy: &policy})
			return err
		}},
		{"Plans.Update (enforce now)", func(ctx context.Context) error {
			_, _, err := e.plans.Update(ctx, admin, e.plan.ID, models.PlanInput{MaxSessions: &one}, true)
			return err
		}},
		{"Plans.Delete", func(ctx context.Context) error { return e.plans.Delete(ctx, admin, e.plan.ID) }},
		{"Plans.List", func(ctx context.Context) error { _, err := e.plans.List(ctx); return err }},
		{"Throttle.Reset", func(ctx context.Context) error { return e.throttle.Reset(ctx, u.Email) }},
	}...)
	return all, writers
}

// callAll calls every use case at once, each under its own deadline, and checks that each
// failed with models.ErrUnavailable within bound.
func callAll(t *testing.T, cases []useCase, deadline, bound time.Duration) {
	t.Helper()
	var wg sync.WaitGroup
	for _, uc := range cases {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			start := time.Now()
			err := uc.call(ctx)
			if took := time.Since(start); took > bound {
				t.Errorf("%s() took %s, want at most %s", uc.name, took, bound)
			}
			if !errors.Is(err, models.ErrUnavailable) {
				t.Errorf("%s() = %v, want models.ErrUnavailable", uc.name, err)
			}
		})
	}
	wg.Wait()
}

// unchanged checks that nothing the refused calls would have done happened: the user still
// has its four sessions and is enabled, the plan and the client are there, the password is
// the same.
func (e *outageEnv) unchanged(t *testing.T) {
	t.Helper()
	if n := activeCount(t, e.db, e.user.ID, time.Now()); n != int64(len(e.logins)) {
		t.Errorf("after the outage the user has %d active sessions, want %d", n, len(e.logins))
	}
	var u models.User
	if err := e.db.Where("id = ?", e.user.ID).Take(&u).Error; err != nil {
		t.Fatal(err)
	}
	if u.Disabled() || u.PasswordHash != e.user.PasswordHash {
		t.Errorf("after the outage the user is disabled (%v) or has another password (%v)", u.Disabled(), u.PasswordHash != e.user.PasswordHash)
	}
	var plans, clients, users int64
	e.db.Model(&models.Plan{}).Where("id = ? AND max_sessions = 3", e.plan.ID).Count(&plans)
	e.db.Model(&models.ServiceClient{}).Count(&clients)
	e.db.Model(&models.User{}).Count(&users)
	if plans != 1 || clients != 1 || users != 1 {
		t.Errorf("after the outage: %d plans as before, %d service clients, %d users; want 1, 1, 1", plans, clients, users)
	}
}

// TestUseCasesFailClosedInAnOutage calls every use case while the store is unusable in three
// ways, and each must fail with models.ErrUnavailable, leaving nothing half done:
//   - frozen (SIGSTOP on every Postgres process): within the caller's deadline;
//   - stopped (pg_ctl stop -m immediate): pooled connections dead, dials refused;
//   - killed mid-transaction: the writers wait on the user's row lock, held by another
//     connection, and their backends are terminated there (the statement fails, the rollback
//     meets a closed connection).
//
// Checked by hand (2026-11-30): before Translate classified every GORM error, BEGIN's
// failures came back raw, and in the frozen and the stopped case ten use cases (Logout,
// Revoke, Update, RevokeSession, RevokeSessions, Register, Clients.Create, Clients.Delete,
// Plans.Create, Plans.Delete) returned a *pgconn.ConnectError (a dial timed out or refused),
// which the API answers 500.
func TestUseCasesFailClosedInAnOutage(t *testing.T) {
	e := newOutageEnv(t)
	all, writers := e.useCases()

	t.Run("killed mid-transaction", func(t *testing.T) {
		blocker := e.db.Begin()
		if err := blocker.Exec("SELECT 1 FROM users WHERE id = ? FOR UPDATE", e.user.ID).Error; err != nil {
			t.Fatal(err)
		}
		waiting := func() (n int64) {
			e.db.Raw(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
			return n
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			callAll(t, writers, 30*time.Second, 30*time.Second)
		}()
		for deadline := time.Now().Add(10 * time.Second); waiting() != int64(len(writers)); {
			if time.Now().After(deadline) {
				t.Fatalf("%d use cases wait on the user's lock, want %d", waiting(), len(writers))
			}
			time.Sleep(5 * time.Millisecond) // polling Postgres's view of other connections
		}
		err := e.db.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Error
		if err != nil {
			t.Fatal(err)
		}
		<-done
		blocker.Rollback()
		e.unchanged(t)
	})

	t.Run("frozen", func(t *testing.T) {
		const deadline = time.Second
		e.cluster.Freeze(t)
		callAll(t, all, deadline, deadline+3*time.Second)
		e.cluster.Thaw(t)
		e.unchanged(t)
	})

	t.Run("stopped", func(t *testing.T) {
		e.cluster.Stop(t)
		callAll(t, all, 5*time.Second, 10*time.Second)
		e.cluster.Start(t)
		e.unchanged(t)
	})
}
