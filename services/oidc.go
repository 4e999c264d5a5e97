package services

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
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
			// The library checks the signature and the expiry, and says which by type; the
			// issuer and the audience are checked by verify, which can then say which failed
			// without reading the library's text (its errors for those have no type).
			verifier: p.Verifier(&oidc.Config{ClientID: pc.ClientID, Now: o.now, SkipClientIDCheck: true, SkipIssuerCheck: true}),
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

// Identities lists the identities linked to a user, oldest first (the admin's user view).
func (o *OIDC) Identities(ctx context.Context, userID string) ([]models.Identity, error) {
	var out []models.Identity
	err := o.db.WithContext(ctx).Where("user_id = ?", userID).Order("created_at").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("identities of user %s: %w", userID, storeError(err))
	}
	return out, nil
}
