package services_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestActiveSessions: the gauge's number counts live sessions exactly while they are few, and
// beyond the bound is the planner's estimate of the same count. The test runs years after the
// package's other tests (which share its database), so that only its own sessions are live.
func TestActiveSessions(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, store)
			e.clock.Set(time.Date(2043, 3, 2, 12, 0, 0, 0, time.UTC))
			health := services.NewHealth(store.DB)
			u := e.register(t, &models.Limit{Max: 5, Policy: models.PolicyReject})
			live, revoked, idle := e.login(t, u, "TV"), e.login(t, u, "Phone"), e.login(t, u, "Tablet")
			now := e.clock.Now()
			if err := store.DB.Model(&models.Session{}).Where("id = ?", revoked.Session.ID).Updates(map[string]any{
				"revoked_at": now, "revoke_reason": models.ReasonRevokedByUser}).Error; err != nil {
				t.Fatal(err)
			}
			if err := store.DB.Model(&models.Session{}).Where("id = ?", idle.Session.ID).Updates(map[string]any{
				"idle_expires_at": now.Add(-time.Minute), "idle_recheck_at": now.Add(-time.Minute)}).Error; err != nil {
				t.Fatal(err)
			}
			got, err := health.ActiveSessions(ctx, now)
			if err != nil || got != (services.ActiveCount{N: 1}) {
				t.Fatalf("ActiveSessions() = %+v, %v; want exactly 1 (%s; not the revoked nor the idle-expired one)", got, err, live.Session.ID)
			}
			after := live.Session.IdleExpiresAt.Add(time.Second)
			if got, err := health.ActiveSessions(ctx, after); err != nil || got != (services.ActiveCount{}) {
				t.Errorf("ActiveSessions(after its idle deadline) = %+v, %v; want exactly 0", got, err)
			}

			if store.Name != "postgres" {
				return
			}
			// Beyond the bound: the estimate, close to the count it stands for. At the epoch every
			// session not revoked is live, whichever test made it.
			if err := store.DB.Exec("ANALYZE sessions").Error; err != nil {
				t.Fatal(err)
			}
			epoch := time.Unix(0, 0)
			exact, err := services.HealthActiveSessions(ctx, health, epoch, 1<<62)
			if err != nil || exact.Estimated {
				t.Fatalf("ActiveSessions(epoch, never estimated) = %+v, %v", exact, err)
			}
			est, err := services.HealthActiveSessions(ctx, health, epoch, 1)
			if err != nil || !est.Estimated {
				t.Fatalf("ActiveSessions(epoch, estimated from 1) = %+v, %v; want an estimate", est, err)
			}
			if lo, hi := exact.N*9/10, exact.N*11/10+10; est.N < lo || est.N > hi {
				t.Errorf("estimate at the epoch = %d, count = %d: want within 10 %%", est.N, exact.N)
			}
		})
	}
}
