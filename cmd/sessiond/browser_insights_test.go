package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// browserInsights: an admin creates a plan with stream fields on the page, moves a user onto
// it, and after that user's sign-ins sees the insights change; the charts are there and their
// tables hold the API's numbers; the admin pages read in full at 1920 px and at 360 px.
func browserInsights(t *testing.T, s browserSite) {
	// The admin's plan allows 2 devices: one API sign-in before the browser's, and no other
	// until the end, or one would evict the other.
	token := s.adminToken(t)
	admin := newDevice(t, s.chromium, s.base, "Admin wall screen")
	admin.do("wide screen", chromedp.EmulateViewport(1920, 1080))
	admin.signIn(browserAdminEmail, browserAdminPassword)
	admin.open("/admin")
	plan := "family-" + fmt.Sprint(len(t.Name()))
	admin.do("create a plan with stream fields",
		chromedp.SendKeys(chromedp.CSS("#new-name"), plan),
		chromedp.SetValue(chromedp.CSS("#new-max"), "1"),
		chromedp.SetValue(chromedp.CSS("#new-policy"), "evict_oldest"),
		chromedp.SetValue(chromedp.CSS("#new-streams"), "2"),
		chromedp.SetValue(chromedp.CSS("#new-spolicy"), "takeover_oldest"),
		chromedp.SendKeys(chromedp.CSS("#new-classes"), "live=1"),
		chromedp.Click(chromedp.CSS(`form[action="/admin/plans"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".notice.ok")),
	)
	admin.wantText(".notice", "Plan created")
	admin.wantText(`[data-plan="`+plan+`"]`, plan)
	admin.checkPage()
	admin.checkControls()

	email := s.register(t)
	admin.open("/admin?email=" + email)
	admin.do("open the user and move them onto the plan",
		chromedp.Click(chromedp.CSS(`ul.devices a`)),
		chromedp.WaitVisible(chromedp.CSS("#limits-form")),
		chromedp.SetValue(chromedp.CSS("#plan_id"), planID(t, s, token, plan)),
		chromedp.Click(chromedp.CSS(`#limits-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".notice.ok")),
	)
	admin.wantText("dl.facts", plan)
	for _, tv := range []string{"Living room TV", "Bedroom TV"} { // 1 device, evict_oldest: one eviction
		if status, body := s.apiLogin(t, email, tv); status != 201 {
			t.Fatalf("login %s = %d %v", tv, status, body)
		}
	}
	admin.do("reload the user", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#history")))
	admin.wantText("main", "Bedroom TV", "Signed in")
	admin.checkPage()
	admin.checkControls()

	admin.open("/admin?days=7")
	_, _, stats := call(t, "GET", s.base+"/v1/admin/stats?days=7", nil, "Authorization", token)
	var row map[string]any
	for _, p := range stats["plans"].([]any) {
		if p.(map[string]any)["name"] == plan {
			row = p.(map[string]any)
		}
	}
	if row == nil || row["users"] != float64(1) || row["users_at_device_limit"] != float64(1) || row["evictions"] != float64(1) || row["active_sessions"] != float64(1) {
		t.Fatalf("stats of %s = %v, want 1 user, at the limit, 1 eviction, 1 active session", plan, row)
	}
	admin.do("open the tables", chromedp.Click(chromedp.CSS("#chart-limits summary")), chromedp.Click(chromedp.CSS("#chart-daily summary")))
	cells := admin.table(`#chart-limits table tr`)
	want := fmt.Sprintf("%s|%.0f|%.0f|100 %%|%.0f|%.0f|%.0f", plan, row["users"], row["users_at_device_limit"], row["users_at_stream_limit"], row["evictions"], row["limit_rejections"])
	if !strings.Contains(strings.Join(cells, "\n"), want) {
		t.Errorf("the limits chart's table reads\n%s\nwant a row %s (the API's numbers)", strings.Join(cells, "\n"), want)
	}
	daily := stats["daily"].([]any)
	today := daily[len(daily)-1].(map[string]any)
	rows := admin.table(`#chart-daily table tr`)
	if got, want := rows[len(rows)-1], fmt.Sprintf("|%s|%s|%s", count(today["logins"]), count(today["evictions"]), count(today["limit_rejections"])); !strings.HasSuffix(got, want) {
		t.Errorf("the daily chart's last row = %q, want it to end %q (the API's today)", got, want)
	}
	if n, err := chromedp.Run(admin.ctx, chromedp.Evaluate[int](`document.querySelectorAll('figure.insight svg.chart[role=img] title').length`)); err != nil || n != 3 {
		t.Errorf("titled charts on /admin = %d (%v), want 3", n, err)
	}
	admin.checkPage()
	admin.checkControls()
	if dir := os.Getenv("SESSIOND_README_SCREENSHOTS"); dir != "" {
		admin.do("laptop screen", chromedp.EmulateViewport(1280, 900))
		admin.open("/admin?days=7")
		admin.screenshot(dir, "admin-insights")
	}

	phone := newDevice(t, s.chromium, s.base, "Admin phone")
	phone.do("phone screen", chromedp.EmulateViewport(360, 740))
	phone.signIn(browserAdminEmail, browserAdminPassword)
	for _, path := range []string{"/admin", "/admin?email=" + email} {
		phone.open(path)
		phone.checkPage()
		phone.checkControls()
	}
}

// browserRegister: sign-up from the sign-in page's link, the password policy's reason shown,
// then signed in; a server with registration closed says so instead of a form.
func browserRegister(t *testing.T, s browserSite) {
	d := newDevice(t, s.chromium, s.base, "New laptop")
	d.do("phone screen", chromedp.EmulateViewport(360, 740))
	d.open("/login")
	d.do("follow the sign-up link", chromedp.Click(chromedp.CSS(`a[href="/register"]`)), chromedp.WaitVisible(chromedp.CSS(`form[action="/register"]`)))
	d.checkPage()
	d.checkControls()
	email := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-")) + "@example.com"
	d.do("a short password",
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), "short"),
		chromedp.Click(chromedp.CSS(`form[action="/register"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".notice.error")),
	)
	d.wantText(".notice", "password must have at least 8 characters")
	d.do("a good one",
		chromedp.SendKeys(chromedp.CSS("#password"), browserPassword),
		chromedp.Click(chromedp.CSS(`form[action="/register"] button[type=submit]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`form[action="/register"]`)),
		chromedp.WaitVisible(chromedp.CSS("main h1")),
	)
	if loc := d.location(); !strings.HasPrefix(loc, "/devices") {
		t.Fatalf("after sign-up the browser is at %s, want /devices", loc)
	}
	d.wantText("main", "This device")

	closed := startBinary(t, "SESSIOND_DATABASE_URL=sqlite://"+filepath.Join(t.TempDir(), "closed.db"),
		"SESSIOND_COOKIE_SECURE=false", "SESSIOND_REGISTRATION=closed")
	c := newDevice(t, s.chromium, closed, "Closed laptop")
	c.open("/register")
	c.wantText("main", "Sign-up is closed")
	if n, err := chromedp.Run(c.ctx, chromedp.Evaluate[int](`document.querySelectorAll('form[action="/register"]').length`)); err != nil || n != 0 {
		t.Errorf("closed /register has %d sign-up forms (%v), want none", n, err)
	}
}

// planID looks a plan's id up by name through the admin API.
func planID(t *testing.T, s browserSite, token, name string) string {
	t.Helper()
	_, _, plans := call(t, "GET", s.base+"/v1/admin/plans", nil, "Authorization", token)
	for _, p := range plans["plans"].([]any) {
		if p := p.(map[string]any); p["name"] == name {
			return p["id"].(string)
		}
	}
	t.Fatalf("no plan %s in %v", name, plans)
	return ""
}

// count writes an API number as the pages do: 1,204.
func count(v any) string {
	s := fmt.Sprintf("%.0f", v)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// table returns the rows matching css, each as its cells' text joined by "|".
func (d *device) table(css string) []string {
	d.t.Helper()
	rows, err := chromedp.Run(d.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(`+"`"+css+"`"+`)).map(tr =>
		Array.from(tr.children).map(c => c.textContent.trim()).join('|'))`))
	if err != nil || len(rows) == 0 {
		d.t.Fatalf("%s: rows of %s = %v, %v", d.name, css, rows, err)
	}
	return rows
}

// checkControls fails when a form control does not read in full: it sticks out of the screen,
// its text is clipped, or a drop-down is narrower than its longest choice.
func (d *device) checkControls() {
	d.t.Helper()
	problems, err := chromedp.Run(d.ctx, chromedp.Evaluate[[]string](`(() => {
		const out = [], ctx = document.createElement('canvas').getContext('2d');
		for (const el of document.querySelectorAll('main input:not([type=hidden]), main select, main button, main .button')) {
			const r = el.getBoundingClientRect();
			if (r.width === 0 || el.closest('.table-wrap, details:not([open])')) continue;
			const name = (el.id || el.name || el.textContent.trim()).slice(0, 40);
			if (r.left < -1 || r.right > window.innerWidth + 1) out.push(name + ' sticks out (' + Math.round(r.left) + '..' + Math.round(r.right) + ')');
			if (el.tagName === 'SELECT') {
				const cs = getComputedStyle(el);
				ctx.font = cs.fontWeight + ' ' + cs.fontSize + ' ' + cs.fontFamily;
				const need = Math.max(...Array.from(el.options).map(o => ctx.measureText(o.text).width)) +
					parseFloat(cs.paddingLeft) + parseFloat(cs.paddingRight) + 20; // the arrow
				if (el.clientWidth < need) out.push(name + ' is ' + el.clientWidth + 'px, its longest choice needs ' + Math.ceil(need));
			} else if (el.scrollWidth > el.clientWidth + 1 && el.tagName !== 'INPUT') {
				out.push(name + ' clips its text');
			}
		}
		return out;
	})()`))
	if err != nil {
		d.t.Fatalf("%s: check controls: %v", d.name, err)
	}
	if len(problems) > 0 {
		d.t.Fatalf("%s at %s (%s): %s", d.name, d.location(), "controls", strings.Join(problems, "; "))
	}
}
