package services_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestStats: the insights count exactly what happened. The test runs years after every other
// test of the package (which share its Postgres database), so that no one else's session is
// still live and no one else's event falls in its window; its users are on a plan of its own.
func TestStats(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, store)
			e.clock.Set(time.Date(2041, 6, 10, 9, 0, 0, 0, time.UTC)) // a Monday, 09:00 UTC
			plans := services.NewPlans(store.DB, e.clock.Now, nil, nil)
			stats := services.NewStats(store.DB, e.clock.Now)
			name := "stats-" + randomSuffix()
			plan, err := plans.Create(ctx, admin, models.PlanInput{Name: &name, MaxSessions: ptr(2), LimitPolicy: ptr(models.PolicyEvictOldest),
				MaxStreams: ptr(1)})
			if err != nil {
				t.Fatalf("Create(plan) = %v", err)
			}
			onPlan := func(limit *models.Limit) models.User {
				u := e.register(t, limit)
				if err := store.DB.Model(&models.User{}).Where("id = ?", u.ID).Update("plan_id", plan.ID).Error; err != nil {
					t.Fatal(err)
				}
				return u
			}
			full, half, strict := onPlan(nil), onPlan(nil), onPlan(&models.Limit{Max: 1, Policy: models.PolicyReject})

			// Two days ago: full signs in 3 devices on a 2-device plan (one eviction).
			e.clock.Advance(-48 * time.Hour)
			e.login(t, full, "TV")
			e.login(t, full, "Phone")
			e.login(t, full, "Tablet")
			// Today: half signs in once; strict (override: 1, reject) is refused once.
			e.clock.Advance(48 * time.Hour)
			e.login(t, half, "TV")
			strictTV := e.login(t, strict, "TV")
			var limit *models.DeviceLimitError
			if _, err := e.sessions.Login(ctx, loginParams(strict, "Phone")); !errors.As(err, &limit) {
				t.Fatalf("Login(strict, over its limit) = %v, want DeviceLimitError", err)
			}
			// strict plays on its TV (its plan's limit of 1: at the stream limit) and the day has a start.
			now := e.clock.Now()
			if err := store.DB.Create(&models.Stream{ID: uuid.Must(uuid.NewV7()).String(), UserID: strict.ID, SessionID: strictTV.Session.ID,
				Class: "vod", StartedAt: now, LastHeartbeatAt: now, ExpiresAt: now.Add(3 * time.Minute)}).Error; err != nil {
				t.Fatal(err)
			}
			if err := store.DB.Create(&models.SessionEvent{ID: uuid.Must(uuid.NewV7()).String(), UserID: strict.ID, Type: models.EventStreamStarted,
				ActorKind: models.ActorUser, At: now, Details: "{}"}).Error; err != nil {
				t.Fatal(err)
			}

			got, err := stats.Get(ctx, 0)
			if err != nil {
				t.Fatalf("Get(default days) = %v", err)
			}
			if got.Days != 7 || len(got.Daily) != 7 || !got.Daily[6].Date.Equal(time.Date(2041, 6, 10, 0, 0, 0, 0, time.UTC)) {
				t.Fatalf("Get() window = %d days, %d rows, last %v; want 7 days ending 2041-06-10", got.Days, len(got.Daily), got.Daily[len(got.Daily)-1].Date)
			}
			var row *models.PlanStats
			for i := range got.Plans {
				if got.Plans[i].PlanID == plan.ID {
					row = &got.Plans[i]
				}
			}
			want := models.PlanStats{PlanID: plan.ID, Name: name, MaxSessions: 2, MaxStreams: 1, Users: 3, ActiveSessions: 4, ActiveStreams: 1,
				UsersAtDeviceLimit: 2, UsersAtStreamLimit: 1, Evictions: 1, LimitRejections: 1}
			if row == nil || *row != want {
				t.Errorf("Get() plan row = %+v, want %+v", row, want)
			}
			wantDays := map[int]models.DayStats{
				4: {Logins: 3, Evictions: 1},
				6: {Logins: 2, LimitRejections: 1, StreamStarts: 1},
			}
			for i, d := range got.Daily {
				w := wantDays[i]
				w.Date = d.Date
				if d != w {
					t.Errorf("Get() day %d = %+v, want %+v", i, d, w)
				}
			}

			// One day: only today's counts.
			today, err := stats.Get(ctx, 1)
			if err != nil || len(today.Daily) != 1 || today.Daily[0].Logins != 2 {
				t.Errorf("Get(1 day) = %+v, %v; want today's 2 logins", today.Daily, err)
			}
			for _, days := range []int{-1, 91} {
				var v *models.ValidationError
				if _, err := stats.Get(ctx, days); !errors.As(err, &v) || v.Fields["days"] == "" {
					t.Errorf("Get(%d days) = %v, want ValidationError naming days", days, err)
				}
			}

			// Live sessions are counted from the index while their idle recheck is ahead, else
			// from the row: one of full's two whose recheck is due but whose idle deadline is
			// ahead stays live, the other, past its idle deadline (not purged yet), is not.
			var fullIDs []string
			if err := store.DB.Model(&models.Session{}).Where("user_id = ? AND revoked_at IS NULL", full.ID).
				Order("created_at").Pluck("id", &fullIDs).Error; err != nil || len(fullIDs) != 2 {
				t.Fatalf("full's live sessions = %v, %v; want 2", fullIDs, err)
			}
			if err := store.DB.Model(&models.Session{}).Where("id = ?", fullIDs[0]).
				Update("idle_recheck_at", now.Add(-time.Hour)).Error; err != nil {
				t.Fatal(err)
			}
			if err := store.DB.Model(&models.Session{}).Where("id = ?", fullIDs[1]).
				Updates(map[string]any{"idle_recheck_at": now.Add(-2 * time.Hour), "idle_expires_at": now.Add(-time.Hour)}).Error; err != nil {
				t.Fatal(err)
			}
			if got, err = stats.Get(ctx, 0); err != nil {
				t.Fatalf("Get() = %v", err)
			}
			for _, p := range got.Plans {
				if p.PlanID == plan.ID && (p.ActiveSessions != 3 || p.UsersAtDeviceLimit != 1) {
					t.Errorf("Get() with a recheck due and an idle-expired session: %d active, %d at the device limit; want 3, 1",
						p.ActiveSessions, p.UsersAtDeviceLimit)
				}
			}
		})
	}
}
