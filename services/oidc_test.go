package services_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
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

func TestOIDCRefusesForgeriesAndReplays(t *testing.T) {
	store := servicetest.SQLite(t)
	ctx := context.Background()
	e := newOIDCEnv(t, store, true, nil)
	bob := func() *mockoidc.MockUser {
		return person("bob-"+randomSuffix(), servicetest.Email(t)+randomSuffix(), true)
	}

	t.Run("forged state", func(t *testing.T) {
		cb := e.browserSignIn(t, "mock", bob(), "Laptop")
		cb.State = "forged" + cb.State[6:]
		if _, _, err := e.oidc.Callback(ctx, "mock", cb); !errors.Is(err, models.ErrSignInStateInvalid) {
			t.Errorf("Callback(forged state) = %v, want ErrSignInStateInvalid", err)
		}
	})
	t.Run("another browser", func(t *testing.T) {
		cb := e.browserSignIn(t, "mock", bob(), "Laptop")
		cb.Browser = "the victim's browser"
		if _, _, err := e.oidc.Callback(ctx, "mock", cb); !errors.Is(err, models.ErrSignInStateInvalid) {
			t.Errorf("Callback(from another browser) = %v, want ErrSignInStateInvalid", err)
		}
	})
	t.Run("replayed callback", func(t *testing.T) {
		cb := e.browserSignIn(t, "mock", bob(), "Laptop")
		if _, _, err := e.oidc.Callback(ctx, "mock", cb); err != nil {
			t.Fatalf("Callback() = %v", err)
		}
		if _, _, err := e.oidc.Callback(ctx, "mock", cb); !errors.Is(err, models.ErrSignInStateInvalid) {
			t.Errorf("Callback(replayed) = %v, want ErrSignInStateInvalid", err)
		}
	})
	t.Run("replayed code", func(t *testing.T) {
		first := e.browserSignIn(t, "mock", bob(), "Laptop")
		if _, _, err := e.oidc.Callback(ctx, "mock", first); err != nil {
			t.Fatalf("Callback() = %v", err)
		}
		// A fresh state of this browser, with the code already exchanged.
		second := e.browserSignIn(t, "mock", bob(), "Laptop")
		second.Code = first.Code
		var idErr *models.IDTokenError
		if _, _, err := e.oidc.Callback(ctx, "mock", second); !errors.As(err, &idErr) {
			t.Errorf("Callback(replayed code) = %v, want IDTokenError", err)
		}
	})
	t.Run("state of another provider", func(t *testing.T) {
		cb := e.browserSignIn(t, "mock", bob(), "Laptop")
		if _, _, err := e.oidc.Callback(ctx, "linking", cb); !errors.Is(err, models.ErrSignInStateInvalid) {
			t.Errorf("Callback(other provider) = %v, want ErrSignInStateInvalid", err)
		}
	})
	t.Run("ID token for another audience", func(t *testing.T) {
		tok := nativeIDToken(t, e.mock, bob(), "")
		var idErr *models.IDTokenError
		if _, err := e.oidc.LoginWithIDToken(ctx, "stranger", native(tok, "", "TV")); !errors.As(err, &idErr) || !strings.Contains(err.Error(), "audience") {
			t.Errorf("LoginWithIDToken(another audience) = %v, want IDTokenError about the audience", err)
		}
	})
	t.Run("wrong nonce", func(t *testing.T) {
		tok := nativeIDToken(t, e.mock, bob(), "the app's nonce")
		for _, nonce := range []string{"another nonce", ""} {
			var idErr *models.IDTokenError
			if _, err := e.oidc.LoginWithIDToken(ctx, "mock", native(tok, nonce, "TV")); !errors.As(err, &idErr) || !strings.Contains(err.Error(), "nonce") {
				t.Errorf("LoginWithIDToken(nonce %q) = %v, want IDTokenError about the nonce", nonce, err)
			}
		}
		if _, err := e.oidc.LoginWithIDToken(ctx, "mock", native(tok, "the app's nonce", "TV")); err != nil {
			t.Errorf("LoginWithIDToken(right nonce) = %v", err)
		}
	})
	t.Run("replayed ID token", func(t *testing.T) {
		tok := nativeIDToken(t, e.mock, bob(), "")
		if _, err := e.oidc.LoginWithIDToken(ctx, "mock", native(tok, "", "TV")); err != nil {
			t.Fatalf("LoginWithIDToken() = %v", err)
		}
		var idErr *models.IDTokenError
		if _, err := e.oidc.LoginWithIDToken(ctx, "mock", native(tok, "", "Thief's TV")); !errors.As(err, &idErr) {
			t.Errorf("LoginWithIDToken(replayed) = %v, want IDTokenError", err)
		}
	})
	t.Run("garbage and unknown provider", func(t *testing.T) {
		var idErr *models.IDTokenError
		if _, err := e.oidc.LoginWithIDToken(ctx, "mock", native("eyJhbGciOiJub25lIn0.e30.", "", "TV")); !errors.As(err, &idErr) {
			t.Errorf("LoginWithIDToken(alg none) = %v, want IDTokenError", err)
		}
		if _, err := e.oidc.LoginWithIDToken(ctx, "nope", native("x", "", "TV")); !errors.Is(err, models.ErrUnknownProvider) {
			t.Errorf("LoginWithIDToken(unknown provider) = %v, want ErrUnknownProvider", err)
		}
	})
	t.Run("one token, other spellings", func(t *testing.T) {
		tok := nativeIDToken(t, e.mock, bob(), "")
		if _, err := e.oidc.LoginWithIDToken(ctx, "mock", native(tok, "", "TV")); err != nil {
			t.Fatalf("LoginWithIDToken() = %v", err)
		}
		// The JOSE library forgives whitespace and the unused bits of the last character;
		// none of these may pass as a fresh token.
		last := tok[len(tok)-1]
		other := string(rune(last ^ 1))
		for _, variant := range []string{tok + "\n", " " + tok, strings.Replace(tok, ".", ".\t", 1), tok[:len(tok)-1] + other} {
			var idErr *models.IDTokenError
			if _, err := e.oidc.LoginWithIDToken(ctx, "mock", native(variant, "", "Thief's TV")); !errors.As(err, &idErr) {
				t.Errorf("LoginWithIDToken(%q…) = %v, want IDTokenError", variant[len(variant)-8:], err)
			}
		}
	})
	t.Run("several audiences", func(t *testing.T) {
		sign := func(claims jwt.MapClaims) string {
			now := time.Now()
			base := jwt.MapClaims{"iss": e.mock.Issuer(), "sub": "multi-" + randomSuffix(), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
				"email": "multi-" + randomSuffix() + "@example.com", "email_verified": true}
			for k, v := range claims {
				base[k] = v
			}
			tok, err := e.mock.Keypair.SignJWT(base)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		both := []string{"another-client", e.mock.ClientID}
		var idErr *models.IDTokenError
		if _, err := e.oidc.LoginWithIDToken(ctx, "mock", native(sign(jwt.MapClaims{"aud": both}), "", "TV")); !errors.As(err, &idErr) {
			t.Errorf("LoginWithIDToken(aud [them, us], no azp) = %v, want IDTokenError", err)
		}
		if _, err := e.oidc.LoginWithIDToken(ctx, "mock", native(sign(jwt.MapClaims{"aud": both, "azp": "another-client"}), "", "TV")); !errors.As(err, &idErr) {
			t.Errorf("LoginWithIDToken(azp another client) = %v, want IDTokenError", err)
		}
		if _, err := e.oidc.LoginWithIDToken(ctx, "mock", native(sign(jwt.MapClaims{"aud": both, "azp": e.mock.ClientID}), "", "TV")); err != nil {
			t.Errorf("LoginWithIDToken(azp us) = %v", err)
		}
	})
	t.Run("expired sign-in state", func(t *testing.T) {
		var ahead atomic.Int64
		later := newOIDCEnv(t, store, true, func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) })
		cb := later.browserSignIn(t, "mock", bob(), "Laptop")
		ahead.Store(int64(11 * time.Minute))
		if _, _, err := later.oidc.Callback(ctx, "mock", cb); !errors.Is(err, models.ErrSignInStateInvalid) {
			t.Errorf("Callback(11 minutes later) = %v, want ErrSignInStateInvalid", err)
		}
	})
	t.Run("another browser cannot burn the state", func(t *testing.T) {
		cb := e.browserSignIn(t, "mock", bob(), "Laptop")
		stolen := cb
		stolen.Browser = "someone else"
		if _, _, err := e.oidc.Callback(ctx, "mock", stolen); !errors.Is(err, models.ErrSignInStateInvalid) {
			t.Fatalf("Callback(other browser) = %v", err)
		}
		if _, _, err := e.oidc.Callback(ctx, "mock", cb); err != nil {
			t.Errorf("Callback(the right browser, after the attempt) = %v", err)
		}
	})
	t.Run("provider down", func(t *testing.T) {
		down := newOIDCEnv(t, store, true, nil)
		tok := nativeIDToken(t, down.mock, bob(), "")
		_ = down.mock.Server.Close()
		_, err := down.oidc.LoginWithIDToken(ctx, "mock", native(tok, "", "TV"))
		if !errors.Is(err, models.ErrProviderUnavailable) || strings.Contains(err.Error(), "127.0.0.1") {
			t.Errorf("LoginWithIDToken(provider down) = %v, want ErrProviderUnavailable without the provider's address", err)
		}
	})
	t.Run("expired ID token", func(t *testing.T) {
		later := newOIDCEnv(t, store, true, func() time.Time { return time.Now().Add(time.Hour) })
		tok := nativeIDToken(t, later.mock, bob(), "")
		var idErr *models.IDTokenError
		if _, err := later.oidc.LoginWithIDToken(ctx, "mock", native(tok, "", "TV")); !errors.As(err, &idErr) || !strings.Contains(err.Error(), "expired") {
			t.Errorf("LoginWithIDToken(expired) = %v, want IDTokenError: expired", err)
		}
	})
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
				{"verified and linking on", "linking", true, nil},
			}
			for _, c := range cases {
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

// TestOIDCKeepsTheDeviceLimit: sign-ins through the provider count against the same limit as
// password logins, under both policies (the race between the two kinds is
// TestOIDCAndPasswordLoginsRace).
func TestOIDCKeepsTheDeviceLimit(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			ctx := context.Background()
			e := newOIDCEnv(t, store, true, nil)
			u := e.register(t, &models.Limit{Max: 2, Policy: models.PolicyEvictOldest})
			carl := person("carl-"+randomSuffix(), u.Email, true)
			a := e.login(t, u, "Password TV")
			e.clock.Advance(time.Second)
			if _, err := e.oidc.LoginWithIDToken(ctx, "linking", native(nativeIDToken(t, e.mock, carl, ""), "", "SSO phone")); err != nil {
				t.Fatalf("LoginWithIDToken() = %v", err)
			}
			e.clock.Advance(time.Second)
			res, err := e.oidc.LoginWithIDToken(ctx, "linking", native(nativeIDToken(t, e.mock, carl, ""), "", "SSO tablet"))
			if err != nil || len(res.Evicted) != 1 || res.Evicted[0].ID != a.Session.ID {
				t.Fatalf("third sign-in = %v, evicted %v; want the password TV evicted", err, res.Evicted)
			}

			setLimit(t, store.DB, u.ID, models.Limit{Max: 2, Policy: models.PolicyReject})
			tok := nativeIDToken(t, e.mock, carl, "")
			_, err = e.oidc.LoginWithIDToken(ctx, "linking", native(tok, "", "SSO laptop"))
			var limit *models.DeviceLimitError
			if !errors.As(err, &limit) || len(limit.Sessions) != 2 {
				t.Fatalf("sign-in at a reject limit = %v, want DeviceLimitError with 2 sessions", err)
			}
			// The same token, now naming a device to replace: the refusal did not spend it.
			p := native(tok, "", "SSO laptop")
			p.ReplaceSessionID = limit.Sessions[0].ID
			if _, err := e.oidc.LoginWithIDToken(ctx, "linking", p); err != nil {
				t.Fatalf("retry with replace_session_id = %v", err)
			}

			// Moved down to 1 device with 2 signed in: both must go, named together.
			setLimit(t, store.DB, u.ID, models.Limit{Max: 1, Policy: models.PolicyReject})
			tok = nativeIDToken(t, e.mock, carl, "")
			_, err = e.oidc.LoginWithIDToken(ctx, "linking", native(tok, "", "SSO watch"))
			if !errors.As(err, &limit) || limit.MustSignOut != 2 || len(limit.Sessions) != 2 {
				t.Fatalf("sign-in over a reject limit = %v, want DeviceLimitError with both to go", err)
			}
			p = native(tok, "", "SSO watch")
			p.ReplaceSessionIDs = []string{limit.Sessions[1].ID}
			if _, err := e.oidc.LoginWithIDToken(ctx, "linking", p); !errors.As(err, &limit) || limit.MustSignOut != 2 {
				t.Fatalf("retry naming one of two = %v, want DeviceLimitError with 2 to go", err)
			}
			p.ReplaceSessionIDs = []string{limit.Sessions[0].ID, limit.Sessions[1].ID}
			if res, err := e.oidc.LoginWithIDToken(ctx, "linking", p); err != nil || len(res.Evicted) != 2 {
				t.Fatalf("retry naming both = %v, want signed in with 2 evicted", err)
			}
			if n := activeCount(t, store.DB, u.ID, e.clock.Now()); n != 1 {
				t.Errorf("active sessions = %d, want 1", n)
			}
		})
	}
}

// TestOIDCAndPasswordLoginsRace races 20 password logins and 20 provider logins of one user
// (each kind over two connection pools, as two processes would hold) at limit 2, evicting
// the oldest. Exactly 2 sessions may remain, and every login must have evicted exactly one
// session once the limit was reached: a login that missed a concurrent one would leave a third
// session behind, which a later login's eviction hides from the final count but not from the
// count of evictions.
//
// Checked by hand once (2026-11-30): with lockUser removed from OIDC.loginOnce, the Postgres
// case recorded more evictions than logins past the limit, and this test failed.
func TestOIDCAndPasswordLoginsRace(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			ctx := context.Background()
			e := newOIDCEnv(t, store, true, nil)
			u := e.register(t, &models.Limit{Max: 2, Policy: models.PolicyEvictOldest})
			carl := person("carl-"+randomSuffix(), u.Email, true)
			// The race: 20 password logins and 20 provider logins at once, each kind over two
			// connection pools (as two processes would hold).
			dbs := []*gorm.DB{store.Open(t), store.Open(t)}
			pools := []*env{newEnvOn(t, store, dbs[0], e.clock), newEnvOn(t, store, dbs[1], e.clock)}
			providers := []*services.OIDC{
				newOIDCOn(t, dbs[0], pools[0].sessions, e.mock), newOIDCOn(t, dbs[1], pools[1].sessions, e.mock),
			}
			setLimit(t, store.DB, u.ID, models.Limit{Max: 2, Policy: models.PolicyEvictOldest})
			const racers = 40
			tokens := make([]string, racers)
			for i := 1; i < racers; i += 2 {
				tokens[i] = nativeIDToken(t, e.mock, carl, "")
			}
			start := make(chan struct{})
			errs := make([]error, racers)
			var wg sync.WaitGroup
			for i := range racers {
				wg.Go(func() {
					<-start
					if i%2 == 0 {
						_, errs[i] = pools[i%4/2].sessions.Login(ctx, loginParams(u, fmt.Sprint("password ", i)))
					} else {
						_, errs[i] = providers[i%4/2].LoginWithIDToken(ctx, "linking", native(tokens[i], "", fmt.Sprint("sso ", i)))
					}
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("racing login %d = %v", i, err)
				}
			}
			events := eventTypes(t, store.DB, u.ID)
			if n := activeCount(t, store.DB, u.ID, e.clock.Now()); n != 2 || events[models.EventLogin] != racers ||
				events[models.EventEvicted] != racers-2 {
				t.Errorf("after the race: %d active, events %v; want exactly 2 active, %d logins, %d evicted", n, events, racers, racers-2)
			}
		})
	}
}
