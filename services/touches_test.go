package services_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

// newTouching wires an env whose checks queue their touches in a flusher that the test
// flushes by hand (Every is an hour: nothing is written unless the test asks).
func newTouching(tb testing.TB, st servicetest.Store) (*env, *services.Touches) {
	tb.Helper()
	e := newEnv(tb, st)
	touches := services.NewTouches(st.DB, services.TouchesConfig{Every: time.Hour})
	e.sessions = services.NewSessions(st.DB, servicetest.FastHasher(), services.SessionsConfig{
		Defaults: defaultTimeouts, TouchInterval: time.Minute, Now: e.clock.Now, Touches: touches,
	})
	return e, touches
}

func storedSession(tb testing.TB, e *env, id string) models.Session {
	tb.Helper()
	var s models.Session
	if err := e.store.DB.Where("id = ?", id).Take(&s).Error; err != nil {
		tb.Fatalf("read session %s: %v", id, err)
	}
	return s
}

func mustFlush(tb testing.TB, touches *services.Touches) services.TouchFlush {
	tb.Helper()
	res, err := touches.Flush(context.Background())
	if err != nil {
		tb.Fatalf("Flush() = %v", err)
	}
	return res
}

// TestTouchesWriteBehind: many checks of one session in one interval write it once, and only
// when flushed; the idle deadline slides with the check's time; a revoked session is never
// touched back to life.
func TestTouchesWriteBehind(t *testing.T) {
	for _, st := range servicetest.Stores(t) {
		t.Run(st.Name, func(t *testing.T) {
			e, touches := newTouching(t, st)
			ctx := context.Background()
			u := e.register(t, &models.Limit{Max: 5, Policy: models.PolicyEvictOldest})
			a := e.login(t, u, "TV")
			b := e.login(t, u, "Phone")
			e.clock.Advance(2 * time.Minute) // a touch is due
			seen := e.clock.Now()
			for range 100 {
				if _, err := e.sessions.Authenticate(ctx, a.Token); err != nil {
					t.Fatalf("Authenticate() = %v", err)
				}
			}
			if got := storedSession(t, e, a.Session.ID); !got.LastSeenAt.Equal(a.Session.LastSeenAt) {
				t.Fatalf("last_seen_at before the flush = %v, want unchanged %v (write-behind)", got.LastSeenAt, a.Session.LastSeenAt)
			}
			if res := mustFlush(t, touches); res.Rows != 1 || res.Statements != 1 {
				t.Errorf("Flush() after 100 checks of one session = %d rows in %d statements, want 1 in 1", res.Rows, res.Statements)
			}
			got := storedSession(t, e, a.Session.ID)
			if want := seen.Add(defaultTimeouts.Idle); !got.LastSeenAt.Equal(seen) || !got.IdleExpiresAt.Equal(want) {
				t.Errorf("after the flush last_seen_at, idle_expires_at = %v, %v; want %v, %v", got.LastSeenAt, got.IdleExpiresAt, seen, want)
			}

			// b is due a touch too, but signs out before the flush.
			if _, err := e.sessions.Authenticate(ctx, b.Token); err != nil {
				t.Fatalf("Authenticate(b) = %v", err)
			}
			if err := e.sessions.Logout(ctx, u.ID, b.Session.ID); err != nil {
				t.Fatalf("Logout(b) = %v", err)
			}
			if res := mustFlush(t, touches); res.Rows != 0 {
				t.Errorf("Flush() of a revoked session's touch wrote %d rows, want 0", res.Rows)
			}
			if got := storedSession(t, e, b.Session.ID); got.RevokedAt == nil || !got.LastSeenAt.Equal(b.Session.LastSeenAt) {
				t.Errorf("revoked session after the flush: revoked_at %v, last_seen_at %v; want revoked, %v", got.RevokedAt, got.LastSeenAt, b.Session.LastSeenAt)
			}
			if _, err := e.sessions.Authenticate(ctx, b.Token); err == nil {
				t.Error("Authenticate(b) after logout and a flush = nil, want refused")
			}
			// An older touch never moves last_seen_at back.
			touches.Note(a.Session.ID, seen.Add(-time.Minute), seen)
			if res := mustFlush(t, touches); res.Rows != 0 {
				t.Errorf("Flush() of an older touch wrote %d rows, want 0", res.Rows)
			}
		})
	}
}

// TestTouchesBatch: touches of 1,000 sessions are written by one statement (the batch size).
func TestTouchesBatch(t *testing.T) {
	for _, st := range servicetest.Stores(t) {
		t.Run(st.Name, func(t *testing.T) {
			e, touches := newTouching(t, st)
			u := e.register(t, nil)
			now := e.clock.Now()
			ids := seedSessions(t, e.store.DB, u.ID, 1000, now)
			seen := now.Add(time.Hour)
			for _, id := range ids {
				if !touches.Note(id, seen, seen.Add(time.Hour)) {
					t.Fatal("Note() = false with an empty queue, want queued")
				}
			}
			if s := touches.Stats(); s.Depth != 1000 {
				t.Fatalf("queue depth = %d, want 1000", s.Depth)
			}
			res := mustFlush(t, touches)
			if res.Rows != 1000 || res.Statements != 1 {
				t.Errorf("Flush() of 1,000 sessions = %d rows in %d statements, want 1000 in 1", res.Rows, res.Statements)
			}
			var n int64
			if err := st.DB.Model(&models.Session{}).Where("user_id = ? AND last_seen_at = ?", u.ID, seen).Count(&n).Error; err != nil || n != 1000 {
				t.Errorf("sessions seen at the touch = %d, %v; want 1000", n, err)
			}
		})
	}
}

// TestTouchQueueIsBounded: a full queue drops (and counts) touches rather than wait.
func TestTouchQueueIsBounded(t *testing.T) {
	st := servicetest.SQLite(t)
	touches := services.NewTouches(st.DB, services.TouchesConfig{QueueSize: 2, Every: time.Hour})
	now := time.Now()
	for i, id := range []string{"a", "b", "c"} {
		if got, want := touches.Note(id, now, now), i < 2; got != want {
			t.Errorf("Note(%s) = %v, want %v", id, got, want)
		}
	}
	if !touches.Note("a", now.Add(time.Second), now) {
		t.Error("Note() of a session already queued in a full queue = false, want true (it takes no room)")
	}
	if s := touches.Stats(); s.Dropped != 1 || s.Depth != 2 {
		t.Errorf("Stats() = %+v, want 1 dropped, depth 2", s)
	}
}

// TestTouchesFlushOnShutdown: what waits is written when Run's context ends.
func TestTouchesFlushOnShutdown(t *testing.T) {
	for _, st := range servicetest.Stores(t) {
		t.Run(st.Name, func(t *testing.T) {
			e, touches := newTouching(t, st)
			u := e.register(t, nil)
			a := e.login(t, u, "TV")
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); touches.Run(ctx) }()
			e.clock.Advance(2 * time.Minute)
			if _, err := e.sessions.Authenticate(context.Background(), a.Token); err != nil {
				t.Fatal(err)
			}
			cancel()
			<-done
			if got := storedSession(t, e, a.Session.ID); !got.LastSeenAt.Equal(e.clock.Now()) {
				t.Errorf("last_seen_at after shutdown = %v, want the check's %v", got.LastSeenAt, e.clock.Now())
			}
		})
	}
}

// TestTouchRacingRevocationLeavesItRevoked releases flushes and sign-outs of the same sessions
// together: every session ends revoked, whichever ran first.
func TestTouchRacingRevocationLeavesItRevoked(t *testing.T) {
	for _, st := range servicetest.Stores(t) {
		t.Run(st.Name, func(t *testing.T) {
			e, touches := newTouching(t, st)
			ctx := context.Background()
			u := e.register(t, &models.Limit{Max: 100, Policy: models.PolicyEvictOldest})
			const n = 20
			sessions := make([]models.LoginResult, n)
			for i := range sessions {
				sessions[i] = e.login(t, u, "TV "+randomSuffix())
			}
			e.clock.Advance(2 * time.Minute)
			for _, s := range sessions {
				if _, err := e.sessions.Authenticate(ctx, s.Token); err != nil {
					t.Fatal(err)
				}
			}
			start := make(chan struct{})
			var wg sync.WaitGroup
			for _, s := range sessions {
				wg.Go(func() {
					<-start
					if err := e.sessions.Logout(ctx, u.ID, s.Session.ID); err != nil {
						t.Errorf("Logout() = %v", err)
					}
				})
			}
			wg.Go(func() {
				<-start
				if _, err := touches.Flush(ctx); err != nil {
					t.Errorf("Flush() = %v", err)
				}
			})
			close(start)
			wg.Wait()
			for _, s := range sessions {
				if got := storedSession(t, e, s.Session.ID); got.RevokedAt == nil {
					t.Errorf("session %s after a racing touch and logout: not revoked", s.Session.ID)
				}
			}
		})
	}
}
