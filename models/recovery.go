package models

import (
	"errors"
	"time"
)

// Account recovery and verified email (API.md "Account recovery and email").

// ErrTokenInvalid refuses a mailed link's token that is unknown, malformed, already used,
// expired, or for another purpose: one answer for all, so a guess learns nothing.
var ErrTokenInvalid = errors.New("token invalid")

// ErrEmailUnverified refuses a password login of an account whose email is not verified when
// verification is required (SESSIOND_EMAIL_VERIFICATION=required). It comes only after the
// right password.
var ErrEmailUnverified = errors.New("email not verified")

// MailTokenPurpose is what a mailed link's token is for.
type MailTokenPurpose string

// The purposes of mailed tokens.
const (
	PurposeReset  MailTokenPurpose = "reset"  // sets a new password (/reset)
	PurposeVerify MailTokenPurpose = "verify" // proves the address (/verify)
)

// MailToken is a mailed link's token (table mail_tokens): the SHA-256 of a 256-bit secret,
// bound to a user and, for verify, to the address it was sent to. Used once (UsedAt), until
// ExpiresAt.
type MailToken struct {
	ID        string `gorm:"primaryKey"`
	TokenHash []byte
	Purpose   MailTokenPurpose
	UserID    string
	Email     string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// VerificationMode is SESSIOND_EMAIL_VERIFICATION: whether sign-up mails a verification link
// (off: no), and whether a password login needs a verified email (required: yes).
type VerificationMode string

// The verification modes.
const (
	VerificationOff      VerificationMode = "off"
	VerificationOptional VerificationMode = "optional"
	VerificationRequired VerificationMode = "required"
)
