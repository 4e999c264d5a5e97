package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// upstream is a fake sessiond introspection endpoint: it counts calls and answers what
// answer says; release, when set, holds every call until closed.
type upstream struct {
	calls   atomic.Int64
	answer  func(token string) (int, any)
	release chan struct{}
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.calls.Add(1)
	if id, secret, ok := r.BasicAuth(); !ok || id != "catalog" || secret != "s3cret" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if u.release != nil {
		<-u.release
	}
	var body struct{ Token string }
	_ = json.NewDecoder(r.Body).Decode(&body)
	status, v := u.answer(body.Token)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func active(plan string) func(string) (int, any) {
	return func(token string) (int, any) {
		if token != "good" {
			return 200, map[string]any{"active": false}
		}
		now := time.Now()
		return 200, map[string]any{"active": true, "sub": "u1", "sid": "s1", "plan": plan, "role": "user",
			"exp": now.Add(time.Hour).Unix(), "idle_exp": now.Add(time.Hour).Unix(), "iat": now.Unix(),
			"device": map[string]any{"name": "TV", "type": "tv"}}
	}
}

// guarded serves GET /free (any session) and GET /premium (premium plan) through m.
func guarded(m *Middleware) *gin.Engine {
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.GET("/free", m.RequireSession(), func(c *gin.Context) { c.String(200, "ok") })
	r.GET("/premium", m.RequirePlan("premium"), func(c *gin.Context) { c.String(200, "ok") })
	r.GET("/admin", m.RequireRole("admin"), func(c *gin.Context) { c.String(200, "ok") })
	r.GET("/me", func(c *gin.Context) { // unguarded: the handler asks for the session itself
		if s, ok := m.Session(c); ok {
			c.String(200, s.Plan+" on "+s.Device.Name)
			return
		}
		c.String(200, "anonymous")
	})
	r.GET("/premium/me", m.RequirePlan("premium"), func(c *gin.Context) {
		s, ok := m.Session(c)
		c.String(200, "%t %s", ok, s.Plan)
	})
	return r
}

func get(h http.Handler, path string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1]) // a name given twice is sent twice
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func setup(t *testing.T, up *upstream, opts ...MiddlewareOption) (*Middleware, *gin.Engine) {
	t.Helper()
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, "catalog", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	m := c.Middleware(opts...)
	t.Cleanup(m.Close)
	return m, guarded(m)
}

// TestConcurrentLookupsShareOneCall: 100 identical requests at once make one introspection.
func TestConcurrentLookupsShareOneCall(t *testing.T) {
	up := &upstream{answer: active("premium"), release: make(chan struct{})}
	m, r := setup(t, up)
	var arrived atomic.Int64
	all := make(chan struct{})
	counting := gin.New()
	counting.GET("/free", func(c *gin.Context) {
		if arrived.Add(1) == 100 {
			close(all)
		}
	}, m.RequireSession(), func(c *gin.Context) { c.String(200, "ok") })
	var wg sync.WaitGroup
	codes := make([]int, 100)
	for i := range 100 {
		wg.Go(func() { codes[i] = get(counting, "/free", "Authorization", "Bearer good").Code })
	}
	<-all // every request is in the middleware: the first call is held until now
	close(up.release)
	wg.Wait()
	for i, code := range codes {
		if code != 200 {
			t.Fatalf("request %d = %d, want 200", i, code)
		}
	}
	if n := up.calls.Load(); n != 1 {
		t.Fatalf("100 concurrent identical requests made %d introspections, want 1", n)
	}
	if rec := get(r, "/free", "Authorization", "Bearer good"); rec.Code != 200 || up.calls.Load() != 1 {
		t.Fatalf("a later request = %d with %d calls, want 200 from the cache", rec.Code, up.calls.Load())
	}
}

// TestCacheTTLAndNegativeCache: an active answer is reused until the TTL, never after; an
// inactive one for the negative TTL.
func TestCacheTTLAndNegativeCache(t *testing.T) {
	up := &upstream{answer: active("basic")}
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	m, r := setup(t, up, WithTTL(5*time.Second), WithNegativeTTL(time.Second))
	m.now = func() time.Time { return time.Unix(0, now.Load()) }
	for range 3 {
		get(r, "/free", "Authorization", "Bearer good")
		get(r, "/free", "Authorization", "Bearer bad")
	}
	if n := up.calls.Load(); n != 2 {
		t.Fatalf("%d introspections for 3 × 2 requests, want 2 (one per token)", n)
	}
	if ttl := m.ttlOf(Session{Active: true, ExpiresAt: m.now().Add(time.Hour), IdleUntil: m.now().Add(2 * time.Second)}); ttl != 2*time.Second {
		t.Fatalf("TTL of a session idling out in 2 s = %s, want 2s: never past its expiry", ttl)
	}
	if ttl := m.ttlOf(Session{}); ttl != time.Second {
		t.Fatalf("TTL of an inactive answer = %s, want the negative TTL", ttl)
	}
}

// TestSessionInHandlers: a handler reads the session it was let through on from the cache (no
// second introspection); without an active session, or once it ended, it reads none.
func TestSessionInHandlers(t *testing.T) {
	var plan atomic.Value
	plan.Store("premium")
	up := &upstream{answer: func(token string) (int, any) { return active(plan.Load().(string))(token) }}
	m, r := setup(t, up)
	for range 3 {
		if rec := get(r, "/premium/me", "Authorization", "Bearer good"); rec.Body.String() != "true premium" {
			t.Fatalf("guarded handler read %q, want the session it was let through on", rec.Body)
		}
	}
	if rec := get(r, "/me", "Cookie", "sessiond=good"); rec.Body.String() != "premium on TV" {
		t.Fatalf("unguarded handler with a good cookie read %q", rec.Body)
	}
	if n := up.calls.Load(); n != 1 {
		t.Fatalf("%d introspections, want 1: letting through and reading share the cached answer", n)
	}
	for _, h := range [][]string{nil, {"Authorization", "Bearer bad"}, {"Authorization", "Basic Z29vZA=="}} {
		if rec := get(r, "/me", h...); rec.Body.String() != "anonymous" {
			t.Errorf("handler read a session from %v: %q", h, rec.Body)
		}
	}
	// Once the cached answer is gone (its TTL past), a handler's read asks sessiond again and
	// sees what it says now.
	plan.Store("basic")
	m.cache.InvalidateAll()
	if rec := get(r, "/me", "Authorization", "Bearer good"); rec.Body.String() != "basic on TV" {
		t.Errorf("after the TTL the handler read %q, want the fresh answer", rec.Body)
	}
}

// TestRefusals: no token, an inactive one, the wrong plan or role, sessiond down, and bad
// client credentials.
func TestRefusals(t *testing.T) {
	up := &upstream{answer: active("basic")}
	_, r := setup(t, up)
	for _, c := range []struct {
		path    string
		headers []string
		status  int
		code    string
	}{
		{"/free", nil, 401, "unauthenticated"},
		{"/free", []string{"Authorization", "Bearer bad"}, 401, "unauthenticated"},
		{"/free", []string{"Authorization", "Basic Z29vZA=="}, 401, "unauthenticated"},
		{"/free", []string{"Cookie", "sessiond=good"}, 200, ""},
		{"/premium", []string{"Authorization", "Bearer good"}, 403, "plan_required"},
		{"/admin", []string{"Authorization", "Bearer good"}, 403, "forbidden"},
		{"/free", []string{"Authorization", "Bearer bad", "Authorization", "Bearer good"}, 400, "invalid_request"},
		{"/free", []string{"Authorization", "Bearer good", "Authorization", "Bearer good"}, 400, "invalid_request"},
	} {
		rec := get(r, c.path, c.headers...)
		var body struct{ Error struct{ Code string } }
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != c.status || body.Error.Code != c.code {
			t.Errorf("GET %s %v = %d %s, want %d %s", c.path, c.headers, rec.Code, rec.Body, c.status, c.code)
		}
	}

	down := &upstream{answer: func(string) (int, any) { return 503, map[string]any{} }}
	_, r = setup(t, down)
	if rec := get(r, "/free", "Authorization", "Bearer good"); rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
		t.Errorf("sessiond answering 503 = %d, want 503 with Retry-After: fail closed", rec.Code)
	}
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	c, _ := New(gone.URL, "catalog", "s3cret")
	m := c.Middleware()
	defer m.Close()
	if rec := get(guarded(m), "/free", "Authorization", "Bearer good"); rec.Code != 503 {
		t.Errorf("sessiond unreachable = %d, want 503", rec.Code)
	}
	srv := httptest.NewServer(up)
	defer srv.Close()
	wrong, _ := New(srv.URL, "catalog", "not the secret")
	m = wrong.Middleware()
	defer m.Close()
	if rec := get(guarded(m), "/free", "Authorization", "Bearer good"); rec.Code != 503 {
		t.Errorf("bad client credentials = %d, want 503 (the service is misconfigured, not the user)", rec.Code)
	}
	if _, err := wrong.Introspect(t.Context(), "good"); err != ErrInvalidClient {
		t.Errorf("Introspect with bad credentials = %v, want ErrInvalidClient", err)
	}
	if _, err := New("ftp://x", "a", "b"); err == nil {
		t.Error("New accepted a non-HTTP base URL")
	}
}

// BenchmarkMiddleware measures RequireSession with a warm cache against the same Gin handler
// unguarded, in one run, and reports the ratio of their throughputs (issue 9's target: at least
// 0.8); and a guarded handler that also reads the session (Session) against the bare one. They
// are measured in alternation, five rounds of 300 ms each on every core, and the medians
// compared: this machine's noise moves either by more than the middleware costs.
func BenchmarkMiddleware(b *testing.B) {
	up := &upstream{answer: active("premium")}
	srv := httptest.NewServer(up)
	defer srv.Close()
	c, _ := New(srv.URL, "catalog", "s3cret")
	m := c.Middleware()
	defer m.Close()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	handler := func(c *gin.Context) { c.String(200, "ok") }
	r.GET("/bare", handler)
	r.GET("/guarded", m.RequireSession(), handler)
	r.GET("/reading", m.RequireSession(), func(c *gin.Context) {
		s, _ := m.Session(c)
		c.String(200, s.Plan)
	})
	get(r, "/guarded", "Authorization", "Bearer good") // warm
	// nsPerRequest serves path from every core for d and returns the time per request.
	nsPerRequest := func(path string, d time.Duration) float64 {
		var (
			served atomic.Int64
			wg     sync.WaitGroup
		)
		deadline := time.Now().Add(d)
		for range runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				req := httptest.NewRequest("GET", path, nil)
				req.Header.Set("Authorization", "Bearer good")
				for n := 0; ; n++ {
					if n%64 == 0 && time.Now().After(deadline) {
						return
					}
					rec := httptest.NewRecorder()
					r.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Errorf("%s = %d", path, rec.Code)
						return
					}
					served.Add(1)
				}
			})
		}
		wg.Wait()
		return float64(d.Nanoseconds()) / float64(served.Load())
	}
	b.ResetTimer()
	for range b.N { // one set of rounds is the unit
		var bare, guarded, reading []float64
		for range 5 {
			bare = append(bare, nsPerRequest("/bare", 300*time.Millisecond))
			guarded = append(guarded, nsPerRequest("/guarded", 300*time.Millisecond))
			reading = append(reading, nsPerRequest("/reading", 300*time.Millisecond))
		}
		slices.Sort(bare)
		slices.Sort(guarded)
		slices.Sort(reading)
		b.ReportMetric(bare[2], "bare-ns/req")
		b.ReportMetric(guarded[2], "guarded-ns/req")
		b.ReportMetric(bare[2]/guarded[2], "guarded/bare-throughput")
		b.ReportMetric(bare[2]/reading[2], "reading/bare-throughput")
	}
}

// TestCallerDeadlineIsKept: a request whose context ends while sessiond is slow gets its 503
// then, not when the introspection finally returns.
func TestCallerDeadlineIsKept(t *testing.T) {
	up := &upstream{answer: active("basic"), release: make(chan struct{})}
	defer close(up.release)
	_, r := setup(t, up)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req := httptest.NewRequest("GET", "/free", nil).WithContext(ctx)
	req.Header.Set("Authorization", "Bearer good")
	done := make(chan int, 1)
	go func() {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		done <- rec.Code
	}()
	select {
	case code := <-done:
		if code != http.StatusServiceUnavailable {
			t.Fatalf("slow sessiond, caller gone = %d, want 503", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the middleware ignored the caller's deadline")
	}
}
