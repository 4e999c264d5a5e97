// Package apitest is the test harness of the HTTP surfaces, like net/http/httptest: sessiond's
// real engine (the JSON API and the pages, composed as cmd/sessiond composes them) over real
// services on a servicetest store, every answer checked against the OpenAPI document the
// engine serves. The tests of package api and of package web both use it.
package apitest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/api/web"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

// Password is the password of every account Register creates.
const Password = "correct horse battery"

// Clock is a settable clock for the services of a Server.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Server is the real engine over real services on one store.
type Server struct {
	Handler http.Handler
	Store   servicetest.Store
	Clock   *Clock
	t       testing.TB
}

// Options are what a test may change of a Server.
type Options struct {
	RegistrationClosed bool
	CookieSecure       bool
	Log                *slog.Logger   // nil: discard
	Throttle           bool           // count failed logins (default settings, no address limit)
	IPRate             int            // with Throttle: attempts per minute per client address (burst 2); 0: no limit
	TrustedProxies     []netip.Prefix // api.Deps.TrustedProxies
	LockAfter          int            // with Throttle: lock after this many failures, one free less, delays of 1 s
	FreshAge           time.Duration  // services.SessionsConfig.FreshSessionAge
	PublicURL          string         // the device grant's and the mailed links'; "": http://sessiond.test
	// Verification: SESSIOND_EMAIL_VERIFICATION ("": off, no verification mail at sign-up).
	Verification models.VerificationMode
	Notify       bool // SESSIOND_NOTIFY_SIGNIN and SESSIOND_NOTIFY_EVICTION
}

// NewServer returns a Server over store: the API and the pages on the services of a running
// sessiond, with a clock of its own starting now.
func NewServer(t testing.TB, store servicetest.Store, o Options) *Server {
	t.Helper()
	c := &Clock{now: time.Now().UTC()}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sv := newServices(t, store, c, log, o)
	h := NewHandler(t, api.Deps{
		Sessions:       sv.sessions,
		Users:          sv.users,
		Admin:          sv.users,
		Clients:        sv.clients,
		Plans:          sv.plans,
		Stats:          sv.stats,
		DeviceGrant:    sv.grant,
		Streams:        sv.sessions,
		Recovery:       sv.recovery,
		Store:          services.NewHealth(store.DB),
		Log:            log,
		CookieSecure:   o.CookieSecure,
		TrustedProxies: o.TrustedProxies,
		MaxBodyBytes:   64 << 10,
	}, web.Deps{Sessions: sv.sessions, Plans: sv.plans, Admin: sv.users, DeviceGrant: sv.grant, Streams: sv.sessions, Recovery: sv.recovery, Log: log, CookieSecure: o.CookieSecure,
		Users: sv.users, Clients: sv.clients, Stats: sv.stats, RegistrationClosed: o.RegistrationClosed, Now: c.Now})
	return &Server{Handler: h, Store: store, Clock: c, t: t}
}

// stack is the services a Server runs on.
type stack struct {
	sessions *services.Sessions
	users    *services.Users
	plans    *services.Plans
	clients  *services.Clients
	stats    *services.Stats
	grant    *services.DeviceGrant
	recovery *services.Recovery
}

func newServices(t testing.TB, store servicetest.Store, c *Clock, log *slog.Logger, o Options) stack {
	t.Helper()
	hasher := servicetest.FastHasher()
	var throttle *services.Throttle
	if o.Throttle {
		cfg := servicetest.Throttle()
		cfg.IPRate, cfg.IPBurst, cfg.Now = o.IPRate, 2, c.Now
		if o.LockAfter > 0 {
			cfg.FreeFailures, cfg.LockAfter, cfg.MaxDelay = o.LockAfter-1, o.LockAfter, time.Second
		}
		var err error
		if throttle, err = services.NewThrottle(store.DB, cfg); err != nil {
			t.Fatal(err)
		}
	}
	public, err := url.Parse(cmp.Or(o.PublicURL, "http://sessiond.test"))
	if err != nil {
		t.Fatal(err)
	}
	st := stack{
		users: services.NewUsers(store.DB, hasher, services.UsersConfig{
			DefaultPlan: "standard", RegistrationOpen: !o.RegistrationClosed, Now: c.Now, Throttle: throttle,
			Verification: o.Verification, PublicURL: public,
		}),
		sessions: services.NewSessions(store.DB, hasher, services.SessionsConfig{
			Defaults:      models.Timeouts{Idle: time.Hour, Absolute: 24 * time.Hour},
			TouchInterval: time.Minute, Now: c.Now, Log: log, Throttle: throttle,
			FreshSessionAge: o.FreshAge,
			Verification:    o.Verification, NotifySignIn: o.Notify, NotifyEviction: o.Notify, PublicURL: public,
		}),
		plans:   services.NewPlans(store.DB, c.Now, nil, nil),
		clients: services.NewClients(store.DB, services.ClientsConfig{Now: c.Now}),
		stats:   services.NewStats(store.DB, c.Now),
	}
	if st.recovery, err = services.NewRecovery(store.DB, hasher, services.RecoveryConfig{
		PublicURL: public, Verification: o.Verification, Throttle: throttle, Now: c.Now, Log: log,
	}); err != nil {
		t.Fatal(err)
	}
	if st.grant, err = services.NewDeviceGrant(store.DB, st.sessions, services.DeviceGrantConfig{PublicURL: public, Now: c.Now}); err != nil {
		t.Fatal(err)
	}
	return st
}

// NewHandler composes the engine as cmd/sessiond does, the pages of p registered through d,
// every answer checked against the contract (Validated). A test that needs other services
// than NewServer's builds its handler here, never with api.NewHandler itself, so that no
// answer escapes the check.
func NewHandler(t testing.TB, d api.Deps, p web.Deps) http.Handler {
	t.Helper()
	pages, err := web.New(p)
	if err != nil {
		t.Fatalf("web.New() = %v", err)
	}
	d.Pages = pages
	h, err := api.NewHandler(d)
	if err != nil {
		t.Fatalf("api.NewHandler() = %v", err)
	}
	return Validated(t, h)
}

// Serving returns a Server that serves through h and has no store of its own: for handlers
// over fakes.
func Serving(t testing.TB, h http.Handler) *Server { return &Server{Handler: h, t: t} }

// Response is a recorded answer with its JSON body decoded (JSON is nil when there is none).
type Response struct {
	*httptest.ResponseRecorder
	JSON map[string]any
}

// ErrorCode returns error.code of an error body, or "".
func (r Response) ErrorCode() string {
	e, _ := r.JSON["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// ErrorDetails returns error.details of an error body, or nil.
func (r Response) ErrorDetails() map[string]any {
	e, _ := r.JSON["error"].(map[string]any)
	d, _ := e["details"].(map[string]any)
	return d
}

// Do serves a request (see Request).
func (s *Server) Do(method, path, contentType, body string, headers ...string) Response {
	s.t.Helper()
	return s.Serve(Request(method, path, contentType, body, headers...))
}

// Request builds a request from 192.0.2.1 (httptest's peer address), with these headers in
// name, value pairs; a name given twice is sent twice.
func Request(method, path, contentType, body string, headers ...string) *http.Request {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	return req
}

// Serve serves req and decodes a JSON answer; an answer that says it is JSON and is not fails
// the test.
func (s *Server) Serve(req *http.Request) Response {
	s.t.Helper()
	rec := httptest.NewRecorder()
	s.Handler.ServeHTTP(rec, req)
	r := Response{ResponseRecorder: rec}
	if b := rec.Body.Bytes(); len(b) > 0 && strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &r.JSON); err != nil {
			s.t.Fatalf("%s %s: body %q is not JSON: %v", req.Method, req.URL, b, err)
		}
	}
	return r
}

// JSON sends body encoded as JSON (none when nil).
func (s *Server) JSON(method, path string, body any, headers ...string) Response {
	s.t.Helper()
	var buf bytes.Buffer
	if body != nil {
		if err := json.NewEncoder(&buf).Encode(body); err != nil {
			s.t.Fatal(err)
		}
	}
	return s.Do(method, path, "application/json", buf.String(), headers...)
}

// Bearer is the header pair that presents token.
func Bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// Register creates an account with Password through the API and returns its email.
func (s *Server) Register(t testing.TB) string {
	t.Helper()
	email := servicetest.Email(t)
	if r := s.JSON("POST", "/v1/auth/register", map[string]any{"email": email, "password": Password}); r.Code != http.StatusCreated {
		t.Fatalf("POST /v1/auth/register = %d %s, want 201", r.Code, r.Body)
	}
	return email
}

// Login signs a TV named device in through the API; extra members are merged into the body.
func (s *Server) Login(t testing.TB, email, device string, extra ...map[string]any) Response {
	t.Helper()
	body := map[string]any{"email": email, "password": Password, "device": map[string]any{"name": device, "type": "tv"}}
	for _, e := range extra {
		for k, v := range e {
			body[k] = v
		}
	}
	return s.JSON("POST", "/v1/auth/login", body)
}

// MustLogin is Login that must succeed; it returns the token.
func (s *Server) MustLogin(t testing.TB, email, device string) string {
	t.Helper()
	r := s.Login(t, email, device)
	if r.Code != http.StatusCreated {
		t.Fatalf("login(%s) = %d %s, want 201", device, r.Code, r.Body)
	}
	return r.JSON["token"].(string)
}

// SessionID returns the id of the session token names.
func (s *Server) SessionID(t testing.TB, token string) string {
	t.Helper()
	r := s.Do("GET", "/v1/auth/session", "", "", Bearer(token)...)
	if r.Code != http.StatusOK {
		t.Fatalf("GET /v1/auth/session = %d %s, want 200", r.Code, r.Body)
	}
	return r.JSON["session"].(map[string]any)["id"].(string)
}

// MakeAdmin gives the account with this email the admin role.
func (s *Server) MakeAdmin(t testing.TB, email string) {
	t.Helper()
	if err := s.Store.DB.Model(&models.User{}).Where("email = ?", email).Update("role", models.RoleAdmin).Error; err != nil {
		t.Fatal(err)
	}
}

// SetLimit overrides the device limit of the account with this email.
func (s *Server) SetLimit(t testing.TB, email string, l models.Limit) {
	t.Helper()
	err := s.Store.DB.Model(&models.User{}).Where("email = ?", email).
		Updates(map[string]any{"max_sessions_override": l.Max, "limit_policy_override": l.Policy}).Error
	if err != nil {
		t.Fatal(err)
	}
}
