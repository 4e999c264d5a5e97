package services

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestMailTemplates renders every kind with full data: each has a one-line subject, and a text
// and an HTML body that name the device and say what to do if it was not you; the action
// mails carry their link in both bodies. The HTML body escapes what users typed.
func TestMailTemplates(t *testing.T) {
	base, _ := url.Parse("https://accounts.example.com/")
	link := mailLink(*base, "/reset", url.Values{"token": {"abc_DEF-123"}})
	if link != "https://accounts.example.com/reset?token=abc_DEF-123" {
		t.Fatalf("mailLink() = %q", link)
	}
	data := mailData{
		Email: "ann@example.com", Link: link, ValidFor: 30 * time.Minute, Device: "Living room <TV>",
		ByDevice: "Phone", IP: "203.0.113.7", When: time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC),
		SecurityLink: mailLink(*base, "/forgot", nil),
	}
	for _, kind := range mailKinds {
		subject, text, html, err := renderMail(kind, data)
		if err != nil {
			t.Fatalf("renderMail(%s) = %v", kind, err)
		}
		if subject == "" || strings.ContainsAny(subject, "\r\n") {
			t.Errorf("renderMail(%s) subject = %q, want one non-empty line", kind, subject)
		}
		if !strings.Contains(text, "Not you?") || !strings.Contains(html, "Not you?") {
			t.Errorf("renderMail(%s): a body does not say what to do if it was not you:\n%s", kind, text)
		}
		if strings.Contains(html, "<TV>") {
			t.Errorf("renderMail(%s) html holds the unescaped device name", kind)
		}
		if kind == MailPasswordReset || kind == MailVerifyEmail {
			if !strings.Contains(text, link) || !strings.Contains(html, `href="`+link+`"`) {
				t.Errorf("renderMail(%s): the link is missing from a body:\n%s", kind, text)
			}
			if !strings.Contains(text, "30 minutes") {
				t.Errorf("renderMail(%s) text does not say how long the link works:\n%s", kind, text)
			}
		}
		if kind == MailSignInNotice || kind == MailEvictionNotice {
			if !strings.Contains(subject, "Living room <TV>") || !strings.Contains(text, "Living room <TV>") {
				t.Errorf("renderMail(%s) does not name the device: %q\n%s", kind, subject, text)
			}
		}
	}
	if subject, _, _, _ := renderMail(MailEvictionNotice, data); subject != "Living room <TV> was signed out because Phone signed in" {
		t.Errorf("eviction subject = %q", subject)
	}
}

// TestRenderMailSubjectOneLine: a device name with line breaks cannot add a header.
func TestRenderMailSubjectOneLine(t *testing.T) {
	subject, _, _, err := renderMail(MailSignInNotice, mailData{Device: "TV\r\nBcc: eve@example.com"})
	if err != nil || strings.ContainsAny(subject, "\r\n") {
		t.Fatalf("renderMail() subject = %q, %v; want one line", subject, err)
	}
}

func TestRenderMailUnknownKind(t *testing.T) {
	if _, _, _, err := renderMail("nope", mailData{}); !errors.Is(err, errUnknownMailKind) {
		t.Fatalf("renderMail(nope) = %v, want errUnknownMailKind", err)
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Minute: "30 minutes", time.Minute: "1 minute", 24 * time.Hour: "24 hours",
		72 * time.Hour: "3 days", time.Hour: "1 hour", 90 * time.Minute: "90 minutes",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
