package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

// oidcSite is sessiond's router on a real listener (the provider redirects browsers to it)
// with one provider, "mock", served by an in-process mockoidc.
type oidcSite struct {
	*server
	url  string
	mock *mockoidc.MockOIDC
}

func newOIDCSite(t *testing.T, store servicetest.Store, linkByEmail bool) *oidcSite {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Server.Close() })
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()

	c := &clock{now: time.Now().UTC()}
	log := slog.New(slog.DiscardHandler)
	hasher := servicetest.FastHasher()
	sessions := services.NewSessions(store.DB, hasher, services.SessionsConfig{
		Defaults: models.Timeouts{Idle: time.Hour, Absolute: 24 * time.Hour}, TouchInterval: time.Minute, Now: c.Now, Log: log,
	})
	users := services.NewUsers(store.DB, hasher, services.UsersConfig{DefaultPlan: "standard", RegistrationOpen: true, Now: c.Now})
	oidc, err := services.NewOIDC(context.Background(), store.DB, sessions, services.OIDCConfig{RegistrationOpen: true, DefaultPlan: "standard"},
		[]services.OIDCProviderConfig{{
			Name: "mock", Label: "Mock ID", Issuer: m.Issuer(), ClientID: m.ClientID, ClientSecret: m.ClientSecret,
			RedirectURL: base + "/v1/auth/oidc/mock/callback", Scopes: []string{"openid", "email"}, LinkByEmail: linkByEmail,
		}})
	if err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, api.Deps{
		Sessions: sessions, Users: users, Admin: users, Plans: services.NewPlans(store.DB, c.Now, nil, nil), OIDC: oidc,
		Store: services.NewHealth(store.DB), Log: log, MaxBodyBytes: 64 << 10,
	})
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return &oidcSite{server: &server{t: t, h: h, store: store, clock: c}, url: base, mock: m}
}

// person is a browser with a cookie jar that follows redirects, as a person clicking would.
func (o *oidcSite) browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// providerButton returns the sign-in page's link to the provider.
func (o *oidcSite) providerButton(t *testing.T, c *http.Client) string {
	t.Helper()
	_, page := get(t, c, o.url+"/login?next=%2Fhistory")
	i := strings.Index(page, `href="/v1/auth/oidc/mock/start?`)
	if i < 0 || !strings.Contains(page, "Continue with Mock ID") {
		t.Fatalf("the sign-in page has no Mock ID button:\n%s", page)
	}
	href := page[i+len(`href="`):]
	href = href[:strings.Index(href, `"`)]
	return o.url + strings.ReplaceAll(href, "&amp;", "&")
}

func TestOIDCBrowserFlowEndToEnd(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			o := newOIDCSite(t, store, false)
			email := servicetest.Email(t)
			b := o.browser(t)
			start := o.providerButton(t, b)
			if u, _ := url.Parse(start); u.Query().Get("device_name") == "" || u.Query().Get("return_to") != "/history" {
				t.Fatalf("button %s lacks the device name or the return path", start)
			}
			o.mock.QueueUser(&mockoidc.MockUser{Subject: "ann-" + email, Email: email, EmailVerified: true})
			resp, page := get(t, b, start)
			if resp.StatusCode != 200 || resp.Request.URL.Path != "/history" || !strings.Contains(page, "Signed in") {
				t.Fatalf("after the provider: %d at %s, want the history page", resp.StatusCode, resp.Request.URL)
			}
			resp, page = get(t, b, o.url+"/v1/auth/session")
			var who struct {
				User       struct{ Email string }
				Identities []models.LinkedIdentity
			}
			if err := json.Unmarshal([]byte(page), &who); err != nil || resp.StatusCode != 200 || who.User.Email != email ||
				len(who.Identities) != 1 || who.Identities[0].Provider != "mock" || who.Identities[0].Email != email {
				t.Fatalf("GET /v1/auth/session = %d %s, want the user with the mock identity", resp.StatusCode, page)
			}
			u, _ := url.Parse(o.url)
			for _, c := range b.Jar.Cookies(u) {
				if strings.HasPrefix(c.Name, "sessiond-oidc") {
					t.Fatal("the browser binding cookie outlived the callback")
				}
			}
		})
	}
}

func TestOIDCBrowserFailuresArePagesWithoutSessions(t *testing.T) {
	o := newOIDCSite(t, servicetest.SQLite(t), false)
	b := o.browser(t)
	noFollow := *b
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	// The provider sends the browser back with a code, but the state is forged.
	resp, _ := get(t, &noFollow, o.providerButton(t, b))
	authURL := resp.Header.Get("Location")
	o.mock.QueueUser(mockoidc.DefaultUser())
	resp, _ = get(t, &noFollow, authURL)
	back, _ := url.Parse(resp.Header.Get("Location"))
	q := back.Query()
	q.Set("state", "forged")
	back.RawQuery = q.Encode()

	cases := []struct {
		name, url string
		status    int
		code      string
	}{
		{"forged state", back.String(), 400, "invalid_state"},
		{"cancelled at the provider", o.url + "/v1/auth/oidc/mock/callback?error=access_denied&state=x", 401, ""},
		{"unknown provider", o.url + "/v1/auth/oidc/nope/start", 404, "not_found"},
		{"bad device", o.url + "/v1/auth/oidc/mock/start?device_type=toaster", 400, "invalid_request"},
	}
	// Another site cannot start a sign-in in this browser.
	req, _ := http.NewRequest("GET", o.url+"/v1/auth/oidc/mock/start", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, err := noFollow.Do(req); err != nil || resp.StatusCode != 403 {
		t.Errorf("cross-site start = %v %v, want 403", resp.StatusCode, err)
	}
	for _, c := range cases {
		resp, page := get(t, &noFollow, c.url)
		if resp.StatusCode != c.status || resp.Header.Get("X-Error-Code") != c.code || !strings.Contains(page, "Sign-in not completed") && c.code != "not_found" {
			t.Errorf("%s: %d (%s), want %d %s with a page:\n%.300s", c.name, resp.StatusCode, resp.Header.Get("X-Error-Code"), c.status, c.code, page)
		}
	}
	u, _ := url.Parse(o.url)
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == "sessiond" {
			t.Fatal("a failed sign-in left a session cookie")
		}
	}
}

func TestOIDCBrowserAtTheLimitGoesToTheChooser(t *testing.T) {
	o := newOIDCSite(t, servicetest.SQLite(t), true)
	email := o.register(t)
	o.setLimit(t, email, models.Limit{Max: 1, Policy: models.PolicyReject})
	o.mustLogin(t, email, "Living room TV")
	b := o.browser(t)
	o.mock.QueueUser(&mockoidc.MockUser{Subject: "tv-owner", Email: email, EmailVerified: true})
	resp, page := get(t, b, o.providerButton(t, b))
	if resp.Request.URL.Path != "/devices/limit" || !strings.Contains(page, "Living room TV") {
		t.Fatalf("at the limit: %d at %s, want the chooser listing the TV:\n%.400s", resp.StatusCode, resp.Request.URL, page)
	}
	i := strings.Index(page, `name="replace_session_id" value="`)
	tvID := page[i+len(`name="replace_session_id" value="`):]
	tvID = tvID[:strings.Index(tvID, `"`)]
	req, _ := http.NewRequest("POST", o.url+"/devices/limit", strings.NewReader(url.Values{"replace_session_id": {tvID}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", o.url)
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Request.URL.Path != "/devices" || !strings.Contains(string(body), "1 of 1") {
		t.Fatalf("after choosing: %d at %s:\n%.400s", resp.StatusCode, resp.Request.URL, body)
	}
}

func TestOIDCNativeTokenExchange(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			o := newOIDCSite(t, store, false)
			email := servicetest.Email(t)
			user := &mockoidc.MockUser{Subject: "tv-" + email, Email: email, EmailVerified: true}
			tok := appIDToken(t, o.mock, user)
			post := func(provider string, body any) response {
				b, _ := json.Marshal(body)
				return o.do("POST", "/v1/auth/oidc/"+provider+"/token", "application/json", string(b))
			}
			device := map[string]any{"name": "Living room TV", "type": "tv"}

			r := post("mock", map[string]any{"id_token": tok, "device": device})
			if r.Code != 201 || r.body["token"] == nil || r.body["user"].(map[string]any)["email"] != email {
				t.Fatalf("token exchange = %d %s, want 201 as a login", r.Code, r.Body)
			}
			for _, c := range []struct {
				name, provider string
				body           any
				status         int
				code           string
			}{
				{"replayed", "mock", map[string]any{"id_token": tok, "device": device}, 401, "invalid_id_token"},
				{"garbage", "mock", map[string]any{"id_token": "not.a.jwt", "device": device}, 401, "invalid_id_token"},
				{"wrong nonce", "mock", map[string]any{"id_token": appIDToken(t, o.mock, user), "nonce": "n", "device": device}, 401, "invalid_id_token"},
				{"unknown provider", "nope", map[string]any{"id_token": tok}, 404, "not_found"},
				{"unknown field", "mock", map[string]any{"id_token": tok, "password": "x"}, 400, "invalid_request"},
				{"no token", "mock", map[string]any{"device": device}, 400, "invalid_request"},
			} {
				if r := post(c.provider, c.body); r.Code != c.status || r.errorCode() != c.code {
					t.Errorf("%s: %d %s, want %d %s", c.name, r.Code, r.Body, c.status, c.code)
				}
			}

			// At a reject limit: the login's 409, then the same token with a device to replace.
			o.setLimit(t, email, models.Limit{Max: 1, Policy: models.PolicyReject})
			tok = appIDToken(t, o.mock, user)
			r = post("mock", map[string]any{"id_token": tok, "device": map[string]any{"name": "Phone", "type": "mobile"}})
			sessions, _ := r.errorDetails()["sessions"].([]any)
			if r.Code != 409 || r.errorCode() != "device_limit_reached" || len(sessions) != 1 {
				t.Fatalf("at the limit = %d %s, want 409 device_limit_reached", r.Code, r.Body)
			}
			tvID := sessions[0].(map[string]any)["id"]
			r = post("mock", map[string]any{"id_token": tok, "device": map[string]any{"name": "Phone", "type": "mobile"}, "replace_session_id": tvID})
			if r.Code != 201 || len(r.body["evicted"].([]any)) != 1 {
				t.Fatalf("replacing the TV = %d %s, want 201 with the TV evicted", r.Code, r.Body)
			}

			// An admin sees the identity in the user view.
			admin := o.register(t)
			o.makeAdmin(t, admin)
			userID := r.body["user"].(map[string]any)["id"].(string)
			r = o.json("GET", "/v1/admin/users/"+userID, nil, bearer(o.mustLogin(t, admin, "Desk"))...)
			ids, _ := r.body["identities"].([]any)
			if r.Code != 200 || len(ids) != 1 || ids[0].(map[string]any)["subject"] != user.Subject {
				t.Fatalf("GET /v1/admin/users/{id} = %d %s, want the identity", r.Code, r.Body)
			}
		})
	}
}

// appIDToken gets an ID token as a TV app would from the provider's SDK (no nonce).
func appIDToken(t *testing.T, m *mockoidc.MockOIDC, user *mockoidc.MockUser) string {
	t.Helper()
	m.QueueUser(user)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := url.Values{"client_id": {m.ClientID}, "response_type": {"code"}, "scope": {"openid email"}, "state": {"s"}, "redirect_uri": {"app:/cb"}}
	resp, err := noFollow.Get(m.AuthorizationEndpoint() + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	resp, err = http.PostForm(m.TokenEndpoint(), url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"client_id": {m.ClientID}, "client_secret": {m.ClientSecret}, "redirect_uri": {"app:/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		IDToken string `json:"id_token"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&tok); err != nil || tok.IDToken == "" {
		t.Fatalf("token endpoint: %s", b)
	}
	return tok.IDToken
}
