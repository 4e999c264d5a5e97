package services_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"
	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

// startMockOIDC runs an in-process OpenID Connect provider for the test.
func startMockOIDC(t *testing.T) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatalf("mockoidc.Run() = %v", err)
	}
	// Close, not Shutdown: Shutdown waits up to 5 s for connections a client dialled but
	// never used.
	t.Cleanup(func() { _ = m.Server.Close() })
	return m
}

type oidcEnv struct {
	*env
	oidc *services.OIDC
	mock *mockoidc.MockOIDC
}

// newOIDCEnv wires OIDC over store with three providers on one mock issuer: "mock" (its
// client), "linking" (the same client, linking by verified email) and "stranger" (another
// client id: every token of the mock is for someone else).
func newOIDCEnv(t *testing.T, store servicetest.Store, registrationOpen bool, now func() time.Time) *oidcEnv {
	t.Helper()
	e := newEnv(t, store)
	m := startMockOIDC(t)
	provider := func(name, clientID string, link bool) services.OIDCProviderConfig {
		return services.OIDCProviderConfig{
			Name: name, Label: name, Issuer: m.Issuer(), ClientID: clientID, ClientSecret: m.ClientSecret,
			RedirectURL: "http://127.0.0.1:1/v1/auth/oidc/" + name + "/callback",
			Scopes:      []string{"openid", "email", "profile"}, LinkByEmail: link,
		}
	}
	if now == nil {
		now = time.Now
	}
	o, err := services.NewOIDC(context.Background(), store.DB, e.sessions, services.OIDCConfig{
		RegistrationOpen: registrationOpen, DefaultPlan: "standard", Now: now,
	}, []services.OIDCProviderConfig{
		provider("mock", m.ClientID, false), provider("linking", m.ClientID, true), provider("stranger", "someone-else", false),
	})
	if err != nil {
		t.Fatalf("NewOIDC() = %v", err)
	}
	return &oidcEnv{env: e, oidc: o, mock: m}
}

// newOIDCOn wires a second OIDC over another pool, with the mock's client linking by email.
func newOIDCOn(t *testing.T, db *gorm.DB, sessions *services.Sessions, m *mockoidc.MockOIDC) *services.OIDC {
	t.Helper()
	o, err := services.NewOIDC(context.Background(), db, sessions, services.OIDCConfig{RegistrationOpen: true, DefaultPlan: "standard"},
		[]services.OIDCProviderConfig{{Name: "linking", Issuer: m.Issuer(), ClientID: m.ClientID, ClientSecret: m.ClientSecret,
			RedirectURL: "http://127.0.0.1:1/v1/auth/oidc/linking/callback", Scopes: []string{"openid", "email"}, LinkByEmail: true}})
	if err != nil {
		t.Fatalf("NewOIDC() = %v", err)
	}
	return o
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// authorize sends a browser to authURL as the queued user and returns where the provider
// sends it back.
func authorize(t *testing.T, m *mockoidc.MockOIDC, authURL string, user *mockoidc.MockUser) url.Values {
	t.Helper()
	m.QueueUser(user)
	resp, err := noRedirects.Get(authURL)
	if err != nil {
		t.Fatalf("GET authorize: %v", err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("authorize = %d to %q, want 302", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query()
}

// browserSignIn runs the browser flow for user and returns the callback as the browser brings it.
func (e *oidcEnv) browserSignIn(t *testing.T, provider string, user *mockoidc.MockUser, device string) models.OIDCCallback {
	t.Helper()
	to, err := e.oidc.Start(context.Background(), provider, models.OIDCStart{
		Device: models.Device{Name: device, Type: "web"}, ReturnTo: "/devices",
	})
	if err != nil {
		t.Fatalf("Start(%s) = %v", provider, err)
	}
	authURL, browser := to.URL, to.Browser
	q, _ := url.Parse(authURL)
	if q.Query().Get("code_challenge_method") != "S256" || q.Query().Get("nonce") == "" || q.Query().Get("state") == "" {
		t.Fatalf("authorization URL %s lacks PKCE, nonce or state", authURL)
	}
	back := authorize(t, e.mock, authURL, user)
	return models.OIDCCallback{State: back.Get("state"), Code: back.Get("code"), Browser: browser, IP: "192.0.2.9", UserAgent: "test"}
}

// nativeIDToken gets an ID token for user the way a TV app's SDK would, with nonce if not "".
func nativeIDToken(t *testing.T, m *mockoidc.MockOIDC, user *mockoidc.MockUser, nonce string) string {
	t.Helper()
	q := url.Values{"client_id": {m.ClientID}, "response_type": {"code"}, "scope": {"openid email"},
		"state": {"app"}, "redirect_uri": {"com.example.tv:/cb"}}
	if nonce != "" {
		q.Set("nonce", nonce)
	}
	code := authorize(t, m, m.AuthorizationEndpoint()+"?"+q.Encode(), user).Get("code")
	resp, err := http.PostForm(m.TokenEndpoint(), url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"client_id": {m.ClientID}, "client_secret": {m.ClientSecret}, "redirect_uri": {"com.example.tv:/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.IDToken == "" {
		t.Fatalf("token endpoint = %d, no id_token (%v)", resp.StatusCode, err)
	}
	return tok.IDToken
}

func person(subject, email string, verified bool) *mockoidc.MockUser {
	return &mockoidc.MockUser{Subject: subject, Email: email, EmailVerified: verified}
}

func native(token, nonce, device string) models.IDTokenLogin {
	return models.IDTokenLogin{IDToken: token, Nonce: nonce, Device: models.Device{Name: device, Type: "tv"}, IP: "192.0.2.10"}
}

func TestOIDCBrowserSignInCreatesTheUserOnce(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newOIDCEnv(t, store, true, nil)
			ctx := context.Background()
			email := servicetest.Email(t)
			ann := person("ann-"+randomSuffix(), email, true)

			res, returnTo, err := e.oidc.Callback(ctx, "mock", e.browserSignIn(t, "mock", ann, "Laptop"))
			if err != nil || returnTo != "/devices" || res.Session.DeviceName != "Laptop" || res.User.Email != email || res.Token == "" {
				t.Fatalf("Callback() = %+v, %q, %v; want a session of a new user %s", res.Session, returnTo, err, email)
			}
			p, err := e.sessions.Authenticate(ctx, res.Token)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Identities) != 1 || p.Identities[0].Provider != "mock" || p.Identities[0].Subject != ann.Subject {
				t.Fatalf("Authenticate() identities = %+v; want the linked identity", p.Identities)
			}
			// The same person again: the same user, no second account.
			again, _, err := e.oidc.Callback(ctx, "mock", e.browserSignIn(t, "mock", ann, "Phone"))
			if err != nil || again.User.ID != res.User.ID {
				t.Fatalf("second Callback() = %v, user %s; want user %s", err, again.User.ID, res.User.ID)
			}
			ids, err := e.oidc.Identities(ctx, res.User.ID)
			if err != nil || len(ids) != 1 {
				t.Fatalf("Identities() = %v, %v; want one", ids, err)
			}
			// A password login of that account fails like a wrong password: it has none.
			if _, err := e.sessions.Login(ctx, models.LoginParams{Email: email, Password: testPassword, Device: models.Device{Name: "x"}}); !errors.Is(err, models.ErrInvalidCredentials) {
				t.Errorf("password Login() of a provider account = %v, want ErrInvalidCredentials", err)
			}
		})
	}
}

func TestOIDCLinkingRules(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			ctx := context.Background()
			e := newOIDCEnv(t, store, true, nil)
			existing := e.register(t, nil) // a password account
			squatter := e.login(t, existing, "Password TV")
			cases := []struct {
				name, provider string
				verified       bool
				want           error
			}{
				{"unverified email never links", "linking", false, models.ErrEmailNotVerified},
				{"verified, but linking is off", "mock", true, models.ErrIdentityNotLinked},
				{"verified by the provider, not by the account's owner", "linking", true, models.ErrIdentityNotLinked},
				{"verified and linking on", "linking", true, nil},
			}
			for _, c := range cases {
				if c.want == nil { // the owner opened the link mailed at sign-up
					existing = markVerified(t, store.DB, existing)
				}
				tok := nativeIDToken(t, e.mock, person("sub-"+randomSuffix(), existing.Email, c.verified), "")
				res, err := e.oidc.LoginWithIDToken(ctx, c.provider, native(tok, "", "TV"))
				if !errors.Is(err, c.want) || (c.want == nil && res.User.ID != existing.ID) {
					t.Errorf("%s: LoginWithIDToken() = user %q, %v; want %v (user %s)", c.name, res.User.ID, err, c.want, existing.ID)
				}
			}
			// Linked, the account keeps its password and its sessions.
			if _, err := e.sessions.Authenticate(ctx, squatter.Token); err != nil {
				t.Errorf("Authenticate(the session from before linking) = %v", err)
			}
			admin := e.register(t, nil)
			if err := store.DB.Model(&models.User{}).Where("id = ?", admin.ID).Update("role", models.RoleAdmin).Error; err != nil {
				t.Fatal(err)
			}
			tok := nativeIDToken(t, e.mock, person("sub-"+randomSuffix(), admin.Email, true), "")
			if _, err := e.oidc.LoginWithIDToken(ctx, "linking", native(tok, "", "TV")); !errors.Is(err, models.ErrIdentityNotLinked) {
				t.Errorf("LoginWithIDToken(an admin's email) = %v, want ErrIdentityNotLinked: admins are never linked by email", err)
			}
			// An unverified email cannot create an account either, nor can anyone when
			// registration is closed.
			tok = nativeIDToken(t, e.mock, person("sub-"+randomSuffix(), "new-"+existing.Email, false), "")
			if _, err := e.oidc.LoginWithIDToken(ctx, "mock", native(tok, "", "TV")); !errors.Is(err, models.ErrEmailNotVerified) {
				t.Errorf("LoginWithIDToken(unverified, new) = %v, want ErrEmailNotVerified", err)
			}
			closed := newOIDCEnv(t, store, false, nil)
			tok = nativeIDToken(t, closed.mock, person("sub-"+randomSuffix(), "closed-"+existing.Email, true), "")
			if _, err := closed.oidc.LoginWithIDToken(ctx, "mock", native(tok, "", "TV")); !errors.Is(err, models.ErrRegistrationClosed) {
				t.Errorf("LoginWithIDToken(registration closed) = %v, want ErrRegistrationClosed", err)
			}
		})
	}
}
