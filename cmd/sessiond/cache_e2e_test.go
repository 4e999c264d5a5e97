package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/sessiond/sessiond/services/servicetest"
)

// TestCachedChecksRefuseOnEveryProcess runs two binaries (cache on, the default) on one
// Postgres. Sessions checked (and so cached) on both are then revoked, evicted, expired or
// disabled through A; B refuses each. Then, 20 times, a session cached on both is revoked on
// A, and B must refuse it.
func TestCachedChecksRefuseOnEveryProcess(t *testing.T) {
	store := servicetest.Postgres(t)
	env := []string{"SESSIOND_DATABASE_URL=" + store.DSN, "SESSIOND_SESSION_IDLE_TIMEOUT=2s",
		"SESSIOND_BOOTSTRAP_ADMIN_EMAIL=cache-admin@example.com", "SESSIOND_BOOTSTRAP_ADMIN_PASSWORD=cache admin desk"}
	urls := startPair(t, env...) // both start (and migrate) at once
	A, B := urls[0], urls[1]
	const pw = "cached but correct"
	register := func() string {
		email := servicetest.Email(t) + fmt.Sprint(time.Now().UnixNano())
		if status, _, body := call(t, "POST", A+"/v1/auth/register", map[string]any{"email": email, "password": pw}); status != 201 {
			t.Fatalf("register = %d %v", status, body)
		}
		return email
	}
	login := func(email, device string) (token, id string) {
		status, _, body := call(t, "POST", A+"/v1/auth/login", loginBody(email, pw, device))
		if status != 201 {
			t.Fatalf("login = %d %v", status, body)
		}
		return "Bearer " + body["token"].(string), body["session"].(map[string]any)["id"].(string)
	}
	check := func(base, token string) (int, string) {
		status, _, body := call(t, "GET", base+"/v1/auth/session", nil, "Authorization", token)
		e, _ := body["error"].(map[string]any)
		code, _ := e["code"].(string)
		return status, code
	}
	cacheOnBoth := func(tokens ...string) {
		for _, tok := range tokens {
			for _, base := range []string{A, B, B} { // the second check on B is a cache hit
				if status, code := check(base, tok); status != 200 {
					t.Fatalf("check = %d %s, want 200", status, code)
				}
			}
		}
	}
	refusedOnB := func(what, token, wantCode string) {
		t.Helper()
		waitFor(t, what+" refused on B", func() bool {
			status, code := check(B, token)
			return status == 401 && code == wantCode
		})
	}

	email := register() // standard plan: 2 devices, evict_oldest
	tv, _ := login(email, "TV")
	phone, phoneID := login(email, "Phone")
	cacheOnBoth(tv, phone)
	if status, _, _ := call(t, "DELETE", A+"/v1/sessions/"+phoneID, nil, "Authorization", tv); status != 204 {
		t.Fatalf("revoke = %d", status)
	}
	refusedOnB("a revoked session", phone, "session_revoked")
	laptop, _ := login(email, "Laptop")
	cacheOnBoth(laptop)
	login(email, "Tablet") // evicts the TV, the oldest
	refusedOnB("an evicted session", tv, "session_evicted")

	admin, _ := func() (string, string) {
		status, _, body := call(t, "POST", A+"/v1/auth/login", loginBody("cache-admin@example.com", "cache admin desk", "Desk"))
		if status != 201 {
			t.Fatalf("admin login = %d %v", status, body)
		}
		return "Bearer " + body["token"].(string), ""
	}()
	_, _, who := call(t, "GET", A+"/v1/auth/session", nil, "Authorization", laptop)
	userID := who["user"].(map[string]any)["id"].(string)
	if status, _, body := call(t, "PATCH", A+"/v1/admin/users/"+userID, map[string]any{"disabled": true}, "Authorization", admin); status != 200 {
		t.Fatalf("disable = %d %v", status, body)
	}
	refusedOnB("a disabled user's session", laptop, "session_revoked")

	idle, _ := login(register(), "Idle TV")
	cacheOnBoth(idle)
	time.Sleep(2100 * time.Millisecond) // the session's idle timeout (2 s) must pass: real time, nothing to wait on
	if status, code := check(B, idle); status != 401 || code != "session_expired" {
		t.Fatalf("idle-expired cached session on B = %d %s, want 401 session_expired", status, code)
	}

	// Revocations in a row, each of a session cached on both: B refuses every one. (How long B
	// takes is a figure, not a test: scripts/bench.sh revocation prints its p50 and p99.)
	email = register()
	keeper, _ := login(email, "Keeper")
	for i := range 20 {
		tok, id := login(email, "Victim")
		cacheOnBoth(tok)
		if status, _, _ := call(t, "DELETE", A+"/v1/sessions/"+id, nil, "Authorization", keeper); status != 204 {
			t.Fatalf("revoke = %d", status)
		}
		refusedOnB(fmt.Sprintf("revoked session %d", i), tok, "session_revoked")
	}
}
