package services

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
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
	// Issuer and audience first, as the library would (it is told to skip them): a token
	// meant for someone else is refused as such, whatever its signature. What the payload says
	// is trusted for nothing else before the signature is checked.
	if claimed, ok := unverifiedParty(raw); ok {
		if err := prov.party(claimed.Issuer, claimed.Audience); err != nil {
			return verified{}, err
		}
	}
	idt, err := prov.verifier.Verify(o.clientContext(ctx), raw)
	if err != nil {
		o.cfg.Log.InfoContext(ctx, "oidc id token refused", "provider", prov.conf.Name, "err", err)
		return verified{}, idTokenFailure(err)
	}
	if err := prov.party(idt.Issuer, idt.Audience); err != nil { // the same payload, now signed
		return verified{}, err
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

// party checks that a token was issued by this provider (iss) for this client (aud).
func (p *oidcProvider) party(issuer string, audience []string) error {
	switch {
	case issuer != p.conf.Issuer:
		return &models.IDTokenError{Reason: "the ID token was issued by another provider"}
	case !slices.Contains(audience, p.conf.ClientID):
		return &models.IDTokenError{Reason: "the ID token was issued for another audience"}
	}
	return nil
}

// claimedParty is who a token says issued it and for whom, before anything is verified.
type claimedParty struct {
	Issuer   string       `json:"iss"`
	Audience audienceList `json:"aud"`
}

// audienceList is the aud claim: one string, or an array of them (RFC 7519 §4.1.3).
type audienceList []string

func (a *audienceList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = audienceList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("read aud claim: %w", err)
	}
	*a = many
	return nil
}

// unverifiedParty reads iss and aud from a compact JWS's payload; ok is false when the
// payload cannot be read (the library then refuses the token as malformed).
func unverifiedParty(raw string) (claimedParty, bool) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return claimedParty{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return claimedParty{}, false
	}
	var c claimedParty
	if err := json.Unmarshal(payload, &c); err != nil {
		return claimedParty{}, false
	}
	return c, true
}

// idTokenFailure says, in our words, why go-oidc refused a token. An expired token is known by
// its type (*oidc.TokenExpiredError). A provider whose keys could not be fetched (unreachable,
// or answering with an error status) is not: go-oidc flattens that error into text on its way
// out (verify.go: "failed to verify signature: %v"), so its words are matched here, and pinned
// by TestIDTokenFailurePinsGoOIDC, which fails when go-oidc changes them. A *url.Error is
// also taken, should go-oidc ever keep the chain. Everything else (the signature, a malformed
// token) is the token's fault.
func idTokenFailure(err error) error {
	var (
		expired *oidc.TokenExpiredError
		netErr  *url.Error
	)
	switch {
	case errors.As(err, &expired):
		return &models.IDTokenError{Reason: "the ID token has expired"}
	case errors.As(err, &netErr), strings.Contains(err.Error(), keysFailure):
		return models.ErrProviderUnavailable
	}
	return &models.IDTokenError{Reason: "the ID token's signature or contents are not valid"}
}

// keysFailure is in go-oidc's error whenever the provider's keys could not be fetched
// (oidc/jwks.go: "oidc: get keys failed %w" and "oidc: get keys failed: <status> <body>").
const keysFailure = "oidc: get keys failed"
