package services

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// Plan bounds an admin may set.
const (
	MaxPlanSessions = 1000
	maxPlanNameLen  = 64
	maxTimeout      = 10 * 365 * 24 * time.Hour
	// enforceBatch is how many over-limit users one read of "enforce now" picks; each user is
	// then brought down in a short transaction of their own, so a plan with 100,000 users never
	// holds one huge transaction.
	enforceBatch = 500
)

// actorOf names who acts in an admin use case.
func actorOf(a models.Admin) actor {
	if a.Operator {
		return actor{models.ActorSystem, "cli"}
	}
	return actor{models.ActorAdmin, a.ID}
}

// Plans manages subscription plans.
type Plans struct {
	db  *gorm.DB
	now func() time.Time
	log *slog.Logger
	obs Observer
}

// NewPlans returns the plan use cases over db. now may be nil (the wall clock), log and obs
// too (nothing logged or observed).
func NewPlans(db *gorm.DB, now func() time.Time, log *slog.Logger, obs Observer) *Plans {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Plans{db: db, now: now, log: log, obs: observerOr(obs)}
}

// List returns every plan, by name.
func (p *Plans) List(ctx context.Context) ([]models.Plan, error) {
	var plans []models.Plan
	if err := p.db.WithContext(ctx).Order("name").Find(&plans).Error; err != nil {
		return nil, fmt.Errorf("list plans: %w", storeError(err))
	}
	return plans, nil
}

// Get returns the plan id, or models.ErrNotFound.
func (p *Plans) Get(ctx context.Context, id string) (models.Plan, error) {
	if !validID(id) {
		return models.Plan{}, models.ErrNotFound
	}
	plan, err := planOf(p.db.WithContext(ctx), id)
	if err != nil {
		return models.Plan{}, fmt.Errorf("get plan %s: %w", id, err)
	}
	return plan, nil
}

// GetByName returns the plan called name, or models.ErrNotFound.
func (p *Plans) GetByName(ctx context.Context, name string) (models.Plan, error) {
	var plan models.Plan
	if err := p.db.WithContext(ctx).Where("name = ?", nameKey(name)).Take(&plan).Error; err != nil {
		return models.Plan{}, fmt.Errorf("get plan %q: %w", name, storeError(err))
	}
	return plan, nil
}

// Create adds a plan. Name, max sessions and policy are required; *models.ValidationError for
// bad input, models.ErrConflict when the name is taken.
func (p *Plans) Create(ctx context.Context, by models.Admin, in models.PlanInput) (models.Plan, error) {
	v := &models.ValidationError{Fields: map[string]string{}}
	for field, missing := range map[string]bool{"name": in.Name == nil, "max_sessions": in.MaxSessions == nil, "limit_policy": in.LimitPolicy == nil} {
		if missing {
			v.Fields[field] = "is required"
		}
	}
	if len(v.Fields) > 0 {
		return models.Plan{}, v
	}
	now := clock(p.now)
	plan := models.Plan{ID: newID(), CreatedAt: now}
	if err := applyPlanInput(&plan, in, now); err != nil {
		return models.Plan{}, err
	}
	err := p.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := storeError(tx.Create(&plan).Error); err != nil {
			return err
		}
		return audit(tx, by, "plan.create", "plan", plan.ID, now, map[string]any{"name": plan.Name})
	})
	if err != nil {
		return models.Plan{}, fmt.Errorf("create plan: %w", err)
	}
	return plan, nil
}

// Update changes a plan. Without enforceNow a lowered limit applies at each user's next login;
// with it, every user of the plan holding more active sessions than the new limit (and no
// override) is brought down to it at once, per the plan's policy (reject: oldest first).
func (p *Plans) Update(ctx context.Context, by models.Admin, id string, in models.PlanInput, enforceNow bool) (models.Plan, models.EnforceResult, error) {
	plan, err := p.Get(ctx, id)
	if err != nil {
		return models.Plan{}, models.EnforceResult{}, err
	}
	now := clock(p.now)
	if err := applyPlanInput(&plan, in, now); err != nil {
		return models.Plan{}, models.EnforceResult{}, err
	}
	err = transact(ctx, p.db, p.obs, func(tx *gorm.DB, out *ended) error {
		err := tx.Model(&models.Plan{}).Where("id = ?", id).Select("*").Omit("id", "created_at").Updates(&plan).Error
		if err := storeError(err); err != nil {
			return err
		}
		out.planChanged() // cached checks carry the plan: its limit, timeouts, name
		return audit(tx, by, "plan.update", "plan", id, now, map[string]any{
			"name": plan.Name, "max_sessions": plan.MaxSessions, "limit_policy": plan.LimitPolicy, "enforce_now": enforceNow,
		})
	})
	if err != nil {
		return models.Plan{}, models.EnforceResult{}, fmt.Errorf("update plan %s: %w", id, err)
	}
	if !enforceNow {
		return plan, models.EnforceResult{}, nil
	}
	res, err := p.enforce(ctx, by, plan)
	if err != nil {
		return plan, res, fmt.Errorf("enforce plan %s: %w", id, err)
	}
	p.log.InfoContext(ctx, "plan limit enforced", "plan_id", id, "users", res.Users, "sessions", res.Sessions)
	return plan, res, nil
}

// enforce brings every over-limit user of plan down to the limit, one user per transaction,
// reading over-limit users in keyset batches.
func (p *Plans) enforce(ctx context.Context, by models.Admin, plan models.Plan) (models.EnforceResult, error) {
	var res models.EnforceResult
	after := uuid.Nil.String() // below every id, and a valid uuid for Postgres
	for {
		now := clock(p.now)
		var ids []string
		err := p.db.WithContext(ctx).Raw(`SELECT s.user_id FROM sessions s JOIN users u ON u.id = s.user_id
WHERE u.plan_id = ? AND s.user_id > ? AND s.revoked_at IS NULL AND s.expires_at > ? AND s.idle_expires_at > ?
GROUP BY s.user_id HAVING count(*) > ? ORDER BY s.user_id LIMIT ?`,
			plan.ID, after, now, now, plan.MaxSessions, enforceBatch).Scan(&ids).Error
		if err != nil {
			return res, storeError(err)
		}
		for _, userID := range ids {
			n, err := p.bringDownToLimit(ctx, by, userID, now)
			if err != nil {
				return res, err
			}
			if n > 0 {
				res.Users++
				res.Sessions += n
			}
		}
		if len(ids) < enforceBatch {
			return res, nil
		}
		after = ids[len(ids)-1]
	}
}

// bringDownToLimit evicts, under the user lock, the sessions above the user's effective limit,
// in the policy's order. It returns how many it evicted.
func (p *Plans) bringDownToLimit(ctx context.Context, by models.Admin, userID string, now time.Time) (int, error) {
	var n int
	err := transact(ctx, p.db, p.obs, func(tx *gorm.DB, out *ended) error {
		u, err := lockUser(tx, userID)
		if err != nil {
			return err
		}
		plan, err := planOf(tx, u.PlanID)
		if err != nil {
			return err
		}
		active, err := activeSessions(tx, userID, now)
		if err != nil {
			return err
		}
		victims := models.EvictionOrder(active, u.EffectiveLimit(plan, now))
		n = len(victims)
		return revoke(tx, out, victims, models.ReasonEvicted, by.ID, actorOf(by), now)
	})
	return n, err
}

// Delete removes a plan nobody is on; models.ErrPlanInUse otherwise.
func (p *Plans) Delete(ctx context.Context, by models.Admin, id string) error {
	if !validID(id) {
		return models.ErrNotFound
	}
	now := clock(p.now)
	err := p.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var users int64
		if err := tx.Model(&models.User{}).Where("plan_id = ?", id).Count(&users).Error; err != nil {
			return storeError(err)
		}
		if users > 0 {
			return models.ErrPlanInUse
		}
		del := tx.Where("id = ?", id).Delete(&models.Plan{})
		if err := storeError(del.Error); err != nil {
			return err
		}
		if del.RowsAffected == 0 {
			return models.ErrNotFound
		}
		return audit(tx, by, "plan.delete", "plan", id, now, nil)
	})
	if err != nil {
		return fmt.Errorf("delete plan %s: %w", id, err)
	}
	return nil
}

// applyPlanInput validates in and writes the fields it sets into plan.
func applyPlanInput(plan *models.Plan, in models.PlanInput, now time.Time) error {
	v := &models.ValidationError{Fields: map[string]string{}}
	if in.Name != nil {
		name, err := cleanName("name", *in.Name, maxPlanNameLen)
		if err != nil {
			v.Fields["name"] = err.(*models.ValidationError).Fields["name"]
		}
		plan.Name = name
	}
	if in.MaxSessions != nil {
		if *in.MaxSessions < 1 || *in.MaxSessions > MaxPlanSessions {
			v.Fields["max_sessions"] = fmt.Sprintf("must be between 1 and %d", MaxPlanSessions)
		}
		plan.MaxSessions = *in.MaxSessions
	}
	if in.LimitPolicy != nil {
		if !in.LimitPolicy.Valid() {
			v.Fields["limit_policy"] = "must be evict_oldest, evict_least_recent or reject"
		}
		plan.LimitPolicy = *in.LimitPolicy
	}
	setTimeout := func(field string, o models.Optional[time.Duration], dst **int64) {
		if !o.Set {
			return
		}
		if o.Value == nil {
			*dst = nil
			return
		}
		if *o.Value < time.Second || *o.Value > maxTimeout || *o.Value%time.Second != 0 {
			v.Fields[field] = "must be a whole number of seconds between 1s and 87600h"
			return
		}
		secs := int64(*o.Value / time.Second)
		*dst = &secs
	}
	setTimeout("idle_timeout", in.IdleTimeout, &plan.IdleTimeoutSeconds)
	setTimeout("absolute_timeout", in.AbsoluteTimeout, &plan.AbsoluteTimeoutSeconds)
	if len(v.Fields) > 0 {
		return v
	}
	plan.UpdatedAt = now
	return nil
}

// audit records an admin action.
func audit(tx *gorm.DB, by models.Admin, action, targetType, targetID string, now time.Time, details map[string]any) error {
	a := actorOf(by)
	ev := models.AuditEvent{
		ID: newID(), ActorKind: a.kind, ActorID: a.id, Action: action,
		TargetType: targetType, TargetID: targetID, At: now, Details: jsonObject(details),
	}
	return storeError(tx.Create(&ev).Error)
}
