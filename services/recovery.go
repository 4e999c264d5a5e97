package services

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/throttled/throttled/v2"
	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// Account recovery: a forgotten password (Forgot, Reset). Verified email is verify.go; the
// mailed tokens both use are mailtokens.go. Every mail is written to the outbox in the use
// case's transaction (outbox.go), so it exists exactly when the change it tells of committed.

// ResetTokenTTL is how long a reset link works (API.md: 30 minutes).
const ResetTokenTTL = 30 * time.Minute

// The rates of requests that mail someone (a reset link, a verification link): per client
// address, and per address mailed (known or not: an account's limit that only known accounts
// had would tell which exist). They are not settings: enough for a person who asks again
// because the first mail is slow, too few to flood an inbox.
const (
	mailRatePerAddressPerMin = 10
	mailBurstPerAddress      = 4 // five at once
	mailRatePerAccountPerHr  = 3
	mailBurstPerAccount      = 2 // three at once, then one every 20 minutes
)

// RecoveryConfig configures account recovery and verified email.
type RecoveryConfig struct {
	PublicURL    *url.URL                // links are built on it (<PublicURL>/reset?token=…)
	Verification models.VerificationMode // SESSIOND_EMAIL_VERIFICATION
	Throttle     *Throttle               // a reset clears the account's login lock; nil: none
	Observer     Observer                // hears of sessions a reset ends; nil: nobody
	Now          func() time.Time
	Log          *slog.Logger
}

// Recovery is the use cases of a forgotten password and of verifying an email address.
type Recovery struct {
	db       *gorm.DB
	hasher   *Hasher
	cfg      RecoveryConfig
	perAddr  *throttled.GCRARateLimiterCtx
	perEmail *throttled.GCRARateLimiterCtx
}

// NewRecovery returns the recovery use cases over db; hasher hashes new passwords.
func NewRecovery(db *gorm.DB, hasher *Hasher, cfg RecoveryConfig) (*Recovery, error) {
	if cfg.PublicURL == nil {
		return nil, errors.New("recovery: no public URL")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cfg.Observer = observerOr(cfg.Observer)
	r := &Recovery{db: db, hasher: hasher, cfg: cfg}
	store := &rateStore{db: db, now: r.now}
	var err error
	if r.perAddr, err = throttled.NewGCRARateLimiterCtx(store, throttled.RateQuota{
		MaxRate: throttled.PerMin(mailRatePerAddressPerMin), MaxBurst: mailBurstPerAddress}); err != nil {
		return nil, fmt.Errorf("recovery: %w", err)
	}
	if r.perEmail, err = throttled.NewGCRARateLimiterCtx(store, throttled.RateQuota{
		MaxRate: throttled.PerHour(mailRatePerAccountPerHr), MaxBurst: mailBurstPerAccount}); err != nil {
		return nil, fmt.Errorf("recovery: %w", err)
	}
	return r, nil
}

func (r *Recovery) now() time.Time { return clock(r.cfg.Now) }

// allowMail counts a request that mails email against the rates of the client's address and
// of the address mailed; past either it returns *models.RateLimitedError. An empty ip (the
// command line) is not limited by address.
func (r *Recovery) allowMail(ctx context.Context, ip, kind, email string) error {
	if ip != "" {
		if err := rateLimit(ctx, r.perAddr, "mail-ip:"+addressKey(ip), 1); err != nil {
			return err
		}
	}
	return rateLimit(ctx, r.perEmail, "mail-"+kind+":"+accountKey(email), 1)
}

// Forgot mails a single-use link to set a new password, valid ResetTokenTTL, to the account
// with this email. Its answer, and its work, are the same whether or not the account exists:
// no password is hashed either way, both are counted against the same rates, and an address
// without an account (or a disabled one) is told so by mail instead, so even the number of
// mails leaving does not tell which addresses have accounts. Earlier reset links of the account
// stop working. Errors: *models.ValidationError for something that is no email address,
// *models.RateLimitedError past the per-address or per-email rate.
func (r *Recovery) Forgot(ctx context.Context, rawEmail, ip string) error {
	email, err := NormalizeEmail(rawEmail)
	if err != nil {
		return err
	}
	if err := r.allowMail(ctx, ip, "reset", email); err != nil {
		return err
	}
	now := r.now()
	err = r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var user models.User
		err := storeError(tx.Where("email = ?", email).Take(&user).Error)
		switch {
		case errors.Is(err, models.ErrNotFound) || err == nil && user.Disabled():
			return enqueueMail(tx, mailMessage{Kind: MailResetUnknown, To: email, Now: now, Data: mailData{
				Email: email, IP: ip, When: now, SecurityLink: mailLink(*r.cfg.PublicURL, "/login", nil),
			}})
		case err != nil:
			return err
		}
		token, err := issueMailToken(tx, user, models.PurposeReset, ResetTokenTTL, now)
		if err != nil {
			return err
		}
		return enqueueMail(tx, mailMessage{Kind: MailPasswordReset, To: user.Email, Now: now, Data: mailData{
			Email: user.Email, Link: mailLink(*r.cfg.PublicURL, "/reset", url.Values{"token": {token}}),
			ValidFor: ResetTokenTTL, IP: ip, When: now, SecurityLink: mailLink(*r.cfg.PublicURL, "/devices", nil),
		}})
	})
	if err != nil {
		return fmt.Errorf("forgot password: %w", err)
	}
	return nil
}

// Reset sets a new password with the token of a reset link, once. In one transaction, under
// the user's lock: the token is spent (with every other reset link of the account), the
// password replaced, every session revoked (reason password_reset: each device is told so),
// logins held at the device limit dropped, every device key deleted and the account's login
// lock cleared; the email counts as verified (the link proved the mailbox), and a mail tells
// the owner. Errors: models.ErrTokenInvalid for an unknown, malformed, used or expired token
// (checked before the password's policy: a weak password does not spend the token, and the
// token is spent by the transaction that uses it, so two racing resets cannot both succeed),
// *models.WeakPasswordError as at sign-up.
func (r *Recovery) Reset(ctx context.Context, token, newPassword string) error {
	tok, err := findMailToken(r.db.WithContext(ctx), token, models.PurposeReset, r.now())
	if err != nil {
		return err
	}
	var user models.User
	if err := storeError(r.db.WithContext(ctx).Where("id = ?", tok.UserID).Take(&user).Error); err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	if err := checkPasswordPolicy(newPassword, user.Email); err != nil {
		return err
	}
	hash, err := r.hasher.Hash(ctx, newPassword) // outside the transaction: hashing is slow
	if err != nil {
		return err
	}
	now := r.now()
	err = transact(ctx, r.db, r.cfg.Observer, func(tx *gorm.DB, out *ended) error {
		locked, err := lockUser(tx, tok.UserID)
		if err != nil {
			return err
		}
		if err := spendMailToken(tx, tok, now); err != nil {
			return err
		}
		err = tx.Model(&models.User{}).Where("id = ?", locked.ID).Updates(map[string]any{
			"password_hash": hash, "email_verified": locked.EmailVerified || tok.Email == locked.Email, "updated_at": now,
		}).Error
		if err != nil {
			return storeError(err)
		}
		out.userChanged(locked.ID)
		return r.afterReset(tx, out, locked, now)
	})
	if err != nil {
		return fmt.Errorf("reset password of user %s: %w", tok.UserID, err)
	}
	return nil
}

// afterReset ends everything the old password opened: the sessions, the logins held at the
// limit, the other reset links, the device keys, the login lock; then records and mails it.
// The caller holds the user's lock.
func (r *Recovery) afterReset(tx *gorm.DB, out *ended, user models.User, now time.Time) error {
	live, err := liveSessions(tx, user.ID)
	if err != nil {
		return err
	}
	if err := revoke(tx, out, live, models.ReasonPasswordReset, user.ID, actorSelf(user.ID), now); err != nil {
		return err
	}
	if err := dropPending(tx, user.ID); err != nil {
		return err
	}
	err = tx.Model(&models.MailToken{}).Where("user_id = ? AND purpose = ? AND used_at IS NULL", user.ID, models.PurposeReset).
		Update("used_at", now).Error
	if err != nil {
		return storeError(err)
	}
	if err := storeError(tx.Where("user_id = ?", user.ID).Delete(&models.DeviceKey{}).Error); err != nil {
		return err
	}
	c := accountCounter(user.Email) // the login lock: the reset is the way out of it
	if err := storeError(tx.Exec(c.reset, c.key).Error); err != nil {
		return err
	}
	// An event of the account, not of a session: no session, and a device that says so.
	ev := models.SessionEvent{
		ID: newID(), UserID: user.ID, Type: models.EventPasswordReset, DeviceName: "Password reset link", DeviceType: "other",
		ActorKind: models.ActorUser, ActorID: user.ID,
		At: now, Details: jsonObject(map[string]any{"signed_out_sessions": len(live)}),
	}
	if err := insertEvents(tx, ev); err != nil {
		return err
	}
	return enqueueMail(tx, mailMessage{Kind: MailPasswordChanged, To: user.Email, Now: now, Data: mailData{
		Email: user.Email, When: now, SecurityLink: mailLink(*r.cfg.PublicURL, "/forgot", nil),
	}})
}
