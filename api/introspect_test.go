package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestIntrospection: an active token is described (RFC 7662 fields), every unusable one gets
// exactly {"active":false}; bad client credentials are 401 invalid_client.
func TestIntrospection(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{})
			adminEmail := s.Register(t)
			s.MakeAdmin(t, adminEmail)
			admin := apitest.Bearer(s.MustLogin(t, adminEmail, "Desk"))
			created := s.JSON("POST", "/v1/admin/service-clients", map[string]any{"name": "catalog " + store.Name}, admin...)
			if created.Code != http.StatusCreated {
				t.Fatalf("create client = %d %s", created.Code, created.Body)
			}
			id, secret := created.JSON["id"].(string), created.JSON["secret"].(string)
			ask := func(body string, contentType string, user, pass string) apitest.Response {
				t.Helper()
				req := apitest.Request("POST", "/v1/introspect", contentType, body)
				if user != "" {
					req.SetBasicAuth(user, pass)
				}
				return s.Serve(req)
			}
			askJSON := func(token string) apitest.Response {
				return ask(mustJSON(map[string]any{"token": token}), "application/json", id, secret)
			}

			email := s.Register(t)
			s.SetLimit(t, email, models.Limit{Max: 1, Policy: models.PolicyEvictOldest})
			tv := s.Login(t, email, "Living room TV")
			token := tv.JSON["token"].(string)
			r := askJSON(token)
			sess := tv.JSON["session"].(map[string]any)
			if r.Code != 200 || r.JSON["active"] != true || r.JSON["sid"] != sess["id"] || r.JSON["sub"] != tv.JSON["user"].(map[string]any)["id"] ||
				r.JSON["plan"] != "standard" || r.JSON["role"] != "user" || r.JSON["device"].(map[string]any)["name"] != "Living room TV" ||
				r.JSON["exp"] == nil || r.JSON["iat"] == nil {
				t.Fatalf("introspect an active token = %d %s", r.Code, r.Body)
			}
			if r.Header().Get("Cache-Control") != "no-store" {
				t.Error("introspection answers must not be cached by HTTP caches")
			}
			form := ask(url.Values{"token": {token}, "token_type_hint": {"access_token"}}.Encode(), "application/x-www-form-urlencoded", id, secret)
			if form.Code != 200 || form.JSON["active"] != true {
				t.Fatalf("form-encoded introspection = %d %s", form.Code, form.Body)
			}

			inactive := map[string]string{"garbage": "garbage", "well-formed unknown": "AZCgAAAAAHAAgAAAAAAAAQ." + strings.Repeat("A", 43)}
			phone := s.MustLogin(t, email, "Phone") // evicts the TV
			inactive["evicted"] = token
			s.Do("POST", "/v1/auth/logout", "", "", apitest.Bearer(phone)...)
			inactive["logged out"] = phone
			expiring := s.MustLogin(t, email, "Tablet")
			for name, tok := range inactive {
				if r := askJSON(tok); r.Code != 200 || strings.TrimSpace(r.Body.String()) != `{"active":false}` {
					t.Errorf("introspect %s = %d %s, want exactly {\"active\":false}", name, r.Code, r.Body)
				}
			}
			s.Clock.Advance(time.Hour + time.Second) // past the idle timeout
			if r := askJSON(expiring); strings.TrimSpace(r.Body.String()) != `{"active":false}` {
				t.Errorf("introspect an expired token = %s", r.Body)
			}

			for name, creds := range map[string][2]string{
				"no credentials": {"", ""}, "wrong secret": {id, strings.Repeat("A", 43)},
				"unknown client": {"0190a000-0000-7000-8000-0000000000ff", secret}, "not a uuid": {"catalog", secret},
			} {
				r := ask(mustJSON(map[string]any{"token": token}), "application/json", creds[0], creds[1])
				if r.Code != 401 || r.ErrorCode() != "invalid_client" || r.Header().Get("WWW-Authenticate") == "" {
					t.Errorf("%s = %d %s, want 401 invalid_client with WWW-Authenticate", name, r.Code, r.Body)
				}
			}
			if r := ask(`{}`, "application/json", id, secret); r.Code != 400 || r.ErrorCode() != "invalid_request" {
				t.Errorf("no token = %d %s, want 400", r.Code, r.Body)
			}
			s.Clock.Advance(-time.Hour) // the admin's session again
			admin = apitest.Bearer(s.MustLogin(t, adminEmail, "Desk 2"))
			if r := s.Do("DELETE", "/v1/admin/service-clients/"+id, "", "", admin...); r.Code != http.StatusNoContent {
				t.Fatalf("delete client = %d %s", r.Code, r.Body)
			}
			if r := askJSON(token); r.Code != 401 || r.ErrorCode() != "invalid_client" {
				t.Errorf("deleted client = %d %s, want 401 invalid_client", r.Code, r.Body)
			}
		})
	}
}
