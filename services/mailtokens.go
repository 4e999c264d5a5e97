package services

import (
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// The tokens of mailed links (a reset, a verification) are spelled like session tokens,
// base64url(id, 16 bytes) "." base64url(secret, 32 bytes: 256 bits), and kept like them: the
// id is the primary key, the store holds the SHA-256 of the secret, compared in constant
// time. The raw token exists only in the mail.

// issueMailToken stores a new token of purpose for user, bound to the user's email now, valid
// for ttl, and returns it.
func issueMailToken(tx *gorm.DB, user models.User, purpose models.MailTokenPurpose, ttl time.Duration, now time.Time) (string, error) {
	id, token, hash, err := newToken()
	if err != nil {
		return "", err
	}
	row := models.MailToken{
		ID: id.String(), TokenHash: hash, Purpose: purpose, UserID: user.ID, Email: user.Email,
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
	return token, storeError(tx.Create(&row).Error)
}

// findMailToken returns the unspent, unexpired token of purpose that token spells; anything
// else (malformed, unknown, wrong secret, other purpose, used, expired) is
// models.ErrTokenInvalid, one answer for all.
func findMailToken(db *gorm.DB, token string, purpose models.MailTokenPurpose, now time.Time) (models.MailToken, error) {
	id, secret, err := parseToken(token)
	if err != nil {
		return models.MailToken{}, models.ErrTokenInvalid
	}
	var t models.MailToken
	err = storeError(db.Where("id = ?", id.String()).Take(&t).Error)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return models.MailToken{}, models.ErrTokenInvalid
	case err != nil:
		return models.MailToken{}, err
	case !secretMatches(secret[:], t.TokenHash) || t.Purpose != purpose || t.UsedAt != nil || !now.Before(t.ExpiresAt):
		return models.MailToken{}, models.ErrTokenInvalid
	}
	return t, nil
}

// spendMailToken marks t used, if nobody did meanwhile and it has not expired: of racing
// uses, one spends it and the others get models.ErrTokenInvalid.
func spendMailToken(tx *gorm.DB, t models.MailToken, now time.Time) error {
	res := tx.Model(&models.MailToken{}).Where("id = ? AND used_at IS NULL AND expires_at > ?", t.ID, now).Update("used_at", now)
	if err := storeError(res.Error); err != nil {
		return err
	}
	if res.RowsAffected != 1 {
		return models.ErrTokenInvalid
	}
	return nil
}
