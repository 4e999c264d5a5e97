package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

func TestOIDCNativeTokenExchange(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			o := apitest.NewOIDCSite(t, store, false)
			email := servicetest.Email(t)
			user := &mockoidc.MockUser{Subject: "tv-" + email, Email: email, EmailVerified: true}
			tok := appIDToken(t, o.Mock, user)
			post := func(provider string, body any) apitest.Response {
				b, _ := json.Marshal(body)
				return o.Do("POST", "/v1/auth/oidc/"+provider+"/token", "application/json", string(b))
			}
			device := map[string]any{"name": "Living room TV", "type": "tv"}

			r := post("mock", map[string]any{"id_token": tok, "device": device})
			if r.Code != 201 || r.JSON["token"] == nil || r.JSON["user"].(map[string]any)["email"] != email {
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
				{"wrong nonce", "mock", map[string]any{"id_token": appIDToken(t, o.Mock, user), "nonce": "n", "device": device}, 401, "invalid_id_token"},
				{"unknown provider", "nope", map[string]any{"id_token": tok}, 404, "not_found"},
				{"unknown field", "mock", map[string]any{"id_token": tok, "password": "x"}, 400, "invalid_request"},
				{"no token", "mock", map[string]any{"device": device}, 400, "invalid_request"},
			} {
				if r := post(c.provider, c.body); r.Code != c.status || r.ErrorCode() != c.code {
					t.Errorf("%s: %d %s, want %d %s", c.name, r.Code, r.Body, c.status, c.code)
				}
			}

			// At a reject limit: the login's 409, then the same token with a device to replace.
			o.SetLimit(t, email, models.Limit{Max: 1, Policy: models.PolicyReject})
			tok = appIDToken(t, o.Mock, user)
			r = post("mock", map[string]any{"id_token": tok, "device": map[string]any{"name": "Phone", "type": "mobile"}})
			sessions, _ := r.ErrorDetails()["sessions"].([]any)
			if r.Code != 409 || r.ErrorCode() != "device_limit_reached" || len(sessions) != 1 {
				t.Fatalf("at the limit = %d %s, want 409 device_limit_reached", r.Code, r.Body)
			}
			tvID := sessions[0].(map[string]any)["id"]
			r = post("mock", map[string]any{"id_token": tok, "device": map[string]any{"name": "Phone", "type": "mobile"}, "replace_session_id": tvID})
			if r.Code != 201 || len(r.JSON["evicted"].([]any)) != 1 {
				t.Fatalf("replacing the TV = %d %s, want 201 with the TV evicted", r.Code, r.Body)
			}

			// An admin sees the identity in the user view.
			admin := o.Register(t)
			o.MakeAdmin(t, admin)
			userID := r.JSON["user"].(map[string]any)["id"].(string)
			r = o.JSON("GET", "/v1/admin/users/"+userID, nil, apitest.Bearer(o.MustLogin(t, admin, "Desk"))...)
			ids, _ := r.JSON["identities"].([]any)
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
