package services

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/throttled/throttled/v2"
	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// ThrottleConfig says how hard password guessing is slowed down. All state lives in the
// database, so the limits hold across every process on it.
type ThrottleConfig struct {
	FreeFailures int           // consecutive failed logins of an account without any delay
	BaseDelay    time.Duration // the delay after the first failure past them, doubling after each
	MaxDelay     time.Duration // the cap of that delay
	LockAfter    int           // consecutive failures that lock the account until a reset
	Window       time.Duration // a count left alone this long starts again (a lock never does)
	IPRate       int           // login and sign-up attempts per minute per client address; 0: no limit
	IPBurst      int           // attempts a client address may make at once beyond the rate
	Now          func() time.Time
}

// The throttle's two constants. They are not settings (the settings, and their defaults,
// are config's SESSIOND_LOGIN_*): the first delay is the unit the doubling starts from, and
// a day without failures is what makes a count stale.
const (
	ThrottleBaseDelay = time.Second    // ThrottleConfig.BaseDelay when zero
	ThrottleWindow    = 24 * time.Hour // ThrottleConfig.Window when zero
)

func (c ThrottleConfig) withConstants() ThrottleConfig {
	if c.BaseDelay == 0 {
		c.BaseDelay = ThrottleBaseDelay
	}
	if c.Window == 0 {
		c.Window = ThrottleWindow
	}
	return c
}

// Throttle counts login attempts per account and per client address.
type Throttle struct {
	db  *gorm.DB
	cfg ThrottleConfig
	ip  *throttled.GCRARateLimiterCtx // nil when addresses are not limited
}

// NewThrottle returns the throttle over db. A zero BaseDelay or Window is the constant above.
func NewThrottle(db *gorm.DB, cfg ThrottleConfig) (*Throttle, error) {
	cfg = cfg.withConstants()
	if cfg.FreeFailures < 0 || cfg.BaseDelay <= 0 || cfg.MaxDelay < cfg.BaseDelay || cfg.LockAfter <= cfg.FreeFailures || cfg.Window <= 0 {
		return nil, fmt.Errorf("throttle: inconsistent settings %+v", cfg)
	}
	t := &Throttle{db: db, cfg: cfg}
	if cfg.IPRate > 0 {
		lim, err := throttled.NewGCRARateLimiterCtx(&rateStore{db: db, now: t.now},
			throttled.RateQuota{MaxRate: throttled.PerMin(cfg.IPRate), MaxBurst: cfg.IPBurst})
		if err != nil {
			return nil, fmt.Errorf("throttle: %w", err)
		}
		t.ip = lim
	}
	return t, nil
}

func (t *Throttle) now() time.Time { return clock(t.cfg.Now) }

// accountKey is the throttle row of an email: its SHA-256, so that the table holds no
// addresses, including those of people who have no account.
func accountKey(normalizedEmail string) string {
	sum := sha256.Sum256([]byte(normalizedEmail))
	return hex.EncodeToString(sum[:])
}

// accountEmail is the spelling an email is counted under: its normal spelling, or, for an email
// NormalizeEmail refuses (err; no account has it), the input trimmed.
func accountEmail(raw string) (email string, err error) {
	if email, err = NormalizeEmail(raw); err != nil {
		email = strings.TrimSpace(raw)
	}
	return email, err
}

// allowAddress counts one attempt of the client at ip against its rate; over the rate it
// returns *models.RateLimitedError. IPv6 clients are counted per /64, the block one host
// usually holds. An empty ip (a command-line caller) is not limited.
func (t *Throttle) allowAddress(ctx context.Context, ip string) error {
	if t == nil || t.ip == nil || ip == "" {
		return nil
	}
	key := ip
	if addr := net.ParseIP(ip); addr != nil && addr.To4() == nil {
		key = addr.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	limited, res, err := t.ip.RateLimitCtx(ctx, "ip:"+key, 1)
	var failed *rateStoreError
	switch {
	case errors.As(err, &failed):
		return failed.err
	case err != nil:
		// The limiter lost its compare-and-swap again and again: this address is racing itself.
		return &models.RateLimitedError{RetryAfter: time.Second}
	case limited:
		return &models.RateLimitedError{RetryAfter: res.RetryAfter}
	}
	return nil
}

// counter is one failure count of the login throttle: an account's row of login_throttle
// (made by its first failure), or a device key's own columns in device_keys.
type counter struct {
	table, column, key string // the row: WHERE column = key
	count              string // counts one more failure unless locked or delayed (see allow)
	reset              string // clears the count and any lock or delay
}

// accountCounter is the failure count of the account with this normalised email.
func accountCounter(email string) counter {
	return counter{table: "login_throttle", column: "key", key: accountKey(email), count: countAccountFailure,
		reset: `DELETE FROM login_throttle WHERE key = ?`}
}

// deviceKeyCounter is the failure count of the device key with this id.
func deviceKeyCounter(id string) counter {
	return counter{table: "device_keys", column: "id", key: id, count: countDeviceKeyFailure,
		reset: `UPDATE device_keys SET failures = 0, failed_at = NULL, blocked_until = NULL WHERE id = ?`}
}

// The statements that count one more failure (named arguments: key, now, stale — a count
// last changed before it starts again —, and lock_after). Neither counts a locked or delayed
// one; both return the new count.
const (
	countAccountFailure = `INSERT INTO login_throttle (key, failures, blocked_until, updated_at) VALUES (@key, 1, NULL, @now)
ON CONFLICT (key) DO UPDATE SET
    failures = CASE WHEN login_throttle.updated_at < @stale THEN 1 ELSE login_throttle.failures + 1 END,
    blocked_until = NULL, updated_at = excluded.updated_at
WHERE login_throttle.failures < @lock_after AND (login_throttle.blocked_until IS NULL OR login_throttle.blocked_until <= @now)
RETURNING failures`
	countDeviceKeyFailure = `UPDATE device_keys SET
    failures = CASE WHEN failed_at IS NULL OR failed_at < @stale THEN 1 ELSE failures + 1 END,
    failed_at = @now, blocked_until = NULL
WHERE id = @key AND failures < @lock_after AND (blocked_until IS NULL OR blocked_until <= @now)
RETURNING failures`
)

// loginAttempt is a login attempt the throttle let through, already counted as a failure
// under its counter; succeeded clears that count.
type loginAttempt struct {
	counter counter
	locked  bool // the counter is locked: the attempt must fail whatever the password
}

// allowLogin counts a login attempt for the account with this normalised email: under the
// device key presented when it is a valid key of this account (the account's count, lock and
// delays do not apply to it, nor feed on it), else under the account, as an attempt without a
// key (an unknown, malformed, expired or other account's key reads exactly like none).
func (t *Throttle) allowLogin(ctx context.Context, email, deviceKey string) (loginAttempt, error) {
	c := accountCounter(email)
	if t == nil {
		return loginAttempt{counter: c}, nil
	}
	id, ok, err := validDeviceKey(t.db.WithContext(ctx), email, deviceKey, t.now())
	if err != nil {
		return loginAttempt{counter: c}, fmt.Errorf("login throttle: %w", err)
	}
	if ok {
		c = deviceKeyCounter(id)
	}
	return t.allow(ctx, c)
}

// allow counts a login attempt as a failure of c before its password is checked, so that
// attempts racing each other are all counted and the delay that follows the n-th binds the
// (n+1)-th at once. Inside the delay it returns *models.RateLimitedError and counts nothing. A
// locked counter is let through with locked set: the caller verifies the password anyway (the
// same work and answer as a wrong one) and refuses.
func (t *Throttle) allow(ctx context.Context, c counter) (loginAttempt, error) {
	a := loginAttempt{counter: c}
	if t == nil {
		return a, nil
	}
	now := t.now()
	err := t.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var failures []int
		err := tx.Raw(c.count, map[string]any{
			"key": c.key, "now": now, "stale": now.Add(-t.cfg.Window), "lock_after": t.cfg.LockAfter,
		}).Scan(&failures).Error
		if err != nil {
			return err
		}
		block := fmt.Sprintf(`UPDATE %s SET blocked_until = ? WHERE %s = ?`, c.table, c.column)
		if len(failures) == 0 { // locked, or inside the delay
			var row struct {
				Failures     int
				BlockedUntil *time.Time
			}
			err := tx.Raw(fmt.Sprintf(`SELECT failures, blocked_until FROM %s WHERE %s = ?`, c.table, c.column), c.key).Scan(&row).Error
			if err != nil {
				return err
			}
			if row.Failures >= t.cfg.LockAfter {
				// Locked: the attempt fails whatever the password (see verify for the one way
				// out), and even so comes at most once per MaxDelay, so that a lock is not an
				// open door for guessing through a signed-in session.
				if row.BlockedUntil != nil && row.BlockedUntil.After(now) {
					return &models.RateLimitedError{RetryAfter: row.BlockedUntil.Sub(now)}
				}
				a.locked = true
				return tx.Exec(block, now.Add(t.cfg.MaxDelay), c.key).Error
			}
			wait := time.Second // the row just changed (or went) under us: try again shortly
			if row.BlockedUntil != nil && row.BlockedUntil.After(now) {
				wait = row.BlockedUntil.Sub(now)
			}
			return &models.RateLimitedError{RetryAfter: wait}
		}
		if delay, ok := t.delayAfter(failures[0]); ok {
			return tx.Exec(block, now.Add(delay), c.key).Error
		}
		return nil
	})
	var limited *models.RateLimitedError
	if errors.As(err, &limited) {
		return a, err
	}
	if err != nil {
		return a, fmt.Errorf("login throttle: %w", storeError(err))
	}
	return a, nil
}

// delayAfter is the wait imposed after the n-th consecutive failure, if any: none for the
// first FreeFailures, then BaseDelay doubling up to MaxDelay.
func (t *Throttle) delayAfter(n int) (time.Duration, bool) {
	if n < t.cfg.FreeFailures || n >= t.cfg.LockAfter {
		return 0, false
	}
	d := t.cfg.BaseDelay
	for i := t.cfg.FreeFailures; i < n && d < t.cfg.MaxDelay; i++ {
		d *= 2
	}
	return min(d, t.cfg.MaxDelay), true
}

// verify checks the password of a signed-in user (a bulk sign-out, a password change, signing
// out an older session from a new one) under the account's throttle: a stolen token must not
// become a way to guess the password. A lock does not bar these checks (the person holds a
// live session, and a password change is how a locked account is reset); the delays do. As at
// login, the hashing slot is taken before the attempt is counted, so a refusal for a full queue
// or a passed deadline never counts.
func (t *Throttle) verify(ctx context.Context, h *Hasher, email, password, hash string) error {
	a, err := t.allowAndVerify(ctx, h, email, password, hash)
	if err != nil {
		return err
	}
	return t.succeeded(ctx, a)
}

// allowAndVerify counts the attempt under the account and checks the password, holding a
// hashing slot.
func (t *Throttle) allowAndVerify(ctx context.Context, h *Hasher, email, password, hash string) (loginAttempt, error) {
	release, err := h.acquire(ctx)
	if err != nil {
		return loginAttempt{}, err
	}
	defer release()
	a, err := t.allow(ctx, accountCounter(email))
	if err != nil {
		return a, err
	}
	return a, verifyPassword(h, password, hash)
}

// succeededIn clears, in tx, the failure count an attempt whose password was right was
// counted under: the device key's, or the account's. A success with a key leaves the
// account's count alone: the owner signing in on a known device must not hand whoever is
// guessing from elsewhere a fresh round of attempts.
func (t *Throttle) succeededIn(tx *gorm.DB, a loginAttempt) error {
	if t == nil {
		return nil
	}
	return storeError(tx.Exec(a.counter.reset, a.counter.key).Error)
}

// succeeded clears the failure count of an attempt whose password was right.
func (t *Throttle) succeeded(ctx context.Context, a loginAttempt) error {
	if t == nil {
		return nil
	}
	if err := t.succeededIn(t.db.WithContext(ctx), a); err != nil {
		return fmt.Errorf("login throttle reset: %w", err)
	}
	return nil
}

// Reset clears the failure counts and any locks of the account with this email and of its
// device keys: the way back for a locked account (an operator's unlock, a password change).
func (t *Throttle) Reset(ctx context.Context, email string) error {
	if t == nil {
		return nil
	}
	email, _ = accountEmail(email)
	err := t.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		c := accountCounter(email)
		if err := tx.Exec(c.reset, c.key).Error; err != nil {
			return err
		}
		return tx.Exec(`UPDATE device_keys SET failures = 0, failed_at = NULL, blocked_until = NULL
WHERE user_id IN (SELECT id FROM users WHERE email = ?) AND failures > 0`, email).Error
	})
	if err != nil {
		return fmt.Errorf("login throttle reset: %w", storeError(err))
	}
	return nil
}
