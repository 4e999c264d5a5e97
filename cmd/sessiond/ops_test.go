package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/services/servicetest"
)

// call sends one request (body as JSON when not nil) and returns the status, the headers and
// the decoded JSON body.
func call(t *testing.T, method, url string, body any, headers ...string) (int, http.Header, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, resp.Header, out
}

func loginBody(email, password, device string, extra ...any) map[string]any {
	b := map[string]any{"email": email, "password": password, "device": map[string]any{"name": device, "type": "tv"}}
	for i := 0; i+1 < len(extra); i += 2 {
		b[extra[i].(string)] = extra[i+1]
	}
	return b
}

// scrape reads /metrics into "name{labels}" → value.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetricsCountTheScenario runs a scripted scenario against the binary and checks the
// counters' values on /metrics.
func TestMetricsCountTheScenario(t *testing.T) {
	base := startBinary(t, "SESSIOND_DATABASE_URL=sqlite://"+filepath.Join(t.TempDir(), "s.db"),
		"SESSIOND_DEFAULT_PLAN=basic", // 1 device, reject
		"SESSIOND_BOOTSTRAP_ADMIN_EMAIL=ops@example.com", "SESSIOND_BOOTSTRAP_ADMIN_PASSWORD=operations desk",
		"SESSIOND_LOGIN_FREE_FAILURES=2")
	const pw = "metrics are counted"
	email := servicetest.Email(t)
	if status, _, body := call(t, "POST", base+"/v1/auth/register", map[string]any{"email": email, "password": pw}); status != 201 {
		t.Fatalf("register = %d %v", status, body)
	}
	status, _, first := call(t, "POST", base+"/v1/auth/login", loginBody(email, pw, "TV")) // success 1
	if status != 201 {
		t.Fatalf("login = %d %v", status, first)
	}
	if status, _, _ := call(t, "POST", base+"/v1/auth/login", loginBody(email, pw, "Phone")); status != 409 { // limit_rejected 1
		t.Fatalf("second login = %d, want 409", status)
	}
	firstID := first["session"].(map[string]any)["id"]
	if status, _, _ := call(t, "POST", base+"/v1/auth/login", loginBody(email, pw, "Phone", "replace_session_id", firstID)); status != 201 {
		t.Fatalf("login replacing the first = %d, want 201", status) // success 2, evicted 1 (the chosen one)
	}
	_, _, admin := call(t, "POST", base+"/v1/auth/login", loginBody("ops@example.com", "operations desk", "Laptop")) // success 3
	adminToken := "Bearer " + admin["token"].(string)
	userID := first["user"].(map[string]any)["id"].(string)
	if status, _, body := call(t, "PATCH", base+"/v1/admin/users/"+userID, map[string]any{"limit_policy_override": "evict_oldest"},
		"Authorization", adminToken); status != 200 {
		t.Fatalf("PATCH user = %d %v", status, body)
	}
	if status, _, _ := call(t, "POST", base+"/v1/auth/login", loginBody(email, pw, "Tablet")); status != 201 { // success 4, evicted 2
		t.Fatalf("login evicting = %d, want 201", status)
	}
	for range 2 { // invalid_credentials 2
		call(t, "POST", base+"/v1/auth/login", loginBody("nobody@example.com", "wrong password", "TV"))
	}
	call(t, "POST", base+"/v1/auth/login", loginBody("nobody@example.com", "wrong password", "TV")) // rate_limited 1
	call(t, "POST", base+"/v1/auth/logout", nil, "Authorization", adminToken)                       // revoked{logout} 1

	m := scrape(t, base)
	for name, want := range map[string]float64{
		`sessiond_logins_total{result="success"}`:                                                         4,
		`sessiond_logins_total{result="limit_rejected"}`:                                                  1,
		`sessiond_logins_total{result="invalid_credentials"}`:                                             2,
		`sessiond_logins_total{result="rate_limited"}`:                                                    1,
		`sessiond_sessions_evicted_total`:                                                                 2,
		`sessiond_sessions_revoked_total{reason="evicted"}`:                                               2,
		`sessiond_sessions_revoked_total{reason="logout"}`:                                                1,
		`sessiond_active_sessions`:                                                                        1,
		`sessiond_http_request_duration_seconds_count{method="POST",route="/v1/auth/login",status="201"}`: 4,
		`sessiond_http_request_duration_seconds_count{method="POST",route="/v1/auth/login",status="409"}`: 1,
		`sessiond_http_request_duration_seconds_count{method="POST",route="/v1/auth/login",status="429"}`: 1,
	} {
		if got, ok := m[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	if _, ok := m[`go_sql_max_open_connections{db_name="sessiond"}`]; !ok {
		t.Error("no database pool statistics (go_sql_max_open_connections)")
	}
	for name := range m {
		if strings.Contains(name, email) || strings.Contains(name, userID) {
			t.Errorf("a metric names a user: %s", name)
		}
	}
}

// TestRequestIDs: a request id from a trusted proxy is kept, one from anyone else replaced;
// either way it is returned and appears in the access log line.
func TestRequestIDs(t *testing.T) {
	p := startProc(t, "SESSIOND_DATABASE_URL=sqlite://"+filepath.Join(t.TempDir(), "s.db"))
	trusted := startProc(t, "SESSIOND_DATABASE_URL=sqlite://"+filepath.Join(t.TempDir(), "s.db"), "SESSIOND_TRUSTED_PROXIES=127.0.0.0/8")
	_, h, _ := call(t, "GET", p.url+"/healthz", nil, "X-Request-ID", "from-anyone-1")
	if id := h.Get("X-Request-ID"); id == "" || id == "from-anyone-1" {
		t.Errorf("untrusted X-Request-ID came back as %q, want a new id", id)
	}
	_, h, _ = call(t, "GET", trusted.url+"/healthz", nil, "X-Request-ID", "from-the-proxy-1")
	if id := h.Get("X-Request-ID"); id != "from-the-proxy-1" {
		t.Errorf("trusted X-Request-ID came back as %q, want it kept", id)
	}
	_, h, _ = call(t, "GET", trusted.url+"/healthz", nil, "X-Request-ID", "bad id\twith spaces")
	if id := h.Get("X-Request-ID"); id == "" || strings.ContainsAny(id, " \t") {
		t.Errorf("malformed X-Request-ID came back as %q, want a new id", id)
	}
	logged := func() bool { return strings.Contains(trusted.logs.String(), `"request_id":"from-the-proxy-1"`) }
	deadline := time.Now().Add(5 * time.Second)
	for !logged() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // waiting for another process's log line to arrive
	}
	if !logged() {
		t.Errorf("the access log has no request_id from-the-proxy-1:\n%s", trusted.logs)
	}
}

// TestShutdownDrainsInFlightLogin holds a user's row lock so that a login waits inside its
// transaction, sends SIGTERM, sees /readyz answer 503 while serving continues, waits until the
// listener is closed, then releases the lock: the login still completes with 201, and the
// process exits 0.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	p := startProc(t, "SESSIOND_DATABASE_URL=sqlite://"+filepath.Join(t.TempDir(), "s.db"), "SESSIOND_METRICS_ADDR=127.0.0.1:0")
	if status, _, _ := call(t, "GET", p.url+"/metrics", nil); status != http.StatusNotFound {
		t.Errorf("/metrics on the API port = %d, want 404", status)
	}
	var addr string
	for _, line := range strings.Split(p.logs.String(), "\n") {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "metrics listening" {
			addr = rec.Addr
		}
	}
	if addr == "" {
		t.Fatalf("no metrics listener logged:\n%s", p.logs)
	}
	if m := scrape(t, "http://"+addr); len(m) == 0 {
		t.Error("the metrics listener serves no metrics")
	}
}
