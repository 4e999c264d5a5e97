package web_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestPagesAdminInsights: the admin page draws the three charts as inline SVG without a style
// attribute (the CSP would drop it), each with its sentence and a table; it creates a plan
// with stream fields and deletes it, creates a service client showing its secret once, and
// moves a user onto a plan with an override.
func TestPagesAdminInsights(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{})
	user, admin := s.Register(t), s.Register(t)
	s.MakeAdmin(t, admin)
	s.SetLimit(t, admin, models.Limit{Max: 10, Policy: models.PolicyEvictOldest})
	for _, d := range []string{"TV", "Phone", "Tablet"} {
		s.MustLogin(t, user, d)
	}
	a := apitest.NewBrowser(s)
	apitest.WantRedirect(t, "admin sign-in", a.SignIn(admin, password, "Desk"), "/devices")
	r := a.Get("/admin?days=7")
	apitest.WantPage(t, "GET /admin", r, 200, `id="chart-daily"`, `id="chart-limits"`, `id="chart-active"`, `role="img"`,
		"4 sign-ins evicted 1 device (25.0 per 100 sign-ins)", "50 % of standard accounts are at their 2-device limit now")
	body := r.Body.String()
	if n := strings.Count(body, "<svg xmlns"); n != 3 {
		t.Errorf("GET /admin has %d charts, want 3", n)
	}
	if m := regexp.MustCompile(`<svg[^>]*class="chart"[\s\S]*?style="`).FindString(body); m != "" {
		t.Errorf("a chart carries a style attribute, which the CSP refuses: %.200s", m)
	}
	apitest.WantPage(t, "bad days", a.Get("/admin?days=365"), 400)

	create := url.Values{"name": {"family"}, "max_sessions": {"5"}, "limit_policy": {"reject"}, "idle_timeout": {""}, "absolute_timeout": {""},
		"max_streams": {"3"}, "stream_policy": {"takeover_oldest"}, "stream_class_limits": {"live=1"}}
	apitest.WantRedirect(t, "create plan", a.Post("/admin/plans", create), "/admin?done=plan_created#plans")
	apitest.WantPage(t, "plan taken", a.Post("/admin/plans", create), 409, "exists already")
	bad := url.Values{"name": {"x"}, "max_sessions": {"2"}, "limit_policy": {"reject"}, "max_streams": {"0"}, "stream_class_limits": {"live"}}
	apitest.WantPage(t, "bad stream fields", a.Post("/admin/plans", bad), 400, "was not created", "Limits per class must read like")
	adm := apitest.Bearer(s.MustLogin(t, admin, "API"))
	var family string
	for _, p := range s.JSON("GET", "/v1/admin/plans", nil, adm...).JSON["plans"].([]any) {
		if p := p.(map[string]any); p["name"] == "family" {
			family = p["id"].(string)
		}
	}
	if family == "" {
		t.Fatal("the plan created on the page is not in GET /v1/admin/plans")
	}
	// The stream fields as stored, read back into the plan's form.
	page := a.Get("/admin").Body.String()
	for _, want := range []string{`id="streams-` + family + `" name="max_streams" type="number" min="1" max="1000" required value="3"`,
		`id="classes-` + family + `" name="stream_class_limits" type="text" value="live=1"`} {
		if !strings.Contains(page, want) {
			t.Errorf("GET /admin after creating family lacks %s", want)
		}
	}
	if !regexp.MustCompile(`id="spolicy-` + family + `"[^>]*>\s*<option value="reject">[^<]*</option><option value="takeover_oldest" selected>`).MatchString(page) {
		t.Errorf("GET /admin: family's stream policy is not takeover_oldest")
	}

	var userID string
	for _, u := range s.JSON("GET", "/v1/admin/users?email="+url.QueryEscape(user), nil, adm...).JSON["users"].([]any) {
		userID = u.(map[string]any)["id"].(string)
	}
	limits := url.Values{"plan_id": {family}, "max_sessions_override": {"7"}, "limit_policy_override": {""}}
	apitest.WantRedirect(t, "move user", a.Post("/admin/users/"+userID+"/limits", limits), "/admin/users/"+userID+"?done=limits")
	got := s.JSON("GET", "/v1/admin/users/"+userID, nil, adm...).JSON
	if got["plan_id"] != family || got["max_sessions_override"] != float64(7) {
		t.Errorf("user after the form = %v, want plan family and override 7", got)
	}
	apitest.WantPage(t, "user page", a.Get("/admin/users/"+userID+"?done=limits"), 200, "History", "Nothing has played lately.", "saved", `value="7"`)
	apitest.WantPage(t, "delete a plan in use", a.Post("/admin/plans/"+family+"/delete", nil), 409, "Users are on it")
	apitest.WantRedirect(t, "move user back", a.Post("/admin/users/"+userID+"/limits", url.Values{"plan_id": {got["plan_id"].(string)}}), "/admin/users/"+userID+"?done=limits")

	r = a.Post("/admin/clients", url.Values{"name": {"catalog"}})
	apitest.WantPage(t, "create client", r, 201, "shown only this once", `id="client-secret"`)
	secret := regexp.MustCompile(`id="client-secret" class="copy">([^<]+)<`).FindStringSubmatch(r.Body.String())
	if len(secret) != 2 || len(secret[1]) < 20 {
		t.Fatalf("created client's secret not shown: %v", secret)
	}
	if strings.Contains(a.Get("/admin").Body.String(), secret[1]) {
		t.Error("the client's secret is shown again on the next visit")
	}
}

// TestPagesRegister: /register is linked from /login, creates the account and signs the
// browser in, shows the password policy's reason, and says so when registration is closed.
func TestPagesRegister(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{})
	b := apitest.NewBrowser(s)
	apitest.WantPage(t, "GET /login", b.Get("/login"), 200, `href="/register"`)
	apitest.WantPage(t, "GET /register", b.Get("/register"), 200, `action="/register"`, "At least 8 characters")
	email := servicetest.Email(t)
	form := url.Values{"email": {email}, "password": {"short"}, "device_name": {"Laptop"}, "device_type": {"web"}}
	apitest.WantPage(t, "short password", b.Post("/register", form), 400, "password must have at least 8 characters", `aria-invalid="true"`)
	form.Set("password", "password1")
	apitest.WantPage(t, "common password", b.Post("/register", form), 400, "most common passwords")
	form.Set("password", password)
	apitest.WantRedirect(t, "register", b.Post("/register", form), "/devices")
	apitest.WantPage(t, "devices after sign-up", b.Get("/devices"), 200, "Laptop")
	apitest.WantPage(t, "email taken", apitest.NewBrowser(s).Post("/register", form), 409, "That email has an account")

	closed := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{RegistrationClosed: true})
	c := apitest.NewBrowser(closed)
	apitest.WantPage(t, "closed GET /register", c.Get("/register"), 403, "Sign-up is closed")
	form.Set("email", servicetest.Email(t))
	apitest.WantPage(t, "closed POST /register", c.Post("/register", form), 403, "Sign-up is closed")
}
