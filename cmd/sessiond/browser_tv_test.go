package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/store"
)

// TestBrowserTVSignIn: one browser is the TV on /tv, another the signed-in phone on /activate
// (headless Chromium, the real binary, polls every second). Approve, deny, a reject plan at
// the limit with the chooser, and an expired code.
func TestBrowserTVSignIn(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "tv.db")
	site := browserSite{
		chromium: newChromium(t),
		base: startBinary(t, "SESSIOND_DATABASE_URL=sqlite://"+dbPath, "SESSIOND_COOKIE_SECURE=false", "SESSIOND_LOGIN_RATE_PER_IP=0",
			"SESSIOND_DEVICE_CODE_INTERVAL=1s",
			"SESSIOND_BOOTSTRAP_ADMIN_EMAIL="+browserAdminEmail, "SESSIOND_BOOTSTRAP_ADMIN_PASSWORD="+browserAdminPassword),
	}
	email := site.register(t)
	site.rejectAt(t, email, 2)
	phone := newDevice(t, site.chromium, site.base, "Phone")
	phone.signIn(email, browserPassword)

	// showCode has a new TV ask for a code and returns it.
	showCode := func(name string) (*device, string) {
		tv := newDevice(t, site.chromium, site.base, name)
		tv.open("/tv")
		tv.do("ask for a code",
			chromedp.Clear(chromedp.CSS("#device_name")),
			chromedp.SendKeys(chromedp.CSS("#device_name"), name),
			chromedp.Click(chromedp.CSS(`form[action="/tv/start"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(".tv-code")),
			chromedp.WaitVisible(chromedp.CSS("svg.qr")),
		)
		return tv, tv.text(".tv-code")
	}
	// waitFor waits while the TV reloads itself until its heading says want.
	waitFor := func(tv *device, want string) {
		tv.do("wait for "+want, chromedp.WaitVisible(chromedp.Search(`//main//h1[contains(., "`+want+`")]`)))
	}
	answer := func(code, button string) {
		phone.open("/activate?code=" + strings.ToLower(code))
		phone.wantText(".notice.warn", "Only approve a device that is in front of you")
		phone.do(button, chromedp.Click(chromedp.Search(`//button[normalize-space(.)="`+button+`"]`)),
			chromedp.WaitNotPresent(chromedp.Search(`//h1[normalize-space(.)="Sign in this device?"]`)), chromedp.WaitVisible(chromedp.CSS("main h1")))
	}

	tv, code := showCode("Living room TV")
	answer(code, "Approve")
	phone.wantText("main h1", "Living room TV is signed in")
	waitFor(tv, "Signed in as "+email)
	tv.do("open the devices", chromedp.Click(chromedp.CSS(`.tv a[href="/devices"]`)), chromedp.WaitVisible(chromedp.CSS(".usage")))
	tv.wantText("ul.devices", "Living room TV", "Phone")

	denied, code := showCode("Kitchen TV")
	answer(code, "Deny")
	phone.wantText("main h1", "Not signed in")
	waitFor(denied, "The sign-in was denied")

	// At the limit (2: the phone and the living room TV): the chooser, then in.
	bedroom, code := showCode("Bedroom TV")
	answer(code, "Approve")
	phone.wantText("main h1", "Your plan allows 2 devices")
	phone.do("choose the living room TV", chromedp.Click(chromedp.Search(`//label[contains(., "Living room TV")]//input[@type="radio"]`)),
		chromedp.Click(chromedp.Search(`//button[normalize-space(.)="Sign out and approve"]`)),
		chromedp.WaitNotPresent(chromedp.CSS("fieldset")), chromedp.WaitVisible(chromedp.CSS("main h1")))
	phone.wantText("main h1", "Bedroom TV is signed in")
	waitFor(bedroom, "Signed in as "+email)

	// Expired: the code's life ends (set in the store: the binary's clock is the real one).
	late, code := showCode("Late TV")
	db, err := store.Open("sqlite", dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeStore(db, nil) })
	err = db.Model(&models.DeviceAuthorization{}).Where("user_code = ?", strings.ReplaceAll(code, "-", "")).
		Update("expires_at", time.Now().Add(-time.Second)).Error
	if err != nil {
		t.Fatal(err)
	}
	phone.open("/activate?code=" + code)
	phone.wantText(".notice", "That code did not work")
	waitFor(late, "The code expired")
}
