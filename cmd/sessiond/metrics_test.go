package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/services/servicetest"
)

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

// TestMetricsOnTheirOwnListener: with SESSIOND_METRICS_ADDR, /metrics is served there and not
// on the API's port.
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
