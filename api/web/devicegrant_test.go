package web_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

var tvCode = regexp.MustCompile(`class="tv-code"[^>]*>([A-Z]{4}-[A-Z]{4})<`)

// startTVPage asks the /tv page of a fresh browser for a code and returns the browser and the
// code it shows.
func startTVPage(t *testing.T, s *apitest.Server, name string) (*apitest.Browser, string) {
	t.Helper()
	tv := apitest.NewBrowser(s)
	apitest.WantPage(t, "TV start", tv.Get("/tv"), 200, "Sign in this TV", "Show a code")
	apitest.WantRedirect(t, "TV asks for a code", tv.Post("/tv/start", url.Values{"device_name": {name}}), "/tv")
	r := tv.Get("/tv")
	apitest.WantPage(t, "TV waiting", r, 200, `<meta http-equiv="refresh" content="5">`, "http://sessiond.test/activate", `<svg class="qr"`, "Sign in "+name)
	m := tvCode.FindStringSubmatch(r.Body.String())
	if m == nil {
		t.Fatalf("the TV page shows no code:\n%s", r.Body)
	}
	return tv, m[1]
}

// TestPagesTVSignIn: a browser acting as the TV on /tv, a signed-in phone on /activate.
func TestPagesTVSignIn(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{})
			email := s.Register(t)
			phone := apitest.NewBrowser(s)
			apitest.WantRedirect(t, "activate signed out", phone.Get("/activate?code=BDWPHQPK"), "/login?next=%2Factivate%3Fcode%3DBDWPHQPK")
			phone.SignIn(email, password, "Phone")

			tv, code := startTVPage(t, s, "Living room TV")
			apitest.WantPage(t, "activate without a code", phone.Get("/activate"), 200, "Enter the code your TV shows")
			apitest.WantPage(t, "activate a wrong code", phone.Get("/activate?code=BCDFGHJK"), 404, "That code did not work")
			apitest.WantPage(t, "activate something else", phone.Get("/activate?code=hello"), 400, "That is not a TV code")
			apitest.WantPage(t, "activate", phone.Get("/activate?code="+strings.ToLower(strings.ReplaceAll(code, "-", ""))), 200,
				"Only approve a device that is in front of you", "Living room TV", "sessiond-tv-page", code, "Approve", "Deny")
			apitest.WantPage(t, "approve", phone.Post("/activate/approve", url.Values{"user_code": {code}}), 200, "Living room TV is signed in")
			apitest.WantPage(t, "TV after approval", tv.Get("/tv"), 200, "Signed in as "+email, `href="/devices"`)
			apitest.WantPage(t, "TV's devices", tv.Get("/devices"), 200, "Living room TV", "Phone")
			apitest.WantPage(t, "approve again", phone.Post("/activate/approve", url.Values{"user_code": {code}}), 404, "That code did not work")

			// Denied.
			tv2, code2 := startTVPage(t, s, "Kitchen TV")
			apitest.WantPage(t, "deny", phone.Post("/activate/deny", url.Values{"user_code": {code2}}), 200, "The TV was not signed in")
			apitest.WantPage(t, "TV after denial", tv2.Get("/tv"), 200, "The sign-in was denied", "Show a new code")

			// Expired.
			tv3, code3 := startTVPage(t, s, "Bedroom TV")
			s.Clock.Advance(11 * time.Minute)
			apitest.WantPage(t, "activate an expired code", phone.Get("/activate?code="+code3), 404, "That code did not work")
			apitest.WantPage(t, "TV after expiry", tv3.Get("/tv"), 200, "The code expired", "Show a new code")
		})
	}
}

// TestPagesTVAtTheLimit: on a reject plan at the limit, approving shows the chooser; choosing
// the phone's old laptop signs the TV in.
func TestPagesTVAtTheLimit(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{})
	email := s.Register(t)
	s.SetLimit(t, email, models.Limit{Max: 2, Policy: models.PolicyReject})
	laptop := s.MustLogin(t, email, "Old laptop")
	laptopID := s.SessionID(t, laptop)
	phone := apitest.NewBrowser(s)
	phone.SignIn(email, password, "Phone")
	tv, code := startTVPage(t, s, "Living room TV")
	apitest.WantPage(t, "approve at the limit", phone.Post("/activate/approve", url.Values{"user_code": {code}}), 409,
		"Your plan allows 2 devices", "Old laptop", `value="`+laptopID+`"`, "Sign out and approve")
	apitest.WantPage(t, "approve choosing the laptop", phone.Post("/activate/approve", url.Values{"user_code": {code}, "replace_session_id": {laptopID}}), 200,
		"Living room TV is signed in")
	apitest.WantPage(t, "TV", tv.Get("/tv"), 200, "Signed in as "+email)
	if r := s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(laptop)...); r.ErrorCode() != "session_evicted" {
		t.Errorf("laptop after being chosen = %d %s, want session_evicted", r.Code, r.Body)
	}
}
