package api_test

import (
	"net/http"
	"testing"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestPasswordResetOverHTTP: forgot answers 202 alike for a known and an unknown address; the
// mailed token resets once; every device hears password_reset; reused, wrong and malformed
// tokens are 400 token_invalid; hostile bodies are the usual 400/415.
func TestPasswordResetOverHTTP(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{Throttle: true})
			email := s.Register(t)
			tv := s.MustLogin(t, email, "Living room TV")
			for _, who := range []string{email, servicetest.Email(t)} {
				r := s.JSON("POST", "/v1/auth/password/forgot", map[string]any{"email": who})
				if r.Code != http.StatusAccepted || r.Body.Len() != 0 {
					t.Errorf("POST forgot(%s) = %d %q, want 202 and no body", who, r.Code, r.Body)
				}
			}
			token := s.MailedToken(t, email, "password_reset")
			for name, body := range map[string]map[string]any{
				"weak":      {"token": token, "new_password": "password"},
				"malformed": {"token": "x", "new_password": "a brand new passphrase"},
				"wrong":     {"token": token[:len(token)-2] + "AA", "new_password": "a brand new passphrase"},
			} {
				want := "token_invalid"
				if name == "weak" {
					want = "weak_password"
				}
				if r := s.JSON("POST", "/v1/auth/password/reset", body); r.Code != 400 || r.ErrorCode() != want {
					t.Errorf("POST reset(%s) = %d %s, want 400 %s", name, r.Code, r.Body, want)
				}
			}
			r := s.JSON("POST", "/v1/auth/password/reset", map[string]any{"token": token, "new_password": "a brand new passphrase"})
			if r.Code != http.StatusNoContent {
				t.Fatalf("POST reset = %d %s, want 204", r.Code, r.Body)
			}
			r = s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(tv)...)
			if r.Code != 401 || r.ErrorCode() != "session_revoked" || r.ErrorDetails()["reason"] != "password_reset" {
				t.Errorf("the TV after the reset: GET /v1/auth/session = %d %s, want session_revoked password_reset", r.Code, r.Body)
			}
			if r := s.JSON("POST", "/v1/auth/password/reset", map[string]any{"token": token, "new_password": "another new passphrase"}); r.Code != 400 || r.ErrorCode() != "token_invalid" {
				t.Errorf("POST reset(used token) = %d %s, want 400 token_invalid", r.Code, r.Body)
			}
			if r := s.Login(t, email, "Phone"); r.Code != 401 {
				t.Errorf("login with the old password = %d, want 401", r.Code)
			}
			phone := s.JSON("POST", "/v1/auth/login", map[string]any{"email": email, "password": "a brand new passphrase",
				"device": map[string]any{"name": "Phone", "type": "mobile"}})
			if phone.Code != http.StatusCreated {
				t.Fatalf("login with the new password = %d %s, want 201", phone.Code, phone.Body)
			}
			h := s.Do("GET", "/v1/sessions/history", "", "", apitest.Bearer(phone.JSON["token"].(string))...)
			seen := map[string]bool{}
			for _, e := range h.JSON["events"].([]any) {
				ev := e.(map[string]any)
				seen[ev["type"].(string)] = true
				if d, _ := ev["details"].(map[string]any); ev["type"] == "revoked" && d["reason"] != "password_reset" {
					t.Errorf("history: revoked event %v, want reason password_reset", ev)
				}
			}
			if !seen["password_reset"] || !seen["revoked"] {
				t.Errorf("history = %s, want password_reset and revoked events", h.Body)
			}
			for _, c := range []struct{ ct, body string }{
				{"application/json", `{"email": "a@b.c", "extra": 1}`}, {"application/json", `null`}, {"text/plain", `{}`},
			} {
				if r := s.Do("POST", "/v1/auth/password/forgot", c.ct, c.body); r.Code != 400 && r.Code != 415 {
					t.Errorf("POST forgot %s %s = %d, want 400 or 415", c.ct, c.body, r.Code)
				}
			}
		})
	}
}

// TestEmailVerificationOverHTTP: with verification required, sign-up mails a link, the right
// password is 403 email_unverified until the link is used, and the user shows email_verified.
func TestEmailVerificationOverHTTP(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{Verification: models.VerificationRequired})
			email := s.Register(t)
			if r := s.Login(t, email, "TV"); r.Code != 403 || r.ErrorCode() != "email_unverified" {
				t.Fatalf("login(unverified) = %d %s, want 403 email_unverified", r.Code, r.Body)
			}
			if r := s.JSON("POST", "/v1/auth/login", map[string]any{"email": email, "password": "wrong password wrong", "device": map[string]any{"name": "TV", "type": "tv"}}); r.Code != 401 {
				t.Errorf("login(unverified, wrong password) = %d, want 401: nothing is told before the password", r.Code)
			}
			token := s.MailedToken(t, email, "verify_email")
			if r := s.JSON("POST", "/v1/auth/email/verify", map[string]any{"token": token}); r.Code != http.StatusNoContent {
				t.Fatalf("POST verify = %d %s, want 204", r.Code, r.Body)
			}
			if r := s.JSON("POST", "/v1/auth/email/verify", map[string]any{"token": token}); r.Code != 400 || r.ErrorCode() != "token_invalid" {
				t.Errorf("POST verify(again) = %d %s, want 400 token_invalid", r.Code, r.Body)
			}
			tv := s.MustLogin(t, email, "TV")
			r := s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(tv)...)
			if u, _ := r.JSON["user"].(map[string]any); r.Code != 200 || u["email_verified"] != true {
				t.Errorf("GET /v1/auth/session = %d %s, want the user with email_verified true", r.Code, r.Body)
			}
			if r := s.Do("POST", "/v1/auth/email/verify/resend", "", "", apitest.Bearer(tv)...); r.Code != http.StatusAccepted {
				t.Errorf("POST resend (verified) = %d %s, want 202", r.Code, r.Body)
			}
			if r := s.Do("POST", "/v1/auth/email/verify/resend", "", ""); r.Code != 401 {
				t.Errorf("POST resend without a session = %d, want 401", r.Code)
			}
			if n := len(s.Mails(t, email)); n != 1 {
				t.Errorf("mails = %d, want only the sign-up's link", n)
			}
		})
	}
}
