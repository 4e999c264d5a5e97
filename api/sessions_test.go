package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/services/servicetest"
)

func TestMyDevices(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{})
			alice, bob := s.Register(t), s.Register(t)
			aPhone := s.Login(t, alice, "Phone")
			aTV := s.MustLogin(t, alice, "TV")
			bob1 := s.Login(t, bob, "Bob's laptop")

			r := s.Do("GET", "/v1/sessions", "", "", apitest.Bearer(aTV)...)
			sessions, _ := r.JSON["sessions"].([]any)
			if r.Code != 200 || len(sessions) != 2 || r.JSON["limit"] != float64(2) || r.JSON["policy"] != "evict_oldest" {
				t.Fatalf("GET /v1/sessions = %d %s, want 2 sessions, limit 2, evict_oldest", r.Code, r.Body)
			}
			first := sessions[0].(map[string]any)
			if first["current"] != true || first["device"].(map[string]any)["name"] != "TV" || sessions[1].(map[string]any)["current"] != false {
				t.Errorf("GET /v1/sessions = %v, want the presenting TV first and current", sessions)
			}
			tvID := first["id"].(string)
			bobID := bob1.JSON["session"].(map[string]any)["id"].(string)
			phoneID := aPhone.JSON["session"].(map[string]any)["id"].(string)

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
				r := s.Do("DELETE", "/v1/sessions/"+tc.id, "", "", apitest.Bearer(aTV)...)
				if r.Code != tc.status || r.ErrorCode() != tc.code {
					t.Errorf("DELETE %s session = %d %s, want %d %s", tc.name, r.Code, r.Body, tc.status, tc.code)
				}
			}
			r = s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(aPhone.JSON["token"].(string))...)
			if r.Code != 401 || r.ErrorCode() != "session_revoked" || r.ErrorDetails()["reason"] != "revoked_by_user" {
				t.Errorf("revoked phone: GET /v1/auth/session = %d %s, want session_revoked revoked_by_user", r.Code, r.Body)
			}
			if r := s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(bob1.JSON["token"].(string))...); r.Code != 200 {
				t.Errorf("Bob after Alice's attempts = %d, want 200", r.Code)
			}

			r = s.JSON("POST", "/v1/sessions/revoke", map[string]any{"scope": "others", "password": "wrong"}, apitest.Bearer(aTV)...)
			if r.Code != 401 || r.ErrorCode() != "invalid_credentials" {
				t.Errorf("revoke with a wrong password = %d %s, want 401 invalid_credentials", r.Code, r.Body)
			}
			r = s.JSON("POST", "/v1/sessions/revoke", map[string]any{"scope": "some", "password": password}, apitest.Bearer(aTV)...)
			if r.Code != 400 || r.ErrorCode() != "invalid_request" {
				t.Errorf("revoke scope=some = %d %s, want 400 invalid_request", r.Code, r.Body)
			}
			r = s.JSON("POST", "/v1/sessions/revoke", map[string]any{"scope": "all", "password": password}, apitest.Bearer(aTV)...)
			cleared := r.Result().Cookies()
			if r.Code != 200 || r.JSON["revoked"] != float64(1) || len(cleared) != 1 || cleared[0].Name != "sessiond" || cleared[0].MaxAge >= 0 ||
				r.Header().Get("Clear-Site-Data") != "" {
				t.Errorf("revoke scope=all = %d %s (cookies %v, Clear-Site-Data %q), want 200 revoked 1 and the session cookie deleted, no other",
					r.Code, r.Body, cleared, r.Header().Get("Clear-Site-Data"))
			}
		})
	}
}

func TestChangePasswordAndHistory(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{})
			email := s.Register(t)
			phone := s.MustLogin(t, email, "Phone")
			tv := s.MustLogin(t, email, "TV")

			r := s.JSON("POST", "/v1/auth/password", map[string]any{"current_password": password, "new_password": "short"}, apitest.Bearer(tv)...)
			if r.Code != 400 || r.ErrorCode() != "weak_password" {
				t.Errorf("weak new password = %d %s, want 400 weak_password", r.Code, r.Body)
			}
			r = s.JSON("POST", "/v1/auth/password", map[string]any{"current_password": "nope nope", "new_password": "a better passphrase"}, apitest.Bearer(tv)...)
			if r.Code != 401 || r.ErrorCode() != "invalid_credentials" {
				t.Errorf("wrong current password = %d %s, want 401 invalid_credentials", r.Code, r.Body)
			}
			r = s.JSON("POST", "/v1/auth/password", map[string]any{"current_password": password, "new_password": "a better passphrase"}, apitest.Bearer(tv)...)
			if r.Code != 204 {
				t.Fatalf("POST /v1/auth/password = %d %s, want 204", r.Code, r.Body)
			}
			r = s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(phone)...)
			if r.Code != 401 || r.ErrorDetails()["reason"] != "password_changed" {
				t.Errorf("other device after a password change = %d %s, want session_revoked password_changed", r.Code, r.Body)
			}

			r = s.Do("GET", "/v1/sessions/history?limit=2", "", "", apitest.Bearer(tv)...)
			events, _ := r.JSON["events"].([]any)
			next, _ := r.JSON["next"].(string)
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
			r = s.Do("GET", "/v1/sessions/history?limit=50&before="+url.QueryEscape(next), "", "", apitest.Bearer(tv)...)
			rest, _ := r.JSON["events"].([]any)
			if r.Code != 200 || r.JSON["next"] != nil || len(rest) != 2 { // login ×2, revoked ×1, password_changed ×1
				t.Fatalf("second history page = %d %s, want the last 2 events and no next", r.Code, r.Body)
			}
			for _, e := range rest {
				if seen[e.(map[string]any)["id"].(string)] {
					t.Errorf("event %v repeated across pages", e)
				}
			}
			for _, q := range []string{"limit=0", "limit=abc", "limit=201", "before=garbage"} {
				if r := s.Do("GET", "/v1/sessions/history?"+q, "", "", apitest.Bearer(tv)...); r.Code != 400 || r.ErrorCode() != "invalid_request" {
					t.Errorf("GET /v1/sessions/history?%s = %d %s, want 400 invalid_request", q, r.Code, r.Body)
				}
			}
		})
	}
}

func TestCrossSiteCookieDeleteRefused(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{CookieSecure: true})
	email := s.Register(t)
	victim := s.Login(t, email, "Phone").JSON["session"].(map[string]any)["id"].(string)
	r := s.Login(t, email, "Browser")
	cookie := r.Result().Cookies()[0]
	r = s.Do("DELETE", "/v1/sessions/"+victim, "", "", "Cookie", cookie.Name+"="+cookie.Value, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if r.Code != http.StatusForbidden || r.ErrorCode() != "csrf_failed" {
		t.Fatalf("cross-site cookie DELETE = %d %s, want 403 csrf_failed", r.Code, r.Body)
	}
}
