package services

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// Approve signs the device waiting under p.UserCode in to p.UserID's account through the one
// login core (Sessions.SignIn): the same device limit, events and
// eviction notices as a password login. On a reject plan at the limit it returns
// *models.DeviceLimitError (nothing is approved; retry with p.ReplaceSessionIDs). The session
// is stored at once; the device's next poll receives it, once.
//
// The approver's session (p.SessionID) must still be live under the user's lock: a password
// change or a disable that ended it since signs nobody in (models.ErrSessionInvalid), as does
// a disabled account (models.ErrInvalidCredentials). A code approved or denied once is done
// (models.ErrDeviceCodeInvalid), also for racing approvals in other processes: the
// authorization's row is locked and rechecked in the transaction.
func (g *DeviceGrant) Approve(ctx context.Context, p models.DeviceApproval) (models.LoginResult, error) {
	if _, err := chosenSessions("", p.ReplaceSessionIDs); err != nil {
		return models.LoginResult{}, err // before the code is looked up: a bad request is no guess
	}
	now := g.now()
	a, err := g.find(ctx, p.UserID, p.IP, p.UserCode, now)
	if err != nil {
		return models.LoginResult{}, fmt.Errorf("approve device: %w", err)
	}
	res, err := g.sessions.SignIn(ctx, SignIn{
		UserID: p.UserID, Device: a.Device(), IP: a.IP, UserAgent: a.UserAgent,
		Replace: p.ReplaceSessionIDs,
		Check: func(tx *gorm.DB, _ models.User) (bool, error) {
			if _, err := lockWaiting(tx, a.ID, now); err != nil {
				return false, err
			}
			return false, approverLive(tx, p.UserID, p.SessionID, now)
		},
		Then: func(tx *gorm.DB, res models.LoginResult) error { return approve(tx, a, p.UserID, res, now) },
	})
	g.sessions.cfg.Observer.LoginFinished(loginOutcome(err))
	if err != nil {
		return models.LoginResult{}, fmt.Errorf("approve device: %w", err)
	}
	g.cfg.Observer.DeviceGrant("approved")
	return res, nil
}

// approverLive checks, under the user's lock, that the approving session is still live.
func approverLive(tx *gorm.DB, userID, sessionID string, now time.Time) error {
	var n int64
	err := tx.Model(&models.Session{}).
		Where("id = ? AND user_id = ? AND revoked_at IS NULL AND idle_expires_at > ? AND expires_at > ?", sessionID, userID, now, now).
		Count(&n).Error
	if err != nil {
		return storeError(err)
	}
	if n == 0 {
		return models.ErrSessionInvalid
	}
	return nil
}

// approve parks the new session for the device: the session and its device key take the
// secrets only the device code derives (the core's token and key never leave the server), and
// the authorization records who approved it.
func approve(tx *gorm.DB, a models.DeviceAuthorization, userID string, res models.LoginResult, now time.Time) error {
	err := tx.Model(&models.Session{}).Where("id = ?", res.Session.ID).Update("secret_hash", a.TokenSecretHash).Error
	if err != nil {
		return storeError(err)
	}
	upd := map[string]any{"approved_by_user_id": userID, "approved_at": now, "session_id": res.Session.ID}
	if keyID, _, err := parseToken(res.DeviceKey); err == nil {
		err := tx.Model(&models.DeviceKey{}).Where("id = ?", keyID.String()).Update("secret_hash", a.DeviceKeySecretHash).Error
		if err != nil {
			return storeError(err)
		}
		upd["device_key_id"] = keyID.String()
	}
	return storeError(tx.Model(&models.DeviceAuthorization{}).Where("id = ?", a.ID).Updates(upd).Error)
}
