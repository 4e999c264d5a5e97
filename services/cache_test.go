package services_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
	"github.com/sessiond/sessiond/services/store"
)

// cached is one "process": use cases over their own pool, with a session cache, and on
// Postgres a listener keeping it coherent with the others.
type cached struct {
	*env
	cache    *store.SessionCache
	listener *store.Listener
}

func newCached(tb testing.TB, st servicetest.Store, db *gorm.DB, clock *fakeClock) *cached {
	tb.Helper()
	cache := store.NewSessionCache(1000, time.Minute)
	tb.Cleanup(cache.Close)
	h := servicetest.FastHasher()
	c := &cached{cache: cache, env: &env{store: st, clock: clock}}
	c.users = services.NewUsers(db, h, services.UsersConfig{DefaultPlan: "standard", RegistrationOpen: true, Now: clock.Now, Observer: services.CacheObserver{Cache: cache}})
	c.sessions = services.NewSessions(db, h, services.SessionsConfig{
		Defaults: defaultTimeouts, TouchInterval: time.Minute, Now: clock.Now, Observer: services.CacheObserver{Cache: cache}, Cache: cache,
	})
	if st.Dialect == "postgres" {
		c.listener = store.NewListener(st.DSN, cache, time.Second, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); c.listener.Run(ctx) }()
		tb.Cleanup(func() { cancel(); <-done })
		select {
		case <-c.listener.Listening():
		case <-time.After(10 * time.Second):
			tb.Fatal("the listener did not listen within 10s")
		}
	}
	return c
}

// mustCheck checks token and fails the test unless it is accepted.
func (c *cached) mustCheck(tb testing.TB, token string) {
	tb.Helper()
	if _, err := c.sessions.Authenticate(context.Background(), token); err != nil {
		tb.Fatalf("Authenticate() = %v, want the session accepted", err)
	}
}

// revokeBehindItsBack revokes a session straight in the store, as nothing in sessiond would:
// a cached check that still passes afterwards was answered from the cache.
func revokeBehindItsBack(tb testing.TB, db *gorm.DB, sessionID string, now time.Time) {
	tb.Helper()
	err := db.Model(&models.Session{}).Where("id = ?", sessionID).
		Updates(map[string]any{"revoked_at": now, "revoke_reason": models.ReasonRevokedByAdmin}).Error
	if err != nil {
		tb.Fatal(err)
	}
}

// TestCacheAnswersChecksAndForgetsAtOnce: a second check is answered from the cache (a
// revocation behind sessiond's back goes unseen); a wrong secret is still refused on a hit;
// and a revocation, an eviction, a password change and a disable through sessiond are seen by
// the very next check.
func TestCacheAnswersChecksAndForgetsAtOnce(t *testing.T) {
	for _, st := range servicetest.Stores(t) {
		t.Run(st.Name, func(t *testing.T) {
			ctx := context.Background()
			c := newCached(t, st, st.DB, newFakeClock())
			u := c.register(t, &models.Limit{Max: 2, Policy: models.PolicyEvictOldest})
			a := c.login(t, u, "TV")
			c.mustCheck(t, a.Token)
			revokeBehindItsBack(t, st.DB, a.Session.ID, c.clock.Now())
			if _, err := c.sessions.Authenticate(ctx, a.Token); err != nil {
				t.Fatalf("cached check = %v, want it answered from the cache", err)
			}
			if _, err := c.sessions.Authenticate(ctx, a.Token[:len(a.Token)-2]+"AA"); !errors.Is(err, models.ErrSessionInvalid) {
				t.Fatalf("wrong secret on a cached session = %v, want ErrSessionInvalid", err)
			}

			b, d := c.login(t, u, "Phone"), c.login(t, u, "Tablet") // d evicts the oldest live one
			for _, tok := range []string{b.Token, d.Token} {
				c.mustCheck(t, tok)
			}
			if err := c.sessions.Revoke(ctx, u.ID, d.Session.ID, b.Session.ID, ""); err != nil {
				t.Fatal(err)
			}
			var revoked *models.SessionRevokedError
			if _, err := c.sessions.Authenticate(ctx, b.Token); !errors.As(err, &revoked) {
				t.Fatalf("check after Revoke = %v, want *SessionRevokedError at once", err)
			}
			e := c.login(t, u, "Laptop")
			f := c.login(t, u, "Console") // evicts d
			var evicted *models.SessionEvictedError
			if _, err := c.sessions.Authenticate(ctx, d.Token); !errors.As(err, &evicted) {
				t.Fatalf("check of an evicted session = %v, want *SessionEvictedError at once", err)
			}
			c.mustCheck(t, e.Token)
			if err := c.users.ChangePassword(ctx, u.ID, f.Session.ID, testPassword, "another fine passphrase", true); err != nil {
				t.Fatal(err)
			}
			if _, err := c.sessions.Authenticate(ctx, e.Token); !errors.As(err, &revoked) || revoked.Reason != models.ReasonPasswordChanged {
				t.Fatalf("check after a password change = %v, want revoked (password_changed)", err)
			}
			c.mustCheck(t, f.Token)
			disabled := true
			if _, err := c.users.Update(ctx, models.Admin{ID: u.ID}, u.ID, models.UserPatch{Disabled: &disabled}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.sessions.Authenticate(ctx, f.Token); !errors.As(err, &revoked) || revoked.Reason != models.ReasonUserDisabled {
				t.Fatalf("check after disable = %v, want revoked (user_disabled)", err)
			}
		})
	}
}

// TestCacheRespectsExpiry: a cached session past its idle deadline is refused as expired.
func TestCacheRespectsExpiry(t *testing.T) {
	st := servicetest.SQLite(t)
	c := newCached(t, st, st.DB, newFakeClock())
	u := c.register(t, nil)
	a := c.login(t, u, "TV")
	c.mustCheck(t, a.Token)
	c.clock.Advance(defaultTimeouts.Idle + time.Second)
	if _, err := c.sessions.Authenticate(context.Background(), a.Token); !errors.Is(err, models.ErrSessionExpired) {
		t.Fatalf("cached check past the idle timeout = %v, want ErrSessionExpired", err)
	}
}

// TestCacheIgnoresAPutRacingADrop: a check that read the store before a drop must not cache
// what it read after the drop.
func TestCacheIgnoresAPutRacingADrop(t *testing.T) {
	st := servicetest.SQLite(t)
	c := newCached(t, st, st.DB, newFakeClock())
	u := c.register(t, nil)
	a := c.login(t, u, "TV")
	// Interleave by hand what racing goroutines would: the check reads the generation and the
	// store, the revocation commits and drops, then the check puts.
	gen := c.cache.Generation()
	p, err := c.sessions.Authenticate(context.Background(), a.Token) // caches it (no drop yet)
	if err != nil {
		t.Fatal(err)
	}
	c.cache.DropSessions([]string{a.Session.ID})
	c.cache.Put(p, gen)
	if c.cache.Len() != 0 {
		t.Fatalf("the cache holds %d sessions after a put that raced a drop, want 0", c.cache.Len())
	}
}

// TestCacheCoherentAcrossProcesses: two "processes" (own pools, caches and listeners) on one
// Postgres. B caches a session; A revokes it, changes its user, changes a plan: B refuses at
// once after the notification. Killing B's listener connection (pg_terminate_backend) turns
// B's cache off and flushes it; once it listens again, invalidation works again.
func TestCacheCoherentAcrossProcesses(t *testing.T) {
	st := servicetest.Postgres(t)
	clock := newFakeClock()
	a := newCached(t, st, st.Open(t), clock)
	b := newCached(t, st, st.Open(t), clock)
	ctx := context.Background()
	u := a.register(t, nil)
	s1, s2 := a.login(t, u, "TV"), a.login(t, u, "Phone")
	for _, tok := range []string{s1.Token, s2.Token} {
		b.mustCheck(t, tok)
	}
	if b.cache.Len() != 2 {
		t.Fatalf("B caches %d sessions, want 2", b.cache.Len())
	}
	if err := a.sessions.Revoke(ctx, u.ID, s2.Session.ID, s1.Session.ID, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B to refuse the session A revoked", func() bool {
		_, err := b.sessions.Authenticate(ctx, s1.Token)
		var revoked *models.SessionRevokedError
		return errors.As(err, &revoked)
	})

	// The listener's connection dies: B's cache goes off and is flushed, then comes back.
	if _, err := b.sessions.Authenticate(ctx, s2.Token); err != nil || b.cache.Len() != 1 {
		t.Fatalf("B: %v, %d cached; want s2 cached", err, b.cache.Len())
	}
	var killed int64
	if err := st.DB.Raw(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = ? AND datname = current_database()`,
		store.ListenerApplicationName).Scan(&killed).Error; err != nil || killed < 2 {
		// At least A's and B's: an earlier test's listener may still be on its way out.
		t.Fatalf("terminated %d listener connections (%v), want A's and B's", killed, err)
	}
	for _, p := range []*cached{a, b} {
		select {
		case <-p.listener.Listening():
		case <-time.After(10 * time.Second):
			t.Fatal("a listener did not listen again within 10s")
		}
	}
	if b.cache.Len() != 0 {
		t.Fatalf("B's cache holds %d sessions after its listener reconnected, want it flushed", b.cache.Len())
	}
	if _, err := b.sessions.Authenticate(ctx, s2.Token); err != nil || b.cache.Len() != 1 {
		t.Fatalf("B after the reconnect: %v, %d cached; want s2 cached again", err, b.cache.Len())
	}
	disabled := true
	if _, err := a.users.Update(ctx, models.Admin{ID: u.ID}, u.ID, models.UserPatch{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B to refuse the disabled user's session", func() bool {
		_, err := b.sessions.Authenticate(ctx, s2.Token)
		var revoked *models.SessionRevokedError
		return errors.As(err, &revoked) && revoked.Reason == models.ReasonUserDisabled
	})
}

// eventually polls cond, which another connection's notification makes true, for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // a notification crosses a Postgres connection
	}
}

// TestCacheDistrustsAnEntryItCannotTouch: when a hit is due a touch and the touch changes
// nothing (the session was revoked without the cache hearing of it), the entry is dropped and
// the store answers.
func TestCacheDistrustsAnEntryItCannotTouch(t *testing.T) {
	st := servicetest.SQLite(t)
	c := newCached(t, st, st.DB, newFakeClock())
	u := c.register(t, nil)
	a := c.login(t, u, "TV")
	c.mustCheck(t, a.Token)
	revokeBehindItsBack(t, st.DB, a.Session.ID, c.clock.Now())
	c.clock.Advance(2 * time.Minute) // a touch is due
	var revoked *models.SessionRevokedError
	if _, err := c.sessions.Authenticate(context.Background(), a.Token); !errors.As(err, &revoked) {
		t.Fatalf("a hit whose touch found the session revoked = %v, want *SessionRevokedError", err)
	}
}
