package services_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

func TestUsersSeeAndRevokeOnlyTheirOwnSessions(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			ctx := context.Background()
			a, b := e.register(t, nil), e.register(t, nil)
			aPhone := e.login(t, a, "A phone")
			e.clock.Advance(time.Second)
			aTV := e.login(t, a, "A TV")
			bPhone := e.login(t, b, "B phone")

			list, err := e.sessions.List(ctx, a.ID)
			if err != nil || len(list.Sessions) != 2 || list.Sessions[0].ID != aTV.Session.ID || list.Limit.Max != 2 {
				t.Fatalf("List(A) = %+v, %v; want [A TV, A phone] newest first, limit 2", list, err)
			}
			for name, id := range map[string]string{"B's session": bPhone.Session.ID, "unknown": "01a22306-9f95-7682-a7fb-f3fb9ac77e29", "not a uuid": "x'; DROP TABLE sessions; --"} {
				if err := e.sessions.Revoke(ctx, a.ID, aTV.Session.ID, id, ""); !errors.Is(err, models.ErrNotFound) {
					t.Errorf("Revoke(A, %s) = %v, want ErrNotFound", name, err)
				}
			}
			if err := e.sessions.Revoke(ctx, a.ID, aTV.Session.ID, aTV.Session.ID, ""); !errors.Is(err, models.ErrUseLogout) {
				t.Errorf("Revoke(presenting session) = %v, want ErrUseLogout", err)
			}
			if _, err := e.sessions.Authenticate(ctx, bPhone.Token); err != nil {
				t.Fatalf("B's session after A's attempts: Authenticate() = %v, want nil", err)
			}

			if err := e.sessions.Revoke(ctx, a.ID, aTV.Session.ID, aPhone.Session.ID, ""); err != nil {
				t.Fatalf("Revoke(A phone) = %v", err)
			}
			_, err = e.sessions.Authenticate(ctx, aPhone.Token)
			var rev *models.SessionRevokedError
			if !errors.As(err, &rev) || rev.Reason != models.ReasonRevokedByUser {
				t.Fatalf("Authenticate(revoked phone) = %v, want SessionRevokedError(revoked_by_user)", err)
			}
			if err := e.sessions.Revoke(ctx, a.ID, aTV.Session.ID, aPhone.Session.ID, ""); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("Revoke(already revoked) = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestRevokeAllChecksThePassword(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			ctx := context.Background()
			u := e.register(t, &models.Limit{Max: 4, Policy: models.PolicyReject})
			var res []models.LoginResult
			for _, d := range []string{"one", "two", "three"} {
				res = append(res, e.login(t, u, d))
			}
			cur := res[2].Session.ID
			if _, err := e.sessions.RevokeAll(ctx, u.ID, cur, "wrong password", models.ScopeOthers); !errors.Is(err, models.ErrInvalidCredentials) {
				t.Fatalf("RevokeAll(wrong password) = %v, want ErrInvalidCredentials", err)
			}
			if n, err := e.sessions.RevokeAll(ctx, u.ID, cur, testPassword, models.ScopeOthers); err != nil || n != 2 {
				t.Fatalf("RevokeAll(others) = %d, %v; want 2", n, err)
			}
			if n := activeCount(t, store.DB, u.ID, e.clock.Now()); n != 1 {
				t.Fatalf("active after RevokeAll(others) = %d, want 1", n)
			}
			if n, err := e.sessions.RevokeAll(ctx, u.ID, cur, testPassword, models.ScopeAll); err != nil || n != 1 {
				t.Fatalf("RevokeAll(all) = %d, %v; want 1", n, err)
			}
			if _, err := e.sessions.Authenticate(ctx, res[2].Token); err == nil {
				t.Fatal("presenting session after RevokeAll(all) still authenticates")
			}
		})
	}
}

func TestPasswordChangeLeavesOnlyThePresentingSession(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			ctx := context.Background()
			u := e.register(t, &models.Limit{Max: 4, Policy: models.PolicyReject})
			phone, tv, laptop := e.login(t, u, "phone"), e.login(t, u, "tv"), e.login(t, u, "laptop")

			const next = "a brand new passphrase"
			if err := e.users.ChangePassword(ctx, u.ID, tv.Session.ID, "wrong", next, true); !errors.Is(err, models.ErrInvalidCredentials) {
				t.Fatalf("ChangePassword(wrong current) = %v, want ErrInvalidCredentials", err)
			}
			var weak *models.WeakPasswordError
			for _, bad := range []string{"short", u.Email} {
				if err := e.users.ChangePassword(ctx, u.ID, tv.Session.ID, testPassword, bad, true); !errors.As(err, &weak) {
					t.Errorf("ChangePassword(new %q) = %v, want WeakPasswordError", bad, err)
				}
			}
			if err := e.users.ChangePassword(ctx, u.ID, tv.Session.ID, testPassword, next, true); err != nil {
				t.Fatalf("ChangePassword() = %v", err)
			}
			if n := activeCount(t, store.DB, u.ID, e.clock.Now()); n != 1 {
				t.Errorf("active sessions after a password change = %d, want 1", n)
			}
			if _, err := e.sessions.Authenticate(ctx, tv.Token); err != nil {
				t.Errorf("presenting session after a password change: %v, want it kept", err)
			}
			for _, other := range []models.LoginResult{phone, laptop} {
				_, err := e.sessions.Authenticate(ctx, other.Token)
				var rev *models.SessionRevokedError
				if !errors.As(err, &rev) || rev.Reason != models.ReasonPasswordChanged {
					t.Errorf("other session after a password change: %v, want SessionRevokedError(password_changed)", err)
				}
			}
			p := loginParams(u, "again")
			if _, err := e.sessions.Login(ctx, p); !errors.Is(err, models.ErrInvalidCredentials) {
				t.Errorf("Login(old password) = %v, want ErrInvalidCredentials", err)
			}
			p.Password = next
			keep, err := e.sessions.Login(ctx, p)
			if err != nil {
				t.Fatalf("Login(new password) = %v", err)
			}
			// sign_out_others: false keeps the others.
			if err := e.users.ChangePassword(ctx, u.ID, tv.Session.ID, next, testPassword, false); err != nil {
				t.Fatal(err)
			}
			if _, err := e.sessions.Authenticate(ctx, keep.Token); err != nil {
				t.Errorf("other session after ChangePassword(sign out others = false): %v, want kept", err)
			}
		})
	}
}

// TestPlanTimeouts checks each timeout of a plan at its limit − 1 s and + 1 s, with sliding
// renewal never passing the absolute cap.
func TestPlanTimeouts(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			ctx := context.Background()
			idle, absolute := int64(120), int64(300)
			plan := models.Plan{ID: "01a22306-0000-7000-8000-" + randomSuffix(), Name: "short-" + randomSuffix(), MaxSessions: 4,
				LimitPolicy: models.PolicyReject, MaxStreams: 2, StreamPolicy: models.StreamReject, IdleTimeoutSeconds: &idle, AbsoluteTimeoutSeconds: &absolute,
				CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
			if err := store.DB.Create(&plan).Error; err != nil {
				t.Fatal(err)
			}
			u := e.register(t, nil)
			if err := store.DB.Model(&models.User{}).Where("id = ?", u.ID).Update("plan_id", plan.ID).Error; err != nil {
				t.Fatal(err)
			}
			check := func(token string, want error, when string) {
				t.Helper()
				if _, err := e.sessions.Authenticate(ctx, token); !errors.Is(err, want) {
					t.Fatalf("Authenticate(%s) = %v, want %v", when, err, want)
				}
			}

			idleSess := e.login(t, u, "idle").Token
			slid := e.login(t, u, "sliding").Token
			start := e.clock.Now()
			e.clock.Advance(119 * time.Second)
			check(idleSess, nil, "idle timeout − 1 s") // touches: idle deadline now start+239s
			e.clock.Advance(121 * time.Second)
			check(idleSess, models.ErrSessionExpired, "idle timeout + 1 s since last seen")

			// Seen every 100 s, the other session still dies at the absolute cap.
			e.clock.Set(start)
			for _, at := range []int{100, 200, 299} {
				e.clock.Set(start.Add(time.Duration(at) * time.Second))
				check(slid, nil, "before the absolute timeout")
			}
			e.clock.Set(start.Add(301 * time.Second))
			check(slid, models.ErrSessionExpired, "absolute timeout + 1 s")
			check(slid, models.ErrSessionExpired, "absolute timeout + 1 s, again")
			if got := eventTypes(t, store.DB, u.ID)[models.EventExpired]; got != 2 {
				t.Errorf("expired events = %d, want one per expired session (2)", got)
			}
		})
	}
}

// TestChecksWriteAtMostOncePerTouchInterval runs 1,000 checks spread over one minute that
// crosses the touch interval once, and counts the UPDATE statements they cause.
func TestChecksWriteAtMostOncePerTouchInterval(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			db := store.Open(t)
			var updates atomic.Int64
			// A touch is one batch statement (Exec on SQLite, Raw … RETURNING on Postgres);
			// other writes go through Update.
			count := func(tx *gorm.DB) {
				if strings.HasPrefix(strings.TrimSpace(tx.Statement.SQL.String()), "UPDATE") ||
					strings.Contains(tx.Statement.SQL.String(), "UPDATE sessions s SET last_seen_at") {
					updates.Add(1)
				}
			}
			for _, err := range []error{
				db.Callback().Update().Before("gorm:update").Register("test:count_updates", func(*gorm.DB) { updates.Add(1) }),
				db.Callback().Raw().After("gorm:raw").Register("test:count_raw", count),
				db.Callback().Row().After("gorm:row").Register("test:count_row", count),
			} {
				if err != nil {
					t.Fatal(err)
				}
			}
			e := newEnvOn(t, store, db, newFakeClock())
			u := e.register(t, nil)
			token := e.login(t, u, "TV").Token
			updates.Store(0)
			e.clock.Advance(30 * time.Second)
			for range 1000 {
				e.clock.Advance(60 * time.Millisecond) // 1,000 × 60 ms: from 30 s to 90 s after login
				if _, err := e.sessions.Authenticate(context.Background(), token); err != nil {
					t.Fatal(err)
				}
			}
			if n := updates.Load(); n != 1 {
				t.Errorf("1,000 checks across one touch interval made %d UPDATEs, want exactly 1", n)
			}
		})
	}
}

func TestHistoryPagesWithoutGapsOrRepeats(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			ctx := context.Background()
			u := e.register(t, &models.Limit{Max: 2, Policy: models.PolicyEvictOldest})
			other := e.register(t, nil)
			e.login(t, other, "not mine")
			// Logins at the same instant: events share timestamps, and the evictions make more.
			for _, d := range []string{"a", "b", "c", "d", "e", "f", "g"} {
				e.login(t, u, d)
			}
			var all []models.SessionEvent
			if err := store.DB.Where("user_id = ?", u.ID).Order("at DESC, id DESC").Find(&all).Error; err != nil {
				t.Fatal(err)
			}
			if len(all) != 12 { // 7 logins + 5 evictions
				t.Fatalf("user has %d events, want 12", len(all))
			}
			var got []string
			cursor := ""
			for page := 0; ; page++ {
				evs, next, err := e.sessions.History(ctx, u.ID, 5, cursor)
				if err != nil {
					t.Fatalf("History(page %d) = %v", page, err)
				}
				for _, ev := range evs {
					got = append(got, ev.ID)
				}
				if next == "" {
					break
				}
				if page > 10 {
					t.Fatal("History never ends")
				}
				cursor = next
			}
			if len(got) != len(all) {
				t.Fatalf("History pages returned %d events, want %d", len(got), len(all))
			}
			for i := range all {
				if got[i] != all[i].ID {
					t.Fatalf("History event %d = %s, want %s (newest first, no gaps or repeats)", i, got[i], all[i].ID)
				}
			}
			var v *models.ValidationError
			if _, _, err := e.sessions.History(ctx, u.ID, 5, "garbage"); !errors.As(err, &v) {
				t.Errorf("History(bad cursor) = %v, want ValidationError", err)
			}
			if _, _, err := e.sessions.History(ctx, u.ID, 500, ""); !errors.As(err, &v) {
				t.Errorf("History(limit 500) = %v, want ValidationError", err)
			}
		})
	}
}
