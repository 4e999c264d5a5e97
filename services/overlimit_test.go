package services_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

// overLimit signs in n devices of a new user, then lowers the user's limit to 1 on a reject
// policy, as a move to basic does: the user is n-1 over it. It returns the sessions, oldest first.
func overLimit(t *testing.T, e *env, n int) (models.User, []models.LoginResult) {
	t.Helper()
	u := e.register(t, &models.Limit{Max: n, Policy: models.PolicyReject})
	var in []models.LoginResult
	for i := range n {
		in = append(in, e.login(t, u, fmt.Sprintf("device %d", i)))
		e.clock.Advance(time.Second)
	}
	setLimit(t, e.store.DB, u.ID, models.Limit{Max: 1, Policy: models.PolicyReject})
	return u, in
}

func sessionIDs(rs []models.LoginResult) []string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.Session.ID)
	}
	return ids
}

// TestOverTheLimitGetsInByNamingMustSignOut is issue 18's trap: a user 3 over a reject limit
// of 1 (4 signed in) was refused whatever one device it named. Now the refusal says 4 must go;
// naming 3 is refused again with the same answer and signs nobody out; naming 4 (one through
// replace_session_id, three through replace_session_ids) gets in, in one transaction.
func TestOverTheLimitGetsInByNamingMustSignOut(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			ctx := context.Background()
			u, in := overLimit(t, e, 4)
			ids := sessionIDs(in)

			_, err := e.sessions.Login(ctx, loginParams(u, "New TV"))
			var limit *models.DeviceLimitError
			if !errors.As(err, &limit) || limit.MustSignOut != 4 || limit.Limit != 1 || len(limit.Sessions) != 4 ||
				limit.Sessions[0].ID != ids[3] || limit.Device.Name != "New TV" {
				t.Fatalf("Login(over the limit) = %v, want DeviceLimitError: 4 of the 4 listed (newest first) must go", err)
			}

			p := loginParams(u, "New TV")
			p.ReplaceSessionIDs = ids[:3]
			_, err = e.sessions.Login(ctx, p)
			if !errors.As(err, &limit) || limit.MustSignOut != 4 || len(limit.Sessions) != 4 {
				t.Fatalf("Login(naming 3) = %v, want DeviceLimitError still asking for 4 of the 4", err)
			}
			if n := activeCount(t, store.DB, u.ID, e.clock.Now()); n != 4 {
				t.Fatalf("active sessions after a refused attempt = %d, want 4: a refusal signs nobody out", n)
			}

			p.ReplaceSessionID, p.ReplaceSessionIDs = ids[3], ids[:3]
			res, err := e.sessions.Login(ctx, p)
			if err != nil || len(res.Evicted) != 4 {
				t.Fatalf("Login(naming all 4) = %v, evicted %d; want signed in, 4 evicted", err, len(res.Evicted))
			}
			if n := activeCount(t, store.DB, u.ID, e.clock.Now()); n != 1 {
				t.Errorf("active sessions = %d, want 1", n)
			}
			for _, r := range in {
				var ev *models.SessionEvictedError
				if _, err := e.sessions.Authenticate(ctx, r.Token); !errors.As(err, &ev) || ev.ByDeviceName != "New TV" {
					t.Errorf("Authenticate(%s) = %v, want SessionEvictedError by New TV", r.Session.DeviceName, err)
				}
			}
			if got := eventTypes(t, store.DB, u.ID); got[models.EventLimitRejected] != 2 || got[models.EventEvicted] != 4 {
				t.Errorf("events = %v, want 2 limit_rejected and 4 evicted", got)
			}
		})
	}
}

// TestNamedSessionsAreChecked: malformed ids and too many are refused before any work; ids
// that are no session of the user's are ignored, and the limit decides without them.
func TestNamedSessionsAreChecked(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			ctx := context.Background()
			u, in := overLimit(t, e, 2)
			other, _ := overLimit(t, e, 2)
			tooMany := make([]string, services.MaxReplaceSessions+1)
			for i := range tooMany {
				tooMany[i] = uuid.NewString()
			}
			for _, tc := range []struct {
				name  string
				one   string
				many  []string
				field string
			}{
				{"garbage one", "' OR 1=1 --", nil, "replace_session_id"},
				{"garbage in the list", "", []string{in[0].Session.ID, "nope"}, "replace_session_ids"},
				{"upper-case id", "", []string{"0190A000-0000-7000-8000-000000000001"}, "replace_session_ids"},
				{"empty id in the list", "", []string{""}, "replace_session_ids"},
				{"too many", "", tooMany, "replace_session_ids"},
			} {
				p := loginParams(u, "New TV")
				p.ReplaceSessionID, p.ReplaceSessionIDs = tc.one, tc.many
				_, err := e.sessions.Login(ctx, p)
				var v *models.ValidationError
				if !errors.As(err, &v) || v.Fields[tc.field] == "" {
					t.Errorf("Login(%s) = %v, want ValidationError naming %s", tc.name, err, tc.field)
				}
			}
			// Another user's sessions and unknown ids change nothing: still 2 must go.
			var victims []string
			store.DB.Model(&models.Session{}).Where("user_id = ?", other.ID).Pluck("id", &victims)
			p := loginParams(u, "New TV")
			p.ReplaceSessionIDs = append(victims, uuid.NewString(), in[0].Session.ID)
			_, err := e.sessions.Login(ctx, p)
			var limit *models.DeviceLimitError
			if !errors.As(err, &limit) || limit.MustSignOut != 2 {
				t.Fatalf("Login(naming others' sessions) = %v, want DeviceLimitError with 2 to go", err)
			}
			if n := activeCount(t, store.DB, other.ID, e.clock.Now()); n != 2 {
				t.Errorf("the other user's active sessions = %d, want 2 untouched", n)
			}
			// Exactly the limit's worth of ids, duplicates included, is accepted.
			p.ReplaceSessionIDs = slices.Concat(sessionIDs(in), sessionIDs(in), tooMany[:services.MaxReplaceSessions-4])
			if _, err := e.sessions.Login(ctx, p); err != nil {
				t.Errorf("Login(naming both, among %d ids) = %v", len(p.ReplaceSessionIDs), err)
			}
		})
	}
}

// TestHeldOverTheLimitCompletesWithEnoughChosen: the chooser's pending login asks for what a
// completion needs (3 over a limit of 1: 4), a completion with fewer keeps it pending and
// refuses with the device and the same count, and one with 4 signs it in.
func TestHeldOverTheLimitCompletesWithEnoughChosen(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			ctx := context.Background()
			u, in := overLimit(t, e, 4)
			p := loginParams(u, "Tablet")
			p.KeepPending = true
			_, err := e.sessions.Login(ctx, p)
			var limit *models.DeviceLimitError
			if !errors.As(err, &limit) || limit.Pending == "" {
				t.Fatalf("Login(keep pending) = %v, want a pending login", err)
			}
			held, err := e.sessions.Held(ctx, limit.Pending)
			if err != nil || held.MustSignOut != 4 || len(held.Sessions) != 4 || held.Limit.Max != 1 {
				t.Fatalf("Held() = %+v, %v; want 4 of 4 to sign out at limit 1", held, err)
			}
			ids := sessionIDs(in)
			_, err = e.sessions.Resume(ctx, limit.Pending, ids[1:], "")
			var again *models.DeviceLimitError
			if !errors.As(err, &again) || again.MustSignOut != 4 || again.Device.Name != "Tablet" || again.Pending != limit.Pending {
				t.Fatalf("Resume(3 of 4) = %v, want DeviceLimitError for Tablet, 4 to go, same pending token", err)
			}
			res, err := e.sessions.Resume(ctx, limit.Pending, ids, "")
			if err != nil || len(res.Evicted) != 4 || res.Session.DeviceName != "Tablet" {
				t.Fatalf("Resume(all 4) = %+v, %v", res, err)
			}
			if n := activeCount(t, store.DB, u.ID, e.clock.Now()); n != 1 {
				t.Errorf("active sessions = %d, want 1", n)
			}
		})
	}
}

// TestHeldLeavesTheDeviceItsOwnSession: a browser that is itself signed in (same device id)
// replaces its own session, so the chooser neither lists it nor counts it.
func TestHeldLeavesTheDeviceItsOwnSession(t *testing.T) {
	store := servicetest.SQLite(t)
	e := newEnv(t, store)
	ctx := context.Background()
	u := e.register(t, &models.Limit{Max: 3, Policy: models.PolicyReject})
	own := loginParams(u, "Laptop")
	own.Device.ID = "browser-laptop"
	if _, err := e.sessions.Login(ctx, own); err != nil {
		t.Fatal(err)
	}
	e.login(t, u, "TV")
	e.login(t, u, "Phone")
	setLimit(t, store.DB, u.ID, models.Limit{Max: 1, Policy: models.PolicyReject})
	own.KeepPending = true
	_, err := e.sessions.Login(ctx, own)
	var limit *models.DeviceLimitError
	if !errors.As(err, &limit) || limit.MustSignOut != 2 || len(limit.Sessions) != 2 {
		t.Fatalf("Login(same browser, over the limit) = %v, want TV and Phone, both to go", err)
	}
	held, err := e.sessions.Held(ctx, limit.Pending)
	if err != nil || held.MustSignOut != 2 || len(held.Sessions) != 2 || slices.ContainsFunc(held.Sessions, func(s models.Session) bool { return s.DeviceName == "Laptop" }) {
		t.Fatalf("Held() = %+v, %v; want TV and Phone to choose from, 2 to go", held, err)
	}
}

// TestOverTheLimitRaceAdmitsOne races 20 logins of a user 2 over a reject limit of 1, each
// naming all three sessions, over two connection pools, in three rounds (a user each). Exactly
// one per round may get in: the others find the named sessions gone and the winner in their
// place.
//
// Checked by hand once (2026-12-01): with lockUser replaced by a plain read in Sessions.Login,
// the Postgres case let 7 to 20 logins of a round in, and this test failed 5 runs out of 5.
func TestOverTheLimitRaceAdmitsOne(t *testing.T) {
	const racers, rounds = 20, 3
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			clock := newFakeClock()
			pools := []*env{newEnvOn(t, store, store.Open(t), clock), newEnvOn(t, store, store.Open(t), clock)}
			for round := range rounds {
				u, in := overLimit(t, pools[0], 3)
				start := make(chan struct{})
				errs := make([]error, racers)
				var wg sync.WaitGroup
				for i := range racers {
					wg.Go(func() {
						p := loginParams(u, fmt.Sprintf("racer %d", i))
						p.ReplaceSessionIDs = sessionIDs(in)
						<-start
						_, errs[i] = pools[i%2].sessions.Login(context.Background(), p)
					})
				}
				close(start)
				wg.Wait()
				ok := 0
				for i, err := range errs {
					var limit *models.DeviceLimitError
					switch {
					case err == nil:
						ok++
					case errors.As(err, &limit) && limit.MustSignOut == 1 && len(limit.Sessions) == 1:
					default:
						t.Errorf("round %d: Login(racer %d) = %v, want success or DeviceLimitError naming the winner", round, i, err)
					}
				}
				if ok != 1 {
					t.Errorf("round %d: %d racing logins naming all 3: %d got in, want exactly 1", round, racers, ok)
				}
				if n := activeCount(t, store.DB, u.ID, clock.Now()); n != 1 {
					t.Errorf("round %d: active sessions after the race = %d, want 1", round, n)
				}
				if got := eventTypes(t, store.DB, u.ID)[models.EventEvicted]; got != 3 {
					t.Errorf("round %d: evicted events = %d, want 3: each named session signed out once", round, got)
				}
			}
		})
	}
}
