package services

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/sessiond/sessiond/models"
)

// compactJWS is the only spelling of an ID token accepted: three base64url parts, nothing
// else. The JOSE library forgives whitespace, which would let one token pass as many.
var compactJWS = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)

// verified is what a checked ID token says of the person.
type verified struct {
	issuer, subject, email, name string
	emailVerified                bool
	expiry                       time.Time
	key                          []byte // SHA-256 of the decoded signature: one per token, however spelled
}

// verify checks the ID token: its spelling, signature, issuer, audience (and, among several,
// that it was issued to us), expiry, and that its nonce is exactly nonce ("" wants none). A
// provider that cannot be asked for its keys is models.ErrProviderUnavailable; every other
// failure is a *models.IDTokenError whose reason is ours (the library's text is only logged).
func (o *OIDC) verify(ctx context.Context, prov *oidcProvider, raw, nonce string) (verified, error) {
	if !compactJWS.MatchString(raw) {
		return verified{}, &models.IDTokenError{Reason: "the ID token is malformed"}
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(raw[strings.LastIndexByte(raw, '.')+1:])
	if err != nil {
		return verified{}, &models.IDTokenError{Reason: "the ID token is malformed"}
	}
	idt, err := prov.verifier.Verify(o.clientContext(ctx), raw)
	if err != nil {
		o.cfg.Log.InfoContext(ctx, "oidc id token refused", "provider", prov.conf.Name, "err", err)
		return verified{}, idTokenFailure(err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return verified{}, &models.IDTokenError{Reason: "the ID token's nonce does not match"}
	}
	var claims struct {
		Email           string `json:"email"`
		EmailVerified   any    `json:"email_verified"` // a bool, or "true" from some providers
		Name            string `json:"name"`
		AuthorizedParty string `json:"azp"`
	}
	if err := idt.Claims(&claims); err != nil {
		return verified{}, &models.IDTokenError{Reason: "the ID token's claims are unreadable"}
	}
	// Issued to several parties, it must have been issued for us (OIDC Core 3.1.3.7).
	if len(idt.Audience) > 1 && claims.AuthorizedParty != prov.conf.ClientID {
		return verified{}, &models.IDTokenError{Reason: "the ID token was issued to another client"}
	}
	key := sha256.Sum256(sig)
	return verified{
		issuer: idt.Issuer, subject: idt.Subject, email: claims.Email, name: claims.Name,
		emailVerified: claims.EmailVerified == true || claims.EmailVerified == "true", expiry: idt.Expiry, key: key[:],
	}, nil
}

// idTokenFailure says, in our words, why go-oidc refused a token.
func idTokenFailure(err error) error {
	var (
		expired *oidc.TokenExpiredError
		netErr  *url.Error
	)
	msg := err.Error()
	switch {
	case errors.As(err, &expired):
		return &models.IDTokenError{Reason: "the ID token has expired"}
	case errors.As(err, &netErr) || strings.Contains(msg, "get keys failed"):
		return models.ErrProviderUnavailable
	case strings.Contains(msg, "expected audience"):
		return &models.IDTokenError{Reason: "the ID token was issued for another audience"}
	case strings.Contains(msg, "issued by a different provider"):
		return &models.IDTokenError{Reason: "the ID token was issued by another provider"}
	}
	return &models.IDTokenError{Reason: "the ID token's signature or contents are not valid"}
}
