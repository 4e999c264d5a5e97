package services

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzParseToken: no input panics, and an accepted token is canonical: re-encoding what was
// parsed gives the input back, so one secret has exactly one spelling. A token newToken
// issues is always accepted. Seeds: testdata/fuzz/FuzzParseToken and below.
func FuzzParseToken(f *testing.F) {
	_, issued, _, err := newToken()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{issued, "", ".", "a.b", issued + ".", strings.ToUpper(issued), issued[:len(issued)-1] + "B",
		strings.Replace(issued, ".", "", 1), "AZCgAAAAAHAAgAAAAAAAAQ." + strings.Repeat("A", 43), "\x00." + strings.Repeat("=", 43)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		id, secret, err := parseToken(token)
		if err != nil {
			return
		}
		if got := b64.EncodeToString(id[:]) + "." + b64.EncodeToString(secret[:]); got != token {
			t.Fatalf("parseToken(%q) accepted a non-canonical spelling of %q", token, got)
		}
	})
}

// FuzzValidateEmail: no input panics, and an accepted email is in its one spelling: at most
// MaxEmailLen bytes of valid UTF-8 with no invisible, control or format character, one "@" and
// an ASCII domain; normalising it again gives it back unchanged (normalising twice is
// normalising once), so the result is always accepted again. Seeds:
// testdata/fuzz/FuzzValidateEmail and below (the look-alikes of the email table among them).
func FuzzValidateEmail(f *testing.F) {
	for _, s := range []string{"a@b.co", " Mixed.Case@Example.COM ", "Eve <eve@example.com>", "a\x00b@example.com",
		"\"quoted local\"@example.com", "a@[127.0.0.1]", "ü@exämple.de", strings.Repeat("a", 250) + "@b.co", "@", "a@b@c", "a@b.co\r\n",
		"ａnn@example.com", "ann@example.com\u200b", "a\u0301nn@example.com", "\u0430nn@example.com", "\u212ann@example.com",
		"\u0130nn@example.com", "straße@EXAMPLE.com", "山田たろう@example.jp", "x@xn--exmple-cua.de", "a@ex\u0430mple.com",
		strings.Repeat("ａ", 84) + "@b.co", "\u05d0\u05d1@example.com", "a\ufe0f@example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		email, err := NormalizeEmail(in)
		if err != nil {
			return
		}
		local, domain, _ := strings.Cut(email, "@")
		switch {
		case len(email) > MaxEmailLen || !utf8.ValidString(email) || local == "":
			t.Fatalf("NormalizeEmail(%q) accepted %q", in, email)
		case strings.ContainsFunc(email, func(r rune) bool { return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zs) }):
			t.Fatalf("NormalizeEmail(%q) = %q, holding an invisible, control or space character", in, email)
		case strings.Contains(domain, "@") || strings.ContainsFunc(domain, func(r rune) bool { return r >= utf8.RuneSelf || unicode.IsUpper(r) }):
			t.Fatalf("NormalizeEmail(%q) = %q, want one @ and a lower-case ASCII domain", in, email)
		}
		again, err := NormalizeEmail(email)
		if err != nil || again != email {
			t.Fatalf("NormalizeEmail(%q) = %q, %v; want it to accept its own output unchanged", email, again, err)
		}
	})
}
