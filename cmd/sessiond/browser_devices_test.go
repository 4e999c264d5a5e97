package main

import (
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// browserSignOutAnother: a browser signs in, sees its devices, signs the TV out and sees it go.
func browserSignOutAnother(t *testing.T, s browserSite) {
	email := s.register(t)
	laptop := newDevice(t, s.chromium, s.base, "Work laptop")
	laptop.open("/devices")
	if loc := laptop.location(); !strings.HasPrefix(loc, "/login") {
		t.Fatalf("signed-out /devices went to %s, want /login", loc)
	}
	laptop.signIn(email, browserPassword)
	if loc := laptop.location(); loc != "/devices" {
		t.Fatalf("after sign-in at %s, want /devices", loc)
	}
	laptop.wantText(".usage", "1 of 2")
	laptop.wantText("ul.devices", "Work laptop", "This device")

	if status, body := s.apiLogin(t, email, "Living room TV"); status != 201 {
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
	if status, body := s.apiLogin(t, email, "Living room TV"); status != 201 {
		t.Fatalf("TV login again = %d %v", status, body)
	}
	if os.Getenv("SESSIOND_README_SCREENSHOTS") != "" {
		laptop.open("/devices")
		laptop.screenshot(os.Getenv("SESSIOND_README_SCREENSHOTS"), "devices")
	}
}

// browserToldWhy: a browser signed out by the device limit reads why, once.
func browserToldWhy(t *testing.T, s browserSite) {
	email := s.register(t)
	browser := newDevice(t, s.chromium, s.base, "Kitchen laptop")
	browser.signIn(email, browserPassword)
	for _, tv := range []string{"Living room TV", "Bedroom TV"} {
		if status, body := s.apiLogin(t, email, tv); status != 201 {
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
}

// browserSignOutOthers: "sign out all others" needs the right password.
func browserSignOutOthers(t *testing.T, s browserSite) {
	email := s.register(t)
	s.rejectAt(t, email, 4)
	laptop := newDevice(t, s.chromium, s.base, "Laptop")
	laptop.signIn(email, browserPassword)
	for _, tv := range []string{"TV one", "TV two"} {
		if status, body := s.apiLogin(t, email, tv); status != 201 {
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
		chromedp.SendKeys(chromedp.CSS("#others-password"), browserPassword),
		chromedp.Click(chromedp.CSS(`form[action="/devices/sign-out-others"] button`)),
		chromedp.WaitVisible(chromedp.CSS(".notice.ok")),
	)
	laptop.wantText(".notice", "Signed out 2 other devices")
	laptop.wantText(".usage", "1 of 4")
}

// browserFreshSession: a browser signed in less than a day ago signs out an older device only
// with the password.
func browserFreshSession(t *testing.T, s browserSite) {
	email := s.register(t)
	if status, body := s.apiLogin(t, email, "Living room TV"); status != 201 {
		t.Fatalf("TV login = %d %v", status, body)
	}
	laptop := newDevice(t, s.chromium, s.base, "New laptop")
	laptop.signIn(email, browserPassword)
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
		chromedp.SendKeys(chromedp.CSS(password), browserPassword),
		chromedp.Click(chromedp.CSS(`form.confirm button.danger`)),
		chromedp.WaitVisible(chromedp.CSS(".notice.ok")),
	)
	laptop.wantText(".notice", "signed out")
	if got := laptop.text("ul.devices"); strings.Contains(got, "Living room TV") {
		t.Fatalf("after signing the TV out with the password the list still reads %q", got)
	}
	laptop.checkPage()
}

// browserSignOutKeepsTheDevice: signing out ends the browser's session cookie and keeps its
// device key and browser id, as the browser itself holds them afterwards. Checked by hand:
// with Clear-Site-Data, chromium dropped both.
func browserSignOutKeepsTheDevice(t *testing.T, s browserSite) {
	email := s.register(t)
	laptop := newDevice(t, s.chromium, s.base, "Shared laptop")
	laptop.signIn(email, browserPassword)
	before := laptop.cookies()
	if before["sessiond"] == "" || before["sessiond-device"] == "" || before["sessiond-browser"] == "" {
		t.Fatalf("cookies after signing in = %v, want the session, the device key and the browser id", before)
	}
	laptop.do("sign out",
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(".notice.ok")),
	)
	laptop.wantText(".notice", "You are signed out on this device.")
	after := laptop.cookies()
	if _, ok := after["sessiond"]; ok || after["sessiond-device"] != before["sessiond-device"] || after["sessiond-browser"] != before["sessiond-browser"] {
		t.Fatalf("cookies after signing out = %v, want no session and the device key and browser id of before (%v)", after, before)
	}
}
