package services_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestOIDCKeepsTheDeviceLimit: sign-ins through the provider count against the same limit as
// password logins, under both policies (the race between the two kinds is
// TestOIDCAndPasswordLoginsRace).
func TestOIDCKeepsTheDeviceLimit(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			ctx := context.Background()
			e := newOIDCEnv(t, store, true, nil)
			u := markVerified(t, store.DB, e.register(t, &models.Limit{Max: 2, Policy: models.PolicyEvictOldest}))
			carl := person("carl-"+randomSuffix(), u.Email, true)
			a := e.login(t, u, "Password TV")
			e.clock.Advance(time.Second)
			if _, err := e.oidc.LoginWithIDToken(ctx, "linking", native(nativeIDToken(t, e.mock, carl, ""), "", "SSO phone")); err != nil {
				t.Fatalf("LoginWithIDToken() = %v", err)
			}
			e.clock.Advance(time.Second)
			res, err := e.oidc.LoginWithIDToken(ctx, "linking", native(nativeIDToken(t, e.mock, carl, ""), "", "SSO tablet"))
			if err != nil || len(res.Evicted) != 1 || res.Evicted[0].ID != a.Session.ID {
				t.Fatalf("third sign-in = %v, evicted %v; want the password TV evicted", err, res.Evicted)
			}

			setLimit(t, store.DB, u.ID, models.Limit{Max: 2, Policy: models.PolicyReject})
			tok := nativeIDToken(t, e.mock, carl, "")
			_, err = e.oidc.LoginWithIDToken(ctx, "linking", native(tok, "", "SSO laptop"))
			var limit *models.DeviceLimitError
			if !errors.As(err, &limit) || len(limit.Sessions) != 2 {
				t.Fatalf("sign-in at a reject limit = %v, want DeviceLimitError with 2 sessions", err)
			}
			// The same token, now naming a device to replace: the refusal did not spend it.
			p := native(tok, "", "SSO laptop")
			p.ReplaceSessionID = limit.Sessions[0].ID
			if _, err := e.oidc.LoginWithIDToken(ctx, "linking", p); err != nil {
				t.Fatalf("retry with replace_session_id = %v", err)
			}

			// Moved down to 1 device with 2 signed in: both must go, named together.
			setLimit(t, store.DB, u.ID, models.Limit{Max: 1, Policy: models.PolicyReject})
			tok = nativeIDToken(t, e.mock, carl, "")
			_, err = e.oidc.LoginWithIDToken(ctx, "linking", native(tok, "", "SSO watch"))
			if !errors.As(err, &limit) || limit.MustSignOut != 2 || len(limit.Sessions) != 2 {
				t.Fatalf("sign-in over a reject limit = %v, want DeviceLimitError with both to go", err)
			}
			p = native(tok, "", "SSO watch")
			p.ReplaceSessionIDs = []string{limit.Sessions[1].ID}
			if _, err := e.oidc.LoginWithIDToken(ctx, "linking", p); !errors.As(err, &limit) || limit.MustSignOut != 2 {
				t.Fatalf("retry naming one of two = %v, want DeviceLimitError with 2 to go", err)
			}
			p.ReplaceSessionIDs = []string{limit.Sessions[0].ID, limit.Sessions[1].ID}
			if res, err := e.oidc.LoginWithIDToken(ctx, "linking", p); err != nil || len(res.Evicted) != 2 {
				t.Fatalf("retry naming both = %v, want signed in with 2 evicted", err)
			}
			if n := activeCount(t, store.DB, u.ID, e.clock.Now()); n != 1 {
				t.Errorf("active sessions = %d, want 1", n)
			}
		})
	}
}

// TestOIDCAndPasswordLoginsRace races 20 password logins and 20 provider logins of one user
// (each kind over two connection pools, as two processes would hold) at limit 2, evicting
// the oldest. Exactly 2 sessions may remain, and every login must have evicted exactly one
// session once the limit was reached: a login that missed a concurrent one would leave a third
// session behind, which a later login's eviction hides from the final count but not from the
// count of evictions.
//
// Checked by hand once (2026-11-30): with lockUser removed from OIDC.loginOnce, the Postgres
// case recorded more evictions than logins past the limit, and this test failed.
func TestOIDCAndPasswordLoginsRace(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			ctx := context.Background()
			e := newOIDCEnv(t, store, true, nil)
			u := markVerified(t, store.DB, e.register(t, &models.Limit{Max: 2, Policy: models.PolicyEvictOldest}))
			carl := person("carl-"+randomSuffix(), u.Email, true)
			// The race: 20 password logins and 20 provider logins at once, each kind over two
			// connection pools (as two processes would hold).
			dbs := []*gorm.DB{store.Open(t), store.Open(t)}
			pools := []*env{newEnvOn(t, store, dbs[0], e.clock), newEnvOn(t, store, dbs[1], e.clock)}
			providers := []*services.OIDC{
				newOIDCOn(t, dbs[0], pools[0].sessions, e.mock), newOIDCOn(t, dbs[1], pools[1].sessions, e.mock),
			}
			setLimit(t, store.DB, u.ID, models.Limit{Max: 2, Policy: models.PolicyEvictOldest})
			const racers = 40
			tokens := make([]string, racers)
			for i := 1; i < racers; i += 2 {
				tokens[i] = nativeIDToken(t, e.mock, carl, "")
			}
			start := make(chan struct{})
			errs := make([]error, racers)
			var wg sync.WaitGroup
			for i := range racers {
				wg.Go(func() {
					<-start
					if i%2 == 0 {
						_, errs[i] = pools[i%4/2].sessions.Login(ctx, loginParams(u, fmt.Sprint("password ", i)))
					} else {
						_, errs[i] = providers[i%4/2].LoginWithIDToken(ctx, "linking", native(tokens[i], "", fmt.Sprint("sso ", i)))
					}
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("racing login %d = %v", i, err)
				}
			}
			events := eventTypes(t, store.DB, u.ID)
			if n := activeCount(t, store.DB, u.ID, e.clock.Now()); n != 2 || events[models.EventLogin] != racers ||
				events[models.EventEvicted] != racers-2 {
				t.Errorf("after the race: %d active, events %v; want exactly 2 active, %d logins, %d evicted", n, events, racers, racers-2)
			}
		})
	}
}
