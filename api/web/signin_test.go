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

			lockOut(t, s, email, 3)
			stranger := apitest.NewBrowser(s)
			apitest.WantPage(t, "sign in on another browser", stranger.SignIn(email, password, "Kiosk"), 401, "Wrong email or password")
			apitest.WantRedirect(t, "sign in again on the known browser", known.SignIn(email, password, "Laptop"), "/devices")
			if known.Cookies["sessiond-device"] != key {
				t.Errorf("device key after signing in again = %q, want the same %q", known.Cookies["sessiond-device"], key)
			}
		})
	}
}

// TestPagesSignOutKeepsTheDeviceKey: signing out ends the browser's session and keeps its
// device key and browser id (no Clear-Site-Data), so that once someone who only knows the
// email has locked the account, the browser that signed out still signs in; another browser
// does not. Checked by hand: with Clear-Site-Data (which the test browser honours) the sign-in
// after the lock-out is refused.
func TestPagesSignOutKeepsTheDeviceKey(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{Throttle: true, LockAfter: 3})
			email := s.Register(t)
			b := apitest.NewBrowser(s)
			apitest.WantRedirect(t, "sign in", b.SignIn(email, password, "Laptop"), "/devices")
			key, id := b.Cookies["sessiond-device"], b.Cookies["sessiond-browser"]
			apitest.WantRedirect(t, "sign out", b.Post("/logout", nil), "/login?done=signed_out")
			if _, ok := b.Cookies["sessiond"]; ok || key == "" || b.Cookies["sessiond-device"] != key || b.Cookies["sessiond-browser"] != id {
				t.Fatalf("cookies after signing out = %v, want no session, the device key %q and the browser id %q kept", b.Cookies, key, id)
			}
			apitest.WantPage(t, "sign-in page after signing out", b.Get("/login?done=signed_out"), 200, "You are signed out on this device.")

			lockOut(t, s, email, 3)
			apitest.WantPage(t, "sign in on another browser", apitest.NewBrowser(s).SignIn(email, password, "Kiosk"), 401, "Wrong email or password")
			apitest.WantRedirect(t, "sign in again on the browser that signed out", b.SignIn(email, password, "Laptop"), "/devices")
			apitest.WantPage(t, "devices", b.Get("/devices"), 200, "1 of 2", "Laptop")
		})
	}
}

// lockOut fails n logins of the account through the API, as someone who knows only the email
// would, until the throttle (Options.LockAfter n) locks it.
func lockOut(t *testing.T, s *apitest.Server, email string, n int) {
	t.Helper()
	for i := 0; i < n; {
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
