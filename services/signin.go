package services

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// SignIn is what a way in (password, identity provider, a login held at the limit, TV code,
// recovery) hands the login core once it knows who signs in.
type SignIn struct {
	// UserID is who signs in; when empty, Who finds (or creates) the user inside the
	// transaction, before the lock.
	UserID string
	Who    func(tx *gorm.DB) (string, error)

	Device                   models.Device // checked by validateDevice
	IP, UserAgent, DeviceKey string        // DeviceKey: the device's key, if any: given back when valid, else a new one
	Replace                  []string      // sessions the person chose to sign out to make room
	KeepPending              bool          // on a refusal, keep the login pending (LoginParams.KeepPending)

	// Check runs under the user's lock, before the limit: a way in refuses here what changed
	// while it worked outside the transaction (a password changed while hashing), or writes
	// what belongs to the user (an identity). userChanged: what it wrote shows in checks of the
	// user's sessions, so cached ones are dropped.
	Check func(tx *gorm.DB, user models.User) (userChanged bool, err error)
	// Refused runs when the limit refuses the device. Its error rolls the transaction back and
	// is returned; nil commits the refusal to the history and returns limit.
	Refused func(tx *gorm.DB, limit *models.DeviceLimitError) error
	// Then runs after the session is stored, in the same transaction.
	Then func(tx *gorm.DB, res models.LoginResult) error
}

// SignIn is the login core every way in ends in: in one transaction it locks the user's row,
// refuses a disabled account, runs in.Check, applies the device limit (evicting, replacing, or
// refusing with *models.DeviceLimitError) and stores the session, its events and the device's
// key. The caller reports the attempt to the observer.
//
// Concurrency: the limit holds across any number of processes because the decision is taken
// under a lock on the user's row (SQLite: the database write lock taken at BEGIN IMMEDIATE).
func (s *Sessions) SignIn(ctx context.Context, in SignIn) (models.LoginResult, error) {
	if in.UserID == "" && in.Who == nil {
		return models.LoginResult{}, errors.New("sign in: neither UserID nor Who says who signs in")
	}
	device, err := validateDevice(in.Device)
	if err != nil {
		return models.LoginResult{}, err
	}
	chosen, err := chosenSessions("", in.Replace)
	if err != nil {
		return models.LoginResult{}, err
	}
	now := s.now()
	var (
		res      models.LoginResult
		limitErr *models.DeviceLimitError
	)
	err = transact(ctx, s.db, s.cfg.Observer, func(tx *gorm.DB, out *ended) error {
		userID := in.UserID
		if userID == "" {
			if userID, err = in.Who(tx); err != nil {
				return err
			}
		}
		// Serialise this user's logins: otherwise two could both see a free slot. Lock order
		// as everywhere: the user first, then what hangs off it (identities, sessions).
		locked, err := lockUser(tx, userID)
		if err != nil {
			return err
		}
		if locked.Disabled() {
			return models.ErrInvalidCredentials
		}
		if in.Check != nil {
			changed, err := in.Check(tx, locked)
			if err != nil {
				return err
			}
			if changed {
				out.userChanged(locked.ID)
			}
		}
		sess, token, err := s.newSession(locked.ID, device, in.IP, in.UserAgent, now)
		if err != nil {
			return err
		}
		res, limitErr, err = s.seat(tx, out, locked, admission{
			sess: sess, token: token, deviceKey: in.DeviceKey, chosen: chosen, keepPending: in.KeepPending,
		}, now)
		switch {
		case err != nil:
			return err
		case limitErr != nil && in.Refused != nil:
			return in.Refused(tx, limitErr)
		case limitErr == nil && in.Then != nil:
			return in.Then(tx, res)
		}
		return nil
	})
	if err == nil && limitErr != nil {
		err = limitErr
	}
	if err != nil {
		return models.LoginResult{}, err
	}
	return res, nil
}

// admission is a new session waiting for the device limit to seat it.
type admission struct {
	sess        models.Session // not yet stored; lifetimes are set by seat
	token       string
	deviceKey   string   // the device key presented, if any: given back if valid, else a new one
	chosen      []string // the sessions to sign out to make room, if any (chosenSessions)
	keepPending bool     // on a refusal, keep the login pending (LoginParams.KeepPending)
}

// seat enforces the device limit for a.sess of the user, whose row the caller has locked, and
// stores it with the device's key: the sessions a.chosen names are evicted and any of the same
// device replaced, and the policy evicts to make room or refuses (models.Admit decides). A
// refusal comes back as limitErr with a nil error, so that the caller's transaction commits its
// record (and the pending login, when asked for).
func (s *Sessions) seat(tx *gorm.DB, out *ended, user models.User, a admission, now time.Time) (models.LoginResult, *models.DeviceLimitError, error) {
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
