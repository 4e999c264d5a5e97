package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/sessiond/sessiond/services/servicetest"
)

// TestOutage runs the binary on a Postgres cluster of its own, stops the cluster mid-traffic
// (immediate shutdown: every connection cut), and checks that every answer is then 503
// unavailable with Retry-After (never a 500, never a 401, never a 200 from a check it could
// not do) while /healthz stays 200; then restarts the cluster and checks that sessiond
// recovers by itself within 2 s with every session intact.
func TestOutage(t *testing.T) {
	cluster := servicetest.NewCluster(t)
	base := startBinary(t, "SESSIOND_DATABASE_URL="+cluster.URL, "SESSIOND_DB_CONNECT_TIMEOUT=1s", "SESSIOND_REQUEST_TIMEOUT=3s")
	const pw = "outage survivor"
	email := "outage@example.com"
	if status, _, body := call(t, "POST", base+"/v1/auth/register", map[string]any{"email": email, "password": pw}); status != 201 {
		t.Fatalf("register = %d %v", status, body)
	}
	var tokens []string
	for _, d := range []string{"TV", "Phone"} {
		status, _, body := call(t, "POST", base+"/v1/auth/login", loginBody(email, pw, d))
		if status != 201 {
			t.Fatalf("login = %d %v", status, body)
		}
		tokens = append(tokens, "Bearer "+body["token"].(string))
	}
	for _, tok := range tokens {
		if status, _, _ := call(t, "GET", base+"/v1/auth/session", nil, "Authorization", tok); status != 200 {
			t.Fatalf("check before the outage = %d", status)
		}
	}

	cluster.Stop(t)
	stopped := time.Now()
	requests := []func() (int, http.Header, map[string]any){
		func() (int, http.Header, map[string]any) {
			return call(t, "GET", base+"/v1/auth/session", nil, "Authorization", tokens[0])
		},
		func() (int, http.Header, map[string]any) {
			return call(t, "GET", base+"/v1/sessions", nil, "Authorization", tokens[1])
		},
		func() (int, http.Header, map[string]any) {
			return call(t, "POST", base+"/v1/auth/login", loginBody(email, pw, "Tablet"))
		},
		func() (int, http.Header, map[string]any) { return call(t, "GET", base+"/readyz", nil) },
	}
	var first503 time.Duration
	for i := range 40 {
		status, h, body := requests[i%len(requests)]()
		errBody, _ := body["error"].(map[string]any)
		if status != http.StatusServiceUnavailable || errBody["code"] != "unavailable" || h.Get("Retry-After") == "" {
			t.Fatalf("request %d with Postgres down = %d %v (Retry-After %q), want 503 unavailable", i, status, body, h.Get("Retry-After"))
		}
		if i == 0 {
			first503 = time.Since(stopped)
		}
	}
	if status, _, _ := call(t, "GET", base+"/healthz", nil); status != 200 {
		t.Errorf("/healthz with Postgres down = %d, want 200", status)
	}

	cluster.Start(t)
	restarted := time.Now()
	var recovered time.Duration
	for {
		status, _, _ := call(t, "GET", base+"/v1/auth/session", nil, "Authorization", tokens[0])
		if status == 200 {
			recovered = time.Since(restarted)
			break
		}
		if status != http.StatusServiceUnavailable || time.Since(restarted) > 10*time.Second {
			t.Fatalf("after the restart: %d (%s after it)", status, time.Since(restarted))
		}
		time.Sleep(20 * time.Millisecond) // polling the recovery of another process
	}
	t.Logf("first 503 %s after the stop; first 200 %s after the restart", first503.Round(time.Millisecond), recovered.Round(time.Millisecond))
	if recovered > 2*time.Second {
		t.Errorf("recovered %s after Postgres came back, want within 2s", recovered)
	}
	for _, tok := range tokens {
		if status, _, body := call(t, "GET", base+"/v1/auth/session", nil, "Authorization", tok); status != 200 {
			t.Errorf("a session from before the outage = %d %v, want 200", status, body)
		}
	}
	status, _, list := call(t, "GET", base+"/v1/sessions", nil, "Authorization", tokens[0])
	if status != 200 || len(list["sessions"].([]any)) != 2 {
		t.Errorf("devices after the outage = %d %v, want the 2 sessions", status, list)
	}
}
