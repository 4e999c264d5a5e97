package api_test

import (
	"testing"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestAdminStats: GET /v1/admin/stats counts this server's sign-ins and evictions (a fresh
// store: nothing else counted) and refuses a window out of 1..90 days.
func TestAdminStats(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{})
	adminEmail, user := s.Register(t), s.Register(t)
	s.MakeAdmin(t, adminEmail)
	adm := apitest.Bearer(s.MustLogin(t, adminEmail, "Console"))
	for _, d := range []string{"TV", "Phone", "Tablet"} { // standard: 2 devices, evict_oldest
		s.MustLogin(t, user, d)
	}
	r := s.JSON("GET", "/v1/admin/stats?days=3", nil, adm...)
	if r.Code != 200 {
		t.Fatalf("GET /v1/admin/stats = %d %s", r.Code, r.Body)
	}
	daily := r.JSON["daily"].([]any)
	if len(daily) != 3 {
		t.Fatalf("daily = %v, want 3 days", daily)
	}
	today := daily[2].(map[string]any)
	if today["logins"] != float64(4) || today["evictions"] != float64(1) || today["limit_rejections"] != float64(0) {
		t.Errorf("today = %v, want 4 logins, 1 eviction", today)
	}
	var standard map[string]any
	for _, p := range r.JSON["plans"].([]any) {
		if p := p.(map[string]any); p["name"] == "standard" {
			standard = p
		}
	}
	if standard["users"] != float64(2) || standard["active_sessions"] != float64(3) || standard["users_at_device_limit"] != float64(1) ||
		standard["evictions"] != float64(1) || standard["active_streams"] != float64(0) {
		t.Errorf("standard = %v, want 2 users, 3 active sessions, 1 at the limit, 1 eviction", standard)
	}
	for _, q := range []string{"0", "91", "week"} {
		if r := s.JSON("GET", "/v1/admin/stats?days="+q, nil, adm...); r.Code != 400 || r.ErrorCode() != "invalid_request" {
			t.Errorf("GET /v1/admin/stats?days=%s = %d %s, want 400 invalid_request", q, r.Code, r.Body)
		}
	}
}
