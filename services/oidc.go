package services

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// OIDCProviderConfig is one OpenID Connect provider people may sign in with.
type OIDCProviderConfig struct {
	Name, Label  string
	Issuer       string
	ClientID     string
	ClientSecret string
	RedirectURL  string
	Scopes       []string
	LinkByEmail  bool // a first sign-in may attach to the account with its verified email
}

// OIDCConfig configures sign-ins through identity providers.
type OIDCConfig struct {
	RegistrationOpen bool             // a first sign-in may create an account
	DefaultPlan      string           // of the accounts it creates
	HTTPClient       *http.Client     // talks to the providers; nil: a client with a 10 s timeout
	Throttle         *Throttle        // the per-address login limit applies here too; nil: none
	Observer         Observer         // hears how each sign-in ended; nil: nobody
	Now              func() time.Time // checks ID tokens' expiry and sign-in states'; sessions use their own clock
	Log              *slog.Logger
}

// oidcStateTTL bounds the time between leaving for the provider and coming back.
const oidcStateTTL = 10 * time.Minute

// OIDC signs people in through external OpenID Connect providers, creating sessions through
// the login core (Sessions.SignIn), like every other way in.
type OIDC struct {
	db        *gorm.DB
	sessions  *Sessions
	cfg       OIDCConfig
	providers map[string]*oidcProvider
	names     []string // in configuration order
}

type oidcProvider struct {
	conf     OIDCProviderConfig
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// NewOIDC discovers every provider (its endpoints and keys). A provider that cannot be
// discovered is an error naming it: sessiond does not start half-configured.
func NewOIDC(ctx context.Context, db *gorm.DB, sessions *Sessions, cfg OIDCConfig, providers []OIDCProviderConfig) (*OIDC, error) {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	cfg.Observer = observerOr(cfg.Observer)
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	o := &OIDC{db: db, sessions: sessions, cfg: cfg, providers: map[string]*oidcProvider{}}
	for _, pc := range providers {
		p, err := oidc.NewProvider(o.clientContext(ctx), pc.Issuer)
		if err != nil {
			return nil, fmt.Errorf("oidc provider %s: discovery at %s: %w", pc.Name, pc.Issuer, err)
		}
		o.providers[pc.Name] = &oidcProvider{
			conf: pc,
			oauth: oauth2.Config{
				ClientID: pc.ClientID, ClientSecret: pc.ClientSecret, Endpoint: p.Endpoint(),
				RedirectURL: pc.RedirectURL, Scopes: pc.Scopes,
			},
			verifier: p.Verifier(&oidc.Config{ClientID: pc.ClientID, Now: o.now}),
		}
		o.names = append(o.names, pc.Name)
	}
	return o, nil
}

func (o *OIDC) now() time.Time { return clock(o.cfg.Now) }

func (o *OIDC) clientContext(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, o.cfg.HTTPClient)
}

// Providers lists the configured providers' names and labels, in configuration order.
func (o *OIDC) Providers() []models.Provider {
	out := make([]models.Provider, 0, len(o.names))
	for _, n := range o.names {
		out = append(out, models.Provider{Name: n, Label: o.providers[n].conf.Label})
	}
	return out
}

func (o *OIDC) provider(name string) (*oidcProvider, error) {
	p, ok := o.providers[name]
	if !ok {
		return nil, models.ErrUnknownProvider
	}
	return p, nil
}

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
	if err := o.cfg.Throttle.admitAddress(ctx, p.IP); err != nil {
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

// LoginWithIDToken signs a native client's device in with an ID token it obtained from the
// provider itself, with the same answers as Login (*models.DeviceLimitError under a reject
// plan, to be retried with the sessions to sign out and the same token). A token that signed a device
// in, here or through the browser flow, is refused afterwards (replay). Attempts count against
// the per-address login limit.
func (o *OIDC) LoginWithIDToken(ctx context.Context, name string, p models.IDTokenLogin) (models.LoginResult, error) {
	res, err := o.loginWithIDToken(ctx, name, p)
	o.cfg.Observer.LoginFinished(loginOutcome(err))
	if err != nil {
		return models.LoginResult{}, fmt.Errorf("oidc sign-in through %s: %w", name, err)
	}
	return res, nil
}

func (o *OIDC) loginWithIDToken(ctx context.Context, name string, p models.IDTokenLogin) (models.LoginResult, error) {
	prov, err := o.provider(name)
	if err != nil {
		return models.LoginResult{}, err
	}
	device, err := validateDevice(p.Device)
	if err != nil {
		return models.LoginResult{}, err
	}
	chosen, err := chosenSessions(p.ReplaceSessionID, p.ReplaceSessionIDs)
	if err != nil {
		return models.LoginResult{}, err
	}
	if p.IDToken == "" || len(p.IDToken) > 16<<10 {
		return models.LoginResult{}, models.Invalid("id_token", "is required (at most 16 KiB)")
	}
	if err := o.cfg.Throttle.admitAddress(ctx, p.IP); err != nil {
		return models.LoginResult{}, err
	}
	id, err := o.verify(ctx, prov, p.IDToken, p.Nonce)
	if err != nil {
		return models.LoginResult{}, err
	}
	return o.login(ctx, prov, id, signIn{
		device: device, deviceKey: p.DeviceKey, chosen: chosen, ip: p.IP, userAgent: p.UserAgent, spendToken: id.key,
	})
}

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

// signIn is how a verified person signs a device in.
type signIn struct {
	device        models.Device
	deviceKey     string   // the device's key, if any: given back when valid, else a new one
	chosen        []string // sessions to sign out to make room (chosenSessions)
	ip, userAgent string
	keepPending   bool
	spendToken    []byte // the SHA-256 of a native client's ID token, refused once it signed in
}

// login finds or creates the user of the identity and signs the device in through Sessions'
// transaction and device limit, all in one transaction. A first sign-in racing another for the
// same new identity finds, on its second try, the user the other created.
func (o *OIDC) login(ctx context.Context, prov *oidcProvider, id verified, in signIn) (res models.LoginResult, err error) {
	for attempt := 0; attempt < 2; attempt++ {
		res, err = o.loginOnce(ctx, prov, id, in)
		if !errors.Is(err, models.ErrConflict) || errors.Is(err, errTokenSpent) {
			break // only a first sign-in that lost a race to create the same user tries again
		}
	}
	return res, err
}

var errTokenSpent = fmt.Errorf("%w: %w", models.ErrConflict, &models.IDTokenError{Reason: "the ID token was already used"})

func (o *OIDC) loginOnce(ctx context.Context, prov *oidcProvider, id verified, in signIn) (models.LoginResult, error) {
	now := o.now()
	var who whom
	return o.sessions.SignIn(ctx, SignIn{
		Who: func(tx *gorm.DB) (userID string, err error) {
			who, err = o.identify(tx, prov, id, now)
			return who.userID, err
		},
		Device: in.device, IP: in.ip, UserAgent: in.userAgent, DeviceKey: in.deviceKey,
		Replace: in.chosen, KeepPending: in.keepPending,
		Check: func(tx *gorm.DB, _ models.User) (bool, error) { return o.record(tx, prov, id, who, now) },
		Then: func(tx *gorm.DB, _ models.LoginResult) error {
			// Only a token that signed a device in is spent: refused at the limit, a native
			// client may retry with the same token and a device to replace.
			used := oidcUsedToken{TokenHash: in.spendToken, ExpiresAt: id.expiry}
			if err := storeError(tx.Create(&used).Error); errors.Is(err, models.ErrConflict) {
				return errTokenSpent
			} else if err != nil {
				return err
			}
			return nil
		},
	})
}

type oidcUsedToken struct {
	TokenHash []byte `gorm:"primaryKey"`
	ExpiresAt time.Time
}

func (oidcUsedToken) TableName() string { return "oidc_used_tokens" }

// whom identify found: the user, and the linked identity (nil when there is none yet).
type whom struct {
	userID   string
	identity *models.Identity
}

// identify finds the user of the identity, reading only: the linked one; else, when the
// provider vouches for the email, the account with that email if linking by email is on for
// the provider (never an admin's), or a new account when there is none and registration is
// open (created here: nobody else can hold its lock).
func (o *OIDC) identify(tx *gorm.DB, prov *oidcProvider, id verified, now time.Time) (whom, error) {
	var ident models.Identity
	err := storeError(tx.Where("issuer = ? AND subject = ?", id.issuer, id.subject).Take(&ident).Error)
	if err == nil {
		return whom{userID: ident.UserID, identity: &ident}, nil
	}
	if !errors.Is(err, models.ErrNotFound) {
		return whom{}, err
	}
	email, verr := NormalizeEmail(id.email)
	if verr != nil || !id.emailVerified {
		return whom{}, models.ErrEmailNotVerified
	}
	var user models.User
	err = storeError(tx.Where("email = ?", email).Take(&user).Error)
	switch {
	case err == nil && (!prov.conf.LinkByEmail || user.Role == models.RoleAdmin):
		return whom{}, models.ErrIdentityNotLinked
	case err == nil:
		return whom{userID: user.ID}, nil
	case !errors.Is(err, models.ErrNotFound):
		return whom{}, err
	case !o.cfg.RegistrationOpen:
		return whom{}, models.ErrRegistrationClosed
	}
	user, err = o.newUser(tx, email, id.name, now)
	return whom{userID: user.ID}, err
}

// record writes the identity, under the user's lock: refreshed when known, else linked. It
// reports whether checks of the user's sessions show the change (their identities).
func (o *OIDC) record(tx *gorm.DB, prov *oidcProvider, id verified, who whom, now time.Time) (bool, error) {
	email, _ := NormalizeEmail(id.email) // "" when refused
	if who.identity != nil {
		changed := who.identity.Email != email
		err := storeError(tx.Model(who.identity).Updates(map[string]any{"last_used_at": now, "email": email}).Error)
		return changed, err
	}
	ident := models.Identity{
		ID: newID(), UserID: who.userID, Provider: prov.conf.Name, Issuer: id.issuer, Subject: id.subject,
		Email: email, CreatedAt: now, LastUsedAt: now,
	}
	return true, storeError(tx.Create(&ident).Error) // a trigger marks the user (users.has_identities)
}

// newUser creates an account for a person the provider vouches for. It has no password: it
// signs in through the provider (a password login fails like a wrong password).
func (o *OIDC) newUser(tx *gorm.DB, email, name string, now time.Time) (models.User, error) {
	name, _ = cleanText("display_name", name, MaxDisplayNameLen) // "" when refused: the account needs none
	u := models.User{ID: newID(), Email: email, DisplayName: name, Role: models.RoleUser, CreatedAt: now, UpdatedAt: now}
	return u, createUser(tx, &u, o.cfg.DefaultPlan)
}

// Identities lists the identities linked to a user, oldest first (the admin's user view).
func (o *OIDC) Identities(ctx context.Context, userID string) ([]models.Identity, error) {
	var out []models.Identity
	err := o.db.WithContext(ctx).Where("user_id = ?", userID).Order("created_at").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("identities of user %s: %w", userID, storeError(err))
	}
	return out, nil
}
