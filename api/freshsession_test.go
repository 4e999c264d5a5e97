package api_test

import (
	"testing"
	"time"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestRevokeSessionAsksAFreshSessionForThePassword: DELETE /v1/sessions/{id} from a session
// younger than the fresh-session age on an older session is 403 session_too_new unless the
// optional body carries the right password; a newer session needs none; an absent or empty
// body is fine, a bad one is refused like every body.
func TestRevokeSessionAsksAFreshSessionForThePassword(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{FreshAge: 24 * time.Hour, Throttle: true})
			email := s.Register(t)
			s.SetLimit(t, email, models.Limit{Max: 4, Policy: models.PolicyReject})
			tvID := s.Login(t, email, "TV").JSON["session"].(map[string]any)["id"].(string)
			s.Clock.Advance(10 * time.Minute) // (the idle timeout here is an hour)
			phone := s.MustLogin(t, email, "Phone")
			s.Clock.Advance(time.Minute)
			laptopID := s.Login(t, email, "Laptop").JSON["session"].(map[string]any)["id"].(string)

			for _, tc := range []struct {
				name, contentType, body string
				status                  int
				code, password          string
			}{
				{"no body", "", "", 403, "session_too_new", "required"},
				{"an empty JSON body", "application/json", "", 403, "session_too_new", "required"},
				{"no password", "application/json", `{}`, 403, "session_too_new", "required"},
				{"a wrong password", "application/json", `{"password":"not my password"}`, 403, "session_too_new", "wrong"},
				{"malformed JSON", "application/json", `{"password":`, 400, "invalid_request", ""},
				{"an unknown field", "application/json", `{"passwort":"x"}`, 400, "invalid_request", ""},
				{"a form", "application/x-www-form-urlencoded", "password=x", 415, "unsupported_media_type", ""},
			} {
				r := s.Do("DELETE", "/v1/sessions/"+tvID, tc.contentType, tc.body, apitest.Bearer(phone)...)
				if r.Code != tc.status || r.ErrorCode() != tc.code || (tc.password != "" && r.ErrorDetails()["password"] != tc.password) {
					t.Errorf("DELETE an older session with %s = %d %s, want %d %s (password %s)", tc.name, r.Code, r.Body, tc.status, tc.code, tc.password)
				}
			}
			if r := s.Do("DELETE", "/v1/sessions/"+laptopID, "", "", apitest.Bearer(phone)...); r.Code != 204 {
				t.Errorf("DELETE a newer session without a body = %d %s, want 204", r.Code, r.Body)
			}
			r := s.JSON("DELETE", "/v1/sessions/"+tvID, map[string]any{"password": password}, apitest.Bearer(phone)...)
			if r.Code != 204 {
				t.Fatalf("DELETE an older session with the right password = %d %s, want 204", r.Code, r.Body)
			}
		})
	}
}
