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

// FuzzValidateEmail: no input panics, and an accepted email is normalised (validating it again
// gives it back unchanged), at most MaxEmailLen bytes of valid UTF-8 without control
// characters, and so safe to store. Seeds: testdata/fuzz/FuzzValidateEmail and below.
func FuzzValidateEmail(f *testing.F) {
	for _, s := range []string{"a@b.co", " Mixed.Case@Example.COM ", "Eve <eve@example.com>", "a\x00b@example.com",
		"\"quoted local\"@example.com", "a@[127.0.0.1]", "ü@exämple.de", strings.Repeat("a", 250) + "@b.co", "@", "a@b@c", "a@b.co\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		email, err := validateEmail(in)
		if err != nil {
			return
		}
		switch {
		case len(email) > MaxEmailLen || !utf8.ValidString(email) || strings.ContainsFunc(email, unicode.IsControl):
			t.Fatalf("validateEmail(%q) accepted %q", in, email)
		case email != normalizeEmail(in):
			t.Fatalf("validateEmail(%q) = %q, not the normalised input", in, email)
		}
		again, err := validateEmail(email)
		if err != nil || again != email {
			t.Fatalf("validateEmail(%q) = %q, %v; want it to accept its own output unchanged", email, again, err)
		}
	})
}
