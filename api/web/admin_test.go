package web_test

import (
	"net/url"
	"testing"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

func TestPagesAdmin(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{})
	user, admin := s.Register(t), s.Register(t)
	s.MakeAdmin(t, admin)
	s.SetLimit(t, admin, models.Limit{Max: 10, Policy: models.PolicyEvictOldest})
	u := apitest.NewBrowser(s)
	apitest.WantRedirect(t, "user sign-in", u.SignIn(user, password, "Laptop"), "/devices")
	apitest.WantPage(t, "user GET /admin", u.Get("/admin"), 403, "Not allowed")

	a := apitest.NewBrowser(s)
	apitest.WantRedirect(t, "admin sign-in", a.SignIn(admin, password, "Desk"), "/devices")
	apitest.WantPage(t, "GET /devices as admin", a.Get("/devices"), 200, `href="/admin"`)
	r := a.Get("/admin?email=" + url.QueryEscape(user))
	apitest.WantPage(t, "GET /admin", r, 200, "basic", "standard", "premium", user)
	plans := s.JSON("GET", "/v1/admin/plans", nil, apitest.Bearer(s.MustLogin(t, admin, "API"))...).JSON["plans"].([]any)
	var basic string
	for _, p := range plans {
		if p := p.(map[string]any); p["name"] == "basic" {
			basic = p["id"].(string)
		}
	}
	bad := url.Values{"max_sessions": {"many"}, "limit_policy": {"reject"}, "idle_timeout": {"soon"}}
	apitest.WantPage(t, "bad plan", a.Post("/admin/plans/"+basic, bad), 400, "The basic plan was not saved", "Devices must be a whole number; Idle timeout must be a duration")
	good := url.Values{"max_sessions": {"3"}, "limit_policy": {"evict_oldest"}, "idle_timeout": {"90m"}, "absolute_timeout": {""}}
	apitest.WantRedirect(t, "save plan", a.Post("/admin/plans/"+basic, good), "/admin?done=plan_saved")
	apitest.WantPage(t, "after saving", a.Get("/admin?done=plan_saved"), 200, "Plan saved", `value="1h30m"`, `value="3"`)
	// Enforce now: the user moves to basic (now 3 devices), signs in twice more, and basic
	// goes down to 1 at once.
	adminAPI := apitest.Bearer(s.MustLogin(t, admin, "API 2"))
	var userID string
	for _, u := range s.JSON("GET", "/v1/admin/users?email="+url.QueryEscape(user), nil, adminAPI...).JSON["users"].([]any) {
		userID = u.(map[string]any)["id"].(string)
	}
	if r := s.JSON("PATCH", "/v1/admin/users/"+userID, map[string]any{"plan_id": basic}, adminAPI...); r.Code != 200 {
		t.Fatalf("move user to basic = %d %s", r.Code, r.Body)
	}
	s.MustLogin(t, user, "TV")
	s.MustLogin(t, user, "Phone")
	lower := url.Values{"max_sessions": {"1"}, "limit_policy": {"evict_oldest"}, "enforce": {"now"}}
	apitest.WantRedirect(t, "lower basic now", a.Post("/admin/plans/"+basic, lower), "/admin?done=enforced&n=2")
	apitest.WantPage(t, "user after enforcement", a.Get("/admin/users/"+userID), 200, "Signed-in devices (1 of 1)", "Phone")
	apitest.WantPage(t, "unknown user", a.Get("/admin/users/0190a000-0000-7000-8000-0000000000ff"), 404, "Not found")
}
