package apitest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/api/web"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

// OIDCSite is sessiond's engine on a real listener at URL (the provider redirects browsers to
// it) with one identity provider, "mock", served by an in-process mockoidc (Mock).
type OIDCSite struct {
	*Server
	URL  string
	Mock *mockoidc.MockOIDC
}

// NewOIDCSite starts the provider and the site; linkByEmail is the provider's setting.
func NewOIDCSite(t *testing.T, store servicetest.Store, linkByEmail bool) *OIDCSite {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Server.Close() })
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()

	c := &Clock{now: time.Now().UTC()}
	log := slog.New(slog.DiscardHandler)
	sv := newServices(t, store, c, log, Options{})
	oidc, err := services.NewOIDC(context.Background(), store.DB, sv.sessions, services.OIDCConfig{RegistrationOpen: true, DefaultPlan: "standard"},
		[]services.OIDCProviderConfig{{
			Name: "mock", Label: "Mock ID", Issuer: m.Issuer(), ClientID: m.ClientID, ClientSecret: m.ClientSecret,
			RedirectURL: base + "/v1/auth/oidc/mock/callback", Scopes: []string{"openid", "email"}, LinkByEmail: linkByEmail,
		}})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(t, api.Deps{
		Sessions: sv.sessions, Users: sv.users, Admin: sv.users, Clients: sv.clients, Plans: sv.plans, OIDC: oidc,
		Store: services.NewHealth(store.DB), Log: log, MaxBodyBytes: 64 << 10,
	}, web.Deps{Sessions: sv.sessions, Plans: sv.plans, Admin: sv.users, OIDC: oidc, Log: log})
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return &OIDCSite{Server: &Server{Handler: h, Store: store, Clock: c, t: t}, URL: base, Mock: m}
}

// Client is a browser with a cookie jar that follows redirects, as a person clicking would.
func (o *OIDCSite) Client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

// Get loads u with c and returns the answer and its body.
func Get(t testing.TB, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// ProviderButton returns the sign-in page's link to the provider, as c sees it.
func (o *OIDCSite) ProviderButton(t testing.TB, c *http.Client) string {
	t.Helper()
	_, page := Get(t, c, o.URL+"/login?next=%2Fhistory")
	i := strings.Index(page, `href="/v1/auth/oidc/mock/start?`)
	if i < 0 || !strings.Contains(page, "Continue with Mock ID") {
		t.Fatalf("the sign-in page has no Mock ID button:\n%s", page)
	}
	href := page[i+len(`href="`):]
	href = href[:strings.Index(href, `"`)]
	return o.URL + strings.ReplaceAll(href, "&amp;", "&")
}
