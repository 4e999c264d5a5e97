package services

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// Verified email: sign-up mails a link (Users.Register, through mailVerification), the person
// opens it (VerifyEmail), or asks for another (ResendVerification, ResendVerificationTo).

// VerifyTokenTTL is how long a verification link works.
const VerifyTokenTTL = 48 * time.Hour

// mailVerification writes a new verification link for the user's email, and its mail, in tx;
// earlier links of the account stop working. Nothing when verification is off.
func mailVerification(tx *gorm.DB, mode models.VerificationMode, public *url.URL, user models.User, now time.Time) error {
	if mode == models.VerificationOff || mode == "" || public == nil {
		return nil
	}
	err := tx.Model(&models.MailToken{}).Where("user_id = ? AND purpose = ? AND used_at IS NULL", user.ID, models.PurposeVerify).
		Update("used_at", now).Error
	if err != nil {
		return storeError(err)
	}
	token, err := issueMailToken(tx, user, models.PurposeVerify, VerifyTokenTTL, now)
	if err != nil {
		return err
	}
	return enqueueMail(tx, mailMessage{Kind: MailVerifyEmail, To: user.Email, Now: now, Data: mailData{
		Email: user.Email, Link: mailLink(*public, "/verify", url.Values{"token": {token}}), ValidFor: VerifyTokenTTL,
		When: now, SecurityLink: mailLink(*public, "/login", nil),
	}})
}

// VerifyEmail marks the email of the token's account verified, spending the token. A token
// for an address the account no longer has verifies nothing. Errors: models.ErrTokenInvalid
// for an unknown, malformed, used or expired token, or one for an old address.
func (r *Recovery) VerifyEmail(ctx context.Context, token string) error {
	now := r.now()
	tok, err := findMailToken(r.db.WithContext(ctx), token, models.PurposeVerify, now)
	if err != nil {
		return err
	}
	err = transact(ctx, r.db, r.cfg.Observer, func(tx *gorm.DB, out *ended) error {
		locked, err := lockUser(tx, tok.UserID)
		if err != nil {
			return err
		}
		if locked.Email != tok.Email {
			return models.ErrTokenInvalid
		}
		if err := spendMailToken(tx, tok, now); err != nil {
			return err
		}
		err = tx.Model(&models.User{}).Where("id = ?", locked.ID).Updates(map[string]any{"email_verified": true, "updated_at": now}).Error
		out.userChanged(locked.ID) // checks of its sessions carry the user: email_verified
		return storeError(err)
	})
	if err != nil {
		return fmt.Errorf("verify email: %w", err)
	}
	return nil
}

// ResendVerification mails the signed-in user a new verification link, unless the email is
// verified already or verification is off (then it does nothing). Errors:
// *models.RateLimitedError past the per-email rate.
func (r *Recovery) ResendVerification(ctx context.Context, userID, ip string) error {
	var user models.User
	if err := storeError(r.db.WithContext(ctx).Where("id = ?", userID).Take(&user).Error); err != nil {
		return fmt.Errorf("resend verification: %w", err)
	}
	return r.resend(ctx, user, ip)
}

// ResendVerificationTo is ResendVerification for a person who cannot sign in (verification
// required), who names the email: the same answer whether or not an account has it, counted
// against the same rates. Errors: *models.ValidationError for something that is no email
// address, *models.RateLimitedError.
func (r *Recovery) ResendVerificationTo(ctx context.Context, rawEmail, ip string) error {
	email, err := NormalizeEmail(rawEmail)
	if err != nil {
		return err
	}
	var user models.User
	err = storeError(r.db.WithContext(ctx).Where("email = ?", email).Take(&user).Error)
	switch {
	case err == nil:
		return r.resend(ctx, user, ip)
	case !errors.Is(err, models.ErrNotFound):
		return fmt.Errorf("resend verification: %w", err)
	}
	return r.allowMail(ctx, ip, "verify", email) // counted like a known address
}

func (r *Recovery) resend(ctx context.Context, user models.User, ip string) error {
	if err := r.allowMail(ctx, ip, "verify", user.Email); err != nil {
		return err
	}
	if user.EmailVerified || user.Disabled() || r.cfg.Verification == models.VerificationOff {
		return nil
	}
	now := r.now()
	err := r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		locked, err := lockUser(tx, user.ID)
		if err != nil || locked.EmailVerified {
			return err
		}
		return mailVerification(tx, r.cfg.Verification, r.cfg.PublicURL, locked, now)
	})
	if err != nil {
		return fmt.Errorf("resend verification to user %s: %w", user.ID, err)
	}
	return nil
}
