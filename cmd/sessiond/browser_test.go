package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
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

// cookies returns the cookies the browser holds for the site, by name.
func (d *device) cookies() map[string]string {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(d.ctx, 20*time.Second)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{d.base}})
	if err != nil {
		d.t.Fatalf("%s: cookies: %v", d.name, err)
	}
	out := map[string]string{}
	for _, c := range res.Cookies {
		out[c.Name] = c.Value
	}
	return out
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

// TestBrowser drives the pages in a real browser against one binary (SQLite, plain HTTP), a
// subtest per subject; their bodies are in browser_*_test.go.
func TestBrowser(t *testing.T) {
	site := browserSite{
		chromium: newChromium(t),
		base: startBinary(t, "SESSIOND_DATABASE_URL=sqlite://"+filepath.Join(t.TempDir(), "web.db"),
			"SESSIOND_COOKIE_SECURE=false", "SESSIOND_LOGIN_RATE_PER_IP=0",
			"SESSIOND_BOOTSTRAP_ADMIN_EMAIL="+browserAdminEmail, "SESSIOND_BOOTSTRAP_ADMIN_PASSWORD="+browserAdminPassword),
	}
	for _, c := range []struct {
		name string
		run  func(*testing.T, browserSite)
	}{
		{"sign in and sign out another device", browserSignOutAnother},
		{"device limit chooser", browserChooser},
		{"evicted browser is told why", browserToldWhy},
		{"sign out all other devices", browserSignOutOthers},
		{"sign out keeps the device key", browserSignOutKeepsTheDevice},
		{"a new sign-in needs the password to sign out an older device", browserFreshSession},
		{"admin changes a plan and signs a user out", browserAdmin},
		{"pages are labelled and fit a phone", browserAccessible},
		{"admin creates a plan, moves a user, sees the insights", browserInsights},
		{"sign-up, and refused when registration is closed", browserRegister},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, site) })
	}
}

// The account TestBrowser's binary starts with, and the password of the accounts its subtests
// register.
const (
	browserAdminEmail, browserAdminPassword = "browser-admin@example.com", "browser admin desk"
	browserPassword                         = "browsers are devices too"
)

// browserSite is the binary TestBrowser's subtests share, and the browser they open devices in.
type browserSite struct {
	chromium context.Context
	base     string
}

// register creates an account named after the test, with browserPassword.
func (s browserSite) register(t *testing.T) string {
	t.Helper()
	email := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-")) + "@example.com"
	if status, _, body := call(t, "POST", s.base+"/v1/auth/register", map[string]any{"email": email, "password": browserPassword}); status != 201 {
		t.Fatalf("register = %d %v", status, body)
	}
	return email
}

// apiLogin signs a device of the account in through the API, as a TV would.
func (s browserSite) apiLogin(t *testing.T, email, device string) (status int, body map[string]any) {
	t.Helper()
	status, _, body = call(t, "POST", s.base+"/v1/auth/login", loginBody(email, browserPassword, device))
	return status, body
}

// adminToken signs the admin in through the API and returns the Authorization header's value.
func (s browserSite) adminToken(t *testing.T) string {
	t.Helper()
	status, _, body := call(t, "POST", s.base+"/v1/auth/login", loginBody(browserAdminEmail, browserAdminPassword, "test harness"))
	if status != 201 {
		t.Fatalf("admin login = %d %v", status, body)
	}
	return "Bearer " + body["token"].(string)
}

// rejectAt gives the user a limit of n with the reject policy, through the admin API.
func (s browserSite) rejectAt(t *testing.T, email string, n int) {
	t.Helper()
	tok := s.adminToken(t)
	_, _, list := call(t, "GET", s.base+"/v1/admin/users?email="+email, nil, "Authorization", tok)
	users, _ := list["users"].([]any)
	if len(users) != 1 {
		t.Fatalf("admin user lookup of %s = %v", email, list)
	}
	id := users[0].(map[string]any)["id"].(string)
	patch := map[string]any{"max_sessions_override": n, "limit_policy_override": "reject"}
	if status, _, body := call(t, "PATCH", s.base+"/v1/admin/users/"+id, patch, "Authorization", tok); status != 200 {
		t.Fatalf("PATCH user = %d %v", status, body)
	}
}
