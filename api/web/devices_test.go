package web_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

func TestPagesSignInAndDevices(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{})
			email := s.Register(t)
			b := apitest.NewBrowser(s)

			apitest.WantRedirect(t, "GET /devices signed out", b.Get("/devices"), "/login?next=%2Fdevices")
			apitest.WantRedirect(t, "GET / signed out", b.Get("/"), "/login")
			r := b.Get("/login?next=%2Fdevices")
			apitest.WantPage(t, "GET /login", r, 200, `name="email"`, `value="Chrome on Linux"`, `<option value="web" selected>`)
			if csp := r.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "form-action 'self'") {
				t.Fatalf("Content-Security-Policy = %q", csp)
			}
			if r.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("Cache-Control = %q, want no-store", r.Header().Get("Cache-Control"))
			}

			r = b.SignIn(email, "not the password", "Laptop")
			apitest.WantPage(t, "wrong password", r, 401, "Wrong email or password", `value="`+email+`"`)
			if _, ok := b.Cookies["sessiond"]; ok {
				t.Fatal("a failed sign-in set the session cookie")
			}

			apitest.WantRedirect(t, "sign in", b.SignIn(email, password, `<script>alert(1)</script>`), "/devices")
			if b.Cookies["sessiond"] == "" || b.Cookies["sessiond-device"] == "" || b.Cookies["sessiond-browser"] == "" {
				t.Fatalf("cookies after sign-in = %v, want the session, the device key and the browser's device id", b.Cookies)
			}
			r = b.Get("/devices")
			apitest.WantPage(t, "GET /devices", r, 200, "1 of 2", "This device", "&lt;script&gt;alert(1)&lt;/script&gt;")
			if strings.Contains(r.Body.String(), "<script>") {
				t.Fatal("the device name was not escaped")
			}
			apitest.WantRedirect(t, "GET / signed in", b.Get("/"), "/devices")

			// Signing in again in the same browser replaces its own session: still one device.
			apitest.WantRedirect(t, "sign in again", b.SignIn(email, password, "Laptop"), "/devices")
			apitest.WantPage(t, "GET /devices again", b.Get("/devices"), 200, "1 of 2", "Laptop")

			tv := s.MustLogin(t, email, "Living room TV")
			r = b.Get("/devices")
			apitest.WantPage(t, "GET /devices with the TV", r, 200, "2 of 2", "Living room TV")
			var tvID string
			if r := s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(tv)...); r.Code == 200 {
				tvID = r.JSON["session"].(map[string]any)["id"].(string)
			}
			apitest.WantRedirect(t, "sign the TV out", b.Post("/devices/"+tvID+"/sign-out", nil), "/devices?done=signed_out")
			apitest.WantRedirect(t, "sign it out again", b.Post("/devices/"+tvID+"/sign-out", nil), "/devices?done=gone")
			if r := s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(tv)...); r.Code != 401 || r.ErrorCode() != "session_revoked" {
				t.Fatalf("TV after sign-out = %d %s, want 401 session_revoked", r.Code, r.Body)
			}
			apitest.WantPage(t, "history", b.Get("/history"), 200, "Signed in", "Signed out from another device")

			apitest.WantRedirect(t, "sign out", b.Post("/logout", nil), "/login?done=signed_out")
			if _, ok := b.Cookies["sessiond"]; ok {
				t.Fatal("sign-out left the session cookie")
			}
			apitest.WantRedirect(t, "GET /devices after sign-out", b.Get("/devices"), "/login?next=%2Fdevices")
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
			s := apitest.NewServer(t, store, apitest.Options{FreshAge: 24 * time.Hour})
			email := s.Register(t)
			s.SetLimit(t, email, models.Limit{Max: 4, Policy: models.PolicyReject})
			tvID := s.Login(t, email, "Living room TV").JSON["session"].(map[string]any)["id"].(string)
			s.Clock.Advance(10 * time.Minute) // (the idle timeout here is an hour)
			b := apitest.NewBrowser(s)
			apitest.WantRedirect(t, "sign in", b.SignIn(email, password, "Laptop"), "/devices")
			s.Clock.Advance(time.Minute)
			phoneID := s.Login(t, email, "Phone").JSON["session"].(map[string]any)["id"].(string)

			r := b.Get("/devices")
			apitest.WantPage(t, "devices", r, 200, "signed in less than 24 hours ago", `id="password-`+tvID+`"`,
				`<form method="post" action="/devices/`+phoneID+`/sign-out"><button`)
			if strings.Contains(r.Body.String(), `id="password-`+phoneID+`"`) {
				t.Fatal("the newer phone's sign-out asks for the password")
			}
			apitest.WantPage(t, "sign out the TV without the password", b.Post("/devices/"+tvID+"/sign-out", nil), 403,
				"enter your password to sign out a device that signed in before it", `aria-invalid="true"`)
			apitest.WantPage(t, "sign out the TV with a wrong password", b.Post("/devices/"+tvID+"/sign-out", url.Values{"password": {"not my password"}}), 403,
				"Wrong password: the device was not signed out.", `id="password-`+tvID+`-error"`)
			apitest.WantPage(t, "the TV is still there", b.Get("/devices"), 200, "3 of 4", "Living room TV")
			apitest.WantRedirect(t, "sign out the phone", b.Post("/devices/"+phoneID+"/sign-out", nil), "/devices?done=signed_out")
			apitest.WantRedirect(t, "sign out the TV with the password", b.Post("/devices/"+tvID+"/sign-out", url.Values{"password": {password}}), "/devices?done=signed_out")
			r = b.Get("/devices?done=signed_out")
			apitest.WantPage(t, "devices after both", r, 200, "1 of 4")
			if strings.Contains(r.Body.String(), "less than 24 hours") {
				t.Error("with no older device left, the page still explains the password")
			}
		})
	}
}
