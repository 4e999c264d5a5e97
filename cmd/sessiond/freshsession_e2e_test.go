package main

import (
	"fmt"
	"testing"

	"github.com/sessiond/sessiond/services/servicetest"
)

// TestFreshSessionRuleInTheBinary: with the default SESSIOND_FRESH_SESSION_AGE (24h), a new
// session's DELETE of an older one is 403 session_too_new until it carries the password.
func TestFreshSessionRuleInTheBinary(t *testing.T) {
	base := startBinary(t, "SESSIOND_DATABASE_URL=sqlite://"+t.TempDir()+"/fresh.db")
	const pw = "fresh sessions ask"
	email := servicetest.Email(t)
	if status, _, body := call(t, "POST", base+"/v1/auth/register", map[string]any{"email": email, "password": pw}); status != 201 {
		t.Fatalf("register = %d %v", status, body)
	}
	var ids, tokens []string
	for _, d := range []string{"TV", "Phone"} {
		status, _, body := call(t, "POST", base+"/v1/auth/login", loginBody(email, pw, d))
		if status != 201 {
			t.Fatalf("login %s = %d %v", d, status, body)
		}
		ids = append(ids, body["session"].(map[string]any)["id"].(string))
		tokens = append(tokens, "Bearer "+body["token"].(string))
	}
	status, _, body := call(t, "DELETE", base+"/v1/sessions/"+ids[0], nil, "Authorization", tokens[1])
	if e, _ := body["error"].(map[string]any); status != 403 || fmt.Sprint(e["code"]) != "session_too_new" {
		t.Fatalf("DELETE the TV from the newer phone = %d %v, want 403 session_too_new", status, body)
	}
	if status, _, body := call(t, "DELETE", base+"/v1/sessions/"+ids[0], map[string]any{"password": pw}, "Authorization", tokens[1]); status != 204 {
		t.Fatalf("DELETE the TV with the password = %d %v, want 204", status, body)
	}
}
