package services

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
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

// DefaultThrottle is 5 free failures, then 1 s doubling to 15 min, a lock at 100 consecutive
// failures (at the capped delay, about a day of guessing), and 30 attempts a minute per
// address with bursts of 10.
func DefaultThrottle() ThrottleConfig {
	return ThrottleConfig{
		FreeFailures: 5, BaseDelay: time.Second, MaxDelay: 15 * time.Minute, LockAfter: 100,
		Window: 24 * time.Hour, IPRate: 30, IPBurst: 10,
	}
}

// Throttle counts login attempts per account and per client address.
type Throttle struct {
	db  *gorm.DB
	cfg ThrottleConfig
	ip  *throttled.GCRARateLimiterCtx // nil when addresses are not limited
}

// NewThrottle returns the throttle over db.
func NewThrottle(db *gorm.DB, cfg ThrottleConfig) (*Throttle, error) {
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

// admitAddress counts one attempt of the client at ip against its rate; over the rate it
// returns *models.RateLimitedError. IPv6 clients are counted per /64, the block one host
// usually holds. An empty ip (a command-line caller) is not limited.
func (t *Throttle) admitAddress(ctx context.Context, ip string) error {
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

// accountAttempt is a login attempt the account throttle let through, already counted as a
// failure; succeeded clears the count.
type accountAttempt struct {
	key    string
	locked bool // the account is locked: the attempt must fail whatever the password
}

// admitAccount counts a login attempt for email as a failure before its password is checked,
// so that attempts racing each other are all counted and the delay that follows the n-th
// binds the (n+1)-th at once. Inside the delay it returns *models.RateLimitedError and counts
// nothing. A locked account is admitted with locked set: the caller verifies the password
// anyway (the same work and answer as a wrong one) and refuses.
func (t *Throttle) admitAccount(ctx context.Context, email string) (accountAttempt, error) {
	a := accountAttempt{key: accountKey(email)}
	if t == nil {
		return a, nil
	}
	now := t.now()
	err := t.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var failures []int
		err := tx.Raw(`INSERT INTO login_throttle (key, failures, blocked_until, updated_at) VALUES (?, 1, NULL, ?)
ON CONFLICT (key) DO UPDATE SET
    failures = CASE WHEN login_throttle.updated_at < ? THEN 1 ELSE login_throttle.failures + 1 END,
    blocked_until = NULL, updated_at = excluded.updated_at
WHERE login_throttle.failures < ? AND (login_throttle.blocked_until IS NULL OR login_throttle.blocked_until <= ?)
RETURNING failures`, a.key, now, now.Add(-t.cfg.Window), t.cfg.LockAfter, now).Scan(&failures).Error
		if err != nil {
			return err
		}
		if len(failures) == 0 { // locked, or inside the delay
			var row struct {
				Failures     int
				BlockedUntil *time.Time
			}
			if err := tx.Raw(`SELECT failures, blocked_until FROM login_throttle WHERE key = ?`, a.key).Scan(&row).Error; err != nil {
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
				return tx.Exec(`UPDATE login_throttle SET blocked_until = ? WHERE key = ?`, now.Add(t.cfg.MaxDelay), a.key).Error
			}
			wait := time.Second // the row just changed under us: try again shortly
			if row.BlockedUntil != nil && row.BlockedUntil.After(now) {
				wait = row.BlockedUntil.Sub(now)
			}
			return &models.RateLimitedError{RetryAfter: wait}
		}
		if delay, ok := t.delayAfter(failures[0]); ok {
			return tx.Exec(`UPDATE login_throttle SET blocked_until = ? WHERE key = ?`, now.Add(delay), a.key).Error
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

// verify checks the password of a signed-in user (a bulk sign-out, a password change) under
// the account's throttle: a stolen token must not become a way to guess the password. A lock
// does not bar these checks (the person holds a live session, and a password change is how
// a locked account is reset); the delays do.
func (t *Throttle) verify(ctx context.Context, h *Hasher, email, password, hash string) error {
	a, err := t.admitAccount(ctx, email)
	if err != nil {
		return err
	}
	if err := verifyPassword(h, password, hash); err != nil {
		return err
	}
	return t.succeeded(ctx, a)
}

// succeededIn clears, in tx, the failure count of an attempt whose password was right.
func (t *Throttle) succeededIn(tx *gorm.DB, a accountAttempt) error {
	if t == nil {
		return nil
	}
	return storeError(tx.Exec(`DELETE FROM login_throttle WHERE key = ?`, a.key).Error)
}

// succeeded clears the failure count of an attempt whose password was right.
func (t *Throttle) succeeded(ctx context.Context, a accountAttempt) error {
	if t == nil {
		return nil
	}
	return t.clear(ctx, a.key)
}

// Reset clears the failure count and any lock of the account with this email: the way back
// for a locked account (an operator's unlock, a password change).
func (t *Throttle) Reset(ctx context.Context, email string) error {
	if t == nil {
		return nil
	}
	return t.clear(ctx, accountKey(normalizeEmail(email)))
}

func (t *Throttle) clear(ctx context.Context, key string) error {
	if err := t.db.WithContext(ctx).Exec(`DELETE FROM login_throttle WHERE key = ?`, key).Error; err != nil {
		return fmt.Errorf("login throttle reset: %w", storeError(err))
	}
	return nil
}
