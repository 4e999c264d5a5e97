package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestVersion(t *testing.T) {
	code, out, _ := runCmd(context.Background(), nil, "", "version")
	if code != 0 || !strings.HasPrefix(out, "sessiond ") {
		t.Fatalf("sessiond version = %d %q, want 0 and a version line", code, out)
	}
}

func TestConfigErrorsAreReportedTogether(t *testing.T) {
	env := map[string]string{
		"SESSIOND_DATABASE_URL":         "mysql://nope",
		"SESSIOND_SESSION_IDLE_TIMEOUT": "soon",
		"SESSIOND_PURGE_SCHEDULE":       "every now and then",
	}
	code, _, stderr := runCmd(context.Background(), env, "", "migrate")
	for _, want := range []string{"SESSIOND_DATABASE_URL", "SESSIOND_SESSION_IDLE_TIMEOUT", "SESSIOND_PURGE_SCHEDULE"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("sessiond migrate with bad config: stderr %q does not name %s", stderr, want)
		}
	}
	if code == 0 {
		t.Errorf("sessiond migrate with bad config exited 0, want failure")
	}
}

func TestAdminCreateReadsPasswordFromStdin(t *testing.T) {
	env := map[string]string{"SESSIOND_DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "s.db")}
	code, out, stderr := runCmd(context.Background(), env, "admin password 1\n", "admin", "create", "--email", "Root@Example.com")
	if code != 0 || !strings.Contains(out, "admin root@example.com created") {
		t.Fatalf("admin create = %d %q %q, want 0 and a confirmation", code, out, stderr)
	}
	code, _, stderr = runCmd(context.Background(), env, "admin password 1\n", "admin", "create", "--email", "root@example.com")
	if code == 0 || !strings.Contains(stderr, "conflict") {
		t.Errorf("second admin create = %d %q, want a conflict", code, stderr)
	}
	code, _, stderr = runCmd(context.Background(), env, "", "admin", "create", "--email", "other@example.com")
	if code == 0 || !strings.Contains(stderr, "standard input") {
		t.Errorf("admin create with no stdin = %d %q, want an error about standard input", code, stderr)
	}
}

// TestServeInProcess runs `sessiond` with no arguments on the embedded default store with a
// bootstrap admin, signs the admin in, and stops it by cancelling the context.
func TestServeInProcess(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	logs := newLogLines()
	pr, pw := io.Pipe()
	go logs.consume(pr)
	env := map[string]string{
		"SESSIOND_ADDR":                     "127.0.0.1:0",
		"SESSIOND_DATABASE_URL":             "sqlite://" + filepath.Join(t.TempDir(), "s.db"),
		"SESSIOND_BOOTSTRAP_ADMIN_EMAIL":    "admin@example.com",
		"SESSIOND_BOOTSTRAP_ADMIN_PASSWORD": "bootstrap secret",
	}
	done := make(chan int, 1)
	exited := make(chan struct{})
	go func() {
		done <- run(ctx, nil, func(k string) string { return env[k] }, strings.NewReader(""), &strings.Builder{}, pw)
		pw.Close()
		close(exited)
	}()
	base := logs.waitAddr(t, exited)

	resp, err := http.Get(base + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /readyz = %v %v, want 200", resp, err)
	}
	resp.Body.Close()
	resp, body := postJSON(t, base+"/v1/auth/login", map[string]any{"email": "admin@example.com", "password": "bootstrap secret"})
	if resp.StatusCode != 201 || body["user"].(map[string]any)["role"] != "admin" {
		t.Fatalf("admin login = %d %v, want 201 as admin", resp.StatusCode, body)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("run() after cancel = %d, want 0:\n%s", code, logs)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run() did not return within 20s of cancel")
	}
}

func TestOperatorCommands(t *testing.T) {
	ctx := context.Background()
	env := map[string]string{"SESSIOND_DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "s.db")}
	steps := []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"plans", "set", "family", "--max-sessions", "5", "--policy", "evict_least_recent"}, "plan family created: 5 sessions, evict_least_recent"},
		{"", []string{"plans", "set", "basic", "--max-sessions", "2"}, "plan basic: 2 sessions, reject"},
		{"", []string{"plans", "set", "family", "--max-sessions", "4", "--enforce-now"}, "plan family: 4 sessions, evict_least_recent; enforced now: 0 sessions of 0 users evicted"},
		{"", []string{"plans", "set", "family", "--max-streams", "3", "--stream-policy", "takeover_oldest", "--stream-class-limits", "live=1"}, "plan family: 4 sessions, evict_least_recent; 3 streams, takeover_oldest, live 1"},
		{"", []string{"plans", "set", "family", "--stream-class-limits", ""}, "; 3 streams, takeover_oldest\n"},
		{"", []string{"plans", "set", "premium", "--max-streams", "2"}, "plan premium: 4 sessions, evict_oldest; 2 streams, reject"},
		{"", []string{"plans", "list"}, "family"},
		{"op password 1\n", []string{"admin", "create", "--email", "op@example.com"}, "created"},
		{"", []string{"users", "set-plan", "op@example.com", "family"}, "user op@example.com is on plan family"},
		{"", []string{"users", "revoke", "op@example.com"}, "0 sessions of op@example.com revoked"},
		{"", []string{"users", "unlock", "op@example.com"}, "op@example.com unlocked"},
		{"", []string{"purge", "--dry-run"}, "would delete 0 expired sessions, 0 revoked sessions past retention, 0 old events"},
		{"", []string{"purge"}, "deleted 0 expired sessions"},
	}
	for _, s := range steps {
		code, out, stderr := runCmd(ctx, env, s.stdin, s.args...)
		if code != 0 || !strings.Contains(out, s.want) {
			t.Errorf("sessiond %s = %d %q %q, want output containing %q", strings.Join(s.args, " "), code, out, stderr, s.want)
		}
	}
	for _, bad := range [][]string{
		{"plans", "set", "family", "--max-sessions", "0"},
		{"plans", "set", "new", "--max-sessions", "2"}, // a new plan needs a policy
		{"plans", "set", "family", "--max-streams", "0"},
		{"plans", "set", "family", "--stream-policy", "evict_oldest"},
		{"plans", "set", "family", "--stream-class-limits", "sport=1"},
		{"plans", "set", "family", "--stream-class-limits", "live"},
		{"users", "set-plan", "nobody@example.com", "family"},
		{"users", "set-plan", "op@example.com", "no-such-plan"},
	} {
		if code, _, _ := runCmd(ctx, env, "", bad...); code == 0 {
			t.Errorf("sessiond %s exited 0, want failure", strings.Join(bad, " "))
		}
	}
}

// TestServeRefusesAProviderItCannotDiscover: a provider whose issuer does not answer stops
// the start with an error naming it, rather than a server without it.
func TestServeRefusesAProviderItCannotDiscover(t *testing.T) {
	env := map[string]string{
		"SESSIOND_DATABASE_URL":           "sqlite://" + filepath.Join(t.TempDir(), "s.db"),
		"SESSIOND_ADDR":                   "127.0.0.1:0",
		"SESSIOND_OIDC_PROVIDERS":         "corp",
		"SESSIOND_OIDC_CORP_ISSUER":       "http://127.0.0.1:1/nobody-home",
		"SESSIOND_OIDC_CORP_CLIENT_ID":    "sessiond",
		"SESSIOND_OIDC_CORP_REDIRECT_URL": "http://localhost:8080/v1/auth/oidc/corp/callback",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, _, stderr := runCmd(ctx, env, "", "serve")
	if code == 0 || !strings.Contains(stderr, "oidc provider corp") || !strings.Contains(stderr, "discovery") {
		t.Fatalf("serve with an unreachable provider = %d %q, want a failure naming provider corp", code, stderr)
	}
	delete(env, "SESSIOND_OIDC_CORP_CLIENT_ID")
	code, _, stderr = runCmd(ctx, env, "", "serve")
	if code == 0 || !strings.Contains(stderr, "oidc provider corp: SESSIOND_OIDC_CORP_CLIENT_ID") {
		t.Fatalf("serve with a provider lacking a client id = %d %q, want a failure naming it", code, stderr)
	}
}
