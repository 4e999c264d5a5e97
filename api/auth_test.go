package api_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/api/web"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

func TestDeviceLimitFlow(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{})
			email := s.Register(t)
			first := s.MustLogin(t, email, "Phone")
			s.Clock.Advance(time.Second)
			s.MustLogin(t, email, "Laptop")
			s.Clock.Advance(time.Second)
			third := s.Login(t, email, "Living room TV")
			if third.Code != http.StatusCreated {
				t.Fatalf("third login = %d %s, want 201", third.Code, third.Body)
			}
			evicted := third.JSON["evicted"].([]any)
			if len(evicted) != 1 || evicted[0].(map[string]any)["device"].(map[string]any)["name"] != "Phone" {
				t.Fatalf("third login evicted = %v, want [Phone]", evicted)
			}
			sess := third.JSON["session"].(map[string]any)
			if sess["current"] != true || strings.Contains(third.Body.String(), "secret") {
				t.Errorf("login session = %v, want current and no secret", sess)
			}

			r := s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(first)...)
			d := r.ErrorDetails()
			if r.Code != 401 || r.ErrorCode() != "session_evicted" || d["by_device_name"] != "Living room TV" || d["evicted_at"] == nil {
				t.Fatalf("GET /v1/auth/session (evicted) = %d %s, want 401 session_evicted by Living room TV", r.Code, r.Body)
			}

			token := third.JSON["token"].(string)
			r = s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(token)...)
			if r.Code != 200 || r.JSON["plan"].(map[string]any)["name"] != "standard" || r.JSON["user"].(map[string]any)["email"] != email {
				t.Fatalf("GET /v1/auth/session = %d %s, want 200 with user and plan", r.Code, r.Body)
			}
			if r := s.Do("POST", "/v1/auth/logout", "", "", apitest.Bearer(token)...); r.Code != http.StatusNoContent {
				t.Fatalf("POST /v1/auth/logout = %d %s, want 204", r.Code, r.Body)
			}
			r = s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(token)...)
			if r.Code != 401 || r.ErrorCode() != "session_revoked" || r.ErrorDetails()["reason"] != "logout" {
				t.Fatalf("GET /v1/auth/session (logged out) = %d %s, want 401 session_revoked reason logout", r.Code, r.Body)
			}
		})
	}
}

func TestRejectPolicyAnswers409WithDevices(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{})
			email := s.Register(t)
			s.SetLimit(t, email, models.Limit{Max: 1, Policy: models.PolicyReject})
			first := s.Login(t, email, "Phone")
			r := s.Login(t, email, "TV")
			d := r.ErrorDetails()
			if r.Code != http.StatusConflict || r.ErrorCode() != "device_limit_reached" || d["limit"] != float64(1) || d["must_sign_out"] != float64(1) {
				t.Fatalf("login over the limit = %d %s, want 409 device_limit_reached limit 1, must_sign_out 1", r.Code, r.Body)
			}
			listed := d["sessions"].([]any)
			firstID := first.JSON["session"].(map[string]any)["id"]
			if len(listed) != 1 || listed[0].(map[string]any)["id"] != firstID {
				t.Fatalf("details.sessions = %v, want the Phone session %v", listed, firstID)
			}
			r = s.Login(t, email, "TV", map[string]any{"replace_session_id": firstID})
			if r.Code != http.StatusCreated {
				t.Fatalf("login with replace_session_id = %d %s, want 201", r.Code, r.Body)
			}
		})
	}
}

// TestOverTheLimitAnswers409WithMustSignOut is issue 18's trap through the API: a user moved
// to a reject plan of 1 device with 4 signed in (3 over) is told that 4 must go; naming 3 is
// refused again with the same answer, and naming 4 (replace_session_id and
// replace_session_ids together) gets in.
func TestOverTheLimitAnswers409WithMustSignOut(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{})
			email := s.Register(t)
			s.SetLimit(t, email, models.Limit{Max: 4, Policy: models.PolicyReject})
			var tokens []string
			for _, d := range []string{"Phone", "Laptop", "Tablet", "Kitchen TV"} {
				tokens = append(tokens, s.MustLogin(t, email, d))
				s.Clock.Advance(time.Second)
			}
			s.SetLimit(t, email, models.Limit{Max: 1, Policy: models.PolicyReject})

			r := s.Login(t, email, "Living room TV")
			d := r.ErrorDetails()
			listed, _ := d["sessions"].([]any)
			if r.Code != http.StatusConflict || r.ErrorCode() != "device_limit_reached" || d["must_sign_out"] != float64(4) || len(listed) != 4 ||
				!strings.Contains(r.JSON["error"].(map[string]any)["message"].(string), "sign 4 of them out") {
				t.Fatalf("login 3 over the limit = %d %s, want 409 with must_sign_out 4 of 4 listed", r.Code, r.Body)
			}
			var ids []any
			for _, l := range listed {
				ids = append(ids, l.(map[string]any)["id"])
			}
			r = s.Login(t, email, "Living room TV", map[string]any{"replace_session_ids": ids[:3]})
			if r.Code != http.StatusConflict || r.ErrorDetails()["must_sign_out"] != float64(4) {
				t.Fatalf("login naming 3 = %d %s, want 409 still asking for 4", r.Code, r.Body)
			}
			if r := s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(tokens[0])...); r.Code != 200 {
				t.Fatalf("a device named in a refused login = %d %s, want still signed in", r.Code, r.Body)
			}
			r = s.Login(t, email, "Living room TV", map[string]any{"replace_session_id": ids[3], "replace_session_ids": ids[:3]})
			if r.Code != http.StatusCreated || len(r.JSON["evicted"].([]any)) != 4 {
				t.Fatalf("login naming all 4 = %d %s, want 201 with 4 evicted", r.Code, r.Body)
			}
			for _, tok := range tokens {
				if r := s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(tok)...); r.ErrorCode() != "session_evicted" || r.ErrorDetails()["by_device_name"] != "Living room TV" {
					t.Errorf("a named device afterwards = %d %s, want session_evicted by Living room TV", r.Code, r.Body)
				}
			}
			tooMany := make([]string, services.MaxReplaceSessions+1)
			for i := range tooMany {
				tooMany[i] = uuid.NewString()
			}
			r = s.Login(t, email, "Another TV", map[string]any{"replace_session_ids": tooMany})
			if r.Code != http.StatusBadRequest || r.ErrorDetails()["fields"].(map[string]any)["replace_session_ids"] == nil {
				t.Errorf("login naming %d sessions = %d %.300s, want 400 naming replace_session_ids", len(tooMany), r.Code, r.Body)
			}
		})
	}
}

func TestAuthErrors(t *testing.T) {
	store := servicetest.SQLite(t)
	s := apitest.NewServer(t, store, apitest.Options{})
	email := s.Register(t)
	token := s.MustLogin(t, email, "Phone")
	id, _, _ := strings.Cut(token, ".")

	expiring := s.MustLogin(t, s.Register(t), "Tablet")

	cases := []hostileCase{
		{"no token", "GET", "/v1/auth/session", "", "", nil, 401, "unauthenticated", ""},
		{"garbage token", "GET", "/v1/auth/session", "", "", apitest.Bearer("garbage"), 401, "session_invalid", ""},
		{"wrong secret", "GET", "/v1/auth/session", "", "", apitest.Bearer(id + "." + strings.Repeat("A", 43)), 401, "session_invalid", ""},
		{"basic scheme", "GET", "/v1/auth/session", "", "", []string{"Authorization", "Basic " + token}, 401, "session_invalid", ""},
		{"logout without token", "POST", "/v1/auth/logout", "", "", nil, 401, "unauthenticated", ""},
		{"wrong password", "POST", "/v1/auth/login", "application/json", `{"email":"` + email + `","password":"wrong password"}`, nil, 401, "invalid_credentials", ""},
		{"NUL in login email", "POST", "/v1/auth/login", "application/json", `{"email":"a\u0000@example.com","password":"` + password + `"}`, nil, 401, "invalid_credentials", ""},
		{"unknown email", "POST", "/v1/auth/login", "application/json", `{"email":"nobody@example.com","password":"` + password + `"}`, nil, 401, "invalid_credentials", ""},
		{"bad device type", "POST", "/v1/auth/login", "application/json", `{"email":"` + email + `","password":"` + password + `","device":{"name":"x","type":"toaster"}}`, nil, 400, "invalid_request", "device.type"},
		{"device name not a string", "POST", "/v1/auth/login", "application/json", `{"email":"a@b.c","password":"x","device":{"name":7}}`, nil, 400, "invalid_request", "device.name"},
		{"malformed JSON", "POST", "/v1/auth/login", "application/json", `{"email":`, nil, 400, "invalid_request", "body"},
		{"unknown field", "POST", "/v1/auth/login", "application/json", `{"email":"a@b.c","password":"x","admin":true}`, nil, 400, "invalid_request", "admin"},
		{"two values", "POST", "/v1/auth/login", "application/json", `{"email":"a@b.c"}{"email":"a@b.c"}`, nil, 400, "invalid_request", "body"},
		{"array body", "POST", "/v1/auth/login", "application/json", `[1,2]`, nil, 400, "invalid_request", "body"},
		{"empty body", "POST", "/v1/auth/login", "application/json", ``, nil, 400, "invalid_request", "body"},
		{"invalid UTF-8", "POST", "/v1/auth/register", "application/json", "{\"email\":\"a\xffb@example.com\",\"password\":\"long enough\"}", nil, 400, "invalid_request", "body"},
		{"NUL in display name", "POST", "/v1/auth/register", "application/json", `{"email":"nul@example.com","password":"long enough","display_name":"a\u0000b"}`, nil, 400, "invalid_request", "display_name"},
		{"wrong content type", "POST", "/v1/auth/login", "text/plain", `{}`, nil, 415, "unsupported_media_type", ""},
		{"no content type", "POST", "/v1/auth/register", "", `{}`, nil, 415, "unsupported_media_type", ""},
		{"oversized body", "POST", "/v1/auth/register", "application/json", `{"email":"` + strings.Repeat("a", 70<<10) + `"}`, nil, 413, "request_too_large", ""},
		{"bad email", "POST", "/v1/auth/register", "application/json", `{"email":"not-an-email","password":"long enough"}`, nil, 400, "invalid_request", "email"},
		{"long email", "POST", "/v1/auth/register", "application/json", `{"email":"` + strings.Repeat("a", 250) + `@b.co","password":"long enough"}`, nil, 400, "invalid_request", "email"},
		{"short password", "POST", "/v1/auth/register", "application/json", `{"email":"short@example.com","password":"short"}`, nil, 400, "weak_password", ""},
		{"password is email", "POST", "/v1/auth/register", "application/json", `{"email":"same@example.com","password":"same@example.com"}`, nil, 400, "weak_password", ""},
		{"email taken", "POST", "/v1/auth/register", "application/json", `{"email":"` + strings.ToUpper(email) + `","password":"long enough"}`, nil, 409, "conflict", ""},
		{"unknown route", "GET", "/v1/nope", "", "", nil, 404, "not_found", ""},
		{"wrong method", "DELETE", "/v1/auth/login", "", "", nil, 405, "method_not_allowed", ""},
		{"trailing slash", "POST", "/v1/auth/login/", "application/json", `{}`, nil, 404, "not_found", ""},
	}
	for _, tc := range cases {
		checkHostile(t, s, tc)
	}

	s.Clock.Advance(time.Hour + time.Second) // past the idle timeout of an hour
	if r := s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(expiring)...); r.Code != 401 || r.ErrorCode() != "session_expired" {
		t.Errorf("GET /v1/auth/session after the idle timeout = %d %s, want 401 session_expired", r.Code, r.Body)
	}
}

func TestRegistrationClosed(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{RegistrationClosed: true})
	r := s.JSON("POST", "/v1/auth/register", map[string]any{"email": "a@example.com", "password": password})
	if r.Code != http.StatusForbidden || r.ErrorCode() != "registration_closed" {
		t.Fatalf("POST /v1/auth/register = %d %s, want 403 registration_closed", r.Code, r.Body)
	}
}

func TestCookieSession(t *testing.T) {
	for _, secure := range []bool{true, false} {
		s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{CookieSecure: secure})
		email := s.Register(t)
		r := s.Login(t, email, "Browser")
		cookies := r.Result().Cookies()
		wantName := map[bool]string{true: "__Host-sessiond", false: "sessiond"}[secure]
		if len(cookies) != 2 || cookies[0].Name != wantName || cookies[1].Name != wantName+"-device" {
			t.Fatalf("login set cookies %v, want %s and %s-device", cookies, wantName, wantName)
		}
		for i, want := range []struct {
			value  any
			maxAge int
		}{{r.JSON["token"], 24 * 3600}, {r.JSON["device_key"], 90 * 24 * 3600}} {
			c := cookies[i]
			if c.Value != want.value || !c.HttpOnly || c.Secure != secure || c.SameSite != http.SameSiteLaxMode ||
				c.Path != "/" || c.Domain != "" || c.MaxAge != want.maxAge {
				t.Fatalf("secure=%v: cookie = %+v, want %v, HttpOnly, SameSite=Lax, Path=/, no Domain, Max-Age %d", secure, c, want.value, want.maxAge)
			}
		}
		c := cookies[0]
		cookie := []string{"Cookie", c.Name + "=" + c.Value}
		if r := s.Do("GET", "/v1/auth/session", "", "", cookie...); r.Code != 200 {
			t.Fatalf("GET /v1/auth/session with cookie = %d %s, want 200", r.Code, r.Body)
		}
		host := "example.com" // httptest.NewRequest's default host
		crossSite := s.Do("POST", "/v1/auth/logout", "", "", append(cookie, "Origin", "https://evil.example")...)
		noOrigin := s.Do("POST", "/v1/auth/logout", "", "", cookie...)
		if crossSite.Code != 403 || crossSite.ErrorCode() != "csrf_failed" || noOrigin.Code != 403 {
			t.Fatalf("cookie logout cross-site = %d %s, without Origin = %d; want 403 csrf_failed", crossSite.Code, crossSite.Body, noOrigin.Code)
		}
		// The sign-out ends the cookies bound to the session and keeps the device's: the device
		// key (and the browser id) stay, so that this browser is a known device at its next
		// sign-in. No Clear-Site-Data, which would drop them all.
		all := c.Name + "=" + c.Value + "; " + cookies[1].Name + "=" + cookies[1].Value + "; " +
			wantName + "-browser=AAECAwQFBgcICQoLDA0ODw; " + wantName + "-pending=held; " + wantName + "-oidc-0123456789ab=state"
		r = s.Do("POST", "/v1/auth/logout", "", "", "Cookie", all, "Origin", "https://"+host)
		if r.Code != http.StatusNoContent {
			t.Fatalf("same-origin cookie logout = %d %s, want 204", r.Code, r.Body)
		}
		var cleared []string
		for _, c := range r.Result().Cookies() {
			if c.MaxAge >= 0 { // Max-Age=0 reads as -1
				t.Fatalf("logout set cookie %+v, want only deletions (Max-Age=0)", c)
			}
			cleared = append(cleared, c.Name)
		}
		if want := []string{wantName, wantName + "-pending", wantName + "-oidc-0123456789ab"}; !slices.Equal(cleared, want) ||
			r.Header().Get("Clear-Site-Data") != "" {
			t.Fatalf("logout deleted cookies %q (Clear-Site-Data %q), want %q deleted and no Clear-Site-Data: the device key and the browser id stay",
				cleared, r.Header().Get("Clear-Site-Data"), want)
		}
		hsts := r.Header().Get("Strict-Transport-Security")
		if secure != strings.HasPrefix(hsts, "max-age=63072000") {
			t.Fatalf("secure=%v: Strict-Transport-Security = %q, want it exactly when cookies are secure", secure, hsts)
		}
	}
}

func TestStoreDownIs503(t *testing.T) {
	down := models.ErrUnavailable
	sessions := apitest.FakeSessions{Err: errors.Join(down, errors.New("dial tcp: connection refused"))}
	log := slog.New(slog.DiscardHandler)
	h := apitest.NewHandler(t, api.Deps{
		Sessions: sessions,
		Users:    nil,
		Store:    apitest.FakePinger{Err: down},
		Log:      log, MaxBodyBytes: 1 << 16,
	}, web.Deps{Sessions: sessions, Log: log})
	s := apitest.Serving(t, h)
	for _, r := range []apitest.Response{
		s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer("AZCgAAAAAHAAgAAAAAAAAQ."+strings.Repeat("A", 43))...),
		s.JSON("POST", "/v1/auth/login", map[string]any{"email": "a@b.c", "password": "whatever"}),
		s.Do("GET", "/readyz", "", ""),
	} {
		if r.Code != http.StatusServiceUnavailable || r.ErrorCode() != "unavailable" || r.Header().Get("Retry-After") == "" {
			t.Errorf("with the store down: %d %s (Retry-After %q), want 503 unavailable with Retry-After",
				r.Code, r.Body, r.Header().Get("Retry-After"))
		}
	}
	if r := s.Do("GET", "/healthz", "", ""); r.Code != 200 {
		t.Errorf("GET /healthz with the store down = %d, want 200: the process lives", r.Code)
	}
}

// TestOverloadedLoginIs503: a login refused because too many wait to have a password hashed
// is 503 unavailable with Retry-After, like a store outage (it is one of its kinds), with a
// message of its own.
func TestOverloadedLoginIs503(t *testing.T) {
	h, err := api.NewHandler(api.Deps{
		Sessions: apitest.FakeSessions{Err: fmt.Errorf("login: %w", models.ErrOverloaded)},
		Store:    apitest.FakePinger{},
		Log:      slog.New(slog.DiscardHandler), MaxBodyBytes: 1 << 16,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := apitest.Serving(t, h)
	r := s.JSON("POST", "/v1/auth/login", map[string]any{"email": "a@b.c", "password": "whatever"})
	if r.Code != http.StatusServiceUnavailable || r.ErrorCode() != "unavailable" || r.Header().Get("Retry-After") == "" ||
		!strings.Contains(r.Body.String(), "waiting") {
		t.Errorf("login with the hashing queue full = %d %s (Retry-After %q), want 503 unavailable, Retry-After, its own message",
			r.Code, r.Body, r.Header().Get("Retry-After"))
	}
}

func TestResponsesAreNotCached(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{})
	email := s.Register(t)
	token := s.MustLogin(t, email, "Phone")
	for name, r := range map[string]apitest.Response{
		"login":        s.Login(t, email, "TV"),
		"failed login": s.JSON("POST", "/v1/auth/login", map[string]any{"email": email, "password": "wrong password"}),
		"whoami":       s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(token)...),
		"bad token":    s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer("nope")...),
		"devices":      s.Do("GET", "/v1/sessions", "", "", apitest.Bearer(token)...),
	} {
		if got := r.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: Cache-Control = %q, want no-store", name, got)
		}
	}
}

// TestFailedLoginsReadTheSameAndAreThrottled: an unknown email, a wrong password and a
// disabled account get byte-identical answers; after five failures of one account the next
// attempt is 429 rate_limited with Retry-After, even with the right password.
func TestFailedLoginsReadTheSameAndAreThrottled(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{Throttle: true})
	email := s.Register(t)
	disabled := s.Register(t)
	if err := s.Store.DB.Model(&models.User{}).Where("email = ?", disabled).Update("disabled_at", time.Now()).Error; err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, c := range []struct{ email, password string }{
		{"nobody@example.com", password}, {email, "wrong password"}, {disabled, password},
	} {
		r := s.JSON("POST", "/v1/auth/login", map[string]any{"email": c.email, "password": c.password})
		if r.Code != http.StatusUnauthorized {
			t.Fatalf("login %s = %d %s, want 401", c.email, r.Code, r.Body)
		}
		bodies = append(bodies, r.Body.String())
	}
	if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
		t.Fatalf("failed logins read differently:\n%s", strings.Join(bodies, "\n"))
	}
	for range 4 {
		s.JSON("POST", "/v1/auth/login", map[string]any{"email": email, "password": "wrong password"})
	}
	r := s.JSON("POST", "/v1/auth/login", map[string]any{"email": email, "password": password})
	if r.Code != http.StatusTooManyRequests || r.ErrorCode() != "rate_limited" || r.Header().Get("Retry-After") != "1" {
		t.Fatalf("sixth login = %d %s (Retry-After %q), want 429 rate_limited with Retry-After 1", r.Code, r.Body, r.Header().Get("Retry-After"))
	}
	s.Clock.Advance(time.Second)
	if r := s.Login(t, email, "TV"); r.Code != http.StatusCreated {
		t.Fatalf("login after Retry-After = %d %s, want 201", r.Code, r.Body)
	}
}

// TestAdminUnlocksALockedAccount: after 100 consecutive failures the right password is
// refused like a wrong one, whatever the wait, until an admin unlocks the account.
func TestAdminUnlocksALockedAccount(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{Throttle: true})
	email := s.Register(t)
	adminEmail := s.Register(t)
	s.MakeAdmin(t, adminEmail)
	var userID string
	if err := s.Store.DB.Model(&models.User{}).Select("id").Where("email = ?", email).Scan(&userID).Error; err != nil {
		t.Fatal(err)
	}
	for failures := 0; failures < 100; {
		r := s.JSON("POST", "/v1/auth/login", map[string]any{"email": email, "password": "wrong password"})
		switch r.Code {
		case http.StatusUnauthorized:
			failures++
		case http.StatusTooManyRequests:
			s.Clock.Advance(15 * time.Minute)
		default:
			t.Fatalf("failed login = %d %s", r.Code, r.Body)
		}
	}
	s.Clock.Advance(24 * time.Hour)
	if r := s.Login(t, email, "TV"); r.Code != http.StatusUnauthorized || r.ErrorCode() != "invalid_credentials" {
		t.Fatalf("right password on a locked account = %d %s, want 401 invalid_credentials", r.Code, r.Body)
	}
	admin := apitest.Bearer(s.MustLogin(t, adminEmail, "Laptop"))
	if r := s.Do("POST", "/v1/admin/users/"+userID+"/unlock", "", "", admin...); r.Code != http.StatusNoContent {
		t.Fatalf("unlock = %d %s, want 204", r.Code, r.Body)
	}
	if r := s.Login(t, email, "TV"); r.Code != http.StatusCreated {
		t.Fatalf("login after the unlock = %d %s, want 201", r.Code, r.Body)
	}
}
