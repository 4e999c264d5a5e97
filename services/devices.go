package services

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// List returns the user's active sessions, newest first, the limit they count against, and
// the fresh-session age under which signing out an older one needs the password.
func (s *Sessions) List(ctx context.Context, userID string) (models.DeviceList, error) {
	now := s.now()
	db := s.db.WithContext(ctx)
	var u models.User
	if err := db.Where("id = ?", userID).Take(&u).Error; err != nil {
		return models.DeviceList{}, fmt.Errorf("list sessions: %w", storeError(err))
	}
	list, err := deviceList(db, u, now)
	if err != nil {
		return models.DeviceList{}, fmt.Errorf("list sessions: %w", err)
	}
	list.FreshSessionAge, list.At = s.cfg.FreshSessionAge, now
	return list, nil
}

// deviceList returns u's active sessions, newest first, with the limit they count against.
func deviceList(db *gorm.DB, u models.User, now time.Time) (models.DeviceList, error) {
	plan, err := planOf(db, u.PlanID)
	if err != nil {
		return models.DeviceList{}, err
	}
	active, err := activeSessions(db, u.ID, now)
	if err != nil {
		return models.DeviceList{}, err
	}
	models.SortNewestFirst(active)
	return models.DeviceList{Sessions: active, Limit: u.EffectiveLimit(plan, now)}, nil
}

// Revoke signs out one of the user's other sessions (reason revoked_by_user). A session that
// is not the user's, not active or not there at all is models.ErrNotFound alike; the presenting
// session is models.ErrUseLogout. A presenting session younger than the fresh-session age
// signing out one signed in before it needs the password (Telegram's rule against stolen
// sessions): without one it is models.ErrSessionTooNew; a wrong one is that joined with
// models.ErrInvalidCredentials, checked under the account's throttle (so also
// *models.RateLimitedError). Otherwise password is not looked at.
func (s *Sessions) Revoke(ctx context.Context, userID, currentID, sessionID, password string) error {
	if sessionID == currentID {
		return models.ErrUseLogout
	}
	if !validID(sessionID) {
		return models.ErrNotFound // never reaches the store, which would refuse it as a uuid
	}
	now := s.now()
	if err := s.confirmRevoke(ctx, userID, currentID, sessionID, password, now); err != nil {
		return fmt.Errorf("revoke session %s: %w", sessionID, err)
	}
	err := transact(ctx, s.db, s.cfg.Observer, func(tx *gorm.DB, out *ended) error {
		if _, err := lockUser(tx, userID); err != nil {
			return err
		}
		var sess models.Session
		err := tx.Where("id = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ? AND idle_expires_at > ?",
			sessionID, userID, now, now).Take(&sess).Error
		if err != nil {
			return storeError(err)
		}
		return revoke(tx, out, []models.Session{sess}, models.ReasonRevokedByUser, userID, actorSelf(userID), now)
	})
	if err != nil {
		return fmt.Errorf("revoke session %s: %w", sessionID, err)
	}
	return nil
}

// confirmRevoke applies the fresh-session rule to currentID signing out the active session
// targetID, checking the password where the rule asks for it. It runs before the revocation's
// transaction, as hashing must: creation times never change, so what it decided still holds
// there. A target that is not the user's or not active is left to the transaction (not found).
func (s *Sessions) confirmRevoke(ctx context.Context, userID, currentID, targetID, password string, now time.Time) error {
	if s.cfg.FreshSessionAge <= 0 || !validID(currentID) {
		return nil
	}
	var pair []models.Session
	err := s.db.WithContext(ctx).Where("user_id = ? AND id IN ?", userID, []string{currentID, targetID}).Find(&pair).Error
	if err != nil {
		return storeError(err)
	}
	var current, target *models.Session
	for i := range pair {
		if pair[i].ID == currentID {
			current = &pair[i]
		} else {
			target = &pair[i]
		}
	}
	if current == nil || target == nil || !target.Active(now) || !models.RevokeNeedsPassword(*current, *target, s.cfg.FreshSessionAge, now) {
		return nil
	}
	if password == "" {
		return models.ErrSessionTooNew
	}
	err = verifyUserPassword(ctx, s.db, s.hasher, s.cfg.Throttle, userID, password)
	if errors.Is(err, models.ErrInvalidCredentials) {
		return fmt.Errorf("%w: %w", models.ErrSessionTooNew, err)
	}
	return err
}

// RevokeAll signs out the user's other sessions (ScopeOthers) or all of them (ScopeAll), after
// checking the password again so a stolen token alone cannot lock the owner out. It returns
// how many sessions it ended; a wrong password is models.ErrInvalidCredentials.
func (s *Sessions) RevokeAll(ctx context.Context, userID, currentID, password string, scope models.RevokeScope) (int, error) {
	if scope != models.ScopeOthers && scope != models.ScopeAll {
		return 0, models.Invalid("scope", "must be others or all")
	}
	if err := verifyUserPassword(ctx, s.db, s.hasher, s.cfg.Throttle, userID, password); err != nil {
		return 0, err
	}
	now := s.now()
	var n int
	err := transact(ctx, s.db, s.cfg.Observer, func(tx *gorm.DB, out *ended) error {
		if _, err := lockUser(tx, userID); err != nil {
			return err
		}
		active, err := activeSessions(tx, userID, now)
		if err != nil {
			return err
		}
		victims := active[:0]
		for _, a := range active {
			if scope == models.ScopeAll || a.ID != currentID {
				victims = append(victims, a)
			}
		}
		n = len(victims)
		// A sign-in held at the limit is one more device on its way in: it goes too.
		if err := dropPending(tx, userID); err != nil {
			return err
		}
		return revoke(tx, out, victims, models.ReasonRevokedByUser, userID, actorSelf(userID), now)
	})
	if err != nil {
		return 0, fmt.Errorf("revoke %s sessions of user %s: %w", scope, userID, err)
	}
	return n, nil
}

// verifyUserPassword checks password against the user's current hash, outside any transaction,
// under the account's throttle.
func verifyUserPassword(ctx context.Context, db *gorm.DB, h *Hasher, t *Throttle, userID, password string) error {
	var u models.User
	if err := db.WithContext(ctx).Select("email", "password_hash").Where("id = ?", userID).Take(&u).Error; err != nil {
		return fmt.Errorf("verify password: %w", storeError(err))
	}
	return t.verify(ctx, h, u.Email, password, u.PasswordHash)
}

// verifyPassword checks password against a stored hash, for a caller that holds a hashing
// slot; a mismatch is ErrInvalidCredentials. Absurdly long input is refused before any hashing.
func verifyPassword(h *Hasher, password, hash string) error {
	if password == "" || len(password) > 4*MaxPasswordLen {
		return models.ErrInvalidCredentials
	}
	ok, err := h.verify(password, hash)
	if err != nil {
		return err
	}
	if !ok {
		return models.ErrInvalidCredentials
	}
	return nil
}

// Page bounds of history listings.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// History returns the user's session events, newest first, limit per page (0 = default), from
// the opaque cursor before ("" = the newest). next is "" on the last page. Pages neither skip
// nor repeat events, even when several share a timestamp: the cursor is (time, id).
func (s *Sessions) History(ctx context.Context, userID string, limit int, before string) ([]models.SessionEvent, string, error) {
	if limit == 0 {
		limit = DefaultPageSize
	}
	if limit < 1 || limit > MaxPageSize {
		return nil, "", models.Invalid("limit", fmt.Sprintf("must be between 1 and %d", MaxPageSize))
	}
	q := s.db.WithContext(ctx).Where("user_id = ?", userID)
	if before != "" {
		at, id, err := decodeCursor(before)
		if err != nil {
			return nil, "", err
		}
		q = q.Where("at < ? OR (at = ? AND id < ?)", at, at, id)
	}
	var evs []models.SessionEvent
	if err := q.Order("at DESC, id DESC").Limit(limit + 1).Find(&evs).Error; err != nil {
		return nil, "", fmt.Errorf("history of user %s: %w", userID, storeError(err))
	}
	next := ""
	if len(evs) > limit {
		evs = evs[:limit]
		last := evs[limit-1]
		next = encodeCursor(last.At, last.ID)
	}
	return evs, next, nil
}

func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + "|" + id))
}

func decodeCursor(c string) (time.Time, string, error) {
	bad := models.Invalid("before", "is not a cursor from a previous page")
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", bad
	}
	ts, id, ok := strings.Cut(string(raw), "|")
	at, terr := time.Parse(time.RFC3339Nano, ts)
	if !ok || terr != nil || !validID(id) {
		return time.Time{}, "", bad
	}
	return at.UTC(), id, nil
}
