package api_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestAdminRoutesRefuseOthers walks every /v1/admin route the router has: without a session
// each answers 401, for a signed-in non-admin 403 forbidden.
func TestAdminRoutesRefuseOthers(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{})
	user := s.MustLogin(t, s.Register(t), "Phone")
	param := regexp.MustCompile(`:\w+`)
	var n int
	for _, r := range apitest.Routes(s.Handler) {
		if !strings.HasPrefix(r.Path, "/v1/admin/") {
			continue
		}
		n++
		path := param.ReplaceAllString(r.Path, "01a22306-9f95-7682-a7fb-f3fb9ac77e29")
		if got := s.JSON(r.Method, path, map[string]any{}); got.Code != 401 || got.ErrorCode() != "unauthenticated" {
			t.Errorf("%s %s without a session = %d %s, want 401 unauthenticated", r.Method, path, got.Code, got.Body)
		}
		if got := s.JSON(r.Method, path, map[string]any{}, apitest.Bearer(user)...); got.Code != 403 || got.ErrorCode() != "forbidden" {
			t.Errorf("%s %s as a user = %d %s, want 403 forbidden", r.Method, path, got.Code, got.Body)
		}
	}
	if n < 15 {
		t.Errorf("found %d admin routes, want the 15 of API.md", n)
	}
}

func TestAdminManagesPlansUsersAndClients(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{})
			adminEmail := s.Register(t)
			s.MakeAdmin(t, adminEmail)
			adm := apitest.Bearer(s.MustLogin(t, adminEmail, "Console"))

			name := "family-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
			r := s.JSON("POST", "/v1/admin/plans", map[string]any{"name": name, "max_sessions": 3, "limit_policy": "reject", "idle_timeout": "2h"}, adm...)
			if r.Code != 201 || r.JSON["idle_timeout"] != "2h0m0s" || r.JSON["absolute_timeout"] != nil {
				t.Fatalf("POST /v1/admin/plans = %d %s, want 201 with idle 2h", r.Code, r.Body)
			}
			planID := r.JSON["id"].(string)
			for _, bad := range []map[string]any{
				{"name": name, "max_sessions": 3, "limit_policy": "reject"},
				{"name": "x", "max_sessions": 0, "limit_policy": "reject"},
				{"name": "x", "max_sessions": 2, "limit_policy": "reject", "idle_timeout": "two hours"},
				{"name": "x", "max_sessions": "2", "limit_policy": "reject"},
				{"name": "x", "max_sessions": 2, "limit_policy": "sometimes"},
			} {
				if r := s.JSON("POST", "/v1/admin/plans", bad, adm...); r.Code != 409 && r.Code != 400 {
					t.Errorf("POST /v1/admin/plans %v = %d %s, want 400 or 409", bad, r.Code, r.Body)
				}
			}
			if r := s.JSON("POST", "/v1/admin/plans", map[string]any{"name": name, "max_sessions": 1, "limit_policy": "reject"}, adm...); r.ErrorCode() != "conflict" {
				t.Errorf("duplicate plan name = %d %s, want 409 conflict", r.Code, r.Body)
			}

			member := s.Register(t)
			r = s.Do("GET", "/v1/admin/users?email="+member, "", "", adm...)
			users, _ := r.JSON["users"].([]any)
			if r.Code != 200 || len(users) != 1 {
				t.Fatalf("GET /v1/admin/users?email=%s = %d %s, want that user", member, r.Code, r.Body)
			}
			userID := users[0].(map[string]any)["id"].(string)
			r = s.JSON("PATCH", "/v1/admin/users/"+userID, map[string]any{"plan_id": planID}, adm...)
			if r.Code != 200 || r.JSON["plan_id"] != planID {
				t.Fatalf("PATCH user plan = %d %s", r.Code, r.Body)
			}
			var tokens []string
			for _, d := range []string{"a", "b", "c"} {
				tokens = append(tokens, s.MustLogin(t, member, d))
			}
			if r := s.Do("DELETE", "/v1/admin/plans/"+planID, "", "", adm...); r.Code != 409 || r.ErrorCode() != "plan_in_use" {
				t.Errorf("DELETE plan in use = %d %s, want 409 plan_in_use", r.Code, r.Body)
			}
			r = s.JSON("PATCH", "/v1/admin/plans/"+planID+"?enforce=now", map[string]any{"max_sessions": 1}, adm...)
			enforced, _ := r.JSON["enforced"].(map[string]any)
			if r.Code != 200 || r.JSON["max_sessions"] != float64(1) || enforced["sessions_evicted"] != float64(2) ||
				enforced["users"] != float64(1) || r.JSON["enforcing"] != false {
				t.Fatalf("PATCH plan ?enforce=now = %d %s, want 2 sessions of 1 user evicted, finished", r.Code, r.Body)
			}
			if r := s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(tokens[0])...); r.ErrorCode() != "session_evicted" {
				t.Errorf("oldest device after enforce = %d %s, want session_evicted", r.Code, r.Body)
			}
			r = s.Do("GET", "/v1/admin/users/"+userID+"/sessions", "", "", adm...)
			if ss, _ := r.JSON["sessions"].([]any); r.Code != 200 || len(ss) != 3 {
				t.Errorf("GET user sessions = %d %s, want 3 (1 active, 2 evicted)", r.Code, r.Body)
			}
			r = s.Do("GET", "/v1/admin/users/"+userID+"/events?limit=2", "", "", adm...)
			if evs, _ := r.JSON["events"].([]any); r.Code != 200 || len(evs) != 2 || r.JSON["next"] == nil {
				t.Errorf("GET user events = %d %s, want a page of 2 and next", r.Code, r.Body)
			}
			r = s.JSON("PATCH", "/v1/admin/users/"+userID, map[string]any{"disabled": true}, adm...)
			if r.Code != 200 || r.JSON["disabled"] != true {
				t.Fatalf("PATCH disabled = %d %s", r.Code, r.Body)
			}
			if r := s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(tokens[2])...); r.ErrorDetails()["reason"] != "user_disabled" {
				t.Errorf("disabled user's session = %d %s, want session_revoked user_disabled", r.Code, r.Body)
			}
			if r := s.JSON("PATCH", "/v1/admin/users/"+userID, map[string]any{"role": "root"}, adm...); r.Code != 400 {
				t.Errorf("PATCH role root = %d, want 400", r.Code)
			}
			if r := s.JSON("PATCH", "/v1/admin/users/"+userID, map[string]any{"max_sessions_override": 2, "max_sessions_override_until": "2030-01-01T00:00:00Z"}, adm...); r.Code != 200 || r.JSON["max_sessions_override"] != float64(2) {
				t.Errorf("PATCH override = %d %s", r.Code, r.Body)
			}
			if r := s.JSON("PATCH", "/v1/admin/users/"+userID, map[string]any{"max_sessions_override": nil}, adm...); r.Code != 200 || r.JSON["max_sessions_override"] != nil {
				t.Errorf("PATCH override null = %d %s, want it cleared", r.Code, r.Body)
			}

			r = s.JSON("POST", "/v1/admin/service-clients", map[string]any{"name": "catalog-" + name}, adm...)
			secret, _ := r.JSON["secret"].(string)
			if r.Code != http.StatusCreated || len(secret) < 40 {
				t.Fatalf("POST service client = %d %s, want 201 with a secret", r.Code, r.Body)
			}
			r = s.Do("GET", "/v1/admin/service-clients", "", "", adm...)
			if r.Code != 200 || strings.Contains(r.Body.String(), secret) || strings.Contains(r.Body.String(), `"secret"`) {
				t.Errorf("GET service clients = %d %s, want no secret shown again", r.Code, r.Body)
			}
		})
	}
}
