package services

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// MaxDisplayNameLen bounds a display name, in characters.
const MaxDisplayNameLen = 100

// UsersConfig configures account creation.
type UsersConfig struct {
	Throttle         *Throttle // rate-limits sign-ups per address and password re-checks; nil: none
	Observer         Observer  // hears of sessions ended; nil: nobody
	DefaultPlan      string    // plan name given to new accounts
	RegistrationOpen bool
	Now              func() time.Time // nil = time.Now
	// Verification (SESSIOND_EMAIL_VERIFICATION): unless off, sign-up mails a verification
	// link built on PublicURL, in the sign-up's transaction.
	Verification models.VerificationMode
	PublicURL    *url.URL
}

// Users creates and looks up accounts.
type Users struct {
	db     *gorm.DB
	hasher *Hasher
	cfg    UsersConfig
}

// NewUsers returns the account use cases over db.
func NewUsers(db *gorm.DB, hasher *Hasher, cfg UsersConfig) *Users {
	cfg.Observer = observerOr(cfg.Observer)
	return &Users{db: db, hasher: hasher, cfg: cfg}
}

// Register creates a user account on the default plan. It returns models.ErrRegistrationClosed
// when sign-up is off, *models.ValidationError or *models.WeakPasswordError for bad input, and
// models.ErrConflict when the email is taken.
func (u *Users) Register(ctx context.Context, p models.RegisterParams) (models.User, error) {
	if !u.cfg.RegistrationOpen {
		return models.User{}, models.ErrRegistrationClosed
	}
	return u.create(ctx, p, models.RoleUser)
}

// CreateAdmin creates an account with role admin, whatever the registration setting.
// Errors are those of Register, but for ErrRegistrationClosed.
func (u *Users) CreateAdmin(ctx context.Context, email, password string) (models.User, error) {
	return u.create(ctx, models.RegisterParams{Email: email, Password: password}, models.RoleAdmin)
}

// EnsureAdmin creates the admin account email unless an account with that email exists; an
// existing account is left exactly as it is. It reports whether it created one.
func (u *Users) EnsureAdmin(ctx context.Context, email, password string) (bool, error) {
	_, err := u.CreateAdmin(ctx, email, password)
	switch {
	case errors.Is(err, models.ErrConflict):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

func (u *Users) create(ctx context.Context, p models.RegisterParams, role models.Role) (models.User, error) {
	email, err := NormalizeEmail(p.Email)
	if err != nil {
		return models.User{}, err
	}
	name, err := cleanText("display_name", p.DisplayName, MaxDisplayNameLen)
	if err != nil {
		return models.User{}, err
	}
	if err := checkPasswordPolicy(p.Password, email); err != nil {
		return models.User{}, err
	}
	if err := u.cfg.Throttle.allowAddress(ctx, p.IP); err != nil { // each sign-up costs a hash
		return models.User{}, err
	}
	hash, err := u.hasher.Hash(ctx, p.Password) // before touching the store: hashing is slow
	if err != nil {
		return models.User{}, err
	}
	now := clock(u.cfg.Now)
	// An account the operator makes (an admin) is vouched for by the operator: verification
	// required must not lock the first admin out.
	user := models.User{
		ID: newID(), Email: email, PasswordHash: hash, DisplayName: name, Role: role,
		EmailVerified: role == models.RoleAdmin, CreatedAt: now, UpdatedAt: now,
	}
	err = u.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := createUser(tx, &user, u.cfg.DefaultPlan); err != nil || user.EmailVerified {
			return err
		}
		return mailVerification(tx, u.cfg.Verification, u.cfg.PublicURL, user, now)
	})
	if err != nil {
		return models.User{}, fmt.Errorf("create user: %w", err)
	}
	return user, nil
}

// createUser stores a new account on the named plan. Every way an account is made (sign-up,
// the bootstrap admin, a first sign-in through a provider) comes through here.
func createUser(tx *gorm.DB, u *models.User, plan string) error {
	var p models.Plan
	if err := storeError(tx.Where("name = ?", plan).Take(&p).Error); err != nil {
		return err
	}
	u.PlanID = p.ID
	return storeError(tx.Create(u).Error)
}

// CheckDefaultPlan returns an error unless the configured default plan exists; serve calls it
// at start so a typo fails loudly instead of at the first sign-up.
func (u *Users) CheckDefaultPlan(ctx context.Context) error {
	var n int64
	if err := u.db.WithContext(ctx).Model(&models.Plan{}).Where("name = ?", u.cfg.DefaultPlan).Count(&n).Error; err != nil {
		return fmt.Errorf("check default plan: %w", storeError(err))
	}
	if n == 0 {
		return fmt.Errorf("default plan %q does not exist", u.cfg.DefaultPlan)
	}
	return nil
}

// ChangePassword replaces the user's password after checking the current one
// (models.ErrInvalidCredentials when wrong) and the policy for the new one
// (*models.WeakPasswordError). Unless signOutOthers is false, every other session of the user
// is revoked (reason password_changed) in the same transaction, and every device key but the
// presenting device's is deleted; the presenting session stays.
func (u *Users) ChangePassword(ctx context.Context, userID, currentSessionID, current, next string, signOutOthers bool) error {
	var user models.User
	if err := u.db.WithContext(ctx).Where("id = ?", userID).Take(&user).Error; err != nil {
		return fmt.Errorf("change password: %w", storeError(err))
	}
	if err := checkPasswordPolicy(next, user.Email); err != nil {
		return err
	}
	if err := u.cfg.Throttle.verify(ctx, u.hasher, user.Email, current, user.PasswordHash); err != nil {
		return err
	}
	hash, err := u.hasher.Hash(ctx, next) // outside the transaction: hashing is slow
	if err != nil {
		return err
	}
	now := clock(u.cfg.Now)
	err = transact(ctx, u.db, u.cfg.Observer, func(tx *gorm.DB, out *ended) error {
		locked, err := lockUser(tx, userID)
		if err != nil {
			return err
		}
		if locked.PasswordHash != user.PasswordHash {
			return models.ErrInvalidCredentials // changed meanwhile: current was checked against the old one
		}
		err = tx.Model(&models.User{}).Where("id = ?", userID).
			Updates(map[string]any{"password_hash": hash, "updated_at": now}).Error
		if err != nil {
			return storeError(err)
		}
		out.userChanged(userID)
		// A login held at the device limit was proved with the old password: it cannot complete.
		if err := dropPending(tx, userID); err != nil {
			return err
		}
		var others []models.Session
		if signOutOthers {
			err := tx.Where("user_id = ? AND revoked_at IS NULL AND id <> ?", userID, currentSessionID).Find(&others).Error
			if err != nil {
				return storeError(err)
			}
		}
		if err := revoke(tx, out, others, models.ReasonPasswordChanged, userID, actorSelf(userID), now); err != nil {
			return err
		}
		// Signed out, the other devices stop counting as known too (only this one's key stays).
		if signOutOthers {
			if err := voidDeviceKeys(tx, userID, currentSessionID); err != nil {
				return err
			}
		}
		var cur models.Session
		if err := tx.Where("id = ?", currentSessionID).Take(&cur).Error; err != nil {
			return storeError(err)
		}
		return insertEvents(tx, sessionEvent(cur, models.EventPasswordChanged, actorSelf(userID), now,
			map[string]any{"signed_out_sessions": len(others)}))
	})
	if err != nil {
		return fmt.Errorf("change password of user %s: %w", userID, err)
	}
	return nil
}
