package services

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// oidcState is a browser sign-in sent to a provider and not back yet.
type oidcState struct {
	StateHash   []byte `gorm:"primaryKey"`
	BrowserHash []byte
	Provider    string
	Nonce       string
	Verifier    string
	DeviceID    string
	DeviceName  string
	DeviceType  models.DeviceType
	ReturnTo    string
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

func (oidcState) TableName() string { return "oidc_states" }

// Start begins a browser sign-in: it keeps the state, nonce and PKCE verifier in the store
// and returns the provider's URL to send the browser to, the state, and a value the browser
// must keep (a cookie) and bring back: a callback from another browser is refused. Starts count
// against the per-address login limit (each costs a row and a trip to the provider).
func (o *OIDC) Start(ctx context.Context, name string, p models.OIDCStart) (models.OIDCRedirect, error) {
	prov, err := o.provider(name)
	if err != nil {
		return models.OIDCRedirect{}, err
	}
	device, err := validateDevice(p.Device)
	if err != nil {
		return models.OIDCRedirect{}, err
	}
	if err := o.cfg.Throttle.allowAddress(ctx, p.IP); err != nil {
		return models.OIDCRedirect{}, err
	}
	var secrets [3]string // the state, the browser's binding, the nonce
	for i := range secrets {
		if secrets[i], _, err = newSecret(32); err != nil {
			return models.OIDCRedirect{}, err
		}
	}
	state, browser, nonce := secrets[0], secrets[1], secrets[2]
	verifier := oauth2.GenerateVerifier()
	now := o.now()
	st := oidcState{
		StateHash: hashOf(state), BrowserHash: hashOf(browser), Provider: name, Nonce: nonce, Verifier: verifier,
		DeviceID: device.ID, DeviceName: device.Name, DeviceType: device.Type, ReturnTo: p.ReturnTo,
		CreatedAt: now, ExpiresAt: now.Add(oidcStateTTL),
	}
	if err := storeError(o.db.WithContext(ctx).Create(&st).Error); err != nil {
		return models.OIDCRedirect{}, fmt.Errorf("oidc start: %w", err)
	}
	return models.OIDCRedirect{
		URL:   prov.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)),
		State: state, Browser: browser,
	}, nil
}

// Callback completes a browser sign-in: it spends the state (once, and only for the browser
// that started it), exchanges the code with the PKCE verifier, verifies the ID token (signature,
// issuer, audience, expiry, nonce) and signs the device in as Login does, keeping the login
// pending when a reject plan holds it at the limit. It returns where the browser goes next.
//
// Errors: models.ErrUnknownProvider, models.ErrSignInStateInvalid, *models.IDTokenError,
// models.ErrProviderUnavailable, and those of the sign-in (see login).
func (o *OIDC) Callback(ctx context.Context, name string, cb models.OIDCCallback) (models.LoginResult, string, error) {
	res, returnTo, err := o.callback(ctx, name, cb)
	o.cfg.Observer.LoginFinished(loginOutcome(err))
	if err != nil {
		return models.LoginResult{}, returnTo, fmt.Errorf("oidc sign-in through %s: %w", name, err)
	}
	return res, returnTo, nil
}

func (o *OIDC) callback(ctx context.Context, name string, cb models.OIDCCallback) (models.LoginResult, string, error) {
	prov, err := o.provider(name)
	if err != nil {
		return models.LoginResult{}, "", err
	}
	st, err := o.spendState(ctx, name, cb.State, cb.Browser)
	if err != nil {
		return models.LoginResult{}, "", err
	}
	tok, err := prov.oauth.Exchange(o.clientContext(ctx), cb.Code, oauth2.VerifierOption(st.Verifier))
	var refused *oauth2.RetrieveError
	switch {
	case errors.As(err, &refused):
		o.cfg.Log.InfoContext(ctx, "oidc code refused", "provider", name, "err", err)
		return models.LoginResult{}, st.ReturnTo, &models.IDTokenError{Reason: "the provider refused the code (expired or used)"}
	case err != nil:
		o.cfg.Log.WarnContext(ctx, "oidc code exchange failed", "provider", name, "err", err)
		return models.LoginResult{}, st.ReturnTo, models.ErrProviderUnavailable
	}
	raw, _ := tok.Extra("id_token").(string)
	id, err := o.verify(ctx, prov, raw, st.Nonce)
	if err != nil {
		return models.LoginResult{}, st.ReturnTo, err
	}
	device := models.Device{ID: st.DeviceID, Name: st.DeviceName, Type: st.DeviceType}
	// The token is spent like a native client's: it cannot be replayed at the token endpoint.
	res, err := o.login(ctx, prov, id, signIn{
		device: device, deviceKey: cb.DeviceKey, ip: cb.IP, userAgent: cb.UserAgent, keepPending: true, spendToken: id.key,
	})
	return res, st.ReturnTo, err
}

// spendState deletes and returns the state if it is this provider's, unexpired, and the
// browser's; anything else is models.ErrSignInStateInvalid.
func (o *OIDC) spendState(ctx context.Context, provider, state, browser string) (oidcState, error) {
	stateHash, browserHash := hashOf(state), hashOf(browser)
	var st oidcState
	err := o.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := storeError(tx.Where("state_hash = ?", stateHash).Take(&st).Error); err != nil {
			return err
		}
		// Checked before it is spent: another browser cannot burn this one's sign-in.
		if st.Provider != provider || !o.now().Before(st.ExpiresAt) || subtle.ConstantTimeCompare(st.BrowserHash, browserHash) != 1 {
			return models.ErrSignInStateInvalid
		}
		del := tx.Where("state_hash = ?", stateHash).Delete(&oidcState{})
		if err := storeError(del.Error); err != nil {
			return err
		}
		if del.RowsAffected == 0 { // spent by a concurrent callback
			return models.ErrNotFound
		}
		return nil
	})
	switch {
	case errors.Is(err, models.ErrNotFound), errors.Is(err, models.ErrSignInStateInvalid):
		return st, models.ErrSignInStateInvalid
	case err != nil:
		return st, fmt.Errorf("oidc state: %w", err)
	}
	return st, nil
}

func hashOf(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}
