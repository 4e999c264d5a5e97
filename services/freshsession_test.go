package services_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestFreshSessionNeedsThePasswordToSignOutOlderOnes: a session younger than the fresh-session
// age (24h) signs out a session signed in before it only with the right password (no password:
// ErrSessionTooNew; a wrong one: that and ErrInvalidCredentials, throttled like every password
// re-check). Newer sessions need none, and neither does a session once it is 24h old.
func TestFreshSessionNeedsThePasswordToSignOutOlderOnes(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newThrottled(t, store, accountOnly())
			e.sessions = services.NewSessions(store.DB, e.hasher, services.SessionsConfig{
				Defaults: defaultTimeouts, TouchInterval: time.Minute, Now: e.clock.Now, Throttle: e.throttle,
				FreshSessionAge: 24 * time.Hour,
			})
			ctx := context.Background()
			u := e.register(t, &models.Limit{Max: 4, Policy: models.PolicyReject})
			tv := e.login(t, u, "TV")
			console := e.login(t, u, "Console")
			e.clock.Advance(time.Hour)
			thief := e.login(t, u, "Thief's phone")
			e.clock.Advance(time.Minute)
			laptop := e.login(t, u, "Laptop")

			if err := e.sessions.Revoke(ctx, u.ID, thief.Session.ID, tv.Session.ID, ""); !errors.Is(err, models.ErrSessionTooNew) || errors.Is(err, models.ErrInvalidCredentials) {
				t.Fatalf("Revoke(older, no password) from a fresh session = %v, want ErrSessionTooNew alone", err)
			}
			for i := range 5 {
				err := e.sessions.Revoke(ctx, u.ID, thief.Session.ID, tv.Session.ID, "a guess")
				if !errors.Is(err, models.ErrSessionTooNew) || !errors.Is(err, models.ErrInvalidCredentials) {
					t.Fatalf("Revoke(older, wrong password %d) = %v, want ErrSessionTooNew and ErrInvalidCredentials", i+1, err)
				}
			}
			wait := retryAfter(t, e.sessions.Revoke(ctx, u.ID, thief.Session.ID, tv.Session.ID, testPassword))
			if _, err := e.sessions.Authenticate(ctx, tv.Token); err != nil {
				t.Fatalf("the TV after the refusals: Authenticate() = %v, want it signed in", err)
			}
			list, err := e.sessions.List(ctx, u.ID)
			if err != nil || !list.NeedsPassword(thief.Session, tv.Session) || list.NeedsPassword(thief.Session, laptop.Session) ||
				list.NeedsPassword(tv.Session, thief.Session) {
				t.Errorf("List().NeedsPassword: thief→TV %v, thief→laptop %v, TV→thief %v (%v); want true, false, false",
					list.NeedsPassword(thief.Session, tv.Session), list.NeedsPassword(thief.Session, laptop.Session),
					list.NeedsPassword(tv.Session, thief.Session), err)
			}

			if err := e.sessions.Revoke(ctx, u.ID, thief.Session.ID, laptop.Session.ID, ""); err != nil {
				t.Errorf("Revoke(newer, no password) = %v, want nil", err)
			}
			e.clock.Advance(wait)
			if err := e.sessions.Revoke(ctx, u.ID, thief.Session.ID, tv.Session.ID, testPassword); err != nil {
				t.Fatalf("Revoke(older, right password) = %v, want nil", err)
			}
			var rev *models.SessionRevokedError
			if _, err := e.sessions.Authenticate(ctx, tv.Token); !errors.As(err, &rev) || rev.Reason != models.ReasonRevokedByUser {
				t.Errorf("the TV after its sign-out: Authenticate() = %v, want revoked_by_user", err)
			}

			e.clock.Advance(24 * time.Hour) // the thief's session is older than 24h now
			if err := e.sessions.Revoke(ctx, u.ID, thief.Session.ID, console.Session.ID, ""); err != nil {
				t.Errorf("Revoke(older, no password) from a 24h-old session = %v, want nil", err)
			}
		})
	}
}

// TestRevokeOfAnInactiveSessionIsNotFoundFirst: asking a fresh session for the password
// about a session that is gone anyway would be pointless: not found comes first.
func TestRevokeOfAnInactiveSessionIsNotFoundFirst(t *testing.T) {
	store := servicetest.SQLite(t)
	e := newEnv(t, store)
	e.sessions = services.NewSessions(store.DB, servicetest.FastHasher(), services.SessionsConfig{
		Defaults: defaultTimeouts, TouchInterval: time.Minute, Now: e.clock.Now, FreshSessionAge: 24 * time.Hour,
	})
	ctx := context.Background()
	u := e.register(t, nil)
	old := e.login(t, u, "Old")
	e.clock.Advance(time.Minute)
	mid := e.login(t, u, "Middle")
	e.clock.Advance(time.Minute)
	cur := e.login(t, u, "New") // evicts Old (standard: 2, evict_oldest)
	if err := e.sessions.Revoke(ctx, u.ID, cur.Session.ID, old.Session.ID, ""); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("Revoke(evicted older session) = %v, want ErrNotFound", err)
	}
	if err := e.sessions.Revoke(ctx, u.ID, cur.Session.ID, mid.Session.ID, ""); !errors.Is(err, models.ErrSessionTooNew) {
		t.Errorf("Revoke(active older session) = %v, want ErrSessionTooNew", err)
	}
}
