package services

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// PendingLoginTTL is how long a login held at the device limit can be completed (Resume).
const PendingLoginTTL = 10 * time.Minute

// keepPending stores the refused session's login as pending and returns its token.
func keepPending(tx *gorm.DB, sess models.Session, now time.Time) (string, error) {
	id, token, hash, err := newToken()
	if err != nil {
		return "", fmt.Errorf("new token: %w", err)
	}
	pl := models.PendingLogin{
		ID: id.String(), SecretHash: hash, UserID: sess.UserID,
		DeviceID: sess.DeviceID, DeviceName: sess.DeviceName, DeviceType: sess.DeviceType,
		IP: sess.IP, UserAgent: sess.UserAgent, CreatedAt: now, ExpiresAt: now.Add(PendingLoginTTL),
	}
	return token, storeError(tx.Create(&pl).Error)
}

// Resume completes a login that the reject policy held at the device limit (LoginParams.KeepPending),
// signing out the sessions replaceSessionIDs names to make room, without asking for the
// password again. The pending login is spent by the transaction that admits it, so it
// completes at most once. deviceKey is the device's key, if it has one (LoginParams.DeviceKey):
// given back when valid, else a new one.
//
// Errors: models.ErrPendingLoginInvalid when the token is unknown, spent or expired, or the user
// was disabled or changed password since (password changes delete pending logins);
// *models.DeviceLimitError, carrying the same pending token, when the limit still refuses (too
// few were chosen, or a chosen session ended meanwhile and another took its place);
// *models.ValidationError for malformed session ids or too many of them.
func (s *Sessions) Resume(ctx context.Context, pending string, replaceSessionIDs []string, deviceKey string) (models.LoginResult, error) {
	res, err := s.resume(ctx, pending, replaceSessionIDs, deviceKey)
	s.cfg.Observer.LoginFinished(loginOutcome(err))
	return res, err
}

func (s *Sessions) resume(ctx context.Context, pending string, replaceSessionIDs []string, deviceKey string) (models.LoginResult, error) {
	chosen, err := chosenSessions("", replaceSessionIDs)
	if err != nil {
		return models.LoginResult{}, err
	}
	// Read outside the transaction: a pending login never changes, it is only spent.
	now := s.now()
	pl, err := findPending(s.db.WithContext(ctx), pending, now)
	if err != nil {
		return models.LoginResult{}, fmt.Errorf("resume login: %w", err)
	}
	res, err := s.SignIn(ctx, SignIn{
		UserID: pl.UserID, Device: models.Device{ID: pl.DeviceID, Name: pl.DeviceName, Type: pl.DeviceType},
		IP: pl.IP, UserAgent: pl.UserAgent, DeviceKey: deviceKey, Replace: chosen,
		Check: func(tx *gorm.DB, _ models.User) (bool, error) {
			// Spend it under the user's lock: of two racing completions, the second finds it gone.
			del := tx.Where("id = ? AND expires_at > ?", pl.ID, now).Delete(&models.PendingLogin{})
			if err := storeError(del.Error); err != nil {
				return false, err
			}
			if del.RowsAffected == 0 {
				return false, models.ErrPendingLoginInvalid
			}
			return false, nil
		},
		Refused: func(_ *gorm.DB, limitErr *models.DeviceLimitError) error {
			// Still refused: roll back, which keeps the pending login for another choice.
			limitErr.Pending, limitErr.PendingExpiresAt = pending, pl.ExpiresAt
			return limitErr
		},
	})
	if errors.Is(err, models.ErrInvalidCredentials) { // disabled meanwhile
		err = models.ErrPendingLoginInvalid
	}
	if err != nil {
		return models.LoginResult{}, fmt.Errorf("resume login: %w", err)
	}
	return res, nil
}

// Held returns what a pending login waits on: the device it would sign in, the user's device
// limit, the sessions that could make room for it (newest first) and how many of them must go
// (0 when there is room now: a device signed out meanwhile), and when it expires. It is
// models.Admit's answer for the pending device, so the chooser asks for exactly what a
// completion needs. Errors as for Resume.
func (s *Sessions) Held(ctx context.Context, pending string) (models.HeldLogin, error) {
	now := s.now()
	db := s.db.WithContext(ctx)
	pl, err := findPending(db, pending, now)
	if err != nil {
		return models.HeldLogin{}, fmt.Errorf("held login: %w", err)
	}
	var u models.User
	if err := storeError(db.Where("id = ?", pl.UserID).Take(&u).Error); err != nil || u.Disabled() {
		if err == nil || errors.Is(err, models.ErrNotFound) {
			err = models.ErrPendingLoginInvalid
		}
		return models.HeldLogin{}, fmt.Errorf("held login: %w", err)
	}
	list, err := deviceList(db, u, now)
	if err != nil {
		return models.HeldLogin{}, fmt.Errorf("held login: %w", err)
	}
	held := models.HeldLogin{
		Device: models.Device{ID: pl.DeviceID, Name: pl.DeviceName, Type: pl.DeviceType},
		Limit:  list.Limit, Sessions: list.Sessions, ExpiresAt: pl.ExpiresAt,
	}
	// A session of the waiting device itself is replaced, not chosen: Admit leaves it out. An
	// evict policy (the user's changed meanwhile) makes room by itself: nothing to choose.
	var limitErr *models.DeviceLimitError
	if _, err := models.Admit(list.Sessions, pl.DeviceID, nil, list.Limit); errors.As(err, &limitErr) {
		held.Sessions, held.MustSignOut = limitErr.Sessions, limitErr.MustSignOut
	}
	return held, nil
}

// findPending returns the pending login the token names if it can still be completed.
func findPending(db *gorm.DB, token string, now time.Time) (models.PendingLogin, error) {
	pl, err := lookupPending(db, token)
	if err == nil && !now.Before(pl.ExpiresAt) {
		err = models.ErrPendingLoginInvalid
	}
	return pl, err
}

// lookupPending returns the pending login the token names, expired or not; an unknown token
// or a wrong secret is models.ErrPendingLoginInvalid.
func lookupPending(db *gorm.DB, token string) (models.PendingLogin, error) {
	id, secret, err := parseToken(token)
	if err != nil {
		return models.PendingLogin{}, models.ErrPendingLoginInvalid
	}
	var pl models.PendingLogin
	err = storeError(db.Where("id = ?", id.String()).Take(&pl).Error)
	if errors.Is(err, models.ErrNotFound) || (err == nil && !secretMatches(secret[:], pl.SecretHash)) {
		return pl, models.ErrPendingLoginInvalid
	}
	return pl, err
}

// Cancel abandons a pending login (the person chose not to sign in after all). An unknown,
// spent or expired token is no error: there is nothing left to cancel.
func (s *Sessions) Cancel(ctx context.Context, pending string) error {
	db := s.db.WithContext(ctx)
	pl, err := lookupPending(db, pending)
	if errors.Is(err, models.ErrPendingLoginInvalid) {
		return nil
	}
	if err == nil {
		err = storeError(db.Where("id = ?", pl.ID).Delete(&models.PendingLogin{}).Error)
	}
	if err != nil {
		return fmt.Errorf("cancel pending login: %w", err)
	}
	return nil
}

// dropPending deletes the user's pending logins: a bulk sign-out, a disable or a password
// change ends them with the sessions. The caller holds the user's lock.
func dropPending(tx *gorm.DB, userID string) error {
	return storeError(tx.Where("user_id = ?", userID).Delete(&models.PendingLogin{}).Error)
}
