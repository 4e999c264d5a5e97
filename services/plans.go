package services

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// Plan bounds an admin may set.
const (
	MaxPlanSessions = 1000
	maxPlanNameLen  = 64
	maxTimeout      = 10 * 365 * 24 * time.Hour
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
	plan := models.Plan{ID: newID(), CreatedAt: now, MaxStreams: models.DefaultMaxStreams, StreamPolicy: models.StreamReject}
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

// Update changes the plan's fields that in sets, and only those, so that admins changing
// different fields at once all keep their change; the audit row commits with it. Without
// enforceNow a lowered limit applies at each user's next login. With it, an enforcement is
// recorded in the same transaction and then run here: every user of the plan holding more
// active sessions than its limit (and no higher override) is brought down to it, per the
// plan's policy (reject: oldest first), one user per transaction. If ctx's deadline comes
// first (or the store fails), the result says Enforcing and the purge job's next pass, on any
// process, finishes it: the change is never lost, and never has to be repeated.
func (p *Plans) Update(ctx context.Context, by models.Admin, id string, in models.PlanInput, enforceNow bool) (models.Plan, models.EnforceResult, error) {
	if !validID(id) {
		return models.Plan{}, models.EnforceResult{}, models.ErrNotFound
	}
	now := clock(p.now)
	changes, err := planChanges(in, now)
	if err != nil {
		return models.Plan{}, models.EnforceResult{}, err
	}
	var (
		plan   models.Plan
		enf    models.PlanEnforcement
		runner = newID()
	)
	err = transact(ctx, p.db, p.obs, func(tx *gorm.DB, out *ended) error {
		upd := tx.Model(&models.Plan{}).Where("id = ?", id).Updates(changes)
		if err := storeError(upd.Error); err != nil {
			return err
		}
		if upd.RowsAffected == 0 {
			return models.ErrNotFound
		}
		out.planChanged() // cached checks carry the plan: its limit, timeouts, name
		var err error
		if plan, err = planOf(tx, id); err != nil {
			return err
		}
		details := map[string]any{"enforce_now": enforceNow}
		for k, v := range changes {
			details[k] = v
		}
		delete(details, "updated_at")
		if enforceNow {
			if enf, err = startEnforcement(tx, id, by, runner, now); err != nil {
				return err
			}
			details["enforcement_id"] = enf.ID
		}
		return audit(tx, by, "plan.update", "plan", id, now, details)
	})
	if err != nil {
		return models.Plan{}, models.EnforceResult{}, fmt.Errorf("update plan %s: %w", id, err)
	}
	if !enforceNow {
		return plan, models.EnforceResult{}, nil
	}
	res, _, err := p.enforcer().run(ctx, enf, runner)
	if err == nil && (in.MaxStreams != nil || in.StreamClassLimits != nil) {
		res.Streams, err = p.enforceStreams(ctx, by, id) // the newest streams over the limit end
	}
	if err != nil {
		// Recorded with the change: the purge job finishes it.
		p.log.WarnContext(ctx, "plan enforcement interrupted", "plan_id", id, "enforcement_id", enf.ID, "err", err)
		res.Enforcing = true
	}
	p.log.InfoContext(ctx, "plan limit enforced", "plan_id", id, "enforcement_id", enf.ID,
		"users", res.Users, "sessions", res.Sessions, "enforcing", res.Enforcing)
	return plan, res, nil
}

func (p *Plans) enforcer() enforcer { return enforcer{db: p.db, obs: p.obs, now: p.now, log: p.log} }

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

// planChanges validates a patch and returns the columns it sets, with their new values.
func planChanges(in models.PlanInput, now time.Time) (map[string]any, error) {
	var p models.Plan
	if err := applyPlanInput(&p, in, now); err != nil {
		return nil, err
	}
	changes := map[string]any{"updated_at": now}
	if in.Name != nil {
		changes["name"] = p.Name
	}
	if in.MaxSessions != nil {
		changes["max_sessions"] = p.MaxSessions
	}
	if in.LimitPolicy != nil {
		changes["limit_policy"] = p.LimitPolicy
	}
	if in.IdleTimeout.Set {
		changes["idle_timeout_seconds"] = p.IdleTimeoutSeconds
	}
	if in.AbsoluteTimeout.Set {
		changes["absolute_timeout_seconds"] = p.AbsoluteTimeoutSeconds
	}
	if in.MaxStreams != nil {
		changes["max_streams"] = p.MaxStreams
	}
	if in.StreamPolicy != nil {
		changes["stream_policy"] = p.StreamPolicy
	}
	if in.StreamClassLimits != nil {
		changes["stream_class_limits"] = p.StreamClassLimits
	}
	return changes, nil
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
	applyStreamInput(plan, in, v)
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
