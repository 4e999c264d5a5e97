package api_test

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

// browser is a cookie-keeping client of the pages (the real browser tests are in cmd/sessiond;
// these pin the HTTP behaviour: statuses, redirects, cookies, refusals).
type browser struct {
	s       *server
	cookies map[string]string
	site    string // Sec-Fetch-Site sent with posts: "same-origin" unless a test says otherwise
}

func newBrowser(s *server) *browser {
	return &browser{s: s, cookies: map[string]string{}, site: "same-origin"}
}

func (b *browser) request(method, path string, form url.Values) *httptest.ResponseRecorder {
	b.s.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", b.site)
	}
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36")
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	rec := httptest.NewRecorder()
	b.s.h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return rec
}

func (b *browser) get(path string) *httptest.ResponseRecorder { return b.request("GET", path, nil) }
func (b *browser) post(path string, form url.Values) *httptest.ResponseRecorder {
	return b.request("POST", path, form)
}

// signIn posts the sign-in form and returns the answer.
func (b *browser) signIn(email, pw, device string) *httptest.ResponseRecorder {
	return b.post("/login", url.Values{"email": {email}, "password": {pw}, "device_name": {device}, "device_type": {"web"}})
}

func wantPage(t *testing.T, what string, r *httptest.ResponseRecorder, status int, contains ...string) {
	t.Helper()
	if r.Code != status || !strings.HasPrefix(r.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("%s = %d %s, want %d text/html", what, r.Code, r.Header().Get("Content-Type"), status)
	}
	for _, c := range contains {
		if !strings.Contains(r.Body.String(), c) {
			t.Fatalf("%s: the page does not contain %q:\n%s", what, c, r.Body)
		}
	}
}

func wantRedirect(t *testing.T, what string, r *httptest.ResponseRecorder, location string) {
	t.Helper()
	if r.Code != http.StatusSeeOther || r.Header().Get("Location") != location {
		t.Fatalf("%s = %d to %q, want 303 to %q (%s)", what, r.Code, r.Header().Get("Location"), location, r.Body)
	}
}

func TestPagesSignInAndDevices(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := newServer(t, store, options{})
			email := s.register(t)
			b := newBrowser(s)

			wantRedirect(t, "GET /devices signed out", b.get("/devices"), "/login?next=%2Fdevices")
			wantRedirect(t, "GET / signed out", b.get("/"), "/login")
			r := b.get("/login?next=%2Fdevices")
			wantPage(t, "GET /login", r, 200, `name="email"`, `value="Chrome on Linux"`, `<option value="web" selected>`)
			if csp := r.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "form-action 'self'") {
				t.Fatalf("Content-Security-Policy = %q", csp)
			}
			if r.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("Cache-Control = %q, want no-store", r.Header().Get("Cache-Control"))
			}

			r = b.signIn(email, "not the password", "Laptop")
			wantPage(t, "wrong password", r, 401, "Wrong email or password", `value="`+email+`"`)
			if _, ok := b.cookies["sessiond"]; ok {
				t.Fatal("a failed sign-in set the session cookie")
			}

			wantRedirect(t, "sign in", b.signIn(email, password, `<script>alert(1)</script>`), "/devices")
			if b.cookies["sessiond"] == "" || b.cookies["sessiond-device"] == "" || b.cookies["sessiond-browser"] == "" {
				t.Fatalf("cookies after sign-in = %v, want the session, the device key and the browser's device id", b.cookies)
			}
			r = b.get("/devices")
			wantPage(t, "GET /devices", r, 200, "1 of 2", "This device", "&lt;script&gt;alert(1)&lt;/script&gt;")
			if strings.Contains(r.Body.String(), "<script>") {
				t.Fatal("the device name was not escaped")
			}
			wantRedirect(t, "GET / signed in", b.get("/"), "/devices")

			// Signing in again in the same browser replaces its own session: still one device.
			wantRedirect(t, "sign in again", b.signIn(email, password, "Laptop"), "/devices")
			wantPage(t, "GET /devices again", b.get("/devices"), 200, "1 of 2", "Laptop")

			tv := s.mustLogin(t, email, "Living room TV")
			r = b.get("/devices")
			wantPage(t, "GET /devices with the TV", r, 200, "2 of 2", "Living room TV")
			var tvID string
			if r := s.do("GET", "/v1/auth/session", "", "", bearer(tv)...); r.Code == 200 {
				tvID = r.body["session"].(map[string]any)["id"].(string)
			}
			wantRedirect(t, "sign the TV out", b.post("/devices/"+tvID+"/sign-out", nil), "/devices?done=signed_out")
			wantRedirect(t, "sign it out again", b.post("/devices/"+tvID+"/sign-out", nil), "/devices?done=gone")
			if r := s.do("GET", "/v1/auth/session", "", "", bearer(tv)...); r.Code != 401 || r.errorCode() != "session_revoked" {
				t.Fatalf("TV after sign-out = %d %s, want 401 session_revoked", r.Code, r.Body)
			}
			wantPage(t, "history", b.get("/history"), 200, "Signed in", "Signed out from another device")

			wantRedirect(t, "sign out", b.post("/logout", nil), "/login?done=signed_out")
			if _, ok := b.cookies["sessiond"]; ok {
				t.Fatal("sign-out left the session cookie")
			}
			wantRedirect(t, "GET /devices after sign-out", b.get("/devices"), "/login?next=%2Fdevices")
		})
	}
}

func TestPagesRefuseForeignForms(t *testing.T) {
	s := newServer(t, servicetest.SQLite(t), options{})
	email := s.register(t)
	b := newBrowser(s)
	b.site = "cross-site"
	wantPage(t, "cross-site sign-in", b.signIn(email, password, "Laptop"), 403, "another site")
	if len(b.cookies) != 0 {
		t.Fatalf("a cross-site sign-in set cookies %v", b.cookies)
	}
	b.site = "same-origin"
	wantRedirect(t, "sign in", b.signIn(email, password, "Laptop"), "/devices")
	s.mustLogin(t, email, "TV")
	b.site = "same-site" // a sibling subdomain is not us either
	for _, path := range []string{"/logout", "/devices/sign-out-others"} {
		wantPage(t, "cross-site POST "+path, b.post(path, url.Values{"password": {password}}), 403)
	}
	b.site = "same-origin"
	wantPage(t, "devices after the refused posts", b.get("/devices"), 200, "2 of 2")
}

func TestPagesKeepTheReturnPathOnSite(t *testing.T) {
	s := newServer(t, servicetest.SQLite(t), options{})
	email := s.register(t)
	s.setLimit(t, email, models.Limit{Max: 20, Policy: models.PolicyEvictOldest})
	for next, want := range map[string]string{
		"/history":             "/history",
		"//evil.example/x":     "/devices",
		"https://evil.example": "/devices",
		`/\evil.example`:       "/devices",
		"javascript:alert(1)":  "/devices",
		"":                     "/devices",
		"/login":               "/devices",
	} {
		b := newBrowser(s)
		r := b.post("/login", url.Values{"email": {email}, "password": {password}, "device_name": {"Laptop"}, "next": {next}})
		wantRedirect(t, "sign in with next="+next, r, want)
	}
}

func TestPagesDeviceChooser(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := newServer(t, store, options{})
			email := s.register(t)
			s.setLimit(t, email, models.Limit{Max: 1, Policy: models.PolicyReject})
			tv := s.mustLogin(t, email, "Living room TV")
			tvID := s.do("GET", "/v1/auth/session", "", "", bearer(tv)...).body["session"].(map[string]any)["id"].(string)

			b := newBrowser(s)
			wantRedirect(t, "chooser without a held sign-in", b.get("/devices/limit"), "/login")
			wantRedirect(t, "sign in at the limit", b.signIn(email, password, "Laptop"), "/devices/limit")
			if b.cookies["sessiond"] != "" || b.cookies["sessiond-pending"] == "" {
				t.Fatalf("cookies at the limit = %v, want a pending sign-in and no session", b.cookies)
			}
			wantPage(t, "chooser", b.get("/devices/limit"), 200, "Your plan allows 1 device", "Living room TV", "Laptop", `value="`+tvID+`"`)
			wantRedirect(t, "continue without a choice", b.post("/devices/limit", nil), "/devices/limit?retry=choose")
			wantRedirect(t, "continue with garbage", b.post("/devices/limit", url.Values{"replace_session_id": {"x'; DROP TABLE"}}), "/devices/limit?retry=choose")
			wantPage(t, "chooser asking again", b.get("/devices/limit?retry=choose"), 200, "Choose a device to sign out")

			pending := b.cookies["sessiond-pending"]
			wantRedirect(t, "choose the TV", b.post("/devices/limit", url.Values{"replace_session_id": {tvID}}), "/devices?done=replaced")
			if b.cookies["sessiond"] == "" || b.cookies["sessiond-pending"] != "" || len(b.cookies["sessiond-device"]) != 66 {
				t.Fatalf("cookies after choosing = %v, want a session, a device key and no pending sign-in", b.cookies)
			}
			wantPage(t, "devices after choosing", b.get("/devices?done=replaced"), 200, "1 of 1", "Laptop", "The device you chose was signed out")
			if r := s.do("GET", "/v1/auth/session", "", "", bearer(tv)...); r.Code != 401 {
				t.Fatalf("TV after being chosen = %d, want 401", r.Code)
			}

			// Replaying the spent pending sign-in from another browser signs nobody in.
			thief := newBrowser(s)
			thief.cookies["sessiond-pending"] = pending
			wantPage(t, "replayed chooser", thief.post("/devices/limit", url.Values{"replace_session_id": {tvID}}), 200, "That sign-in has expired")
			if thief.cookies["sessiond"] != "" {
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
			s := newServer(t, store, options{})
			email := s.register(t)
			s.setLimit(t, email, models.Limit{Max: 3, Policy: models.PolicyReject})
			phone := newBrowser(s)
			wantRedirect(t, "sign in the phone", phone.signIn(email, password, "Phone"), "/devices")
			var ids []string
			for _, d := range []string{"Living room TV", "Bedroom TV"} {
				tok := s.mustLogin(t, email, d)
				ids = append(ids, s.do("GET", "/v1/auth/session", "", "", bearer(tok)...).body["session"].(map[string]any)["id"].(string))
			}
			s.setLimit(t, email, models.Limit{Max: 1, Policy: models.PolicyReject})
			wantPage(t, "devices over the limit", phone.get("/devices"), 200,
				"<strong>3 of 1</strong> devices: <span class=\"over\">over your plan&#39;s limit, a new sign-in will ask you to choose 3 to sign out</span>")

			b := newBrowser(s)
			wantRedirect(t, "sign in 2 over the limit", b.signIn(email, password, "Laptop"), "/devices/limit")
			r := b.get("/devices/limit")
			wantPage(t, "chooser", r, 200, "Your plan now allows 1 device and 3 are signed in: choose 3 to sign out",
				"Sign out 3 of these devices", `type="checkbox" name="replace_session_id" value="`+ids[0]+`"`)
			if strings.Contains(r.Body.String(), `type="radio"`) || strings.Contains(r.Body.String(), " required") {
				t.Fatal("the chooser for 3 offers radio buttons or requires a single choice")
			}
			wantRedirect(t, "continue without a choice", b.post("/devices/limit", nil), "/devices/limit?retry=choose")
			wantPage(t, "chooser asking again", b.get("/devices/limit?retry=choose"), 200, "Choose 3 devices to sign out.")

			r = b.post("/devices/limit", url.Values{"replace_session_id": ids})
			wantPage(t, "choosing 2 of 3", r, http.StatusConflict, "To sign in on Laptop, 3 devices must be signed out and you chose 2: choose 1 more.",
				`value="`+ids[0]+`" checked`, `value="`+ids[1]+`" checked`, "Sign out 3 of these devices")
			if strings.Contains(r.Body.String(), "no longer signed in") || strings.Contains(r.Body.String(), "already signed out") {
				t.Fatalf("choosing too few says a device was gone:\n%s", r.Body)
			}
			if b.cookies["sessiond"] != "" || b.cookies["sessiond-pending"] == "" {
				t.Fatalf("cookies after too few = %v, want the sign-in still pending", b.cookies)
			}
			phoneID := s.do("GET", "/v1/auth/session", "", "", "Cookie", "sessiond="+phone.cookies["sessiond"]).body["session"].(map[string]any)["id"].(string)
			wantRedirect(t, "choosing all 3", b.post("/devices/limit", url.Values{"replace_session_id": append(ids, phoneID)}), "/devices?done=replaced&n=3")
			wantPage(t, "devices after choosing", b.get("/devices?done=replaced&n=3"), 200, "<strong>1 of 1</strong> device<", "The 3 devices you chose were signed out", "Laptop")
			wantRedirect(t, "the phone afterwards", phone.get("/devices"), "/login?next=%2Fdevices")
		})
	}
}

// TestPagesChooserWhenTheChosenDeviceLeft: the device chosen signed out meanwhile and another
// took its place: the chooser says exactly that, and asks again.
func TestPagesChooserWhenTheChosenDeviceLeft(t *testing.T) {
	s := newServer(t, servicetest.SQLite(t), options{})
	email := s.register(t)
	s.setLimit(t, email, models.Limit{Max: 1, Policy: models.PolicyReject})
	tv := s.mustLogin(t, email, "Living room TV")
	tvID := s.do("GET", "/v1/auth/session", "", "", bearer(tv)...).body["session"].(map[string]any)["id"].(string)
	b := newBrowser(s)
	wantRedirect(t, "sign in at the limit", b.signIn(email, password, "Laptop"), "/devices/limit")
	wantPage(t, "chooser", b.get("/devices/limit"), 200, `type="radio" name="replace_session_id" value="`+tvID+`" required`)
	if r := s.do("POST", "/v1/auth/logout", "", "", bearer(tv)...); r.Code != 204 {
		t.Fatalf("TV logout = %d", r.Code)
	}
	s.mustLogin(t, email, "Bedroom TV")
	r := b.post("/devices/limit", url.Values{"replace_session_id": {tvID}})
	wantPage(t, "choosing the TV that left", r, http.StatusConflict,
		"A device you chose is no longer signed in. To sign in on Laptop, choose a device to sign out.", "Bedroom TV")
	if strings.Contains(r.Body.String(), "Living room TV") {
		t.Fatal("the chooser still lists the device that left")
	}
}

func TestPagesTellASignedOutDeviceWhy(t *testing.T) {
	s := newServer(t, servicetest.SQLite(t), options{})
	email := s.register(t)
	b := newBrowser(s)
	wantRedirect(t, "sign in", b.signIn(email, password, "Kitchen laptop"), "/devices")
	s.clock.Advance(1)
	s.mustLogin(t, email, "Living room TV")
	s.mustLogin(t, email, "Bedroom TV") // standard plan: 2, evict oldest: the laptop goes
	wantRedirect(t, "evicted GET /devices", b.get("/devices"), "/login?next=%2Fdevices")
	if _, ok := b.cookies["sessiond"]; ok {
		t.Fatal("the dead session cookie was kept")
	}
	wantPage(t, "sign-in page after eviction", b.get("/login?next=%2Fdevices"), 200,
		"This device was signed out", "Bedroom TV signed in and your plan allows 2 devices", `name="password"`, `value="/devices"`)
	if r := b.get("/login"); strings.Contains(r.Body.String(), "was signed out") {
		t.Fatal("the notice showed twice")
	}
	// A dead cookie on a form post goes to the sign-in page, not back to the form's target.
	b.cookies["sessiond"] = "AZCgAAAAAHAAgAAAAAAAAQ." + strings.Repeat("A", 43)
	wantRedirect(t, "POST with a dead cookie", b.post("/logout", nil), "/login")
	wantPage(t, "sign-in page after a dead cookie", b.get("/login"), 200, "Please sign in again")
}

func TestPagesChooserWhenASlotFreesMeanwhile(t *testing.T) {
	s := newServer(t, servicetest.SQLite(t), options{})
	email := s.register(t)
	s.setLimit(t, email, models.Limit{Max: 1, Policy: models.PolicyReject})
	tv := s.mustLogin(t, email, "Living room TV")
	b := newBrowser(s)
	wantRedirect(t, "sign in at the limit", b.signIn(email, password, "Laptop"), "/devices/limit")
	if r := s.do("POST", "/v1/auth/logout", "", "", bearer(tv)...); r.Code != 204 {
		t.Fatalf("TV logout = %d", r.Code)
	}
	r := b.get("/devices/limit")
	wantPage(t, "chooser with room", r, 200, "there is room", ">Continue<")
	if strings.Contains(r.Body.String(), " required") {
		t.Fatal("the chooser still requires a choice when there is room")
	}
	wantRedirect(t, "continue without a choice", b.post("/devices/limit", nil), "/devices")
	wantPage(t, "devices", b.get("/devices"), 200, "1 of 1", "Laptop")
}

func TestPagesChooserCancel(t *testing.T) {
	s := newServer(t, servicetest.SQLite(t), options{})
	email := s.register(t)
	s.setLimit(t, email, models.Limit{Max: 1, Policy: models.PolicyReject})
	s.mustLogin(t, email, "Living room TV")
	b := newBrowser(s)
	wantRedirect(t, "sign in at the limit", b.signIn(email, password, "Laptop"), "/devices/limit")
	pending := b.cookies["sessiond-pending"]
	wantRedirect(t, "cancel", b.post("/devices/limit/cancel", nil), "/login")
	if b.cookies["sessiond-pending"] != "" {
		t.Fatal("cancel kept the pending cookie")
	}
	wantRedirect(t, "chooser after cancel", b.get("/devices/limit"), "/login")
	again := newBrowser(s)
	again.cookies["sessiond-pending"] = pending
	wantPage(t, "the cancelled sign-in, replayed", again.get("/devices/limit"), 200, "That sign-in has expired")

	// Leaving the chooser for the sign-in page abandons the held sign-in in this browser.
	wantRedirect(t, "sign in at the limit again", b.signIn(email, password, "Laptop"), "/devices/limit")
	b.get("/login")
	wantRedirect(t, "chooser after visiting /login", b.get("/devices/limit"), "/login")
}

func TestPagesAdmin(t *testing.T) {
	s := newServer(t, servicetest.SQLite(t), options{})
	user, admin := s.register(t), s.register(t)
	s.makeAdmin(t, admin)
	s.setLimit(t, admin, models.Limit{Max: 10, Policy: models.PolicyEvictOldest})
	u := newBrowser(s)
	wantRedirect(t, "user sign-in", u.signIn(user, password, "Laptop"), "/devices")
	wantPage(t, "user GET /admin", u.get("/admin"), 403, "Not allowed")

	a := newBrowser(s)
	wantRedirect(t, "admin sign-in", a.signIn(admin, password, "Desk"), "/devices")
	wantPage(t, "GET /devices as admin", a.get("/devices"), 200, `href="/admin"`)
	r := a.get("/admin?email=" + url.QueryEscape(user))
	wantPage(t, "GET /admin", r, 200, "basic", "standard", "premium", user)
	plans := s.json("GET", "/v1/admin/plans", nil, bearer(s.mustLogin(t, admin, "API"))...).body["plans"].([]any)
	var basic string
	for _, p := range plans {
		if p := p.(map[string]any); p["name"] == "basic" {
			basic = p["id"].(string)
		}
	}
	bad := url.Values{"max_sessions": {"many"}, "limit_policy": {"reject"}, "idle_timeout": {"soon"}}
	wantPage(t, "bad plan", a.post("/admin/plans/"+basic, bad), 400, "The basic plan was not saved", "Devices must be a whole number; Idle timeout must be a duration")
	good := url.Values{"max_sessions": {"3"}, "limit_policy": {"evict_oldest"}, "idle_timeout": {"90m"}, "absolute_timeout": {""}}
	wantRedirect(t, "save plan", a.post("/admin/plans/"+basic, good), "/admin?done=plan_saved")
	wantPage(t, "after saving", a.get("/admin?done=plan_saved"), 200, "Plan saved", `value="1h30m"`, `value="3"`)
	// Enforce now: the user moves to basic (now 3 devices), signs in twice more, and basic
	// goes down to 1 at once.
	adminAPI := bearer(s.mustLogin(t, admin, "API 2"))
	var userID string
	for _, u := range s.json("GET", "/v1/admin/users?email="+url.QueryEscape(user), nil, adminAPI...).body["users"].([]any) {
		userID = u.(map[string]any)["id"].(string)
	}
	if r := s.json("PATCH", "/v1/admin/users/"+userID, map[string]any{"plan_id": basic}, adminAPI...); r.Code != 200 {
		t.Fatalf("move user to basic = %d %s", r.Code, r.Body)
	}
	s.mustLogin(t, user, "TV")
	s.mustLogin(t, user, "Phone")
	lower := url.Values{"max_sessions": {"1"}, "limit_policy": {"evict_oldest"}, "enforce": {"now"}}
	wantRedirect(t, "lower basic now", a.post("/admin/plans/"+basic, lower), "/admin?done=enforced&n=2")
	wantPage(t, "user after enforcement", a.get("/admin/users/"+userID), 200, "Signed-in devices (1 of 1)", "Phone")
	wantPage(t, "unknown user", a.get("/admin/users/0190a000-0000-7000-8000-0000000000ff"), 404, "Not found")
}

func TestPagesWhenTheStoreIsDown(t *testing.T) {
	h := newHandler(t, api.Deps{
		Sessions: fakeSessions{err: errors.Join(models.ErrUnavailable, errors.New("dial tcp: connection refused"))},
		Store:    fakePinger{err: models.ErrUnavailable},
		Log:      slog.New(slog.DiscardHandler), MaxBodyBytes: 1 << 16,
	})
	b := newBrowser(&server{t: t, h: h})
	b.cookies["sessiond"] = "AZCgAAAAAHAAgAAAAAAAAQ." + strings.Repeat("A", 43)
	r := b.get("/devices")
	wantPage(t, "GET /devices, store down", r, 503, "Temporarily unavailable")
	if r.Header().Get("Retry-After") == "" {
		t.Fatal("503 page without Retry-After")
	}
	wantPage(t, "sign in, store down", b.signIn("a@b.c", "whatever pass", "Laptop"), 503, "cannot reach its store")
	if r := b.get("/static/app.css"); r.Code != 200 || !strings.HasPrefix(r.Header().Get("Content-Type"), "text/css") {
		t.Fatalf("GET /static/app.css = %d %s", r.Code, r.Header().Get("Content-Type"))
	}
	if r := b.get("/static/../pages.go"); r.Code == 200 {
		t.Fatalf("GET /static/../pages.go = 200: %.80s", r.Body)
	}
}
