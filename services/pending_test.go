package services_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

// heldAtLimit signs A and B in under a reject limit of 2 and returns them with the pending
// login of a third device, C, that the limit refused.
func heldAtLimit(t *testing.T, e *env) (u models.User, a, b models.LoginResult, held *models.DeviceLimitError) {
	t.Helper()
	u = e.register(t, &models.Limit{Max: 2, Policy: models.PolicyReject})
	a = e.login(t, u, "A")
	e.clock.Advance(time.Second)
	b = e.login(t, u, "B")
	p := loginParams(u, "C")
	p.KeepPending = true
	_, err := e.sessions.Login(context.Background(), p)
	if !errors.As(err, &held) || held.Pending == "" || len(held.Sessions) != 2 {
		t.Fatalf("Login(C, keep pending) = %v, want DeviceLimitError with a pending token", err)
	}
	if want := e.clock.Now().Add(services.PendingLoginTTL); !held.PendingExpiresAt.Equal(want) {
		t.Errorf("PendingExpiresAt = %v, want %v", held.PendingExpiresAt, want)
	}
	return u, a, b, held
}

func TestResumeCompletesAHeldLoginOnce(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			u, a, b, held := heldAtLimit(t, e)
			ctx := context.Background()

			h, err := e.sessions.Held(ctx, held.Pending)
			if err != nil || h.Device.Name != "C" || h.Limit.Max != 2 || len(h.Sessions) != 2 ||
				h.Sessions[0].ID != b.Session.ID || h.Sessions[1].ID != a.Session.ID || !h.ExpiresAt.Equal(held.PendingExpiresAt) {
				t.Fatalf("Held() = %+v, %v; want device C waiting on [B A] at limit 2", h, err)
			}

			// Without a choice the limit still refuses, and the pending login survives.
			_, err = e.sessions.Resume(ctx, held.Pending, nil, "")
			var again *models.DeviceLimitError
			if !errors.As(err, &again) || again.Pending != held.Pending {
				t.Fatalf("Resume(no choice) = %v, want DeviceLimitError with the same pending token", err)
			}

			res, err := e.sessions.Resume(ctx, held.Pending, []string{a.Session.ID}, "")
			if err != nil {
				t.Fatalf("Resume(sign out A) = %v", err)
			}
			if res.Session.DeviceName != "C" || res.Session.IP != "192.0.2.1" || res.User.ID != u.ID || res.Token == "" {
				t.Errorf("Resume() session = %+v, want device C of the user, from the login's address", res.Session)
			}
			if _, err := e.sessions.Authenticate(ctx, res.Token); err != nil {
				t.Errorf("Authenticate(C) = %v", err)
			}
			var ev *models.SessionEvictedError
			if _, err := e.sessions.Authenticate(ctx, a.Token); !errors.As(err, &ev) || ev.ByDeviceName != "C" {
				t.Errorf("Authenticate(A) = %v, want SessionEvictedError by C", err)
			}
			if _, err := e.sessions.Authenticate(ctx, b.Token); err != nil {
				t.Errorf("Authenticate(B) = %v, want still signed in", err)
			}
			// Spent: a second completion, even naming another device, is refused.
			if _, err := e.sessions.Resume(ctx, held.Pending, []string{b.Session.ID}, ""); !errors.Is(err, models.ErrPendingLoginInvalid) {
				t.Errorf("Resume(again) = %v, want ErrPendingLoginInvalid", err)
			}
			if _, err := e.sessions.Held(ctx, held.Pending); !errors.Is(err, models.ErrPendingLoginInvalid) {
				t.Errorf("Held(spent) = %v, want ErrPendingLoginInvalid", err)
			}
			if n := activeCount(t, store.DB, u.ID, e.clock.Now()); n != 2 {
				t.Errorf("active sessions = %d, want 2", n)
			}
		})
	}
}

func TestResumeRefusesStaleOrForgedPendingLogins(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			ctx := context.Background()
			t.Run("expired", func(t *testing.T) {
				e := newEnv(t, store)
				_, a, _, held := heldAtLimit(t, e)
				e.clock.Advance(services.PendingLoginTTL)
				if _, err := e.sessions.Resume(ctx, held.Pending, []string{a.Session.ID}, ""); !errors.Is(err, models.ErrPendingLoginInvalid) {
					t.Errorf("Resume(after %s) = %v, want ErrPendingLoginInvalid", services.PendingLoginTTL, err)
				}
			})
			t.Run("password changed", func(t *testing.T) {
				e := newEnv(t, store)
				u, a, b, held := heldAtLimit(t, e)
				if err := e.users.ChangePassword(ctx, u.ID, b.Session.ID, testPassword, "a new long passphrase", false); err != nil {
					t.Fatalf("ChangePassword() = %v", err)
				}
				if _, err := e.sessions.Resume(ctx, held.Pending, []string{a.Session.ID}, ""); !errors.Is(err, models.ErrPendingLoginInvalid) {
					t.Errorf("Resume(after a password change) = %v, want ErrPendingLoginInvalid", err)
				}
			})
			t.Run("user disabled", func(t *testing.T) {
				e := newEnv(t, store)
				u, a, _, held := heldAtLimit(t, e)
				if err := store.DB.Model(&models.User{}).Where("id = ?", u.ID).Update("disabled_at", e.clock.Now()).Error; err != nil {
					t.Fatal(err)
				}
				if _, err := e.sessions.Held(ctx, held.Pending); !errors.Is(err, models.ErrPendingLoginInvalid) {
					t.Errorf("Held(disabled user) = %v, want ErrPendingLoginInvalid: the chooser must not list their devices", err)
				}
				if _, err := e.sessions.Resume(ctx, held.Pending, []string{a.Session.ID}, ""); !errors.Is(err, models.ErrPendingLoginInvalid) {
					t.Errorf("Resume(disabled user) = %v, want ErrPendingLoginInvalid", err)
				}
			})
			t.Run("other devices signed out", func(t *testing.T) {
				e := newEnv(t, store)
				u, a, b, held := heldAtLimit(t, e)
				if _, err := e.sessions.RevokeAll(ctx, u.ID, b.Session.ID, testPassword, models.ScopeOthers); err != nil {
					t.Fatalf("RevokeAll(others) = %v", err)
				}
				if _, err := e.sessions.Resume(ctx, held.Pending, []string{a.Session.ID}, ""); !errors.Is(err, models.ErrPendingLoginInvalid) {
					t.Errorf("Resume(after signing out the others) = %v, want ErrPendingLoginInvalid", err)
				}
			})
			t.Run("cancelled", func(t *testing.T) {
				e := newEnv(t, store)
				_, a, _, held := heldAtLimit(t, e)
				for range 2 { // cancelling twice is no error
					if err := e.sessions.Cancel(ctx, held.Pending); err != nil {
						t.Fatalf("Cancel() = %v", err)
					}
				}
				if _, err := e.sessions.Resume(ctx, held.Pending, []string{a.Session.ID}, ""); !errors.Is(err, models.ErrPendingLoginInvalid) {
					t.Errorf("Resume(cancelled) = %v, want ErrPendingLoginInvalid", err)
				}
			})
			t.Run("wrong secret", func(t *testing.T) {
				e := newEnv(t, store)
				_, a, _, held := heldAtLimit(t, e)
				forged := held.Pending[:len(held.Pending)-2] + "AA"
				if forged == held.Pending {
					forged = held.Pending[:len(held.Pending)-2] + "AQ"
				}
				for _, tok := range []string{forged, a.Token, "", "garbage"} {
					if _, err := e.sessions.Resume(ctx, tok, []string{a.Session.ID}, ""); !errors.Is(err, models.ErrPendingLoginInvalid) {
						t.Errorf("Resume(%q) = %v, want ErrPendingLoginInvalid", tok, err)
					}
				}
				if _, err := e.sessions.Resume(ctx, held.Pending, []string{a.Session.ID}, ""); err != nil {
					t.Errorf("Resume(the real token) after forgeries = %v", err)
				}
			})
		})
	}
}

// TestResumeRaceCompletesOnce races 20 completions of one pending login over two connection
// pools: exactly one may sign the device in.
//
// Checked by hand once (2026-11-30): with the spend check (the DELETE under the user's lock
// finding the row) removed, the later completions got past it on both stores and this test
// failed; only the device limit, with no free slot left, stopped them signing in again.
func TestResumeRaceCompletesOnce(t *testing.T) {
	const racers = 20
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			clock := newFakeClock()
			pools := []*env{newEnvOn(t, store, store.Open(t), clock), newEnvOn(t, store, store.Open(t), clock)}
			u, a, _, held := heldAtLimit(t, pools[0])

			start := make(chan struct{})
			errs := make([]error, racers)
			var wg sync.WaitGroup
			for i := range racers {
				wg.Go(func() {
					<-start
					_, errs[i] = pools[i%2].sessions.Resume(context.Background(), held.Pending, []string{a.Session.ID}, "")
				})
			}
			close(start)
			wg.Wait()
			ok := 0
			for i, err := range errs {
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, models.ErrPendingLoginInvalid):
					t.Errorf("Resume #%d = %v, want success or ErrPendingLoginInvalid", i, err)
				}
			}
			if ok != 1 {
				t.Errorf("%d racing completions: %d succeeded, want exactly 1", racers, ok)
			}
			if n := activeCount(t, store.DB, u.ID, clock.Now()); n != 2 {
				t.Errorf("active sessions = %d, want 2", n)
			}
		})
	}
}
