package main

import (
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessiond/sessiond/services/servicetest"
)

// mailedPath waits for a mail to addr whose subject contains subject, delivered by the
// binary's outbox sender to the in-process SMTP server, and returns the path and query of its
// link (the link is built on SESSIOND_PUBLIC_URL; the test's binary listens elsewhere).
func mailedPath(t *testing.T, smtp *servicetest.SMTPServer, addr, subject string) string {
	t.Helper()
	var link *url.URL
	smtp.WaitFor(t, 20*time.Second, "a mail to "+addr+" about "+subject, func(ms []servicetest.ReceivedMail) bool {
		for _, m := range ms {
			if !strings.Contains(m.Subject, subject) || len(m.To) != 1 || m.To[0] != addr {
				continue
			}
			raw := regexp.MustCompile(`http://sessiond\.test/\S+`).FindString(m.Text)
			if u, err := url.Parse(raw); raw != "" && err == nil {
				link = u
				return true
			}
		}
		return false
	})
	return link.RequestURI()
}

// TestBrowserRecovery: in headless Chromium against the real binary, with mail delivered over
// SMTP to a server in process: a person verifies the address the sign-up mailed (sign-in is
// refused until then, with an offer to resend), then forgets the password, follows the
// mailed link from /login → /forgot, sets a new one on /reset, and the browser that was
// signed in is told it was signed out by the reset.
func TestBrowserRecovery(t *testing.T) {
	smtp := servicetest.NewSMTPServer(t)
	chromium := newChromium(t)
	base := startBinary(t, "SESSIOND_DATABASE_URL=sqlite://"+filepath.Join(t.TempDir(), "recovery.db"),
		"SESSIOND_SMTP_URL="+smtp.URL, "SESSIOND_MAIL_FROM=sessiond@sessiond.test", "SESSIOND_MAIL_POLL_INTERVAL=100ms",
		"SESSIOND_PUBLIC_URL=http://sessiond.test", "SESSIOND_EMAIL_VERIFICATION=required")
	site := browserSite{chromium: chromium, base: base}
	email := site.register(t)

	laptop := newDevice(t, chromium, base, "Laptop")
	laptop.open("/login")
	laptop.do("sign in unverified",
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), browserPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/verify/resend"]`)),
	)
	laptop.wantText(".notice", "Verify your email address first")
	laptop.open(mailedPath(t, smtp, email, "Confirm your email"))
	laptop.do("verify", chromedp.Click(chromedp.CSS(`form[action="/verify"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.Search(`//main//a[normalize-space(.)="Sign in"]`)))
	laptop.wantText(".notice", "Your address is verified")
	laptop.signIn(email, browserPassword)
	laptop.wantText("main h1", "devices")

	phone := newDevice(t, chromium, base, "Phone")
	phone.open("/login")
	phone.do("forgot", chromedp.Click(chromedp.CSS(`a[href="/forgot"]`)), chromedp.WaitVisible(chromedp.CSS(`form[action="/forgot"]`)),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.Click(chromedp.CSS(`form[action="/forgot"] button[type=submit]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`form[action="/forgot"]`)))
	phone.wantText(".notice", "Check your mail")
	phone.open(mailedPath(t, smtp, email, "Reset your password"))
	phone.do("set a new password",
		chromedp.SendKeys(chromedp.CSS("#new_password"), "a phone-typed new passphrase"),
		chromedp.Click(chromedp.CSS(`form[action="/reset"] button[type=submit]`)),
		chromedp.WaitNotPresent(chromedp.CSS("#new_password")))
	phone.wantText(".notice", "Your password is changed")
	smtp.WaitFor(t, 20*time.Second, "the notice that the password changed", func(ms []servicetest.ReceivedMail) bool {
		return len(ms) >= 3
	})

	laptop.open("/devices")
	laptop.wantText(".notice", "password was reset") // signed out by the reset, and told why
	if !strings.HasPrefix(laptop.location(), "/login") {
		t.Errorf("the laptop after the reset is at %s, want the sign-in page", laptop.location())
	}
	phone.signIn(email, "a phone-typed new passphrase")
	phone.wantText("main h1", "devices")
}
