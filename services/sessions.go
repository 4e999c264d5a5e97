package services

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/store"
)

// Bounds of the device fields a client sends.
const (
	MaxDeviceIDLen   = 128
	MaxDeviceNameLen = 100
	maxUserAgentLen  = 512
	defaultDevice    = "Unnamed device"
)

// SessionsConfig configures session lifetimes.
type SessionsConfig struct {
	Defaults      models.Timeouts     // where a plan sets none
	TouchInterval time.Duration       // last_seen_at is written at most this often per session
	Throttle      *Throttle           // counts failed logins; nil: none (tests)
	Observer      Observer            // hears of logins and sessions ended; nil: nobody
	Cache         *store.SessionCache // validated sessions kept in memory; nil: every check asks the store
	Now           func() time.Time
	Log           *slog.Logger

	DeviceKeyTTL time.Duration // a device key unused this long expires; 0: DefaultDeviceKeyTTL
	// FreshSessionAge: a session younger than this needs the password to sign out an older
	// one (Revoke); 0: never.
	FreshSessionAge time.Duration

	Streams StreamsConfig // stream leases (issue 22)
}

// Sessions logs devices in under their user's device limit and checks their tokens.
type Sessions struct {
	db     *gorm.DB
	hasher *Hasher
	cfg    SessionsConfig
}

// NewSessions returns the session use cases over db.
func NewSessions(db *gorm.DB, hasher *Hasher, cfg SessionsConfig) *Sessions {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cfg.Observer = observerOr(cfg.Observer)
	if cfg.DeviceKeyTTL <= 0 {
		cfg.DeviceKeyTTL = DefaultDeviceKeyTTL
	}
	return &Sessions{db: db, hasher: hasher, cfg: cfg}
}

func (s *Sessions) now() time.Time { return clock(s.cfg.Now) }

// Login checks the credentials, enforces the device limit and returns the new session with its
// token. It returns models.ErrInvalidCredentials for a wrong email or password or a disabled
// account (the same error, after the same hashing work), *models.ValidationError for a bad
// device, and *models.DeviceLimitError when the reject policy refuses the device.
//
// Concurrency: the limit holds across any number of processes because the decision is taken
// under a lock on the user's row (SQLite: the database write lock taken at BEGIN IMMEDIATE).
func (s *Sessions) Login(ctx context.Context, p models.LoginParams) (models.LoginResult, error) {
	res, err := s.login(ctx, p)
	s.cfg.Observer.LoginFinished(loginOutcome(err))
	return res, err
}

func (s *Sessions) login(ctx context.Context, p models.LoginParams) (models.LoginResult, error) {
	device, err := validateDevice(p.Device)
	if err != nil {
		return models.LoginResult{}, err
	}
	chosen, err := chosenSessions(p.ReplaceSessionID, p.ReplaceSessionIDs)
	if err != nil {
		return models.LoginResult{}, err
	}
	if err := s.cfg.Throttle.allowAddress(ctx, p.IP); err != nil {
		return models.LoginResult{}, err
	}
	user, attempt, err := s.checkPassword(ctx, p.Email, p.Password, p.DeviceKey) // outside the transaction: hashing is slow
	if err != nil {
		return models.LoginResult{}, err
	}
	res, err := s.SignIn(ctx, SignIn{
		UserID: user.ID, Device: device, IP: p.IP, UserAgent: p.UserAgent, DeviceKey: p.DeviceKey,
		Replace: chosen, KeepPending: p.KeepPending,
		Check: func(tx *gorm.DB, locked models.User) (bool, error) {
			// The password changed while we were hashing: the check no longer holds.
			if locked.PasswordHash != user.PasswordHash {
				return false, models.ErrInvalidCredentials
			}
			// The password was right, whether or not the device limit seats the device: a
			// refusal at the limit is not a failed attempt. Cleared in this transaction.
			return false, s.cfg.Throttle.succeededIn(tx, attempt)
		},
	})
	if err != nil {
		return models.LoginResult{}, fmt.Errorf("login user %s: %w", user.ID, err)
	}
	return res, nil
}

// checkPassword returns the active user with this email and password, after the throttle has
// counted the attempt (under the device key, when it is a valid one of this account). Unknown
// emails are throttled alike and verified against a dummy hash, so every failure costs the
// same and reads the same, as does a locked account or device key, and an email NormalizeEmail
// refuses (no account has it: it is counted under itself). The hashing slot comes first: a
// login the full queue refuses (models.ErrOverloaded), or whose deadline passes while it
// waits, is neither counted nor hashed.
func (s *Sessions) checkPassword(ctx context.Context, raw, password, deviceKey string) (models.User, loginAttempt, error) {
	email, malformed := accountEmail(raw)
	release, err := s.hasher.acquire(ctx)
	if err != nil {
		return models.User{}, loginAttempt{}, err
	}
	defer release()
	attempt, err := s.cfg.Throttle.allowLogin(ctx, email, deviceKey)
	if err != nil {
		return models.User{}, attempt, err
	}
	if password == "" || utf8.RuneCountInString(password) > MaxPasswordLen {
		return models.User{}, attempt, models.ErrInvalidCredentials // no password that long was ever accepted
	}
	var user models.User
	err = models.ErrNotFound
	if malformed == nil { // only an address reaches the store (Postgres refuses a NUL in text)
		err = storeError(s.db.WithContext(ctx).Where("email = ?", email).Take(&user).Error)
	}
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return models.User{}, attempt, fmt.Errorf("find user: %w", err)
	}
	ok, verr := s.hasher.verify(password, user.PasswordHash) // "" when not found: dummy hash
	if verr != nil {
		return models.User{}, attempt, verr
	}
	if !ok || err != nil || user.Disabled() || attempt.locked {
		return models.User{}, attempt, models.ErrInvalidCredentials
	}
	return user, attempt, nil
}

func (s *Sessions) newSession(userID string, d models.Device, ip, userAgent string, now time.Time) (models.Session, string, error) {
	id, token, hash, err := newToken()
	if err != nil {
		return models.Session{}, "", fmt.Errorf("new token: %w", err)
	}
	return models.Session{
		ID: id.String(), UserID: userID, SecretHash: hash,
		DeviceID: d.ID, DeviceName: d.Name, DeviceType: d.Type,
		IP: cleanHeader(ip, 64), UserAgent: cleanHeader(userAgent, maxUserAgentLen),
		CreatedAt: now, LastSeenAt: now,
	}, token, nil
}

// Authenticate checks a token and returns who presented it. Errors: models.ErrSessionInvalid
// (malformed, unknown, wrong secret), models.ErrSessionExpired, *models.SessionEvictedError,
// *models.SessionRevokedError, models.ErrUnavailable when the store cannot be asked.
// last_seen_at (and with it the idle deadline) is written at most once per touch interval.
//
// Every caller gets a principal of its own (models.Principal.Clone): the cache's entry is
// shared by every check of the session, and nothing handed out can write through to it.
func (s *Sessions) Authenticate(ctx context.Context, token string) (*models.Principal, error) {
	id, secret, err := parseToken(token)
	if err != nil {
		return nil, err
	}
	now, sid := s.now(), id.String()
	cached, gen, hit := s.cfg.Cache.Lookup(sid)
	if hit && !cached.Session.Expired(now) { // an expired one goes to the store, which records it
		if !secretMatches(secret[:], cached.Session.SecretHash) {
			return nil, models.ErrSessionInvalid
		}
		if !s.touchDue(cached, now) {
			return cached.Clone(), nil
		}
		touched := *cached // the cached one is shared: never written
		// A GORM session (WithContext) only where the store is written: one costs a tenth
		// of a cached check.
		if s.touch(s.db.WithContext(ctx), &touched, now) {
			s.cfg.Cache.Put(&touched, gen)
			return touched.Clone(), nil
		}
		// The touch changed nothing: revoked meanwhile, or touched by another process. Do
		// not trust the entry; ask the store.
		s.cfg.Cache.DropSessions([]string{cached.Session.ID})
		gen = s.cfg.Cache.Generation()
	}
	pr := new(models.Principal)
	err = store.LoadPrincipal(ctx, s.db, sid, pr)
	if errors.Is(err, models.ErrNotFound) {
		return nil, models.ErrSessionInvalid
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	sess := pr.Session
	if !secretMatches(secret[:], sess.SecretHash) {
		return nil, models.ErrSessionInvalid
	}
	if sess.Revoked() {
		return nil, revokedError(s.db.WithContext(ctx), *pr, now)
	}
	if pr.User.Disabled() {
		return nil, &models.SessionRevokedError{Reason: models.ReasonUserDisabled, RevokedAt: *pr.User.DisabledAt}
	}
	if sess.Expired(now) {
		noteExpired(s.db.WithContext(ctx), sess, now, s.cfg.Log)
		return nil, models.ErrSessionExpired
	}
	if s.touchDue(pr, now) {
		s.touch(s.db.WithContext(ctx), pr, now)
	}
	s.cfg.Cache.Put(pr, gen)
	return pr.Clone(), nil
}

// touchInterval is how often a session's last_seen_at is written: the configured interval, but
// at least twice per idle timeout, so a session in use never idles out between touches.
func (s *Sessions) touchInterval(p *models.Principal) (idle, interval time.Duration) {
	idle = p.Plan.Timeouts(s.cfg.Defaults).Idle
	return idle, min(s.cfg.TouchInterval, idle/2)
}

func (s *Sessions) touchDue(p *models.Principal, now time.Time) bool {
	_, interval := s.touchInterval(p)
	return now.Sub(p.Session.LastSeenAt) >= interval
}

// touch slides the idle deadline of p's session forward by the idle timeout (capped by its
// absolute expiry). The compare-and-set on last_seen_at makes concurrent checks of one session
// (in any process) write once per interval. A failed touch does not fail the check already done.
// It reports whether it wrote: false also when the session was revoked meanwhile.
func (s *Sessions) touch(db *gorm.DB, p *models.Principal, now time.Time) bool {
	idle, interval := s.touchInterval(p)
	sess := &p.Session
	deadline := models.IdleDeadline(now, idle, sess.ExpiresAt)
	res := db.Model(&models.Session{}).
		Where("id = ? AND revoked_at IS NULL AND last_seen_at <= ?", sess.ID, now.Add(-interval)).
		Updates(map[string]any{"last_seen_at": now, "idle_expires_at": deadline})
	if res.Error != nil {
		s.cfg.Log.WarnContext(db.Statement.Context, "session touch failed", "session_id", sess.ID, "err", res.Error)
		return false
	}
	if res.RowsAffected == 0 {
		return false
	}
	sess.LastSeenAt, sess.IdleExpiresAt = now, deadline
	return true
}

// noteExpired records the session's expiry in its history, once: the unique index on expired
// events turns every later attempt into a no-op. Failing to record it does not change the answer.
func noteExpired(db *gorm.DB, sess models.Session, now time.Time, log *slog.Logger) {
	reason := "idle"
	if !now.Before(sess.ExpiresAt) {
		reason = "absolute"
	}
	ev := sessionEvent(sess, models.EventExpired, actor{kind: models.ActorSystem}, now, map[string]any{"timeout": reason})
	if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&ev).Error; err != nil {
		log.WarnContext(db.Statement.Context, "record session expiry failed", "session_id", sess.ID, "err", err)
	}
}

// Logout revokes the presenting session (reason logout).
func (s *Sessions) Logout(ctx context.Context, userID, sessionID string) error {
	now := s.now()
	err := transact(ctx, s.db, s.cfg.Observer, func(tx *gorm.DB, out *ended) error {
		if _, err := lockUser(tx, userID); err != nil {
			return err
		}
		var sess models.Session
		err := tx.Where("id = ? AND user_id = ? AND revoked_at IS NULL", sessionID, userID).Take(&sess).Error
		if err != nil {
			return storeError(err)
		}
		return revoke(tx, out, []models.Session{sess}, models.ReasonLogout, sessionID, actorSelf(userID), now)
	})
	if err != nil {
		return fmt.Errorf("logout session %s: %w", sessionID, err)
	}
	return nil
}

// revokedError explains the revoked session of p: who evicted it, or why it was revoked. p's
// user and plan come with it from the lookup: the limit as it stands now, which is what the
// person can act on.
func revokedError(db *gorm.DB, p models.Principal, now time.Time) error {
	sess := p.Session
	reason := *sess.RevokeReason
	if reason != models.ReasonEvicted {
		return &models.SessionRevokedError{Reason: reason, RevokedAt: *sess.RevokedAt}
	}
	e := &models.SessionEvictedError{EvictedAt: *sess.RevokedAt, Limit: p.User.EffectiveLimit(p.Plan, now).Max}
	if sess.RevokedBy != nil {
		// The newcomer may itself be purged by now; then the name is simply unknown.
		var by models.Session
		if err := db.Select("device_name").Where("id = ?", *sess.RevokedBy).Take(&by).Error; err == nil {
			e.ByDeviceName = by.DeviceName
		}
	}
	return e
}

// lockUser locks the user's row until the transaction ends and returns it fresh. Every use case
// that revokes or seats a user's sessions takes it first (lock order: user, then sessions).
// NO KEY UPDATE, not UPDATE: it still serialises these use cases, but does not block the
// FOR KEY SHARE that inserting an event (foreign key to users) takes, which would deadlock.
// On SQLite the clause is dropped by the driver: the immediate transaction holds the lock.
func lockUser(tx *gorm.DB, userID string) (models.User, error) {
	var u models.User
	err := tx.Clauses(clause.Locking{Strength: "NO KEY UPDATE"}).Where("id = ?", userID).Take(&u).Error
	return u, storeError(err)
}

func planOf(tx *gorm.DB, planID string) (models.Plan, error) {
	var p models.Plan
	return p, storeError(tx.Where("id = ?", planID).Take(&p).Error)
}

// activeSessions returns the user's sessions that are neither revoked nor expired at now,
// oldest first. Expired but unrevoked sessions do not count against the limit.
func activeSessions(tx *gorm.DB, userID string, now time.Time) ([]models.Session, error) {
	var ss []models.Session
	err := tx.Where("user_id = ? AND revoked_at IS NULL AND idle_expires_at > ? AND expires_at > ?", userID, now, now).
		Order("created_at, id").Find(&ss).Error
	return ss, storeError(err)
}
