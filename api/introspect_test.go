package api_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestIntrospection: an active token is described (RFC 7662 fields), every unusable one gets
// exactly {"active":false}; bad client credentials are 401 invalid_client.
func TestIntrospection(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := newServer(t, store, options{})
			adminEmail := s.register(t)
			s.makeAdmin(t, adminEmail)
			admin := bearer(s.mustLogin(t, adminEmail, "Desk"))
			created := s.json("POST", "/v1/admin/service-clients", map[string]any{"name": "catalog " + store.Name}, admin...)
			if created.Code != http.StatusCreated {
				t.Fatalf("create client = %d %s", created.Code, created.Body)
			}
			id, secret := created.body["id"].(string), created.body["secret"].(string)
			ask := func(body string, contentType string, user, pass string) response {
				t.Helper()
				req := httptest.NewRequest("POST", "/v1/introspect", strings.NewReader(body))
				req.Header.Set("Content-Type", contentType)
				if user != "" {
					req.SetBasicAuth(user, pass)
				}
				rec := httptest.NewRecorder()
				s.h.ServeHTTP(rec, req)
				r := response{ResponseRecorder: rec}
				_ = jsonDecode(rec.Body.Bytes(), &r.body)
				return r
			}
			askJSON := func(token string) response {
				return ask(mustJSON(map[string]any{"token": token}), "application/json", id, secret)
			}

			email := s.register(t)
			s.setLimit(t, email, models.Limit{Max: 1, Policy: models.PolicyEvictOldest})
			tv := s.login(t, email, "Living room TV")
			token := tv.body["token"].(string)
			r := askJSON(token)
			sess := tv.body["session"].(map[string]any)
			if r.Code != 200 || r.body["active"] != true || r.body["sid"] != sess["id"] || r.body["sub"] != tv.body["user"].(map[string]any)["id"] ||
				r.body["plan"] != "standard" || r.body["role"] != "user" || r.body["device"].(map[string]any)["name"] != "Living room TV" ||
				r.body["exp"] == nil || r.body["iat"] == nil {
				t.Fatalf("introspect an active token = %d %s", r.Code, r.Body)
			}
			if r.Header().Get("Cache-Control") != "no-store" {
				t.Error("introspection answers must not be cached by HTTP caches")
			}
			form := ask(url.Values{"token": {token}, "token_type_hint": {"access_token"}}.Encode(), "application/x-www-form-urlencoded", id, secret)
			if form.Code != 200 || form.body["active"] != true {
				t.Fatalf("form-encoded introspection = %d %s", form.Code, form.Body)
			}

			inactive := map[string]string{"garbage": "garbage", "well-formed unknown": "AZCgAAAAAHAAgAAAAAAAAQ." + strings.Repeat("A", 43)}
			phone := s.mustLogin(t, email, "Phone") // evicts the TV
			inactive["evicted"] = token
			s.do("POST", "/v1/auth/logout", "", "", bearer(phone)...)
			inactive["logged out"] = phone
			expiring := s.mustLogin(t, email, "Tablet")
			for name, tok := range inactive {
				if r := askJSON(tok); r.Code != 200 || strings.TrimSpace(r.Body.String()) != `{"active":false}` {
					t.Errorf("introspect %s = %d %s, want exactly {\"active\":false}", name, r.Code, r.Body)
				}
			}
			s.clock.Advance(time.Hour + time.Second) // past the idle timeout
			if r := askJSON(expiring); strings.TrimSpace(r.Body.String()) != `{"active":false}` {
				t.Errorf("introspect an expired token = %s", r.Body)
			}

			for name, creds := range map[string][2]string{
				"no credentials": {"", ""}, "wrong secret": {id, strings.Repeat("A", 43)},
				"unknown client": {"0190a000-0000-7000-8000-0000000000ff", secret}, "not a uuid": {"catalog", secret},
			} {
				r := ask(mustJSON(map[string]any{"token": token}), "application/json", creds[0], creds[1])
				if r.Code != 401 || r.errorCode() != "invalid_client" || r.Header().Get("WWW-Authenticate") == "" {
					t.Errorf("%s = %d %s, want 401 invalid_client with WWW-Authenticate", name, r.Code, r.Body)
				}
			}
			if r := ask(`{}`, "application/json", id, secret); r.Code != 400 || r.errorCode() != "invalid_request" {
				t.Errorf("no token = %d %s, want 400", r.Code, r.Body)
			}
			s.clock.Advance(-time.Hour) // the admin's session again
			admin = bearer(s.mustLogin(t, adminEmail, "Desk 2"))
			if r := s.do("DELETE", "/v1/admin/service-clients/"+id, "", "", admin...); r.Code != http.StatusNoContent {
				t.Fatalf("delete client = %d %s", r.Code, r.Body)
			}
			if r := askJSON(token); r.Code != 401 || r.errorCode() != "invalid_client" {
				t.Errorf("deleted client = %d %s, want 401 invalid_client", r.Code, r.Body)
			}
		})
	}
}
