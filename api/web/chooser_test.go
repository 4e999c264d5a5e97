package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

func TestPagesDeviceChooser(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{})
			email := s.Register(t)
			s.SetLimit(t, email, models.Limit{Max: 1, Policy: models.PolicyReject})
			tv := s.MustLogin(t, email, "Living room TV")
			tvID := s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(tv)...).JSON["session"].(map[string]any)["id"].(string)

			b := apitest.NewBrowser(s)
			apitest.WantRedirect(t, "chooser without a held sign-in", b.Get("/devices/limit"), "/login")
			apitest.WantRedirect(t, "sign in at the limit", b.SignIn(email, password, "Laptop"), "/devices/limit")
			if b.Cookies["sessiond"] != "" || b.Cookies["sessiond-pending"] == "" {
				t.Fatalf("cookies at the limit = %v, want a pending sign-in and no session", b.Cookies)
			}
			apitest.WantPage(t, "chooser", b.Get("/devices/limit"), 200, "Your plan allows 1 device", "Living room TV", "Laptop", `value="`+tvID+`"`)
			apitest.WantRedirect(t, "continue without a choice", b.Post("/devices/limit", nil), "/devices/limit?retry=choose")
			apitest.WantRedirect(t, "continue with garbage", b.Post("/devices/limit", url.Values{"replace_session_id": {"x'; DROP TABLE"}}), "/devices/limit?retry=choose")
			apitest.WantPage(t, "chooser asking again", b.Get("/devices/limit?retry=choose"), 200, "Choose a device to sign out")

			pending := b.Cookies["sessiond-pending"]
			apitest.WantRedirect(t, "choose the TV", b.Post("/devices/limit", url.Values{"replace_session_id": {tvID}}), "/devices?done=replaced")
			if b.Cookies["sessiond"] == "" || b.Cookies["sessiond-pending"] != "" || len(b.Cookies["sessiond-device"]) != 66 {
				t.Fatalf("cookies after choosing = %v, want a session, a device key and no pending sign-in", b.Cookies)
			}
			apitest.WantPage(t, "devices after choosing", b.Get("/devices?done=replaced"), 200, "1 of 1", "Laptop", "The device you chose was signed out")
			if r := s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(tv)...); r.Code != 401 {
				t.Fatalf("TV after being chosen = %d, want 401", r.Code)
			}

			// Replaying the spent pending sign-in from another browser signs nobody in.
			thief := apitest.NewBrowser(s)
			thief.Cookies["sessiond-pending"] = pending
			apitest.WantPage(t, "replayed chooser", thief.Post("/devices/limit", url.Values{"replace_session_id": {tvID}}), 200, "That sign-in has expired")
			if thief.Cookies["sessiond"] != "" {
				t.Fatal("a replayed pending sign-in set a session cookie")
			}
		})
	}
}

// TestPagesChooserOverTheLimit: an account moved to a reject plan of 1 device with 3 signed in
// sees it on its devices page; a new browser's sign-in asks for all 3 to go, with checkboxes;
// choosing 2 says truthfully that 1 more is needed, with the 2 still checked; choosing 3 gets in.
func TestPagesChooserOverTheLimit(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{})
			email := s.Register(t)
			s.SetLimit(t, email, models.Limit{Max: 3, Policy: models.PolicyReject})
			phone := apitest.NewBrowser(s)
			apitest.WantRedirect(t, "sign in the phone", phone.SignIn(email, password, "Phone"), "/devices")
			var ids []string
			for _, d := range []string{"Living room TV", "Bedroom TV"} {
				tok := s.MustLogin(t, email, d)
				ids = append(ids, s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(tok)...).JSON["session"].(map[string]any)["id"].(string))
			}
			s.SetLimit(t, email, models.Limit{Max: 1, Policy: models.PolicyReject})
			apitest.WantPage(t, "devices over the limit", phone.Get("/devices"), 200,
				"<strong>3 of 1</strong> devices: <span class=\"over\">over your plan&#39;s limit, a new sign-in will ask you to choose 3 to sign out</span>")

			b := apitest.NewBrowser(s)
			apitest.WantRedirect(t, "sign in 2 over the limit", b.SignIn(email, password, "Laptop"), "/devices/limit")
			r := b.Get("/devices/limit")
			apitest.WantPage(t, "chooser", r, 200, "Your plan now allows 1 device and 3 are signed in: choose 3 to sign out",
				"Sign out 3 of these devices", `type="checkbox" name="replace_session_id" value="`+ids[0]+`"`)
			if strings.Contains(r.Body.String(), `type="radio"`) || strings.Contains(r.Body.String(), " required") {
				t.Fatal("the chooser for 3 offers radio buttons or requires a single choice")
			}
			apitest.WantRedirect(t, "continue without a choice", b.Post("/devices/limit", nil), "/devices/limit?retry=choose")
			apitest.WantPage(t, "chooser asking again", b.Get("/devices/limit?retry=choose"), 200, "Choose 3 devices to sign out.")

			r = b.Post("/devices/limit", url.Values{"replace_session_id": ids})
			apitest.WantPage(t, "choosing 2 of 3", r, http.StatusConflict, "To sign in on Laptop, 3 devices must be signed out and you chose 2: choose 1 more.",
				`value="`+ids[0]+`" checked`, `value="`+ids[1]+`" checked`, "Sign out 3 of these devices")
			if strings.Contains(r.Body.String(), "no longer signed in") || strings.Contains(r.Body.String(), "already signed out") {
				t.Fatalf("choosing too few says a device was gone:\n%s", r.Body)
			}
			if b.Cookies["sessiond"] != "" || b.Cookies["sessiond-pending"] == "" {
				t.Fatalf("cookies after too few = %v, want the sign-in still pending", b.Cookies)
			}
			phoneID := s.Do("GET", "/v1/auth/session", "", "", "Cookie", "sessiond="+phone.Cookies["sessiond"]).JSON["session"].(map[string]any)["id"].(string)
			apitest.WantRedirect(t, "choosing all 3", b.Post("/devices/limit", url.Values{"replace_session_id": append(ids, phoneID)}), "/devices?done=replaced&n=3")
			apitest.WantPage(t, "devices after choosing", b.Get("/devices?done=replaced&n=3"), 200, "<strong>1 of 1</strong> device<", "The 3 devices you chose were signed out", "Laptop")
			apitest.WantRedirect(t, "the phone afterwards", phone.Get("/devices"), "/login?next=%2Fdevices")
		})
	}
}

// TestPagesChooserWhenTheChosenDeviceLeft: the device chosen signed out meanwhile and another
// took its place: the chooser says exactly that, and asks again.
func TestPagesChooserWhenTheChosenDeviceLeft(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{})
	email := s.Register(t)
	s.SetLimit(t, email, models.Limit{Max: 1, Policy: models.PolicyReject})
	tv := s.MustLogin(t, email, "Living room TV")
	tvID := s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(tv)...).JSON["session"].(map[string]any)["id"].(string)
	b := apitest.NewBrowser(s)
	apitest.WantRedirect(t, "sign in at the limit", b.SignIn(email, password, "Laptop"), "/devices/limit")
	apitest.WantPage(t, "chooser", b.Get("/devices/limit"), 200, `type="radio" name="replace_session_id" value="`+tvID+`" required`)
	if r := s.Do("POST", "/v1/auth/logout", "", "", apitest.Bearer(tv)...); r.Code != 204 {
		t.Fatalf("TV logout = %d", r.Code)
	}
	s.MustLogin(t, email, "Bedroom TV")
	r := b.Post("/devices/limit", url.Values{"replace_session_id": {tvID}})
	apitest.WantPage(t, "choosing the TV that left", r, http.StatusConflict,
		"A device you chose is no longer signed in. To sign in on Laptop, choose a device to sign out.", "Bedroom TV")
	if strings.Contains(r.Body.String(), "Living room TV") {
		t.Fatal("the chooser still lists the device that left")
	}
}

func TestPagesChooserWhenASlotFreesMeanwhile(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{})
	email := s.Register(t)
	s.SetLimit(t, email, models.Limit{Max: 1, Policy: models.PolicyReject})
	tv := s.MustLogin(t, email, "Living room TV")
	b := apitest.NewBrowser(s)
	apitest.WantRedirect(t, "sign in at the limit", b.SignIn(email, password, "Laptop"), "/devices/limit")
	if r := s.Do("POST", "/v1/auth/logout", "", "", apitest.Bearer(tv)...); r.Code != 204 {
		t.Fatalf("TV logout = %d", r.Code)
	}
	r := b.Get("/devices/limit")
	apitest.WantPage(t, "chooser with room", r, 200, "there is room", ">Continue<")
	if strings.Contains(r.Body.String(), " required") {
		t.Fatal("the chooser still requires a choice when there is room")
	}
	apitest.WantRedirect(t, "continue without a choice", b.Post("/devices/limit", nil), "/devices")
	apitest.WantPage(t, "devices", b.Get("/devices"), 200, "1 of 1", "Laptop")
}

func TestPagesChooserCancel(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{})
	email := s.Register(t)
	s.SetLimit(t, email, models.Limit{Max: 1, Policy: models.PolicyReject})
	s.MustLogin(t, email, "Living room TV")
	b := apitest.NewBrowser(s)
	apitest.WantRedirect(t, "sign in at the limit", b.SignIn(email, password, "Laptop"), "/devices/limit")
	pending := b.Cookies["sessiond-pending"]
	apitest.WantRedirect(t, "cancel", b.Post("/devices/limit/cancel", nil), "/login")
	if b.Cookies["sessiond-pending"] != "" {
		t.Fatal("cancel kept the pending cookie")
	}
	apitest.WantRedirect(t, "chooser after cancel", b.Get("/devices/limit"), "/login")
	again := apitest.NewBrowser(s)
	again.Cookies["sessiond-pending"] = pending
	apitest.WantPage(t, "the cancelled sign-in, replayed", again.Get("/devices/limit"), 200, "That sign-in has expired")

	// Leaving the chooser for the sign-in page abandons the held sign-in in this browser.
	apitest.WantRedirect(t, "sign in at the limit again", b.SignIn(email, password, "Laptop"), "/devices/limit")
	b.Get("/login")
	apitest.WantRedirect(t, "chooser after visiting /login", b.Get("/devices/limit"), "/login")
}
