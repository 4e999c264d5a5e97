package main

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/sessiond/sessiond/services/servicetest"
)

// TestDeviceKeysSurviveALockOutAcrossProcesses runs two binaries on one Postgres behind a
// trusted proxy (the test sets X-Forwarded-For). An attacker who only knows the email locks the
// account through A, from an address of their own. Then, through B, the owner's login with a
// device key and the right password gets 201 (the same key back), and without a key is refused.
// Wrong passwords with one key delay and then lock that key alone: the owner's second key keeps
// working on either process.
func TestDeviceKeysSurviveALockOutAcrossProcesses(t *testing.T) {
	store := servicetest.Postgres(t)
	urls := startPair(t, "SESSIOND_DATABASE_URL="+store.DSN, "SESSIOND_TRUSTED_PROXIES=127.0.0.1",
		"SESSIOND_LOGIN_FREE_FAILURES=2", "SESSIOND_LOGIN_LOCK_AFTER=3", "SESSIOND_LOGIN_MAX_DELAY=1s")
	A, B := urls[0], urls[1]
	const pw, owner, attacker = "known devices only", "198.51.100.20", "203.0.113.66"
	email := servicetest.Email(t)
	if status, _, body := call(t, "POST", A+"/v1/auth/register", map[string]any{"email": email, "password": pw}); status != 201 {
		t.Fatalf("register = %d %v", status, body)
	}
	login := func(base, from, password, key string) (int, string, string) {
		t.Helper()
		device := map[string]any{"name": "TV", "type": "tv"}
		if key != "" {
			device["key"] = key
		}
		status, h, body := call(t, "POST", base+"/v1/auth/login",
			map[string]any{"email": email, "password": password, "device": device}, "X-Forwarded-For", from)
		e, _ := body["error"].(map[string]any)
		code, _ := e["code"].(string)
		if status == http.StatusCreated {
			code, _ = body["device_key"].(string)
		}
		return status, code, h.Get("Retry-After")
	}
	// fail makes n wrong-password attempts count, waiting out each delay the server imposes.
	fail := func(base, from, key string, n int) {
		t.Helper()
		for counted := 0; counted < n; {
			switch status, code, retry := login(base, from, "a guess", key); status {
			case http.StatusUnauthorized:
				counted++
			case http.StatusTooManyRequests:
				secs, err := strconv.Atoi(retry)
				if err != nil || secs < 1 {
					t.Fatalf("429 with Retry-After %q", retry)
				}
				time.Sleep(time.Duration(secs) * time.Second) // the delay the server set: real time, nothing to wait on
			default:
				t.Fatalf("wrong password = %d %s", status, code)
			}
		}
	}

	status, tvKey, _ := login(B, owner, pw, "")
	status2, phoneKey, _ := login(A, owner, pw, "")
	if status != 201 || status2 != 201 || len(tvKey) != 66 || len(phoneKey) != 66 || tvKey == phoneKey {
		t.Fatalf("owner's logins = %d %q, %d %q; want 201 with two device keys", status, tvKey, status2, phoneKey)
	}

	fail(A, attacker, "", 3) // the account is locked now
	if status, key, _ := login(B, owner, pw, tvKey); status != 201 || key != tvKey {
		t.Fatalf("owner with the TV's key on the locked account = %d %q, want 201 and the same key", status, key)
	}
	if status, code, _ := login(B, owner, pw, ""); status != 401 || code != "invalid_credentials" {
		t.Fatalf("owner without a key on the locked account = %d %s, want 401 invalid_credentials", status, code)
	}

	fail(A, owner, tvKey, 2) // a thief with the TV's key: two free failures, then a delay
	if status, _, retry := login(B, owner, pw, tvKey); status != 429 || retry != "1" {
		t.Fatalf("the TV's key after two failures = %d Retry-After %q, want 429 Retry-After 1", status, retry)
	}
	if status, key, _ := login(B, owner, pw, phoneKey); status != 201 || key != phoneKey {
		t.Fatalf("the phone's key while the TV's waits = %d %q, want 201", status, key)
	}
	fail(A, owner, tvKey, 1) // the TV's key is locked now
	if status, code, _ := login(B, owner, pw, tvKey); status != 401 || code != "invalid_credentials" {
		t.Fatalf("the TV's locked key with the right password = %d %s, want 401 invalid_credentials", status, code)
	}
	for i, base := range []string{A, B} {
		if status, key, _ := login(base, owner, pw, phoneKey); status != 201 || key != phoneKey {
			t.Fatalf("the phone's key on process %d after the TV's locked = %d %q, want 201", i+1, status, key)
		}
	}
}
