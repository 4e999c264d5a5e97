package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// browserAccessible: every page is labelled, fits a 360 px phone, and Tab reaches the skip link
// first.
func browserAccessible(t *testing.T, s browserSite) {
	email := s.register(t)
	phone := newDevice(t, s.chromium, s.base, "Small phone")
	phone.do("phone screen", chromedp.EmulateViewport(360, 740, chromedp.EmulateScale(2)))
	phone.open("/login")
	phone.checkPage()
	phone.signIn(email, browserPassword)
	for _, path := range []string{"/devices", "/history"} {
		phone.open(path)
		phone.checkPage()
	}
	phone.wantText("table", "Signed in")
	admin := newDevice(t, s.chromium, s.base, "Admin phone")
	admin.do("phone screen", chromedp.EmulateViewport(360, 740))
	admin.signIn(browserAdminEmail, browserAdminPassword)
	admin.open("/admin")
	admin.checkPage()
	// Keyboard: Tab from the top reaches the skip link first.
	phone.open("/devices")
	phone.do("tab", chromedp.KeyEvent("\t"))
	if got, err := chromedp.Run(phone.ctx, chromedp.Evaluate[string](`document.activeElement.textContent`)); err != nil || got != "Skip to content" {
		t.Fatalf("first Tab focuses %q (%v), want the skip link", got, err)
	}
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
