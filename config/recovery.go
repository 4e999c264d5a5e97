package config

import (
	"fmt"
)

// Recovery is the settings of account recovery, verified email and the optional notices
// (README "Account recovery"). Mail delivery itself is Mail's (config/mail.go).
type Recovery struct {
	// EmailVerification: off (no verification mail), optional (mailed at sign-up; logins need
	// none) or required (a password login of an unverified account is refused with 403
	// email_unverified).
	EmailVerification VerificationMode `env:"EMAIL_VERIFICATION" envDefault:"optional"`
	// NotifySignIn mails "New sign-in on <device>" at every sign-in.
	NotifySignIn bool `env:"NOTIFY_SIGNIN" envDefault:"false"`
	// NotifyEviction mails "<device> was signed out because <device> signed in" when the
	// device limit evicts a session.
	NotifyEviction bool `env:"NOTIFY_EVICTION" envDefault:"false"`
}

// VerificationMode is SESSIOND_EMAIL_VERIFICATION: off, optional or required.
type VerificationMode string

// UnmarshalText accepts the three modes and nothing else.
func (m *VerificationMode) UnmarshalText(text []byte) error {
	switch v := VerificationMode(text); v {
	case "off", "optional", "required":
		*m = v
		return nil
	}
	return fmt.Errorf("%sEMAIL_VERIFICATION must be off, optional or required", Prefix)
}
