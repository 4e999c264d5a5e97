package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

func TestOIDCBrowserFlowEndToEnd(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			o := apitest.NewOIDCSite(t, store, false)
			email := servicetest.Email(t)
			b := o.Client()
			start := o.ProviderButton(t, b)
			if u, _ := url.Parse(start); u.Query().Get("device_name") == "" || u.Query().Get("return_to") != "/history" {
				t.Fatalf("button %s lacks the device name or the return path", start)
			}
			o.Mock.QueueUser(&mockoidc.MockUser{Subject: "ann-" + email, Email: email, EmailVerified: true})
			resp, page := apitest.Get(t, b, start)
			if resp.StatusCode != 200 || resp.Request.URL.Path != "/history" || !strings.Contains(page, "Signed in") {
				t.Fatalf("after the provider: %d at %s, want the history page", resp.StatusCode, resp.Request.URL)
			}
			resp, page = apitest.Get(t, b, o.URL+"/v1/auth/session")
			var who struct {
				User       struct{ Email string }
				Identities []models.LinkedIdentity
			}
			if err := json.Unmarshal([]byte(page), &who); err != nil || resp.StatusCode != 200 || who.User.Email != email ||
				len(who.Identities) != 1 || who.Identities[0].Provider != "mock" || who.Identities[0].Email != email {
				t.Fatalf("GET /v1/auth/session = %d %s, want the user with the mock identity", resp.StatusCode, page)
			}
			u, _ := url.Parse(o.URL)
			for _, c := range b.Jar.Cookies(u) {
				if strings.HasPrefix(c.Name, "sessiond-oidc") {
					t.Fatal("the browser binding cookie outlived the callback")
				}
			}
		})
	}
}

func TestOIDCBrowserFailuresArePagesWithoutSessions(t *testing.T) {
	o := apitest.NewOIDCSite(t, servicetest.SQLite(t), false)
	b := o.Client()
	noFollow := *b
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	// The provider sends the browser back with a code, but the state is forged.
	resp, _ := apitest.Get(t, &noFollow, o.ProviderButton(t, b))
	authURL := resp.Header.Get("Location")
	o.Mock.QueueUser(mockoidc.DefaultUser())
	resp, _ = apitest.Get(t, &noFollow, authURL)
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
		{"cancelled at the provider", o.URL + "/v1/auth/oidc/mock/callback?error=access_denied&state=x", 401, ""},
		{"unknown provider", o.URL + "/v1/auth/oidc/nope/start", 404, "not_found"},
		{"bad device", o.URL + "/v1/auth/oidc/mock/start?device_type=toaster", 400, "invalid_request"},
	}
	// Another site cannot start a sign-in in this browser.
	req, _ := http.NewRequest("GET", o.URL+"/v1/auth/oidc/mock/start", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, err := noFollow.Do(req); err != nil || resp.StatusCode != 403 {
		t.Errorf("cross-site start = %v %v, want 403", resp.StatusCode, err)
	}
	for _, c := range cases {
		resp, page := apitest.Get(t, &noFollow, c.url)
		if resp.StatusCode != c.status || resp.Header.Get("X-Error-Code") != c.code || !strings.Contains(page, "Sign-in not completed") && c.code != "not_found" {
			t.Errorf("%s: %d (%s), want %d %s with a page:\n%.300s", c.name, resp.StatusCode, resp.Header.Get("X-Error-Code"), c.status, c.code, page)
		}
	}
	u, _ := url.Parse(o.URL)
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == "sessiond" {
			t.Fatal("a failed sign-in left a session cookie")
		}
	}
}

func TestOIDCBrowserAtTheLimitGoesToTheChooser(t *testing.T) {
	o := apitest.NewOIDCSite(t, servicetest.SQLite(t), true)
	email := o.Register(t)
	o.MarkVerified(t, email) // linking by email needs a verified account
	o.SetLimit(t, email, models.Limit{Max: 1, Policy: models.PolicyReject})
	o.MustLogin(t, email, "Living room TV")
	b := o.Client()
	o.Mock.QueueUser(&mockoidc.MockUser{Subject: "tv-owner", Email: email, EmailVerified: true})
	resp, page := apitest.Get(t, b, o.ProviderButton(t, b))
	if resp.Request.URL.Path != "/devices/limit" || !strings.Contains(page, "Living room TV") {
		t.Fatalf("at the limit: %d at %s, want the chooser listing the TV:\n%.400s", resp.StatusCode, resp.Request.URL, page)
	}
	i := strings.Index(page, `name="replace_session_id" value="`)
	tvID := page[i+len(`name="replace_session_id" value="`):]
	tvID = tvID[:strings.Index(tvID, `"`)]
	req, _ := http.NewRequest("POST", o.URL+"/devices/limit", strings.NewReader(url.Values{"replace_session_id": {tvID}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", o.URL)
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
