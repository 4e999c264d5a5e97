package services_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestLoginRaceKeepsTheLimit races 50 logins of one user, released together, over two
// independent connection pools (as two server processes would hold), at limit 2.
//
// Checked by hand once (2026-11-28): with lockUser removed from Sessions.Login, the Postgres
// evict case ended with 33 and 36 active sessions and the reject case admitted 8 logins, so this test
// fails without the lock. (SQLite's immediate transactions serialise regardless.)
func TestLoginRaceKeepsTheLimit(t *testing.T) {
	const logins, limit = 50, 2
	for _, store := range servicetest.Stores(t) {
		for _, policy := range []models.LimitPolicy{models.PolicyEvictOldest, models.PolicyReject} {
			t.Run(fmt.Sprintf("%s/%s", store.Name, policy), func(t *testing.T) {
				clock := newFakeClock()
				pools := []*env{
					newEnvOn(t, store, store.Open(t), clock),
					newEnvOn(t, store, store.Open(t), clock),
				}
				u := pools[0].register(t, &models.Limit{Max: limit, Policy: policy})

				start := make(chan struct{})
				errs := make([]error, logins)
				var wg sync.WaitGroup
				for i := range logins {
					wg.Go(func() {
						<-start
						_, errs[i] = pools[i%2].sessions.Login(context.Background(), loginParams(u, fmt.Sprintf("device %d", i)))
					})
				}
				close(start)
				wg.Wait()

				var ok, rejected int
				for i, err := range errs {
					var limitErr *models.DeviceLimitError
					switch {
					case err == nil:
						ok++
					case errors.As(err, &limitErr):
						rejected++
					default:
						t.Errorf("Login(device %d) = %v, want success or DeviceLimitError", i, err)
					}
				}
				wantOK, wantRejected := logins, 0
				if policy == models.PolicyReject {
					wantOK, wantRejected = limit, logins-limit
				}
				if ok != wantOK || rejected != wantRejected {
					t.Errorf("%d logins: %d succeeded, %d rejected; want %d and %d", logins, ok, rejected, wantOK, wantRejected)
				}
				if n := activeCount(t, store.DB, u.ID, clock.Now()); n != limit {
					t.Errorf("active sessions after the race = %d, want exactly %d", n, limit)
				}
				events := eventTypes(t, store.DB, u.ID)
				if events[models.EventLogin] != wantOK || events[models.EventEvicted] != wantOK-limit ||
					events[models.EventLimitRejected] != wantRejected {
					t.Errorf("events = %v, want %d logins, %d evicted, %d limit_rejected",
						events, wantOK, wantOK-limit, wantRejected)
				}
			})
		}
	}
}
