package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessiond/sessiond/api/client"
)

// sessiond builds and starts the real sessiond (SQLite) with a bootstrap admin and returns
// its base URL.
func sessiond(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "sessiond")
	if out, err := exec.Command("go", "build", "-o", bin, "../sessiond").CombinedOutput(); err != nil {
		t.Fatalf("go build sessiond: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "SESSIOND_ADDR=127.0.0.1:0", "SESSIOND_COOKIE_SECURE=false", "SESSIOND_LOGIN_RATE_PER_IP=0",
		"SESSIOND_DATABASE_URL=sqlite://"+filepath.Join(dir, "s.db"),
		"SESSIOND_BOOTSTRAP_ADMIN_EMAIL=ops@example.com", "SESSIOND_BOOTSTRAP_ADMIN_PASSWORD=operations desk")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
			}
		}
	}()
	select {
	case a := <-addr:
		return "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatal("sessiond did not listen within 30s")
	}
	return ""
}

// loginAs signs a TV named device in and returns its token and the user's id.
func loginAs(t *testing.T, base, email, password, device string) (string, string) {
	t.Helper()
	status, body := call(t, "POST", base+"/v1/auth/login", map[string]any{"email": email, "password": password,
		"device": map[string]any{"name": device, "type": "tv"}}, "")
	if status != 201 {
		t.Fatalf("login %s on %s = %d %v", email, device, status, body)
	}
	return body["token"].(string), body["user"].(map[string]any)["id"].(string)
}

// startCatalog creates a service client with the admin's token and serves the catalog
// through it, its cache holding answers for ttl.
func startCatalog(t *testing.T, base, admin string, ttl time.Duration) (*httptest.Server, *client.Client) {
	t.Helper()
	status, created := call(t, "POST", base+"/v1/admin/service-clients", map[string]any{"name": "catalog"}, admin)
	if status != 201 {
		t.Fatalf("create service client = %d %v", status, created)
	}
	sessiondClient, err := client.New(base, created["id"].(string), created["secret"].(string))
	if err != nil {
		t.Fatal(err)
	}
	guard := sessiondClient.Middleware(client.WithTTL(ttl))
	t.Cleanup(guard.Close)
	catalog := httptest.NewServer(newRouter(guard, sessiondClient))
	t.Cleanup(catalog.Close)
	return catalog, sessiondClient
}

func call(t *testing.T, method, url string, body any, token string) (int, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	if body != nil {
		_ = json.NewEncoder(&buf).Encode(body)
	}
	req, _ := http.NewRequest(method, url, &buf)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestCatalogAdoptsSessiond: sign in through sessiond, browse the catalog, be refused premium
// titles on the standard plan and served them on premium; sign the device out in sessiond and
// see the catalog refuse it within its cache TTL.
func TestCatalogAdoptsSessiond(t *testing.T) {
	base := sessiond(t)
	login := func(email, password string) (string, string) {
		return loginAs(t, base, email, password, "Living room TV")
	}
	admin, _ := login("ops@example.com", "operations desk")
	const ttl = time.Second
	catalog, _ := startCatalog(t, base, admin, ttl)

	if status, body := call(t, "POST", base+"/v1/auth/register", map[string]any{"email": "viewer@example.com", "password": "popcorn and a sofa"}, ""); status != 201 {
		t.Fatalf("register = %d %v", status, body)
	}
	tv, userID := login("viewer@example.com", "popcorn and a sofa")
	if status, body := call(t, "GET", catalog.URL+"/catalog", nil, tv); status != 200 || body["plan"] != "standard" {
		t.Fatalf("catalog = %d %v, want 200 on the standard plan", status, body)
	}
	if status, body := call(t, "POST", catalog.URL+"/catalog/uhd-4k-1/play", nil, tv); status != 403 || !strings.Contains(fmt.Sprint(body), "plan_required") {
		t.Fatalf("premium title on standard = %d %v, want 403 plan_required", status, body)
	}
	if status, _ := call(t, "GET", catalog.URL+"/catalog", nil, ""); status != 401 {
		t.Fatalf("catalog without a session = %d, want 401", status)
	}

	_, plans := call(t, "GET", base+"/v1/admin/plans", nil, admin)
	for _, p := range plans["plans"].([]any) {
		if p := p.(map[string]any); p["name"] == "premium" {
			if status, body := call(t, "PATCH", base+"/v1/admin/users/"+userID, map[string]any{"plan_id": p["id"]}, admin); status != 200 {
				t.Fatalf("move to premium = %d %v", status, body)
			}
		}
	}
	phone, _ := login("viewer@example.com", "popcorn and a sofa") // a session not cached yet
	if status, body := call(t, "POST", catalog.URL+"/catalog/uhd-4k-1/play", nil, phone); status != 201 || body["on"] != "Living room TV" || body["stream_id"] == nil {
		t.Fatalf("premium title on premium = %d %v, want 201 with a stream", status, body)
	}

	_, who := call(t, "GET", base+"/v1/auth/session", nil, phone)
	phoneID := who["session"].(map[string]any)["id"].(string)
	if status, _ := call(t, "POST", base+"/v1/sessions/revoke", map[string]any{"scope": "all", "password": "popcorn and a sofa"}, phone); status != 200 {
		t.Fatalf("sign out everywhere = %d", status)
	}
	revoked := time.Now()
	for {
		status, _ := call(t, "GET", catalog.URL+"/catalog", nil, phone)
		if status == 401 {
			break
		}
		if status != 200 || time.Since(revoked) > ttl+time.Second {
			t.Fatalf("catalog %s after the sign-out of %s = %d, want 401 within the TTL (%s)", time.Since(revoked), phoneID, status, ttl)
		}
		time.Sleep(20 * time.Millisecond) // the cache entry ages out: real time passing, not a handshake
	}
	t.Logf("the catalog refused the signed-out device %s after the sign-out (TTL %s)", time.Since(revoked).Round(time.Millisecond), ttl)
}
