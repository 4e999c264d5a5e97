package models

import (
	"errors"
	"time"
)

// Identity links a person at an external OpenID Connect provider, (Issuer, Subject), to a
// user: every later sign-in through that provider signs the same user in.
type Identity struct {
	ID         string `gorm:"primaryKey"`
	UserID     string
	Provider   string // the configured provider's name
	Issuer     string
	Subject    string
	Email      string // as the provider last asserted it
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// OIDCStart is a browser about to be sent to a provider to sign in: the device it will sign
// in, and the page of ours to return to.
type OIDCStart struct {
	Device   Device
	ReturnTo string
	IP       string
}

// OIDCCallback is the provider's answer as the browser brings it back: the state we issued,
// the code, and the value that binds the sign-in to the browser that started it.
type OIDCCallback struct {
	State, Code, Browser string
	IP, UserAgent        string
	DeviceKey            string // the browser's device key, if any (LoginParams.DeviceKey)
}

// IDTokenLogin is a native client's sign-in with an ID token it already holds (a TV or phone
// app using the provider's SDK). Nonce, when the app asked the provider for one, must match.
// ReplaceSessionID and ReplaceSessionIDs are as in LoginParams.
type IDTokenLogin struct {
	IDToken           string
	Nonce             string
	Device            Device
	DeviceKey         string // LoginParams.DeviceKey
	ReplaceSessionID  string
	ReplaceSessionIDs []string
	IP, UserAgent     string
}

// Errors of sign-ins through an identity provider.
var (
	ErrUnknownProvider = errors.New("unknown identity provider")
	// ErrSignInStateInvalid: the state is unknown, spent, expired, or from another browser.
	ErrSignInStateInvalid = errors.New("sign-in state unknown, used, expired or from another browser")
	// ErrEmailNotVerified: a new identity without an email the provider vouches for can
	// neither create an account nor be linked to one.
	ErrEmailNotVerified = errors.New("the provider did not assert a verified email")
	// ErrIdentityNotLinked: an account with the identity's email exists, and linking by email
	// is off for the provider.
	ErrIdentityNotLinked = errors.New("an account with this email exists and is not linked to this identity")
	// ErrProviderUnavailable: the provider could not be reached.
	ErrProviderUnavailable = errors.New("identity provider unavailable")
)

// IDTokenError refuses an ID token or an authorization code: the provider refused the code, or
// the token's signature, issuer, audience, expiry or nonce is wrong, or it was used before.
type IDTokenError struct {
	Reason string
}

func (e *IDTokenError) Error() string { return "identity token refused: " + e.Reason }

// Provider is a configured identity provider as the sign-in page offers it.
type Provider struct {
	Name  string
	Label string
}

// OIDCRedirect is where Start sends the browser, the state it carries, and the value that
// binds the sign-in to this browser (kept in a cookie, brought back to the callback).
type OIDCRedirect struct {
	URL, State, Browser string
}
