package services

import (
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// The login core's decision, shared by every way in (password, pending completion, identity
// providers): under the user's lock, the device limit admits the new session or refuses it.

// admission is a new session waiting for the device limit to admit it.
type admission struct {
	sess        models.Session // not yet stored; lifetimes are set by admit
	token       string
	deviceKey   string   // the device key presented, if any: given back if valid, else a new one
	chosen      []string // the sessions to sign out to make room, if any (chosenSessions)
	keepPending bool     // on a refusal, keep the login pending (LoginParams.KeepPending)
}

// admit enforces the device limit for a.sess of the user, whose row the caller has locked, and
// stores it with the device's key: the sessions a.chosen names are evicted and any of the same
// device replaced, and the policy evicts to make room or refuses. A refusal comes back as limitErr
// with a nil error, so that the caller's transaction commits its record (and the pending login,
// when asked for).
func (s *Sessions) admit(tx *gorm.DB, out *ended, user models.User, a admission, now time.Time) (models.LoginResult, *models.DeviceLimitError, error) {
	sess := a.sess
	plan, err := planOf(tx, user.PlanID)
	if err != nil {
		return models.LoginResult{}, nil, err
	}
	// Lifetimes come from the plan as it is now, under the lock.
	t := plan.Timeouts(s.cfg.Defaults)
	sess.ExpiresAt = now.Add(t.Absolute)
	sess.IdleExpiresAt = models.IdleDeadline(now, t.Idle, sess.ExpiresAt)
	active, err := activeSessions(tx, user.ID, now)
	if err != nil {
		return models.LoginResult{}, nil, err
	}
	adm, err := models.Admit(active, sess.DeviceID, a.chosen, user.EffectiveLimit(plan, now))
	var limitErr *models.DeviceLimitError
	if errors.As(err, &limitErr) {
		limitErr.Device = sess.Device()
		if a.keepPending {
			if limitErr.Pending, err = keepPending(tx, sess, now); err != nil {
				return models.LoginResult{}, nil, err
			}
			limitErr.PendingExpiresAt = now.Add(PendingLoginTTL)
		}
		// Commit the refusal to the history; the caller still gets the error.
		ev := sessionEvent(sess, models.EventLimitRejected, actorSelf(user.ID), now, map[string]any{"limit": limitErr.Limit, "must_sign_out": limitErr.MustSignOut})
		ev.SessionID = nil // the refused session never existed
		return models.LoginResult{}, limitErr, insertEvents(tx, ev)
	}
	if err != nil {
		return models.LoginResult{}, nil, err
	}
	if err := revoke(tx, out, adm.Replaced, models.ReasonReplaced, sess.ID, actorSelf(user.ID), now); err != nil {
		return models.LoginResult{}, nil, err
	}
	if err := revoke(tx, out, adm.Evicted, models.ReasonEvicted, sess.ID, actorSelf(user.ID), now); err != nil {
		return models.LoginResult{}, nil, err
	}
	if err := storeError(tx.Create(&sess).Error); err != nil {
		return models.LoginResult{}, nil, err
	}
	if err := insertEvents(tx, sessionEvent(sess, models.EventLogin, actorSelf(user.ID), now, nil)); err != nil {
		return models.LoginResult{}, nil, err
	}
	key, keyExpires, err := keepDeviceKey(tx, user.ID, sess.ID, a.deviceKey, s.cfg.DeviceKeyTTL, now)
	if err != nil {
		return models.LoginResult{}, nil, err
	}
	return models.LoginResult{
		Token: a.token, Session: sess, User: user, Evicted: adm.Evicted, DeviceKey: key, DeviceKeyExpiresAt: keyExpires,
	}, nil, nil
}
