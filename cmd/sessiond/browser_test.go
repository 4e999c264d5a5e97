package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/oauth2-proxy/mockoidc"
)

// The web pages in a real browser: Debian's chromium, headless, driven with chromedp against
// the built binary. Each "device" is a browser context of its own (its own cookies), like a
// separate browser. On failure every device's page is saved as a PNG (the path is logged);
// with SESSIOND_README_SCREENSHOTS=DIR the passing run also saves the README's screenshots.

// chromiumPath finds the browser, or fails under CI and skips loudly elsewhere.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no chromium on PATH: the browser tests need Debian's chromium package (scripts/test.sh installs it when it runs as root with apt)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip("WARNING: SKIPPING BROWSER TESTS: " + msg)
	return ""
}

// newChromium starts one headless browser for the test, with a fresh profile.
func newChromium(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	browser, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return browser
}

// device is one browser (a browser context with its own cookie jar) of the person.
type device struct {
	t    *testing.T
	name string
	ctx  context.Context
	base string
}

func newDevice(t *testing.T, chromium context.Context, base, name string) *device {
	t.Helper()
	ctx, cancel := chromedp.NewContext(chromium, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first Run opens the tab; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start browser for %s: %v", name, err)
	}
	d := &device{t: t, name: name, ctx: ctx, base: base}
	t.Cleanup(func() {
		if t.Failed() {
			d.screenshot(failureDir(t), d.name)
		}
	})
	return d
}

func failureDir(t *testing.T) string {
	return filepath.Join(os.TempDir(), "sessiond-browser-failures", regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(t.Name(), "_"))
}

// screenshot saves the device's whole page as DIR/<name>.png.
func (d *device) screenshot(dir, name string) {
	ctx, cancel := context.WithTimeout(d.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	path := filepath.Join(dir, strings.ReplaceAll(strings.ToLower(name), " ", "-")+".png")
	if err == nil {
		err = os.WriteFile(path, png, 0o644)
	}
	if err != nil {
		d.t.Logf("screenshot of %s: %v", d.name, err)
		return
	}
	d.t.Logf("screenshot of %s: %s", d.name, path)
}

// do runs browser steps with a deadline; a failure fails the test.
func (d *device) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(d.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		d.t.Fatalf("%s: %s: %v", d.name, what, err)
	}
}

// text returns the visible text of the first element matching css.
func (d *device) text(css string) string {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(d.ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		d.t.Fatalf("%s: text of %s: %v", d.name, css, err)
	}
	return s
}

func (d *device) location() string {
	d.t.Helper()
	loc, err := chromedp.Run(d.ctx, chromedp.Location())
	if err != nil {
		d.t.Fatalf("%s: location: %v", d.name, err)
	}
	return strings.TrimPrefix(loc, d.base)
}

// open loads path and waits for its main content.
func (d *device) open(path string) {
	d.t.Helper()
	d.do("open "+path, chromedp.Navigate(d.base+path), chromedp.WaitVisible(chromedp.CSS("main h1")))
}

// signIn fills the sign-in form as a person would, naming this device.
func (d *device) signIn(email, password string) {
	d.t.Helper()
	d.open("/login")
	d.do("sign in",
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Clear(chromedp.CSS("#device_name")),
		chromedp.SendKeys(chromedp.CSS("#device_name"), d.name),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitNotPresent(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("main h1")),
	)
}

// wantText fails unless the element's text contains every one of want.
func (d *device) wantText(css string, want ...string) {
	d.t.Helper()
	got := d.text(css)
	for _, w := range want {
		if !strings.Contains(got, w) {
			d.t.Fatalf("%s at %s: %s reads %q, want it to contain %q", d.name, d.location(), css, got, w)
		}
	}
}

func TestBrowser(t *testing.T) {
	chromium := newChromium(t)
	const adminEmail, adminPassword = "browser-admin@example.com", "browser admin desk"
	base := startBinary(t, "SESSIOND_DATABASE_URL=sqlite://"+filepath.Join(t.TempDir(), "web.db"),
		"SESSIOND_COOKIE_SECURE=false", "SESSIOND_LOGIN_RATE_PER_IP=0",
		"SESSIOND_BOOTSTRAP_ADMIN_EMAIL="+adminEmail, "SESSIOND_BOOTSTRAP_ADMIN_PASSWORD="+adminPassword)
	const pw = "browsers are devices too"
	register := func(t *testing.T) string {
		email := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-")) + "@example.com"
		if status, _, body := call(t, "POST", base+"/v1/auth/register", map[string]any{"email": email, "password": pw}); status != 201 {
			t.Fatalf("register = %d %v", status, body)
		}
		return email
	}
	apiLogin := func(t *testing.T, email, device string) (status int, body map[string]any) {
		status, _, body = call(t, "POST", base+"/v1/auth/login", loginBody(email, pw, device))
		return status, body
	}
	adminToken := func(t *testing.T) string {
		status, _, body := call(t, "POST", base+"/v1/auth/login", loginBody(adminEmail, adminPassword, "test harness"))
		if status != 201 {
			t.Fatalf("admin login = %d %v", status, body)
		}
		return "Bearer " + body["token"].(string)
	}
	// rejectAt gives the user a limit of n with the reject policy, through the admin API.
	rejectAt := func(t *testing.T, email string, n int) {
		tok := adminToken(t)
		_, _, list := call(t, "GET", base+"/v1/admin/users?email="+email, nil, "Authorization", tok)
		users, _ := list["users"].([]any)
		if len(users) != 1 {
			t.Fatalf("admin user lookup of %s = %v", email, list)
		}
		id := users[0].(map[string]any)["id"].(string)
		patch := map[string]any{"max_sessions_override": n, "limit_policy_override": "reject"}
		if status, _, body := call(t, "PATCH", base+"/v1/admin/users/"+id, patch, "Authorization", tok); status != 200 {
			t.Fatalf("PATCH user = %d %v", status, body)
		}
	}

	t.Run("sign in and sign out another device", func(t *testing.T) {
		email := register(t)
		laptop := newDevice(t, chromium, base, "Work laptop")
		laptop.open("/devices")
		if loc := laptop.location(); !strings.HasPrefix(loc, "/login") {
			t.Fatalf("signed-out /devices went to %s, want /login", loc)
		}
		laptop.signIn(email, pw)
		if loc := laptop.location(); loc != "/devices" {
			t.Fatalf("after sign-in at %s, want /devices", loc)
		}
		laptop.wantText(".usage", "1 of 2")
		laptop.wantText("ul.devices", "Work laptop", "This device")

		if status, body := apiLogin(t, email, "Living room TV"); status != 201 {
			t.Fatalf("TV login = %d %v", status, body)
		}
		laptop.open("/devices")
		laptop.wantText("ul.devices", "Living room TV", "Work laptop")
		laptop.wantText(".usage", "2 of 2")
		laptop.do("sign the TV out",
			chromedp.Click(chromedp.CSS(`ul.devices li:not(:has(.badge)) button.danger`)),
			chromedp.WaitVisible(chromedp.CSS(".notice.ok")),
		)
		laptop.wantText(".notice", "signed out")
		if got := laptop.text("ul.devices"); strings.Contains(got, "Living room TV") {
			t.Fatalf("after signing the TV out the list still reads %q", got)
		}
		laptop.wantText(".usage", "1 of 2")
		if status, body := apiLogin(t, email, "Living room TV"); status != 201 {
			t.Fatalf("TV login again = %d %v", status, body)
		}
		if os.Getenv("SESSIOND_README_SCREENSHOTS") != "" {
			laptop.open("/devices")
			laptop.screenshot(os.Getenv("SESSIOND_README_SCREENSHOTS"), "devices")
		}
	})

	t.Run("device limit chooser", func(t *testing.T) {
		email := register(t)
		rejectAt(t, email, 2)
		phone := newDevice(t, chromium, base, "Phone")
		phone.signIn(email, pw)
		if status, body := apiLogin(t, email, "Living room TV"); status != 201 {
			t.Fatalf("TV login = %d %v", status, body)
		}
		tablet := newDevice(t, chromium, base, "Tablet")
		tablet.signIn(email, pw)
		if loc := tablet.location(); loc != "/devices/limit" {
			t.Fatalf("sign-in at the limit went to %s, want the chooser /devices/limit", loc)
		}
		tablet.wantText("main h1", "Your plan allows 2 devices")
		tablet.wantText("main", "Phone", "Living room TV", "To sign in on Tablet")
		if dir := os.Getenv("SESSIOND_README_SCREENSHOTS"); dir != "" {
			tablet.screenshot(dir, "chooser")
		}
		// Continuing without a choice asks for one.
		tablet.do("continue without choosing",
			chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('input[name=replace_session_id]').forEach(e => { e.required = false })`),
			chromedp.Click(chromedp.CSS(`form[action="/devices/limit"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(".notice.error")),
		)
		tablet.wantText(".notice", "Choose a device")
		tablet.do("choose the TV and continue",
			chromedp.Click(chromedp.Search(`//label[contains(., "Living room TV")]//input`)),
			chromedp.Click(chromedp.CSS(`form[action="/devices/limit"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(".usage")),
		)
		if loc := tablet.location(); !strings.HasPrefix(loc, "/devices?") {
			t.Fatalf("after choosing, at %s, want /devices", loc)
		}
		tablet.wantText(".notice", "Signed in", "The device you chose was signed out")
		tablet.wantText("ul.devices", "Tablet", "This device", "Phone")
		if got := tablet.text("ul.devices"); strings.Contains(got, "Living room TV") {
			t.Fatalf("the chosen TV is still listed: %q", got)
		}
		phone.open("/devices")
		phone.wantText("ul.devices", "Phone", "Tablet")
		// The pending sign-in was spent: the chooser is gone.
		tablet.open("/devices/limit")
		if loc := tablet.location(); !strings.HasPrefix(loc, "/devices") && !strings.HasPrefix(loc, "/login") {
			t.Fatalf("chooser after use at %s", loc)
		}
		if got := tablet.text("main"); strings.Contains(got, "Sign out and continue") {
			t.Fatalf("the spent chooser still offers a choice: %q", got)
		}
	})

	t.Run("evicted browser is told why", func(t *testing.T) {
		email := register(t)
		browser := newDevice(t, chromium, base, "Kitchen laptop")
		browser.signIn(email, pw)
		for _, tv := range []string{"Living room TV", "Bedroom TV"} {
			if status, body := apiLogin(t, email, tv); status != 201 {
				t.Fatalf("%s login = %d %v", tv, status, body)
			}
		}
		browser.open("/devices")
		browser.wantText(".notice", "This device was signed out", "Bedroom TV signed in and your plan allows 2 devices")
		if _, err := chromedp.Run(browser.ctx, chromedp.Text(chromedp.CSS("#password"))); err != nil {
			t.Fatalf("the notice page offers no sign-in form: %v", err)
		}
		// The cookie is gone: the next visit is a plain sign-in page.
		browser.open("/devices")
		if got := browser.text("main"); strings.Contains(got, "This device was signed out") || !strings.HasPrefix(browser.location(), "/login") {
			t.Fatalf("second visit at %s reads %q, want the plain sign-in page", browser.location(), got)
		}
	})

	t.Run("sign out all other devices", func(t *testing.T) {
		email := register(t)
		rejectAt(t, email, 4)
		laptop := newDevice(t, chromium, base, "Laptop")
		laptop.signIn(email, pw)
		for _, tv := range []string{"TV one", "TV two"} {
			if status, body := apiLogin(t, email, tv); status != 201 {
				t.Fatalf("%s login = %d %v", tv, status, body)
			}
		}
		laptop.open("/devices")
		laptop.do("wrong password",
			chromedp.SendKeys(chromedp.CSS("#others-password"), "not my password"),
			chromedp.Click(chromedp.CSS(`form[action="/devices/sign-out-others"] button`)),
			chromedp.WaitVisible(chromedp.CSS(".notice.error")),
		)
		laptop.wantText(".notice", "Wrong password")
		laptop.wantText(".usage", "3 of 4")
		laptop.do("right password",
			chromedp.SendKeys(chromedp.CSS("#others-password"), pw),
			chromedp.Click(chromedp.CSS(`form[action="/devices/sign-out-others"] button`)),
			chromedp.WaitVisible(chromedp.CSS(".notice.ok")),
		)
		laptop.wantText(".notice", "Signed out 2 other devices")
		laptop.wantText(".usage", "1 of 4")
	})

	t.Run("a new sign-in needs the password to sign out an older device", func(t *testing.T) {
		email := register(t)
		if status, body := apiLogin(t, email, "Living room TV"); status != 201 {
			t.Fatalf("TV login = %d %v", status, body)
		}
		laptop := newDevice(t, chromium, base, "New laptop")
		laptop.signIn(email, pw)
		laptop.wantText("main", "signed in less than 24 hours ago")
		password := `form.confirm input[name=password]`
		laptop.do("sign the TV out without the password",
			chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('form.confirm input').forEach(e => { e.required = false })`),
			chromedp.Click(chromedp.CSS(`form.confirm button.danger`)),
			chromedp.WaitVisible(chromedp.CSS(".notice.error")),
		)
		laptop.wantText(".notice", "enter your password")
		laptop.open("/devices") // a page without a notice, so that the next one is awaited
		laptop.do("a wrong password",
			chromedp.SendKeys(chromedp.CSS(password), "not my password"),
			chromedp.Click(chromedp.CSS(`form.confirm button.danger`)),
			chromedp.WaitVisible(chromedp.CSS(".notice.error")),
		)
		laptop.wantText(".notice", "Wrong password")
		laptop.wantText("ul.devices", "Living room TV")
		laptop.do("the right password",
			chromedp.SendKeys(chromedp.CSS(password), pw),
			chromedp.Click(chromedp.CSS(`form.confirm button.danger`)),
			chromedp.WaitVisible(chromedp.CSS(".notice.ok")),
		)
		laptop.wantText(".notice", "signed out")
		if got := laptop.text("ul.devices"); strings.Contains(got, "Living room TV") {
			t.Fatalf("after signing the TV out with the password the list still reads %q", got)
		}
		laptop.checkPage()
	})

	t.Run("admin changes a plan and signs a user out", func(t *testing.T) {
		email := register(t)
		if status, body := apiLogin(t, email, "Garage TV"); status != 201 {
			t.Fatalf("login = %d %v", status, body)
		}
		admin := newDevice(t, chromium, base, "Admin desk")
		admin.signIn(adminEmail, adminPassword)
		admin.open("/admin")
		admin.do("set premium to 6 devices with a 2h idle timeout",
			chromedp.SetValue(chromedp.Search(`//tr[th="premium"]//input[@name="max_sessions"]`), "6"),
			chromedp.SetValue(chromedp.Search(`//tr[th="premium"]//input[@name="idle_timeout"]`), "2h"),
			chromedp.Click(chromedp.Search(`//tr[th="premium"]//button[@type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(".notice.ok")),
		)
		admin.wantText(".notice", "Plan saved")
		_, _, plans := call(t, "GET", base+"/v1/admin/plans", nil, "Authorization", adminToken(t))
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
			chromedp.SetValue(chromedp.Search(`//tr[th="premium"]//input[@name="idle_timeout"]`), "soon"),
			chromedp.Click(chromedp.Search(`//tr[th="premium"]//button[@type="submit"]`)),
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
	})

	t.Run("pages are labelled and fit a phone", func(t *testing.T) {
		email := register(t)
		phone := newDevice(t, chromium, base, "Small phone")
		phone.do("phone screen", chromedp.EmulateViewport(360, 740, chromedp.EmulateScale(2)))
		phone.open("/login")
		phone.checkPage()
		phone.signIn(email, pw)
		for _, path := range []string{"/devices", "/history"} {
			phone.open(path)
			phone.checkPage()
		}
		phone.wantText("table", "Signed in")
		admin := newDevice(t, chromium, base, "Admin phone")
		admin.do("phone screen", chromedp.EmulateViewport(360, 740))
		admin.signIn(adminEmail, adminPassword)
		admin.open("/admin")
		admin.checkPage()
		// Keyboard: Tab from the top reaches the skip link first.
		phone.open("/devices")
		phone.do("tab", chromedp.KeyEvent("\t"))
		if got, err := chromedp.Run(phone.ctx, chromedp.Evaluate[string](`document.activeElement.textContent`)); err != nil || got != "Skip to content" {
			t.Fatalf("first Tab focuses %q (%v), want the skip link", got, err)
		}
	})
}

// checkPage fails when a form control has no accessible label or the page is wider than the
// screen (it would scroll sideways on a phone).
func (d *device) checkPage() {
	d.t.Helper()
	problems, err := chromedp.Run(d.ctx, chromedp.Evaluate[[]string](`(() => {
		const out = [];
		for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea, button')) {
			const named = (el.labels && el.labels.length > 0) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') ||
				(el.tagName === 'BUTTON' && el.textContent.trim() !== '');
			if (!named) out.push('unlabelled ' + el.outerHTML.slice(0, 80));
		}
		if (document.documentElement.scrollWidth > window.innerWidth + 1)
			out.push('page is ' + document.documentElement.scrollWidth + 'px wide on a ' + window.innerWidth + 'px screen');
		return out;
	})()`))
	if err != nil {
		d.t.Fatalf("%s: check page: %v", d.name, err)
	}
	if len(problems) > 0 {
		d.t.Fatalf("%s at %s: %s", d.name, d.location(), strings.Join(problems, "; "))
	}
}

// TestBrowserOIDC signs a browser in through an identity provider (an in-process mockoidc):
// the sign-in page's button, the provider, the callback, the devices page.
func TestBrowserOIDC(t *testing.T) {
	chromium := newChromium(t)
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Server.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // the binary listens here; the provider must know the address beforehand
	base := startBinary(t, "SESSIOND_DATABASE_URL=sqlite://"+filepath.Join(t.TempDir(), "web.db"), "SESSIOND_ADDR="+addr,
		"SESSIOND_OIDC_PROVIDERS=mock", "SESSIOND_OIDC_MOCK_LABEL=Mock ID", "SESSIOND_OIDC_MOCK_ISSUER="+m.Issuer(),
		"SESSIOND_OIDC_MOCK_CLIENT_ID="+m.ClientID, "SESSIOND_OIDC_MOCK_CLIENT_SECRET="+m.ClientSecret,
		"SESSIOND_OIDC_MOCK_REDIRECT_URL=http://"+addr+"/v1/auth/oidc/mock/callback")
	m.QueueUser(&mockoidc.MockUser{Subject: "browser-person", Email: "browser-person@example.com", EmailVerified: true})
	d := newDevice(t, chromium, base, "Provider laptop")
	d.open("/login")
	d.do("continue with the provider",
		chromedp.Click(chromedp.Search(`//a[contains(., "Continue with Mock ID")]`)),
		chromedp.WaitVisible(chromedp.CSS(".usage")),
	)
	if loc := d.location(); loc != "/devices" {
		t.Fatalf("after the provider at %s, want /devices", loc)
	}
	d.wantText(".usage", "1 of 2")
	d.wantText("ul.devices", "This device")
}
