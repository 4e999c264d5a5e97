package main

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// browserAdmin: an admin edits a plan (a bad timeout is refused), finds a user and signs their
// TV out.
func browserAdmin(t *testing.T, s browserSite) {
	email := s.register(t)
	if status, body := s.apiLogin(t, email, "Garage TV"); status != 201 {
		t.Fatalf("login = %d %v", status, body)
	}
	admin := newDevice(t, s.chromium, s.base, "Admin desk")
	admin.signIn(browserAdminEmail, browserAdminPassword)
	admin.open("/admin")
	admin.do("set premium to 6 devices with a 2h idle timeout",
		chromedp.SetValue(chromedp.Search(`//div[@data-plan="premium"]//input[@name="max_sessions"]`), "6"),
		chromedp.SetValue(chromedp.Search(`//div[@data-plan="premium"]//input[@name="idle_timeout"]`), "2h"),
		chromedp.Click(chromedp.Search(`//div[@data-plan="premium"]//form[contains(@action, "/admin/plans/") and not(contains(@action, "/delete"))]//button[@type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".notice.ok")),
	)
	admin.wantText(".notice", "Plan saved")
	_, _, plans := call(t, "GET", s.base+"/v1/admin/plans", nil, "Authorization", s.adminToken(t))
	found := false
	for _, p := range plans["plans"].([]any) {
		p := p.(map[string]any)
		if p["name"] == "premium" {
			found = p["max_sessions"] == float64(6) && p["idle_timeout"] == "2h0m0s"
		}
	}
	if !found {
		t.Fatalf("plans after the edit = %v, want premium at 6 devices, idle 2h", plans)
	}
	admin.do("a bad timeout is refused",
		chromedp.SetValue(chromedp.Search(`//div[@data-plan="premium"]//input[@name="idle_timeout"]`), "soon"),
		chromedp.Click(chromedp.Search(`//div[@data-plan="premium"]//form[contains(@action, "/admin/plans/") and not(contains(@action, "/delete"))]//button[@type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".notice.error")),
	)
	admin.wantText(".notice", "not saved", "Idle timeout")

	admin.open("/admin")
	admin.do("find the user",
		chromedp.SendKeys(chromedp.CSS("#q"), email),
		chromedp.Click(chromedp.CSS(`form[role=search] button`)),
		chromedp.WaitVisible(chromedp.CSS(`ul.devices a`)),
		chromedp.Click(chromedp.CSS(`ul.devices a`)),
		chromedp.WaitVisible(chromedp.CSS("dl.facts")),
	)
	admin.wantText("main", email, "Garage TV")
	admin.do("sign the user's TV out",
		chromedp.Click(chromedp.CSS(`ul.devices button.danger`)),
		chromedp.WaitVisible(chromedp.CSS(".notice.ok")),
	)
	admin.wantText("main", "No device is signed in")
}
