package services_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

const (
	revokedRetention = 7 * 24 * time.Hour
	eventRetention   = 90 * 24 * time.Hour
)

// seedPurgeMix writes n sessions of one user in five kinds, plus old and recent events, and
// returns the ids that must survive a purge at now.
func seedPurgeMix(tb testing.TB, db *gorm.DB, userID string, n int, now time.Time) (keep map[string]bool, wantGone int64) {
	tb.Helper()
	keep = map[string]bool{}
	reason := models.ReasonLogout
	var ss []models.Session
	for i := range n {
		s := models.Session{ID: uuid.NewString(), UserID: userID, SecretHash: []byte("h"), DeviceName: "d", DeviceType: "tv",
			CreatedAt: now.Add(-time.Hour), LastSeenAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}
		switch i % 5 {
		case 0: // live, one second from its idle deadline
			s.IdleExpiresAt = now.Add(time.Second)
			keep[s.ID] = true
		case 1: // absolutely expired (the idle deadline never passes the absolute one)
			s.ExpiresAt, s.IdleExpiresAt = now.Add(-time.Second), now.Add(-time.Second)
			wantGone++
		case 2: // idle-expired
			s.IdleExpiresAt = now.Add(-time.Minute)
			wantGone++
		case 3: // revoked inside the retention, even if expired by now: it still explains itself
			at := now.Add(-revokedRetention + time.Minute)
			s.RevokedAt, s.RevokeReason, s.IdleExpiresAt = &at, &reason, now.Add(-time.Hour)
			keep[s.ID] = true
		case 4: // revoked outside the retention
			at := now.Add(-revokedRetention - time.Minute)
			s.RevokedAt, s.RevokeReason = &at, &reason
			wantGone++
		}
		ss = append(ss, s)
	}
	// One transaction: SQLite commits are what make a bulk insert slow.
	if err := db.Transaction(func(tx *gorm.DB) error { return tx.CreateInBatches(ss, 50).Error }); err != nil {
		tb.Fatal(err)
	}
	return keep, wantGone
}

func seedEvents(tb testing.TB, db *gorm.DB, userID string, old, recent int, now time.Time) {
	tb.Helper()
	var evs []models.SessionEvent
	for i := range old + recent {
		at := now.Add(-eventRetention - time.Hour)
		if i >= old {
			at = now.Add(-eventRetention + time.Hour)
		}
		evs = append(evs, models.SessionEvent{ID: uuid.NewString(), UserID: userID, Type: models.EventLogin,
			ActorKind: models.ActorUser, At: at, Details: "{}"})
	}
	if err := db.Transaction(func(tx *gorm.DB) error { return tx.CreateInBatches(evs, 50).Error }); err != nil {
		tb.Fatal(err)
	}
}

func newPurger(db *gorm.DB, now time.Time, batch int) *services.Purger {
	return services.NewPurger(db, services.PurgeConfig{
		RevokedRetention: revokedRetention, EventRetention: eventRetention, BatchSize: batch,
		Throttle: servicetest.Throttle(), Now: func() time.Time { return now },
	})
}

// TestPurgeRemovesExactlyWhatExpired purges 100,000 sessions of five kinds (5,000 on SQLite,
// where bulk seeding under the race detector alone takes over a minute per 20,000) and old events.
func TestPurgeRemovesExactlyWhatExpired(t *testing.T) {
	for _, store := range servicetest.FreshStores(t) {
		t.Run(store.Name, func(t *testing.T) {
			n := 100_000
			if store.Dialect == "sqlite" {
				n = 5_000
			}
			e := newEnv(t, store)
			u := e.register(t, nil)
			now := e.clock.Now()
			keep, wantGone := seedPurgeMix(t, store.DB, u.ID, n, now)
			seedEvents(t, store.DB, u.ID, 3000, 2000, now)
			purger := newPurger(store.DB, now, 5000)

			dry, err := purger.Purge(context.Background(), true, nil)
			if err != nil || dry.Expired+dry.Revoked != wantGone || dry.Events != 3000 || dry.Batches != 0 {
				t.Fatalf("Purge(dry run) = %+v, %v; want %d sessions and 3000 events counted, nothing deleted", dry, err, wantGone)
			}
			res, err := purger.Purge(context.Background(), false, nil)
			if err != nil || res.Expired != int64(2*n/5) || res.Revoked != int64(n/5) || res.Events != 3000 || res.Skipped {
				t.Fatalf("Purge() = %+v, %v; want %d expired, %d revoked, 3000 events", res, err, 2*n/5, n/5)
			}
			t.Logf("purged %d rows in %d batches, %s, longest batch %s", res.Expired+res.Revoked+res.Events, res.Batches, res.Duration, res.LongestBatch)
			var left []string
			if err := store.DB.Model(&models.Session{}).Where("user_id = ?", u.ID).Pluck("id", &left).Error; err != nil {
				t.Fatal(err)
			}
			if len(left) != len(keep) {
				t.Fatalf("%d sessions left, want %d", len(left), len(keep))
			}
			for _, id := range left {
				if !keep[id] {
					t.Fatalf("session %s survived the purge but should not have", id)
				}
			}
			var events int64
			store.DB.Model(&models.SessionEvent{}).Where("user_id = ?", u.ID).Count(&events)
			if events != 2000 {
				t.Errorf("%d events left, want the 2000 recent ones", events)
			}
			again, err := purger.Purge(context.Background(), false, nil)
			if err != nil || again.Expired+again.Revoked+again.Events != 0 {
				t.Errorf("second Purge() = %+v, %v; want nothing left to do", again, err)
			}
		})
	}
}

// TestServingContinuesDuringPurge logs in and checks tokens while a purge of 10,000 rows (2,000
// on SQLite) runs in small batches: every call must succeed.
func TestServingContinuesDuringPurge(t *testing.T) {
	for _, store := range servicetest.FreshStores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			batch := 100
			victim := e.register(t, nil)
			n := 10_000
			if store.Dialect == "sqlite" {
				n = 2_000
			}
			seedPurgeMix(t, store.DB, victim.ID, n, e.clock.Now())
			checker := e.register(t, nil)
			token := e.login(t, checker, "TV").Token
			u := e.register(t, &models.Limit{Max: 2, Policy: models.PolicyEvictOldest})

			ctx, stop := context.WithCancel(context.Background())
			var calls atomic.Int64
			var wg sync.WaitGroup
			var serveErr error
			purgeStarted := make(chan struct{})
			wg.Go(func() {
				<-purgeStarted
				for i := 0; ctx.Err() == nil; i++ {
					if _, err := e.sessions.Authenticate(context.Background(), token); err != nil {
						serveErr = fmt.Errorf("Authenticate() during the purge = %w", err)
						return
					}
					if _, err := e.sessions.Login(context.Background(), loginParams(u, fmt.Sprint("device ", i))); err != nil {
						serveErr = fmt.Errorf("Login() during the purge = %w", err)
						return
					}
					calls.Add(2)
				}
			})
			var once sync.Once
			res, err := newPurger(store.Open(t), e.clock.Now(), batch).Purge(context.Background(), false, func(services.PurgeResult) {
				once.Do(func() { close(purgeStarted) })
			})
			stop()
			wg.Wait()
			if err != nil || res.Expired+res.Revoked != int64(3*n/5) {
				t.Fatalf("Purge() = %+v, %v; want %d sessions deleted", res, err, 3*n/5)
			}
			if serveErr != nil {
				t.Fatal(serveErr)
			}
			if calls.Load() == 0 {
				t.Fatal("no login or check completed while the purge ran")
			}
			t.Logf("%d logins and checks succeeded during a purge of %d batches (longest %s)", calls.Load(), res.Batches, res.LongestBatch)
		})
	}
}

// TestOnePurgerAtATime holds one purger inside its first batch and starts a second, on another
// connection pool (as another process would): it must return at once, skipped, having done
// nothing.
func TestOnePurgerAtATime(t *testing.T) {
	store := servicetest.Postgres(t)
	e := newEnv(t, store)
	now := e.clock.Now()
	u := e.register(t, nil)
	seedPurgeMix(t, store.DB, u.ID, 5000, now)

	inBatch, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	first := newPurger(store.Open(t), now, 100)
	done := make(chan error, 1)
	go func() {
		_, err := first.Purge(context.Background(), false, func(services.PurgeResult) {
			once.Do(func() { close(inBatch); <-release })
		})
		done <- err
	}()
	<-inBatch
	var before int64
	store.DB.Model(&models.Session{}).Where("user_id = ?", u.ID).Count(&before)
	second, err := newPurger(store.Open(t), now, 100).Purge(context.Background(), false, nil)
	var after int64
	store.DB.Model(&models.Session{}).Where("user_id = ?", u.ID).Count(&after)
	close(release)
	if err != nil || !second.Skipped || second.Batches != 0 || after != before {
		t.Errorf("second Purge() while the first runs = %+v, %v (sessions %d → %d); want skipped, nothing done", second, err, before, after)
	}
	if err := <-done; err != nil {
		t.Fatalf("first Purge() = %v", err)
	}
	third, err := newPurger(store.Open(t), now, 100).Purge(context.Background(), false, nil)
	if err != nil || third.Skipped {
		t.Errorf("Purge() after the first finished = %+v, %v; want it to run (the lock was released)", third, err)
	}
}

// TestPurgeDropsSpentThrottleState: login counters nobody added to for the window go, but a
// lock never does, nor a recent count; rate-limit states past their expiry go, live ones stay.
func TestPurgeDropsSpentThrottleState(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			db := store.DB
			suffix := randomSuffix()
			rows := []struct {
				key      string
				failures int
				updated  time.Time
				stays    bool
			}{
				{"stale-" + suffix, 7, now.Add(-25 * time.Hour), false},
				{"locked-" + suffix, 100, now.Add(-30 * 24 * time.Hour), true},
				{"recent-" + suffix, 3, now.Add(-time.Hour), true},
			}
			for _, r := range rows {
				if err := db.Exec(`INSERT INTO login_throttle (key, failures, updated_at) VALUES (?, ?, ?)`, r.key, r.failures, r.updated).Error; err != nil {
					t.Fatal(err)
				}
			}
			for key, expires := range map[string]time.Time{"ip:spent-" + suffix: now.Add(-time.Second), "ip:live-" + suffix: now.Add(time.Minute)} {
				if err := db.Exec(`INSERT INTO rate_limits (key, value, expires_at) VALUES (?, 1, ?)`, key, expires).Error; err != nil {
					t.Fatal(err)
				}
			}
			res, err := newPurger(db, now, 100).Purge(context.Background(), false, nil)
			if err != nil || res.Throttles < 2 {
				t.Fatalf("Purge() = %+v, %v; want the stale counter and the spent rate limit gone", res, err)
			}
			for _, r := range rows {
				var n int64
				db.Table("login_throttle").Where("key = ?", r.key).Count(&n)
				if (n == 1) != r.stays {
					t.Errorf("login_throttle %s: %d rows after the purge, want stays=%v", r.key, n, r.stays)
				}
			}
			var live, spent int64
			db.Table("rate_limits").Where("key = ?", "ip:live-"+suffix).Count(&live)
			db.Table("rate_limits").Where("key = ?", "ip:spent-"+suffix).Count(&spent)
			if live != 1 || spent != 0 {
				t.Errorf("rate_limits after the purge: live %d, spent %d; want 1 and 0", live, spent)
			}
		})
	}
}
