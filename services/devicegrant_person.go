package services

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// The person's side of the device grant: what is asking (Waiting), and the answer (Approve,
// Deny). A user code is short on purpose (RFC 8628 §5.1), so wrong ones are limited per user
// and per address: a code is looked up only while both are under their rate, and every code
// that names no device (or cannot be a code) counts against both.

// Waiting returns the device waiting for approval under userCode (any case, with or without
// the hyphen), as the signed-in userID at ip asks. Errors: models.ErrDeviceCodeInvalid
// (unknown, expired, answered), *models.ValidationError for a code of another shape,
// *models.RateLimitedError past the rate of wrong codes.
func (g *DeviceGrant) Waiting(ctx context.Context, userID, ip, userCode string) (models.DeviceAuthorization, error) {
	a, err := g.find(ctx, userID, ip, userCode, g.now())
	if err != nil {
		return models.DeviceAuthorization{}, fmt.Errorf("device waiting: %w", err)
	}
	return a, nil
}

// find looks up the waiting authorization of userCode at now, under the guessing limits.
func (g *DeviceGrant) find(ctx context.Context, userID, ip, userCode string, now time.Time) (models.DeviceAuthorization, error) {
	keys := []string{"device-guess-user:" + userID, "device-guess-ip:" + addressKey(ip)}
	for _, k := range keys {
		if err := g.limit(ctx, g.guesses, k, 0); err != nil {
			return models.DeviceAuthorization{}, err
		}
	}
	wrong := func(err error) (models.DeviceAuthorization, error) {
		for _, k := range keys {
			if lerr := g.limit(ctx, g.guesses, k, 1); lerr != nil {
				var limited *models.RateLimitedError
				if !errors.As(lerr, &limited) {
					return models.DeviceAuthorization{}, lerr
				}
			}
		}
		return models.DeviceAuthorization{}, err
	}
	code, ok := models.NormalizeUserCode(userCode)
	if !ok {
		return wrong(models.Invalid("user_code", "must be 8 letters of "+models.UserCodeAlphabet+", as XXXX-XXXX"))
	}
	var a models.DeviceAuthorization
	err := storeError(g.db.WithContext(ctx).Where("user_code = ?", code).Take(&a).Error)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return wrong(models.ErrDeviceCodeInvalid)
	case err == nil && !a.Pending(now):
		// A code that exists but was answered or expired is no guess (it tells a guesser
		// nothing): a second phone, a double click, an approval that lost a race.
		return models.DeviceAuthorization{}, models.ErrDeviceCodeInvalid
	}
	return a, err
}

// Deny refuses the device waiting under p.UserCode: its next poll is access_denied. A code
// answered once is done: denying it again, or approving it, is models.ErrDeviceCodeInvalid.
func (g *DeviceGrant) Deny(ctx context.Context, p models.DeviceApproval) error {
	now := g.now()
	a, err := g.find(ctx, p.UserID, p.IP, p.UserCode, now)
	if err != nil {
		return fmt.Errorf("deny device: %w", err)
	}
	res := g.db.WithContext(ctx).Model(&models.DeviceAuthorization{}).
		Where("id = ? AND approved_at IS NULL AND denied_at IS NULL AND expires_at > ?", a.ID, now).
		Updates(map[string]any{"denied_at": now})
	if err := storeError(res.Error); err != nil {
		return fmt.Errorf("deny device: %w", err)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("deny device: %w", models.ErrDeviceCodeInvalid)
	}
	g.cfg.Observer.DeviceGrant("denied")
	return nil
}

// lockWaiting locks authorization id and returns it if it still waits at now (the approval's
// check under the user's lock: of racing approvals, the first commits, the rest find it answered).
func lockWaiting(tx *gorm.DB, id string, now time.Time) (models.DeviceAuthorization, error) {
	var a models.DeviceAuthorization
	err := storeError(tx.Clauses(lockForUpdate).Where("id = ?", id).Take(&a).Error)
	if errors.Is(err, models.ErrNotFound) || (err == nil && !a.Pending(now)) {
		return a, models.ErrDeviceCodeInvalid
	}
	return a, err
}
