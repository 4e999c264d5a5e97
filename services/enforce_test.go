package services_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

// planOfUsers creates a plan allowing perUser devices and n users on it, each signed in on
// perUser devices (written straight into the store: this is about enforcement, not login).
// It returns the plan and each user's newest session, the one an enforcement down to 1 keeps.
func planOfUsers(t testing.TB, db *gorm.DB, plans *services.Plans, now time.Time, n, perUser int) (models.Plan, map[string]string) {
	t.Helper()
	name := "quad-" + randomSuffix()
	plan, err := plans.Create(context.Background(), admin, models.PlanInput{Name: &name, MaxSessions: ptr(perUser), LimitPolicy: ptr(models.PolicyReject)})
	if err != nil {
		t.Fatal(err)
	}
	var us []models.User
	var ss []models.Session
	newest := map[string]string{}
	for i := range n {
		u := models.User{ID: uuid.NewString(), Email: fmt.Sprintf("quad-%d-%s@example.com", i, randomSuffix()), PasswordHash: "x",
			Role: models.RoleUser, PlanID: plan.ID, CreatedAt: now, UpdatedAt: now}
		us = append(us, u)
		for j := range perUser {
			created := now.Add(-time.Duration(perUser-j) * time.Minute)
			s := models.Session{ID: uuid.NewString(), UserID: u.ID, SecretHash: []byte("h"), DeviceName: fmt.Sprint("d", j), DeviceType: "tv",
				CreatedAt: created, LastSeenAt: created, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}
			ss = append(ss, s)
			newest[u.ID] = s.ID
		}
	}
	err = db.Transaction(func(tx *gorm.DB) error {
		if err := tx.CreateInBatches(us, 200).Error; err != nil {
			return err
		}
		return tx.CreateInBatches(ss, 500).Error
	})
	if err != nil {
		t.Fatal(err)
	}
	return plan, newest
}

// wantBroughtDown checks in the store that every user of the plan kept exactly their newest
// session, that each evicted session was evicted once, and that the plan's enforcement rows
// are all finished, the last with the totals.
func wantBroughtDown(t *testing.T, db *gorm.DB, plan models.Plan, newest map[string]string, perUser int) {
	t.Helper()
	var left []models.Session
	err := db.Joins("JOIN users ON users.id = sessions.user_id").
		Where("users.plan_id = ? AND sessions.revoked_at IS NULL", plan.ID).Find(&left).Error
	if err != nil || len(left) != len(newest) {
		t.Fatalf("active sessions on the plan = %d (%v), want %d", len(left), err, len(newest))
	}
	for _, s := range left {
		if newest[s.UserID] != s.ID {
			t.Fatalf("user %s kept session %s, want its newest %s (reject evicts oldest first)", s.UserID, s.ID, newest[s.UserID])
		}
	}
	wantEvicted := len(newest) * (perUser - 1)
	var evicted int64
	db.Model(&models.SessionEvent{}).Where("type = ? AND actor_kind = ? AND actor_id = ? AND user_id IN (?)",
		models.EventEvicted, models.ActorAdmin, admin.ID, db.Model(&models.User{}).Select("id").Where("plan_id = ?", plan.ID)).Count(&evicted)
	if evicted != int64(wantEvicted) {
		t.Errorf("evicted events by the admin = %d, want %d: each session once", evicted, wantEvicted)
	}
	var rows []models.PlanEnforcement
	if err := db.Where("plan_id = ?", plan.ID).Order("requested_at, id").Find(&rows).Error; err != nil || len(rows) == 0 {
		t.Fatalf("enforcements of the plan = %v, %v", rows, err)
	}
	for _, r := range rows {
		if !r.Finished() || r.ClaimedBy != nil {
			t.Errorf("enforcement %s = %+v, want finished and unclaimed", r.ID, r)
		}
	}
	if last := rows[len(rows)-1]; last.SupersededBy != nil || len(rows) == 1 && (last.Users != len(newest) || last.SessionsEvicted != wantEvicted) {
		t.Errorf("enforcement = %d users, %d sessions, superseded %v; want %d and %d, not superseded",
			last.Users, last.SessionsEvicted, last.SupersededBy, len(newest), wantEvicted)
	}
}

// stepHook is an Observer that calls f after each committed batch of evictions: the moment
// between two users of an enforcement, observed rather than waited for.
type stepHook struct {
	services.Observer
	mu    sync.Mutex
	steps int
	f     func(step int)
}

func (h *stepHook) SessionsEnded(reason models.RevokeReason, ids []string) {
	if reason != models.ReasonEvicted {
		return
	}
	h.mu.Lock()
	h.steps++
	step := h.steps
	h.mu.Unlock()
	h.f(step)
}

func hook(f func(step int)) *stepHook { return &stepHook{Observer: services.Observers{}, f: f} }

// plansStoppingAfter returns plan use cases over db and a context that ends once they have
// brought k users down: a request that reaches its deadline, at a point the test chooses.
func plansStoppingAfter(t *testing.T, db *gorm.DB, clock *fakeClock, k int) (*services.Plans, context.Context) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return services.NewPlans(db, clock.Now, nil, hook(func(step int) {
		if step == k {
			cancel()
		}
	})), ctx
}

// purgerOn is a purge on db that reads clock.
func purgerOn(db *gorm.DB, clock *fakeClock) *services.Purger {
	return services.NewPurger(db, services.PurgeConfig{RevokedRetention: revokedRetention, EventRetention: eventRetention,
		BatchSize: servicetest.PurgeBatch, Throttle: servicetest.Throttle(), Now: clock.Now})
}

// TestEnforceNowBringsEveryUserDown lowers a reject plan from 4 to 1 with enforce now, over
// 1,000 users holding 4 sessions each: each keeps exactly its newest session, and the answer
// and the enforcement's record count them all.
func TestEnforceNowBringsEveryUserDown(t *testing.T) {
	const users, perUser = 1000, 4
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			clock := newFakeClock()
			plans := services.NewPlans(store.DB, clock.Now, nil, nil)
			plan, newest := planOfUsers(t, store.DB, plans, clock.Now(), users, perUser)
			_, res, err := plans.Update(context.Background(), admin, plan.ID, models.PlanInput{MaxSessions: ptr(1)}, true)
			if err != nil || res.Enforcing || res.Users != users || res.Sessions != users*(perUser-1) {
				t.Fatalf("Update(max 1, enforce now) = %+v, %v; want finished, %d users, %d sessions", res, err, users, users*(perUser-1))
			}
			wantBroughtDown(t, store.DB, plan, newest, perUser)
		})
	}
}

// TestEnforcementLeftUnfinishedIsFinishedByThePurge: the request runs out of time after 5
// users (its context ends, as at the request deadline). It answers enforcing with what it did,
// hands the enforcement over, and the next purge pass finishes it with no second command.
func TestEnforcementLeftUnfinishedIsFinishedByThePurge(t *testing.T) {
	const users, perUser = 300, 3
	for _, store := range servicetest.FreshStores(t) {
		t.Run(store.Name, func(t *testing.T) {
			clock := newFakeClock()
			plans, ctx := plansStoppingAfter(t, store.DB, clock, 5)
			plan, newest := planOfUsers(t, store.DB, plans, clock.Now(), users, perUser)
			got, res, err := plans.Update(ctx, admin, plan.ID, models.PlanInput{MaxSessions: ptr(1)}, true)
			if err != nil || !res.Enforcing || res.Users != 5 || res.Sessions != 5*(perUser-1) || got.MaxSessions != 1 {
				t.Fatalf("Update(enforce now, out of time after 5 users) = %+v, %+v, %v; want the plan at 1, enforcing, 5 users done", got, res, err)
			}
			var row models.PlanEnforcement
			if err := store.DB.Where("plan_id = ?", plan.ID).Take(&row).Error; err != nil || row.Finished() || row.ClaimedBy != nil || row.Users != 5 {
				t.Fatalf("enforcement after the request = %+v, %v; want unfinished, released, 5 users", row, err)
			}
			pres, err := purgerOn(store.Open(t), clock).Purge(context.Background(), false, nil)
			if err != nil || pres.Enforcements != 1 || pres.Enforced != int64((users-5)*(perUser-1)) {
				t.Fatalf("Purge() = %+v, %v; want 1 enforcement finished, %d sessions evicted", pres, err, (users-5)*(perUser-1))
			}
			wantBroughtDown(t, store.DB, plan, newest, perUser)
		})
	}
}

// TestEnforcementHasOneRunAtATime runs a purge pass on another pool while the request is
// between two users of its enforcement. While the request's claim is live, the purge leaves the
// enforcement alone and the request finishes it all. Once the request has stopped longer than
// its lease (as a process that died would), the purge takes it over and finishes it, and the
// request, coming back, finds it finished and does nothing twice.
//
// Checked by hand once (2026-12-01): with claim ignoring live claims, the purge took the
// enforcement over from the live request and the first case failed on both stores.
func TestEnforcementHasOneRunAtATime(t *testing.T) {
	const users, perUser = 50, 3
	for _, store := range servicetest.FreshStores(t) {
		for _, tc := range []struct {
			name        string
			stopped     time.Duration // how long the request stops after its first user
			wantEvicted int           // by the purge
		}{
			{"claim live", 0, 0},
			{"lease lapsed", time.Minute, (users - 1) * (perUser - 1)},
		} {
			t.Run(store.Name+"/"+tc.name, func(t *testing.T) {
				clock := newFakeClock()
				purger := purgerOn(store.Open(t), clock)
				var (
					pres services.PurgeResult
					perr error
				)
				plans := services.NewPlans(store.DB, clock.Now, nil, hook(func(step int) {
					if step == 1 {
						clock.Advance(tc.stopped)
						pres, perr = purger.Purge(context.Background(), false, nil)
					}
				}))
				plan, newest := planOfUsers(t, store.DB, plans, clock.Now(), users, perUser)
				_, res, err := plans.Update(context.Background(), admin, plan.ID, models.PlanInput{MaxSessions: ptr(1)}, true)
				if perr != nil || pres.Enforced != int64(tc.wantEvicted) || pres.Enforcements != min(tc.wantEvicted, 1) {
					t.Errorf("Purge() after the request's first user = %+v, %v; want %d sessions evicted", pres, perr, tc.wantEvicted)
				}
				if err != nil || res.Enforcing || res.Users != users || res.Sessions != users*(perUser-1) {
					t.Fatalf("Update(enforce now) = %+v, %v; want finished, %d users in all", res, err, users)
				}
				wantBroughtDown(t, store.DB, plan, newest, perUser)
			})
		}
	}
}

// TestEnforcementRunStopsOnceTakenOver: the request stops past its lease after its first
// user, a purge pass takes the enforcement over and is itself between two users when the
// request comes back. The request must stop at once (enforcing: the purge has it) rather than
// work beside it; the purge then finishes alone.
//
// Checked by hand once (2026-12-01): with the step's progress not conditioned on the claim,
// the request carried on beside the purge and this test failed on both stores.
func TestEnforcementRunStopsOnceTakenOver(t *testing.T) {
	const users, perUser = 50, 3
	for _, store := range servicetest.FreshStores(t) {
		t.Run(store.Name, func(t *testing.T) {
			clock := newFakeClock()
			purgePaused, resumePurge, purgeDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
			purger := services.NewPurger(store.Open(t), services.PurgeConfig{RevokedRetention: revokedRetention, EventRetention: eventRetention,
				BatchSize: servicetest.PurgeBatch, Throttle: servicetest.Throttle(), Now: clock.Now, Observer: hook(func(step int) {
					if step == 1 {
						close(purgePaused)
						<-resumePurge
					}
				})})
			var (
				pres services.PurgeResult
				perr error
			)
			plans := services.NewPlans(store.DB, clock.Now, nil, hook(func(step int) {
				if step == 1 {
					clock.Advance(time.Minute) // past the lease
					go func() {
						defer close(purgeDone)
						pres, perr = purger.Purge(context.Background(), false, nil)
					}()
					<-purgePaused
				}
			}))
			plan, newest := planOfUsers(t, store.DB, plans, clock.Now(), users, perUser)
			_, res, err := plans.Update(context.Background(), admin, plan.ID, models.PlanInput{MaxSessions: ptr(1)}, true)
			close(resumePurge)
			<-purgeDone
			if err != nil || !res.Enforcing || res.Users != 1 {
				t.Errorf("Update(enforce now), taken over after 1 user = %+v, %v; want enforcing, 1 user done", res, err)
			}
			if perr != nil || pres.Enforcements != 1 || pres.Enforced != int64((users-1)*(perUser-1)) {
				t.Errorf("Purge() = %+v, %v; want it to finish alone: %d sessions evicted", pres, perr, (users-1)*(perUser-1))
			}
			wantBroughtDown(t, store.DB, plan, newest, perUser)
		})
	}
}

// TestNewerEnforcementSupersedesAnOlder: an enforcement down to 2 is left unfinished, then the
// plan goes down to 1 with enforce now: the older is finished as superseded, and the newer
// brings everyone to 1.
func TestNewerEnforcementSupersedesAnOlder(t *testing.T) {
	const users, perUser = 40, 4
	for _, store := range servicetest.FreshStores(t) {
		t.Run(store.Name, func(t *testing.T) {
			clock := newFakeClock()
			plans, ctx := plansStoppingAfter(t, store.DB, clock, 3)
			plan, newest := planOfUsers(t, store.DB, plans, clock.Now(), users, perUser)
			if _, res, err := plans.Update(ctx, admin, plan.ID, models.PlanInput{MaxSessions: ptr(2)}, true); err != nil || !res.Enforcing {
				t.Fatalf("Update(max 2, interrupted) = %+v, %v; want enforcing", res, err)
			}
			clock.Advance(time.Second)
			_, res, err := plans.Update(context.Background(), admin, plan.ID, models.PlanInput{MaxSessions: ptr(1)}, true)
			if err != nil || res.Enforcing || res.Users != users {
				t.Fatalf("Update(max 1) = %+v, %v; want finished over %d users", res, err, users)
			}
			var rows []models.PlanEnforcement
			store.DB.Where("plan_id = ?", plan.ID).Order("requested_at").Find(&rows)
			if len(rows) != 2 || rows[0].SupersededBy == nil || *rows[0].SupersededBy != rows[1].ID || rows[0].Users != 3 {
				t.Fatalf("enforcements = %+v, want the first (3 users done) superseded by the second", rows)
			}
			wantBroughtDown(t, store.DB, plan, newest, perUser)
		})
	}
}

// TestRacingPlanPatchesAllSurvive: five admins change five different fields of one plan at
// once over two connection pools, ten rounds: after each round every change is there.
//
// Checked by hand once (2026-12-01): with Update writing back the whole row it read before
// its transaction (the old code), rounds lost changes on both stores and this test failed.
func TestRacingPlanPatchesAllSurvive(t *testing.T) {
	const rounds = 10
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			pools := []*services.Plans{services.NewPlans(store.Open(t), nil, nil, nil), services.NewPlans(store.Open(t), nil, nil, nil)}
			ctx := context.Background()
			base := "race-" + randomSuffix()
			plan, err := pools[0].Create(ctx, admin, models.PlanInput{Name: &base, MaxSessions: ptr(1), LimitPolicy: ptr(models.PolicyReject)})
			if err != nil {
				t.Fatal(err)
			}
			policies := []models.LimitPolicy{models.PolicyEvictOldest, models.PolicyEvictLeastRecent, models.PolicyReject}
			for round := range rounds {
				name := fmt.Sprintf("%s-%d", base, round)
				idle, absolute := time.Duration(round+1)*time.Hour, time.Duration(round+100)*time.Hour
				patches := []models.PlanInput{
					{Name: &name},
					{MaxSessions: ptr(round + 2)},
					{LimitPolicy: &policies[round%3]},
					{IdleTimeout: models.Optional[time.Duration]{Set: true, Value: &idle}},
					{AbsoluteTimeout: models.Optional[time.Duration]{Set: true, Value: &absolute}},
				}
				start := make(chan struct{})
				errs := make([]error, len(patches))
				var wg sync.WaitGroup
				for i, in := range patches {
					wg.Go(func() {
						<-start
						_, _, errs[i] = pools[i%2].Update(ctx, admin, plan.ID, in, false)
					})
				}
				close(start)
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Fatalf("round %d: Update(patch %d) = %v", round, i, err)
					}
				}
				got, err := pools[0].Get(ctx, plan.ID)
				if err != nil || got.Name != name || got.MaxSessions != round+2 || got.LimitPolicy != policies[round%3] ||
					got.IdleTimeoutSeconds == nil || *got.IdleTimeoutSeconds != int64(idle/time.Second) ||
					got.AbsoluteTimeoutSeconds == nil || *got.AbsoluteTimeoutSeconds != int64(absolute/time.Second) {
					t.Fatalf("round %d: Get() = %+v, %v; want every one of the 5 racing changes", round, got, err)
				}
			}
			var audits int64
			store.DB.Model(&models.AuditEvent{}).Where("action = ? AND target_id = ?", "plan.update", plan.ID).Count(&audits)
			if audits != rounds*5 {
				t.Errorf("plan.update audit rows = %d, want %d: one per change", audits, rounds*5)
			}
		})
	}
}
