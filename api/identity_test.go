package api_test

import (
	"strings"
	"testing"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestEmailsAndDisplayTextOverHTTP: what the email and display-text tables of the services
// answer, as the API and the pages answer it. Another spelling of a taken address is 409; a
// refused email is 400 invalid_request naming details.fields.email at sign-up and the same
// 401 invalid_credentials as a wrong password at login; a device or display name that could
// reorder or hide itself is 400 naming its field, from the API and from the sign-in form.
func TestEmailsAndDisplayTextOverHTTP(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{})
			email := s.Register(t)
			local, domain, _ := strings.Cut(email, "@")
			taken := strings.ToUpper(local) + "＠" + domain
			if r := s.JSON("POST", "/v1/auth/register", map[string]any{"email": taken, "password": password}); r.Code != 409 || r.ErrorCode() != "conflict" {
				t.Errorf("register %+q (%+q taken) = %d %s, want 409 conflict", taken, email, r.Code, r.Body)
			}
			if r := s.Login(t, taken, "TV"); r.Code != 201 {
				t.Errorf("login as %+q = %d %s, want 201: the same account", taken, r.Code, r.Body)
			}
			for _, bad := range []string{email + "\u200b", "\u0430" + local[1:] + "@" + domain, "\u0130" + local[1:] + "@" + domain, local + "\u202e@" + domain} {
				r := s.JSON("POST", "/v1/auth/register", map[string]any{"email": bad, "password": password})
				if fields, _ := r.ErrorDetails()["fields"].(map[string]any); r.Code != 400 || r.ErrorCode() != "invalid_request" || fields["email"] == nil {
					t.Errorf("register %+q = %d %s, want 400 invalid_request with details.fields.email", bad, r.Code, r.Body)
				}
				if r := s.Login(t, bad, "TV"); r.Code != 401 || r.ErrorCode() != "invalid_credentials" {
					t.Errorf("login as %+q = %d %s, want 401 invalid_credentials", bad, r.Code, r.Body)
				}
			}
			r := s.JSON("POST", "/v1/auth/register", map[string]any{"email": servicetest.Email(t), "password": password, "display_name": "Ann\u2066 (admin)"})
			if fields, _ := r.ErrorDetails()["fields"].(map[string]any); r.Code != 400 || fields["display_name"] == nil {
				t.Errorf("register with an isolate in the display name = %d %s, want 400 naming display_name", r.Code, r.Body)
			}
			r = s.Login(t, email, "x\u202egnp.exe")
			if fields, _ := r.ErrorDetails()["fields"].(map[string]any); r.Code != 400 || fields["device.name"] == nil {
				t.Errorf("login with device name x<RLO>gnp.exe = %d %s, want 400 naming device.name", r.Code, r.Body)
			}
			b := apitest.NewBrowser(s)
			apitest.WantPage(t, "sign-in form, device name x<RLO>gnp.exe", b.SignIn(email, password, "x\u202egnp.exe"), 400, "direction-changing character (U&#43;202E)")
			apitest.WantRedirect(t, "sign-in form, NFD device name", b.SignIn(email, password, "Cafe\u0301"), "/devices")
			apitest.WantPage(t, "devices, the name in NFC", b.Get("/devices"), 200, "Caf\u00e9")
		})
	}
}
