package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/services/servicetest"
)

func TestMyDevices(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := newServer(t, store, options{})
			alice, bob := s.register(t), s.register(t)
			aPhone := s.login(t, alice, "Phone")
			aTV := s.mustLogin(t, alice, "TV")
			bob1 := s.login(t, bob, "Bob's laptop")

			r := s.do("GET", "/v1/sessions", "", "", bearer(aTV)...)
			sessions, _ := r.body["sessions"].([]any)
			if r.Code != 200 || len(sessions) != 2 || r.body["limit"] != float64(2) || r.body["policy"] != "evict_oldest" {
				t.Fatalf("GET /v1/sessions = %d %s, want 2 sessions, limit 2, evict_oldest", r.Code, r.Body)
			}
			first := sessions[0].(map[string]any)
			if first["current"] != true || first["device"].(map[string]any)["name"] != "TV" || sessions[1].(map[string]any)["current"] != false {
				t.Errorf("GET /v1/sessions = %v, want the presenting TV first and current", sessions)
			}
			tvID := first["id"].(string)
			bobID := bob1.body["session"].(map[string]any)["id"].(string)
			phoneID := aPhone.body["session"].(map[string]any)["id"].(string)

			for _, tc := range []struct {
				name, id string
				status   int
				code     string
			}{
				{"another user's", bobID, 404, "not_found"},
				{"not a uuid", "nope", 404, "not_found"},
				{"urn spelling of my phone", "urn:uuid:" + phoneID, 404, "not_found"},
				{"upper-case spelling of the presenting one", strings.ToUpper(tvID), 404, "not_found"},
				{"the presenting one", tvID, 400, "use_logout"},
				{"my phone", phoneID, 204, ""},
				{"my phone again", phoneID, 404, "not_found"},
			} {
				r := s.do("DELETE", "/v1/sessions/"+tc.id, "", "", bearer(aTV)...)
				if r.Code != tc.status || r.errorCode() != tc.code {
					t.Errorf("DELETE %s session = %d %s, want %d %s", tc.name, r.Code, r.Body, tc.status, tc.code)
				}
			}
			r = s.do("GET", "/v1/auth/session", "", "", bearer(aPhone.body["token"].(string))...)
			if r.Code != 401 || r.errorCode() != "session_revoked" || r.errorDetails()["reason"] != "revoked_by_user" {
				t.Errorf("revoked phone: GET /v1/auth/session = %d %s, want session_revoked revoked_by_user", r.Code, r.Body)
			}
			if r := s.do("GET", "/v1/auth/session", "", "", bearer(bob1.body["token"].(string))...); r.Code != 200 {
				t.Errorf("Bob after Alice's attempts = %d, want 200", r.Code)
			}

			r = s.json("POST", "/v1/sessions/revoke", map[string]any{"scope": "others", "password": "wrong"}, bearer(aTV)...)
			if r.Code != 401 || r.errorCode() != "invalid_credentials" {
				t.Errorf("revoke with a wrong password = %d %s, want 401 invalid_credentials", r.Code, r.Body)
			}
			r = s.json("POST", "/v1/sessions/revoke", map[string]any{"scope": "some", "password": password}, bearer(aTV)...)
			if r.Code != 400 || r.errorCode() != "invalid_request" {
				t.Errorf("revoke scope=some = %d %s, want 400 invalid_request", r.Code, r.Body)
			}
			r = s.json("POST", "/v1/sessions/revoke", map[string]any{"scope": "all", "password": password}, bearer(aTV)...)
			if r.Code != 200 || r.body["revoked"] != float64(1) || r.Header().Get("Clear-Site-Data") == "" {
				t.Errorf("revoke scope=all = %d %s, want 200 revoked 1 and the cookie cleared", r.Code, r.Body)
			}
		})
	}
}

func TestChangePasswordAndHistory(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := newServer(t, store, options{})
			email := s.register(t)
			phone := s.mustLogin(t, email, "Phone")
			tv := s.mustLogin(t, email, "TV")

			r := s.json("POST", "/v1/auth/password", map[string]any{"current_password": password, "new_password": "short"}, bearer(tv)...)
			if r.Code != 400 || r.errorCode() != "weak_password" {
				t.Errorf("weak new password = %d %s, want 400 weak_password", r.Code, r.Body)
			}
			r = s.json("POST", "/v1/auth/password", map[string]any{"current_password": "nope nope", "new_password": "a better passphrase"}, bearer(tv)...)
			if r.Code != 401 || r.errorCode() != "invalid_credentials" {
				t.Errorf("wrong current password = %d %s, want 401 invalid_credentials", r.Code, r.Body)
			}
			r = s.json("POST", "/v1/auth/password", map[string]any{"current_password": password, "new_password": "a better passphrase"}, bearer(tv)...)
			if r.Code != 204 {
				t.Fatalf("POST /v1/auth/password = %d %s, want 204", r.Code, r.Body)
			}
			r = s.do("GET", "/v1/auth/session", "", "", bearer(phone)...)
			if r.Code != 401 || r.errorDetails()["reason"] != "password_changed" {
				t.Errorf("other device after a password change = %d %s, want session_revoked password_changed", r.Code, r.Body)
			}

			r = s.do("GET", "/v1/sessions/history?limit=2", "", "", bearer(tv)...)
			events, _ := r.body["events"].([]any)
			next, _ := r.body["next"].(string)
			if r.Code != 200 || len(events) != 2 || next == "" {
				t.Fatalf("GET /v1/sessions/history?limit=2 = %d %s, want 2 events and a next cursor", r.Code, r.Body)
			}
			newest := events[0].(map[string]any)
			if newest["type"] != "password_changed" || newest["actor"].(map[string]any)["type"] != "user" {
				t.Errorf("newest event = %v, want password_changed by the user", newest)
			}
			seen := map[string]bool{}
			for _, e := range events {
				seen[e.(map[string]any)["id"].(string)] = true
			}
			r = s.do("GET", "/v1/sessions/history?limit=50&before="+url.QueryEscape(next), "", "", bearer(tv)...)
			rest, _ := r.body["events"].([]any)
			if r.Code != 200 || r.body["next"] != nil || len(rest) != 2 { // login ×2, revoked ×1, password_changed ×1
				t.Fatalf("second history page = %d %s, want the last 2 events and no next", r.Code, r.Body)
			}
			for _, e := range rest {
				if seen[e.(map[string]any)["id"].(string)] {
					t.Errorf("event %v repeated across pages", e)
				}
			}
			for _, q := range []string{"limit=0", "limit=abc", "limit=201", "before=garbage"} {
				if r := s.do("GET", "/v1/sessions/history?"+q, "", "", bearer(tv)...); r.Code != 400 || r.errorCode() != "invalid_request" {
					t.Errorf("GET /v1/sessions/history?%s = %d %s, want 400 invalid_request", q, r.Code, r.Body)
				}
			}
		})
	}
}

func TestCrossSiteCookieDeleteRefused(t *testing.T) {
	s := newServer(t, servicetest.SQLite(t), options{cookieSecure: true})
	email := s.register(t)
	victim := s.login(t, email, "Phone").body["session"].(map[string]any)["id"].(string)
	r := s.login(t, email, "Browser")
	cookie := r.Result().Cookies()[0]
	r = s.do("DELETE", "/v1/sessions/"+victim, "", "", "Cookie", cookie.Name+"="+cookie.Value, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if r.Code != http.StatusForbidden || r.errorCode() != "csrf_failed" {
		t.Fatalf("cross-site cookie DELETE = %d %s, want 403 csrf_failed", r.Code, r.Body)
	}
}
