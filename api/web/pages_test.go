package web_test

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/api/web"
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

func TestPagesRefuseForeignForms(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{})
	email := s.Register(t)
	b := apitest.NewBrowser(s)
	b.Site = "cross-site"
	apitest.WantPage(t, "cross-site sign-in", b.SignIn(email, password, "Laptop"), 403, "another site")
	if len(b.Cookies) != 0 {
		t.Fatalf("a cross-site sign-in set cookies %v", b.Cookies)
	}
	b.Site = "same-origin"
	apitest.WantRedirect(t, "sign in", b.SignIn(email, password, "Laptop"), "/devices")
	s.MustLogin(t, email, "TV")
	b.Site = "same-site" // a sibling subdomain is not us either
	for _, path := range []string{"/logout", "/devices/sign-out-others"} {
		apitest.WantPage(t, "cross-site POST "+path, b.Post(path, url.Values{"password": {password}}), 403)
	}
	b.Site = "same-origin"
	apitest.WantPage(t, "devices after the refused posts", b.Get("/devices"), 200, "2 of 2")
}

func TestPagesKeepTheReturnPathOnSite(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{})
	email := s.Register(t)
	s.SetLimit(t, email, models.Limit{Max: 20, Policy: models.PolicyEvictOldest})
	for next, want := range map[string]string{
		"/history":             "/history",
		"//evil.example/x":     "/devices",
		"https://evil.example": "/devices",
		`/\evil.example`:       "/devices",
		"javascript:alert(1)":  "/devices",
		"":                     "/devices",
		"/login":               "/devices",
	} {
		b := apitest.NewBrowser(s)
		r := b.Post("/login", url.Values{"email": {email}, "password": {password}, "device_name": {"Laptop"}, "next": {next}})
		apitest.WantRedirect(t, "sign in with next="+next, r, want)
	}
}

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

func TestPagesTellASignedOutDeviceWhy(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{})
	email := s.Register(t)
	b := apitest.NewBrowser(s)
	apitest.WantRedirect(t, "sign in", b.SignIn(email, password, "Kitchen laptop"), "/devices")
	s.Clock.Advance(1)
	s.MustLogin(t, email, "Living room TV")
	s.MustLogin(t, email, "Bedroom TV") // standard plan: 2, evict oldest: the laptop goes
	apitest.WantRedirect(t, "evicted GET /devices", b.Get("/devices"), "/login?next=%2Fdevices")
	if _, ok := b.Cookies["sessiond"]; ok {
		t.Fatal("the dead session cookie was kept")
	}
	apitest.WantPage(t, "sign-in page after eviction", b.Get("/login?next=%2Fdevices"), 200,
		"This device was signed out", "Bedroom TV signed in and your plan allows 2 devices", `name="password"`, `value="/devices"`)
	if r := b.Get("/login"); strings.Contains(r.Body.String(), "was signed out") {
		t.Fatal("the notice showed twice")
	}
	// A dead cookie on a form post goes to the sign-in page, not back to the form's target.
	b.Cookies["sessiond"] = "AZCgAAAAAHAAgAAAAAAAAQ." + strings.Repeat("A", 43)
	apitest.WantRedirect(t, "POST with a dead cookie", b.Post("/logout", nil), "/login")
	apitest.WantPage(t, "sign-in page after a dead cookie", b.Get("/login"), 200, "Please sign in again")
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

func TestPagesAdmin(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{})
	user, admin := s.Register(t), s.Register(t)
	s.MakeAdmin(t, admin)
	s.SetLimit(t, admin, models.Limit{Max: 10, Policy: models.PolicyEvictOldest})
	u := apitest.NewBrowser(s)
	apitest.WantRedirect(t, "user sign-in", u.SignIn(user, password, "Laptop"), "/devices")
	apitest.WantPage(t, "user GET /admin", u.Get("/admin"), 403, "Not allowed")

	a := apitest.NewBrowser(s)
	apitest.WantRedirect(t, "admin sign-in", a.SignIn(admin, password, "Desk"), "/devices")
	apitest.WantPage(t, "GET /devices as admin", a.Get("/devices"), 200, `href="/admin"`)
	r := a.Get("/admin?email=" + url.QueryEscape(user))
	apitest.WantPage(t, "GET /admin", r, 200, "basic", "standard", "premium", user)
	plans := s.JSON("GET", "/v1/admin/plans", nil, apitest.Bearer(s.MustLogin(t, admin, "API"))...).JSON["plans"].([]any)
	var basic string
	for _, p := range plans {
		if p := p.(map[string]any); p["name"] == "basic" {
			basic = p["id"].(string)
		}
	}
	bad := url.Values{"max_sessions": {"many"}, "limit_policy": {"reject"}, "idle_timeout": {"soon"}}
	apitest.WantPage(t, "bad plan", a.Post("/admin/plans/"+basic, bad), 400, "The basic plan was not saved", "Devices must be a whole number; Idle timeout must be a duration")
	good := url.Values{"max_sessions": {"3"}, "limit_policy": {"evict_oldest"}, "idle_timeout": {"90m"}, "absolute_timeout": {""}}
	apitest.WantRedirect(t, "save plan", a.Post("/admin/plans/"+basic, good), "/admin?done=plan_saved")
	apitest.WantPage(t, "after saving", a.Get("/admin?done=plan_saved"), 200, "Plan saved", `value="1h30m"`, `value="3"`)
	// Enforce now: the user moves to basic (now 3 devices), signs in twice more, and basic
	// goes down to 1 at once.
	adminAPI := apitest.Bearer(s.MustLogin(t, admin, "API 2"))
	var userID string
	for _, u := range s.JSON("GET", "/v1/admin/users?email="+url.QueryEscape(user), nil, adminAPI...).JSON["users"].([]any) {
		userID = u.(map[string]any)["id"].(string)
	}
	if r := s.JSON("PATCH", "/v1/admin/users/"+userID, map[string]any{"plan_id": basic}, adminAPI...); r.Code != 200 {
		t.Fatalf("move user to basic = %d %s", r.Code, r.Body)
	}
	s.MustLogin(t, user, "TV")
	s.MustLogin(t, user, "Phone")
	lower := url.Values{"max_sessions": {"1"}, "limit_policy": {"evict_oldest"}, "enforce": {"now"}}
	apitest.WantRedirect(t, "lower basic now", a.Post("/admin/plans/"+basic, lower), "/admin?done=enforced&n=2")
	apitest.WantPage(t, "user after enforcement", a.Get("/admin/users/"+userID), 200, "Signed-in devices (1 of 1)", "Phone")
	apitest.WantPage(t, "unknown user", a.Get("/admin/users/0190a000-0000-7000-8000-0000000000ff"), 404, "Not found")
}

func TestPagesWhenTheStoreIsDown(t *testing.T) {
	sessions := apitest.FakeSessions{Err: errors.Join(models.ErrUnavailable, errors.New("dial tcp: connection refused"))}
	log := slog.New(slog.DiscardHandler)
	h := apitest.NewHandler(t, api.Deps{
		Sessions: sessions, Store: apitest.FakePinger{Err: models.ErrUnavailable}, Log: log, MaxBodyBytes: 1 << 16,
	}, web.Deps{Sessions: sessions, Log: log})
	b := apitest.NewBrowser(apitest.Serving(t, h))
	b.Cookies["sessiond"] = "AZCgAAAAAHAAgAAAAAAAAQ." + strings.Repeat("A", 43)
	r := b.Get("/devices")
	apitest.WantPage(t, "GET /devices, store down", r, 503, "Temporarily unavailable")
	if r.Header().Get("Retry-After") == "" {
		t.Fatal("503 page without Retry-After")
	}
	apitest.WantPage(t, "sign in, store down", b.SignIn("a@b.c", "whatever pass", "Laptop"), 503, "cannot reach its store")
	if r := b.Get("/static/app.css"); r.Code != 200 || !strings.HasPrefix(r.Header().Get("Content-Type"), "text/css") {
		t.Fatalf("GET /static/app.css = %d %s", r.Code, r.Header().Get("Content-Type"))
	}
	if r := b.Get("/static/../pages.go"); r.Code == 200 {
		t.Fatalf("GET /static/../pages.go = 200: %.80s", r.Body)
	}
}

// TestPagesSignInSendsTheDeviceKey: the sign-in form sends the browser's device key (its
// cookie), so a browser that signed in before still gets in while someone who only knows the
// email has locked the account; another browser is refused. A browser id kept under the
// cookie's old name stays this browser's id.
func TestPagesSignInSendsTheDeviceKey(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{Throttle: true, LockAfter: 3})
			email := s.Register(t)
			known := apitest.NewBrowser(s)
			legacyID := "AAECAwQFBgcICQoLDA0ODw" // 16 bytes, as browser ids were kept in sessiond-device
			known.Cookies["sessiond-device"] = legacyID
			apitest.WantRedirect(t, "sign in", known.SignIn(email, password, "Laptop"), "/devices")
			key := known.Cookies["sessiond-device"]
			if len(key) != 66 || known.Cookies["sessiond-browser"] != legacyID {
				t.Fatalf("cookies after sign-in = %v, want the device key and the browser id kept", known.Cookies)
			}
			var deviceID string
			store.DB.Model(&models.Session{}).Where("device_name = ?", "Laptop").Select("device_id").Scan(&deviceID)
			if deviceID != "browser-"+legacyID {
				t.Fatalf("the session's device id = %q, want the browser's old id", deviceID)
			}

			for i := 0; i < 3; {
				r := s.JSON("POST", "/v1/auth/login", map[string]any{"email": email, "password": "the attacker's guess"})
				switch r.Code {
				case http.StatusUnauthorized:
					i++
				case http.StatusTooManyRequests:
					s.Clock.Advance(time.Second)
				default:
					t.Fatalf("attacker's login = %d %s", r.Code, r.Body)
				}
			}
			s.Clock.Advance(time.Minute)
			stranger := apitest.NewBrowser(s)
			apitest.WantPage(t, "sign in on another browser", stranger.SignIn(email, password, "Kiosk"), 401, "Wrong email or password")
			apitest.WantRedirect(t, "sign in again on the known browser", known.SignIn(email, password, "Laptop"), "/devices")
			if known.Cookies["sessiond-device"] != key {
				t.Errorf("device key after signing in again = %q, want the same %q", known.Cookies["sessiond-device"], key)
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
