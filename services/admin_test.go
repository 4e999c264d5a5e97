package services_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

var admin = models.Admin{ID: "01a22306-0000-7000-8000-0000000000ad"}

func ptr[T any](v T) *T { return &v }

func TestPlanValidation(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			plans := services.NewPlans(store.DB, nil, nil, nil)
			ctx := context.Background()
			hour := time.Hour
			cases := []struct {
				name  string
				in    models.PlanInput
				field string
			}{
				{"no name", models.PlanInput{MaxSessions: ptr(1), LimitPolicy: ptr(models.PolicyReject)}, "name"},
				{"blank name", models.PlanInput{Name: ptr("  "), MaxSessions: ptr(1), LimitPolicy: ptr(models.PolicyReject)}, "name"},
				{"zero sessions", models.PlanInput{Name: ptr("x"), MaxSessions: ptr(0), LimitPolicy: ptr(models.PolicyReject)}, "max_sessions"},
				{"1001 sessions", models.PlanInput{Name: ptr("x"), MaxSessions: ptr(1001), LimitPolicy: ptr(models.PolicyReject)}, "max_sessions"},
				{"no policy", models.PlanInput{Name: ptr("x"), MaxSessions: ptr(1)}, "limit_policy"},
				{"bad policy", models.PlanInput{Name: ptr("x"), MaxSessions: ptr(1), LimitPolicy: ptr(models.LimitPolicy("random"))}, "limit_policy"},
				{"sub-second idle", models.PlanInput{Name: ptr("x"), MaxSessions: ptr(1), LimitPolicy: ptr(models.PolicyReject),
					IdleTimeout: models.Optional[time.Duration]{Set: true, Value: ptr(time.Millisecond)}}, "idle_timeout"},
				{"negative absolute", models.PlanInput{Name: ptr("x"), MaxSessions: ptr(1), LimitPolicy: ptr(models.PolicyReject),
					AbsoluteTimeout: models.Optional[time.Duration]{Set: true, Value: ptr(-hour)}}, "absolute_timeout"},
			}
			for _, tc := range cases {
				_, err := plans.Create(ctx, admin, tc.in)
				var v *models.ValidationError
				if !errors.As(err, &v) || v.Fields[tc.field] == "" {
					t.Errorf("Create(%s) = %v, want ValidationError naming %s", tc.name, err, tc.field)
				}
			}
			name := "family-" + randomSuffix()
			p, err := plans.Create(ctx, admin, models.PlanInput{Name: &name, MaxSessions: ptr(6), LimitPolicy: ptr(models.PolicyEvictLeastRecent),
				IdleTimeout: models.Optional[time.Duration]{Set: true, Value: &hour}})
			if err != nil || p.MaxSessions != 6 || *p.IdleTimeoutSeconds != 3600 || p.AbsoluteTimeoutSeconds != nil {
				t.Fatalf("Create(valid) = %+v, %v", p, err)
			}
			if _, err := plans.Create(ctx, admin, models.PlanInput{Name: &name, MaxSessions: ptr(1), LimitPolicy: ptr(models.PolicyReject)}); !errors.Is(err, models.ErrConflict) {
				t.Errorf("Create(taken name) = %v, want ErrConflict", err)
			}
			// Patching one field keeps the others; null clears a timeout.
			p, _, err = plans.Update(ctx, admin, p.ID, models.PlanInput{MaxSessions: ptr(5), IdleTimeout: models.Optional[time.Duration]{Set: true}}, false)
			if err != nil || p.MaxSessions != 5 || p.Name != name || p.IdleTimeoutSeconds != nil {
				t.Fatalf("Update(max 5, idle null) = %+v, %v", p, err)
			}
			if got, _ := plans.Get(ctx, p.ID); got.MaxSessions != 5 || got.IdleTimeoutSeconds != nil {
				t.Errorf("Get() after Update = %+v, want max 5 and no idle timeout", got)
			}
			standard, err := plans.GetByName(ctx, "standard")
			if err != nil {
				t.Fatal(err)
			}
			users := services.NewUsers(store.DB, servicetest.FastHasher(), services.UsersConfig{DefaultPlan: "standard", RegistrationOpen: true})
			if _, err := users.Register(ctx, models.RegisterParams{Email: servicetest.Email(t), Password: testPassword}); err != nil {
				t.Fatal(err)
			}
			if err := plans.Delete(ctx, admin, standard.ID); !errors.Is(err, models.ErrPlanInUse) {
				t.Errorf("Delete(plan in use) = %v, want ErrPlanInUse", err)
			}
			if err := plans.Delete(ctx, admin, p.ID); err != nil {
				t.Errorf("Delete(unused plan) = %v", err)
			}
			if err := plans.Delete(ctx, admin, p.ID); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("Delete(deleted plan) = %v, want ErrNotFound", err)
			}
			var audits int64
			store.DB.Model(&models.AuditEvent{}).Where("actor_id = ? AND target_id = ?", admin.ID, p.ID).Count(&audits)
			if audits != 3 { // create, update, delete
				t.Errorf("audit events for the plan = %d, want 3", audits)
			}
		})
	}
}

func TestOverrideExpires(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			ctx := context.Background()
			u := e.register(t, nil) // standard: 2, evict oldest
			until := e.clock.Now().Add(7 * 24 * time.Hour)
			_, err := e.users.Update(ctx, admin, u.ID, models.UserPatch{
				MaxSessionsOverride:      models.Optional[int]{Set: true, Value: ptr(3)},
				MaxSessionsOverrideUntil: models.Optional[time.Time]{Set: true, Value: &until},
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range []string{"a", "b", "c"} {
				if res := e.login(t, u, d); len(res.Evicted) != 0 {
					t.Fatalf("Login(%s) with one extra device evicted %d", d, len(res.Evicted))
				}
			}
			e.clock.Advance(8 * 24 * time.Hour) // the extra device has lapsed
			res := e.login(t, u, "d")
			if len(res.Evicted) != 2 || activeCount(t, store.DB, u.ID, e.clock.Now()) != 2 {
				t.Fatalf("Login after the override lapsed evicted %d, want 2 (back to the plan's 2)", len(res.Evicted))
			}
			// null clears the override.
			got, err := e.users.Update(ctx, admin, u.ID, models.UserPatch{MaxSessionsOverride: models.Optional[int]{Set: true}})
			if err != nil || got.MaxSessionsOverride != nil {
				t.Fatalf("Update(override null) = %+v, %v", got, err)
			}
		})
	}
}

func TestDisableRevokesEverySessionAtOnce(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			ctx := context.Background()
			u := e.register(t, nil)
			a, b := e.login(t, u, "a"), e.login(t, u, "b")
			got, err := e.users.Update(ctx, admin, u.ID, models.UserPatch{Disabled: ptr(true)})
			if err != nil || !got.Disabled() {
				t.Fatalf("Update(disabled) = %+v, %v", got, err)
			}
			for _, r := range []models.LoginResult{a, b} {
				_, err := e.sessions.Authenticate(ctx, r.Token)
				var rev *models.SessionRevokedError
				if !errors.As(err, &rev) || rev.Reason != models.ReasonUserDisabled {
					t.Errorf("Authenticate(after disable) = %v, want SessionRevokedError(user_disabled)", err)
				}
			}
			if _, err := e.sessions.Login(ctx, loginParams(u, "c")); !errors.Is(err, models.ErrInvalidCredentials) {
				t.Errorf("Login(disabled) = %v, want ErrInvalidCredentials", err)
			}
			if _, err := e.users.Update(ctx, admin, u.ID, models.UserPatch{Disabled: ptr(false)}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.sessions.Login(ctx, loginParams(u, "c")); err != nil {
				t.Errorf("Login(re-enabled) = %v", err)
			}
		})
	}
}

func TestAdminSessionsAndClients(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			ctx := context.Background()
			u := e.register(t, nil)
			a, b := e.login(t, u, "a"), e.login(t, u, "b")
			if err := e.users.RevokeSession(ctx, admin, a.Session.ID); err != nil {
				t.Fatal(err)
			}
			ss, err := e.users.Sessions(ctx, u.ID)
			if err != nil || len(ss) != 2 || ss[1].RevokeReason == nil || *ss[1].RevokeReason != models.ReasonRevokedByAdmin {
				t.Fatalf("Sessions() = %+v, %v; want b active and a revoked_by_admin", ss, err)
			}
			if n, err := e.users.RevokeSessions(ctx, admin, u.ID); err != nil || n != 1 {
				t.Fatalf("RevokeSessions() = %d, %v; want 1", n, err)
			}
			if _, err := e.sessions.Authenticate(ctx, b.Token); err == nil {
				t.Error("session after RevokeSessions still authenticates")
			}
			if _, err := e.users.Sessions(ctx, uuid.NewString()); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("Sessions(unknown user) = %v, want ErrNotFound", err)
			}

			name := "catalog-" + randomSuffix()
			c, secret, err := e.clients.Create(ctx, admin, name)
			if err != nil || len(secret) < 40 || string(c.SecretHash) == secret {
				t.Fatalf("Clients.Create() = %+v, %q, %v", c, secret, err)
			}
			if _, _, err := e.clients.Create(ctx, admin, name); !errors.Is(err, models.ErrConflict) {
				t.Errorf("Clients.Create(taken name) = %v, want ErrConflict", err)
			}
			if err := e.clients.Delete(ctx, admin, c.ID); err != nil {
				t.Fatal(err)
			}
			if err := e.clients.Delete(ctx, admin, c.ID); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("Clients.Delete(again) = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestListUsersFiltersAndPages(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			ctx := context.Background()
			prefix := "pager-" + randomSuffix()
			for i := range 5 {
				if _, err := e.users.Register(ctx, models.RegisterParams{Email: fmt.Sprintf("%s-%d@example.com", prefix, i), Password: testPassword}); err != nil {
					t.Fatal(err)
				}
			}
			var seen []string
			cursor := ""
			for {
				page, next, err := e.users.List(ctx, models.UserFilter{EmailPrefix: prefix}, 2, cursor)
				if err != nil {
					t.Fatal(err)
				}
				for _, u := range page {
					seen = append(seen, u.Email)
				}
				if next == "" {
					break
				}
				cursor = next
			}
			if len(seen) != 5 || seen[0] != prefix+"-4@example.com" {
				t.Fatalf("List(prefix) pages = %v, want 5 users newest first", seen)
			}
			if page, _, err := e.users.List(ctx, models.UserFilter{EmailPrefix: "%"}, 10, ""); err != nil || len(page) != 0 {
				t.Errorf("List(prefix %%) = %d users, %v; want none: %% is not a wildcard", len(page), err)
			}
		})
	}
}
