package api_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

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
			s := newServer(t, store, options{freshAge: 24 * time.Hour, throttle: true})
			email := s.register(t)
			s.setLimit(t, email, models.Limit{Max: 4, Policy: models.PolicyReject})
			tvID := s.login(t, email, "TV").body["session"].(map[string]any)["id"].(string)
			s.clock.Advance(10 * time.Minute) // (the idle timeout here is an hour)
			phone := s.mustLogin(t, email, "Phone")
			s.clock.Advance(time.Minute)
			laptopID := s.login(t, email, "Laptop").body["session"].(map[string]any)["id"].(string)

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
				r := s.do("DELETE", "/v1/sessions/"+tvID, tc.contentType, tc.body, bearer(phone)...)
				if r.Code != tc.status || r.errorCode() != tc.code || (tc.password != "" && r.errorDetails()["password"] != tc.password) {
					t.Errorf("DELETE an older session with %s = %d %s, want %d %s (password %s)", tc.name, r.Code, r.Body, tc.status, tc.code, tc.password)
				}
			}
			if r := s.do("DELETE", "/v1/sessions/"+laptopID, "", "", bearer(phone)...); r.Code != 204 {
				t.Errorf("DELETE a newer session without a body = %d %s, want 204", r.Code, r.Body)
			}
			r := s.json("DELETE", "/v1/sessions/"+tvID, map[string]any{"password": password}, bearer(phone)...)
			if r.Code != 204 {
				t.Fatalf("DELETE an older session with the right password = %d %s, want 204", r.Code, r.Body)
			}
		})
	}
}

// TestPagesFreshSessionAsksForThePassword: on the devices page of a browser that signed in
// less than 24 hours ago, an older device's sign-out is a password form; without the password
// or with a wrong one the page says so (403) and nothing is signed out; with it, it is. A newer
// device signs out as before.
func TestPagesFreshSessionAsksForThePassword(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := newServer(t, store, options{freshAge: 24 * time.Hour})
			email := s.register(t)
			s.setLimit(t, email, models.Limit{Max: 4, Policy: models.PolicyReject})
			tvID := s.login(t, email, "Living room TV").body["session"].(map[string]any)["id"].(string)
			s.clock.Advance(10 * time.Minute) // (the idle timeout here is an hour)
			b := newBrowser(s)
			wantRedirect(t, "sign in", b.signIn(email, password, "Laptop"), "/devices")
			s.clock.Advance(time.Minute)
			phoneID := s.login(t, email, "Phone").body["session"].(map[string]any)["id"].(string)

			r := b.get("/devices")
			wantPage(t, "devices", r, 200, "signed in less than 24 hours ago", `id="password-`+tvID+`"`,
				`<form method="post" action="/devices/`+phoneID+`/sign-out"><button`)
			if strings.Contains(r.Body.String(), `id="password-`+phoneID+`"`) {
				t.Fatal("the newer phone's sign-out asks for the password")
			}
			wantPage(t, "sign out the TV without the password", b.post("/devices/"+tvID+"/sign-out", nil), 403,
				"enter your password to sign out a device that signed in before it", `aria-invalid="true"`)
			wantPage(t, "sign out the TV with a wrong password", b.post("/devices/"+tvID+"/sign-out", url.Values{"password": {"not my password"}}), 403,
				"Wrong password: the device was not signed out.", `id="password-`+tvID+`-error"`)
			wantPage(t, "the TV is still there", b.get("/devices"), 200, "3 of 4", "Living room TV")
			wantRedirect(t, "sign out the phone", b.post("/devices/"+phoneID+"/sign-out", nil), "/devices?done=signed_out")
			wantRedirect(t, "sign out the TV with the password", b.post("/devices/"+tvID+"/sign-out", url.Values{"password": {password}}), "/devices?done=signed_out")
			r = b.get("/devices?done=signed_out")
			wantPage(t, "devices after both", r, 200, "1 of 4")
			if strings.Contains(r.Body.String(), "less than 24 hours") {
				t.Error("with no older device left, the page still explains the password")
			}
		})
	}
}
