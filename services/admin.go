package services

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// List returns users matching f, newest first, limit per page (0 = default), after the opaque
// cursor before. next is "" on the last page.
func (u *Users) List(ctx context.Context, f models.UserFilter, limit int, before string) ([]models.User, string, error) {
	if limit == 0 {
		limit = DefaultPageSize
	}
	if limit < 1 || limit > MaxPageSize {
		return nil, "", models.Invalid("limit", fmt.Sprintf("must be between 1 and %d", MaxPageSize))
	}
	q := u.db.WithContext(ctx).Model(&models.User{})
	if f.EmailPrefix != "" {
		prefix, err := normalizeEmailPrefix(f.EmailPrefix)
		if err != nil {
			return nil, "", err
		}
		q = q.Where("email LIKE ? ESCAPE '\\'", likeEscaper.Replace(prefix)+"%")
	}
	if f.PlanID != "" {
		if !validID(f.PlanID) {
			return nil, "", models.Invalid("plan_id", "is not a plan id")
		}
		q = q.Where("plan_id = ?", f.PlanID)
	}
	if before != "" {
		if !validID(before) {
			return nil, "", models.Invalid("before", "is not a cursor from a previous page")
		}
		q = q.Where("id < ?", before)
	}
	var users []models.User
	if err := q.Order("id DESC").Limit(limit + 1).Find(&users).Error; err != nil {
		return nil, "", fmt.Errorf("list users: %w", storeError(err))
	}
	next := ""
	if len(users) > limit {
		users = users[:limit]
		next = users[limit-1].ID // UUIDv7 ids sort by creation
	}
	return users, next, nil
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// Get returns the user id, or models.ErrNotFound.
func (u *Users) Get(ctx context.Context, id string) (models.User, error) {
	if !validID(id) {
		return models.User{}, models.ErrNotFound
	}
	var user models.User
	if err := u.db.WithContext(ctx).Where("id = ?", id).Take(&user).Error; err != nil {
		return models.User{}, fmt.Errorf("get user %s: %w", id, storeError(err))
	}
	return user, nil
}

// GetByEmail returns the user with this email (in any spelling NormalizeEmail takes), or
// models.ErrNotFound; *models.ValidationError when it is no email address.
func (u *Users) GetByEmail(ctx context.Context, email string) (models.User, error) {
	normal, err := NormalizeEmail(email)
	if err != nil {
		return models.User{}, err
	}
	var user models.User
	if err := u.db.WithContext(ctx).Where("email = ?", normal).Take(&user).Error; err != nil {
		return models.User{}, fmt.Errorf("get user %q: %w", email, storeError(err))
	}
	return user, nil
}

// Update applies an admin's patch to a user, under the user lock. Disabling revokes every
// session of the user (reason user_disabled) in the same transaction; a lowered override takes
// effect at the user's next login, like a lowered plan limit. Demoting or disabling the last
// enabled admin is models.ErrLastAdmin, also when two such changes race (see keepAnAdmin).
func (u *Users) Update(ctx context.Context, by models.Admin, id string, p models.UserPatch) (models.User, error) {
	if !validID(id) {
		return models.User{}, models.ErrNotFound
	}
	if err := validateUserPatch(p); err != nil {
		return models.User{}, err
	}
	now := clock(u.cfg.Now)
	var user models.User
	err := transact(ctx, u.db, u.cfg.Observer, func(tx *gorm.DB, out *ended) error {
		if err := keepAnAdmin(tx, id, p); err != nil {
			return err
		}
		var err error
		if user, err = lockUser(tx, id); err != nil {
			return err
		}
		out.userChanged(id) // cached checks carry the user: role, plan, limits, state
		changes := map[string]any{"updated_at": now}
		if p.PlanID != nil {
			if !validID(*p.PlanID) {
				return models.Invalid("plan_id", "no such plan")
			}
			if _, err := planOf(tx, *p.PlanID); errors.Is(err, models.ErrNotFound) {
				return models.Invalid("plan_id", "no such plan")
			} else if err != nil {
				return err
			}
			changes["plan_id"] = *p.PlanID
		}
		if p.MaxSessionsOverride.Set {
			changes["max_sessions_override"] = p.MaxSessionsOverride.Value
		}
		if p.MaxSessionsOverrideUntil.Set {
			changes["max_sessions_override_until"] = p.MaxSessionsOverrideUntil.Value
		}
		if p.LimitPolicyOverride.Set {
			changes["limit_policy_override"] = p.LimitPolicyOverride.Value
		}
		if p.MaxStreamsOverride.Set {
			changes["max_streams_override"] = p.MaxStreamsOverride.Value
		}
		if p.Role != nil {
			changes["role"] = *p.Role
		}
		var revoked int
		if p.Disabled != nil {
			if *p.Disabled && !user.Disabled() {
				changes["disabled_at"] = now
				active, err := liveSessions(tx, id)
				if err != nil {
					return err
				}
				revoked = len(active)
				if err := dropPending(tx, id); err != nil {
					return err
				}
				if err := revoke(tx, out, active, models.ReasonUserDisabled, by.ID, actorOf(by), now); err != nil {
					return err
				}
			} else if !*p.Disabled {
				changes["disabled_at"] = nil
			}
		}
		if err := storeError(tx.Model(&models.User{}).Where("id = ?", id).Updates(changes).Error); err != nil {
			return err
		}
		if err := storeError(tx.Where("id = ?", id).Take(&user).Error); err != nil {
			return err
		}
		delete(changes, "updated_at")
		changes["sessions_revoked"] = revoked
		return audit(tx, by, "user.update", "user", id, now, changes)
	})
	if err != nil {
		return models.User{}, fmt.Errorf("update user %s: %w", id, err)
	}
	return user, nil
}

func validateUserPatch(p models.UserPatch) error {
	v := &models.ValidationError{Fields: map[string]string{}}
	if o := p.MaxSessionsOverride; o.Set && o.Value != nil && (*o.Value < 1 || *o.Value > MaxPlanSessions) {
		v.Fields["max_sessions_override"] = fmt.Sprintf("must be between 1 and %d, or null", MaxPlanSessions)
	}
	if o := p.MaxStreamsOverride; o.Set && o.Value != nil && (*o.Value < 1 || *o.Value > MaxPlanSessions) {
		v.Fields["max_streams_override"] = fmt.Sprintf("must be between 1 and %d, or null", MaxPlanSessions)
	}
	if o := p.LimitPolicyOverride; o.Set && o.Value != nil && !o.Value.Valid() {
		v.Fields["limit_policy_override"] = "must be evict_oldest, evict_least_recent, reject or null"
	}
	if p.Role != nil && !p.Role.Valid() {
		v.Fields["role"] = "must be user or admin"
	}
	if len(v.Fields) > 0 {
		return v
	}
	return nil
}

// liveSessions returns the user's unrevoked sessions, expired or not.
func liveSessions(tx *gorm.DB, userID string) ([]models.Session, error) {
	var ss []models.Session
	err := tx.Where("user_id = ? AND revoked_at IS NULL", userID).Find(&ss).Error
	return ss, storeError(err)
}

// maxAdminSessions bounds the admin view of one user's sessions (active and retained revoked).
const maxAdminSessions = 500

// Sessions returns the user's sessions still in the store, active and recently revoked (with
// their reasons), newest first; models.ErrNotFound for an unknown user.
func (u *Users) Sessions(ctx context.Context, userID string) ([]models.Session, error) {
	if _, err := u.Get(ctx, userID); err != nil {
		return nil, err
	}
	var ss []models.Session
	err := u.db.WithContext(ctx).Where("user_id = ?", userID).Order("created_at DESC, id DESC").Limit(maxAdminSessions).Find(&ss).Error
	if err != nil {
		return nil, fmt.Errorf("sessions of user %s: %w", userID, storeError(err))
	}
	return ss, nil
}

// RevokeSession signs out any user's session (reason revoked_by_admin); models.ErrNotFound
// when it is absent or already revoked.
func (u *Users) RevokeSession(ctx context.Context, by models.Admin, sessionID string) error {
	if !validID(sessionID) {
		return models.ErrNotFound
	}
	now := clock(u.cfg.Now)
	err := transact(ctx, u.db, u.cfg.Observer, func(tx *gorm.DB, out *ended) error {
		var owner string
		if err := tx.Model(&models.Session{}).Where("id = ?", sessionID).Pluck("user_id", &owner).Error; err != nil {
			return storeError(err)
		}
		if owner == "" {
			return models.ErrNotFound
		}
		if _, err := lockUser(tx, owner); err != nil { // user first, then the session
			return err
		}
		var s models.Session
		if err := tx.Where("id = ? AND revoked_at IS NULL", sessionID).Take(&s).Error; err != nil {
			return storeError(err)
		}
		if err := revoke(tx, out, []models.Session{s}, models.ReasonRevokedByAdmin, by.ID, actorOf(by), now); err != nil {
			return err
		}
		return audit(tx, by, "session.revoke", "session", sessionID, now, map[string]any{"user_id": s.UserID})
	})
	if err != nil {
		return fmt.Errorf("admin revoke session %s: %w", sessionID, err)
	}
	return nil
}

// RevokeSessions signs out every session of the user (reason revoked_by_admin) and returns how
// many; models.ErrNotFound for an unknown user.
func (u *Users) RevokeSessions(ctx context.Context, by models.Admin, userID string) (int, error) {
	if !validID(userID) {
		return 0, models.ErrNotFound
	}
	now := clock(u.cfg.Now)
	var n int
	err := transact(ctx, u.db, u.cfg.Observer, func(tx *gorm.DB, out *ended) error {
		if _, err := lockUser(tx, userID); err != nil {
			return err
		}
		live, err := liveSessions(tx, userID)
		if err != nil {
			return err
		}
		n = len(live)
		if err := dropPending(tx, userID); err != nil {
			return err
		}
		if err := revoke(tx, out, live, models.ReasonRevokedByAdmin, by.ID, actorOf(by), now); err != nil {
			return err
		}
		return audit(tx, by, "user.sessions.revoke", "user", userID, now, map[string]any{"sessions_revoked": n})
	})
	if err != nil {
		return 0, fmt.Errorf("admin revoke sessions of user %s: %w", userID, err)
	}
	return n, nil
}

// Unlock clears the user's failed-login count and any lock the login throttle holds on the
// account, so that they can sign in again at once.
func (u *Users) Unlock(ctx context.Context, by models.Admin, userID string) error {
	user, err := u.Get(ctx, userID)
	if err != nil {
		return err
	}
	if err := u.cfg.Throttle.Reset(ctx, user.Email); err != nil {
		return err
	}
	err = u.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return audit(tx, by, "user.unlock", "user", userID, clock(u.cfg.Now), nil)
	})
	if err != nil {
		return fmt.Errorf("admin unlock user %s: %w", userID, err)
	}
	return nil
}

// SetPlan moves the user with this email to the plan called planName (the command line's
// `users set-plan`).
func (u *Users) SetPlan(ctx context.Context, by models.Admin, email, planName string) (models.User, error) {
	user, err := u.GetByEmail(ctx, email)
	if err != nil {
		return models.User{}, err
	}
	var plan models.Plan
	if err := u.db.WithContext(ctx).Where("name = ?", nameKey(planName)).Take(&plan).Error; err != nil {
		return models.User{}, fmt.Errorf("plan %q: %w", planName, storeError(err))
	}
	return u.Update(ctx, by, user.ID, models.UserPatch{PlanID: &plan.ID})
}
