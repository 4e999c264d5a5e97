package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

const password = "correct horse battery"

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// server is the real router over real services on one store.
type server struct {
	t      *testing.T
	h      http.Handler
	store  servicetest.Store
	clock  *clock
	secure bool
}

type options struct {
	registrationClosed bool
	cookieSecure       bool
	log                *slog.Logger // nil: discard
	throttle           bool         // count failed logins (default settings, no address limit)
	ipRate             int          // with throttle: attempts per minute per client address (burst 2); 0: no limit
	trustedProxies     []string     // Deps.TrustedProxies
	lockAfter          int          // with throttle: lock after this many failures, one free less, delays of 1 s
	freshAge           time.Duration
}

func newServer(t *testing.T, store servicetest.Store, o options) *server {
	t.Helper()
	c := &clock{now: time.Now().UTC()}
	log := o.log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hasher := servicetest.FastHasher()
	var throttle *services.Throttle
	if o.throttle {
		cfg := services.DefaultThrottle()
		cfg.IPRate, cfg.IPBurst, cfg.Now = o.ipRate, 2, c.Now
		if o.lockAfter > 0 {
			cfg.FreeFailures, cfg.LockAfter, cfg.MaxDelay = o.lockAfter-1, o.lockAfter, time.Second
		}
		var err error
		if throttle, err = services.NewThrottle(store.DB, cfg); err != nil {
			t.Fatal(err)
		}
	}
	users := services.NewUsers(store.DB, hasher, services.UsersConfig{
		DefaultPlan: "standard", RegistrationOpen: !o.registrationClosed, Now: c.Now, Throttle: throttle,
	})
	h := newHandler(t, api.Deps{
		Sessions: services.NewSessions(store.DB, hasher, services.SessionsConfig{
			Defaults:      models.Timeouts{Idle: time.Hour, Absolute: 24 * time.Hour},
			TouchInterval: time.Minute, Now: c.Now, Log: log, Throttle: throttle,
			FreshSessionAge: o.freshAge,
		}),
		Users:          users,
		Admin:          users,
		Plans:          services.NewPlans(store.DB, c.Now, nil, nil),
		Store:          services.NewHealth(store.DB),
		Log:            log,
		CookieSecure:   o.cookieSecure,
		TrustedProxies: o.trustedProxies,
		MaxBodyBytes:   64 << 10,
	})
	return &server{t: t, h: h, store: store, clock: c, secure: o.cookieSecure}
}

// response is a recorded answer with its JSON body decoded.
type response struct {
	*httptest.ResponseRecorder
	body map[string]any
}

// errorCode returns error.code of an error body, or "".
func (r response) errorCode() string {
	e, _ := r.body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func (r response) errorDetails() map[string]any {
	e, _ := r.body["error"].(map[string]any)
	d, _ := e["details"].(map[string]any)
	return d
}

func (s *server) do(method, path, contentType, body string, headers ...string) response {
	s.t.Helper()
	return s.serve(request(method, path, contentType, body, headers...))
}

// request builds a request from 192.0.2.1 (httptest's peer address).
func request(method, path, contentType, body string, headers ...string) *http.Request {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1]) // a name given twice is sent twice
	}
	return req
}

func (s *server) serve(req *http.Request) response {
	s.t.Helper()
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	r := response{ResponseRecorder: rec}
	if b := rec.Body.Bytes(); len(b) > 0 && strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &r.body); err != nil {
			s.t.Fatalf("%s %s: body %q is not JSON: %v", req.Method, req.URL, b, err)
		}
	}
	return r
}

func (s *server) json(method, path string, body any, headers ...string) response {
	s.t.Helper()
	var buf bytes.Buffer
	if body != nil {
		if err := json.NewEncoder(&buf).Encode(body); err != nil {
			s.t.Fatal(err)
		}
	}
	return s.do(method, path, "application/json", buf.String(), headers...)
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// register creates an account through the API and returns its email.
func (s *server) register(t *testing.T) string {
	t.Helper()
	email := servicetest.Email(t)
	if r := s.json("POST", "/v1/auth/register", map[string]any{"email": email, "password": password}); r.Code != http.StatusCreated {
		t.Fatalf("POST /v1/auth/register = %d %s, want 201", r.Code, r.Body)
	}
	return email
}

// login signs a device in through the API and returns the response.
func (s *server) login(t *testing.T, email, device string, extra ...map[string]any) response {
	t.Helper()
	body := map[string]any{"email": email, "password": password, "device": map[string]any{"name": device, "type": "tv"}}
	for _, e := range extra {
		for k, v := range e {
			body[k] = v
		}
	}
	return s.json("POST", "/v1/auth/login", body)
}

func (s *server) mustLogin(t *testing.T, email, device string) string {
	t.Helper()
	r := s.login(t, email, device)
	if r.Code != http.StatusCreated {
		t.Fatalf("login(%s) = %d %s, want 201", device, r.Code, r.Body)
	}
	return r.body["token"].(string)
}

// makeAdmin gives the account with this email the admin role.
func (s *server) makeAdmin(t *testing.T, email string) {
	t.Helper()
	if err := s.store.DB.Model(&models.User{}).Where("email = ?", email).Update("role", models.RoleAdmin).Error; err != nil {
		t.Fatal(err)
	}
}

func (s *server) setLimit(t *testing.T, email string, l models.Limit) {
	t.Helper()
	err := s.store.DB.Model(&models.User{}).Where("email = ?", email).
		Updates(map[string]any{"max_sessions_override": l.Max, "limit_policy_override": l.Policy}).Error
	if err != nil {
		t.Fatal(err)
	}
}

// fakeSessions fails every call with err: for tests of the HTTP mapping alone.
type fakeSessions struct{ err error }

func (f fakeSessions) Login(context.Context, models.LoginParams) (models.LoginResult, error) {
	return models.LoginResult{}, f.err
}
func (f fakeSessions) Authenticate(context.Context, string) (*models.Principal, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &models.Principal{}, nil
}
func (f fakeSessions) Logout(context.Context, string, string) error { return f.err }
func (f fakeSessions) List(context.Context, string) (models.DeviceList, error) {
	return models.DeviceList{}, f.err
}
func (f fakeSessions) Revoke(context.Context, string, string, string, string) error { return f.err }
func (f fakeSessions) RevokeAll(context.Context, string, string, string, models.RevokeScope) (int, error) {
	return 0, f.err
}
func (f fakeSessions) Introspect(context.Context, string, string, string) (models.Introspection, error) {
	return models.Introspection{}, f.err
}
func (f fakeSessions) History(context.Context, string, int, string) ([]models.SessionEvent, string, error) {
	return nil, "", f.err
}

func (f fakeSessions) Held(context.Context, string) (models.HeldLogin, error) {
	return models.HeldLogin{}, f.err
}
func (f fakeSessions) Resume(context.Context, string, []string, string) (models.LoginResult, error) {
	return models.LoginResult{}, f.err
}
func (f fakeSessions) Cancel(context.Context, string) error { return f.err }

type fakePinger struct{ err error }

func (f fakePinger) Ping(context.Context) error { return f.err }

func jsonDecode(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}
