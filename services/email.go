package services

import (
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"

	"github.com/sessiond/sessiond/models"
)

// MaxEmailLen bounds an email address (RFC 5321's path limit).
const MaxEmailLen = 254

// maxEmailInput bounds what NormalizeEmail reads at all: width mapping shrinks a fullwidth
// address to a third, so a little more than three times the stored limit can still fit it.
const maxEmailInput = 4 * MaxEmailLen

var (
	// emailLocal is the local part's profile: RFC 8265's UsernameCaseMapped (IdentifierClass,
	// width mapping, NFC, the Bidi Rule) with full case folding instead of lower-casing, so
	// that "ß" and "ss", "ſ" and "s", the Kelvin sign and "k" are one spelling.
	emailLocal = precis.NewIdentifier(precis.FoldWidth, precis.FoldCase(), precis.Norm(norm.NFC), precis.BidiRule)
	// emailDomain maps the domain as a resolver looks it up (UTS #46, non-transitional),
	// checks it is a host name of DNS lengths, and spells it in ASCII (A-labels).
	emailDomain = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.VerifyDNSLength(true), idna.Transitional(false))
)

// NormalizeEmail returns the one spelling of an email address that sessiond stores, and by
// which it finds and throttles accounts: every way in (sign-up, login, OIDC linking, the admin
// lookup, the command line) goes through it, so two spellings of one address are one account.
//
// The local part goes through PRECIS (width mapping, case folding, NFC); the domain through
// IDNA to its ASCII form ("exämple.de" is "xn--exmple-cua.de"), which cannot hide a look-alike
// letter. Refused, as a *models.ValidationError on field "email": control, format and other
// invisible characters anywhere (a zero-width space is not silently dropped), a local part
// that mixes scripts (a Cyrillic "а" among Latin letters), an accent that stands apart from a
// plain letter (the dotted İ folds to "i" + U+0307, which shows as "i"), and anything that is
// not one plain address of at most MaxEmailLen bytes. The result is accepted again unchanged.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", models.Invalid("email", "is required")
	case len(s) > maxEmailInput:
		return "", tooLong()
	case !utf8.ValidString(s):
		return "", models.Invalid("email", "is not valid UTF-8")
	}
	if err := refuseHidden("email", s, hiddenInEmail, "contains an invisible or control character"); err != nil {
		return "", err
	}
	s = width.Fold.String(s) // a fullwidth "＠" or "．" (typed in an IME's fullwidth mode) is the ASCII one
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", notAnAddress()
	}
	local, err := normalizeLocal(s[:at])
	if err != nil {
		return "", err
	}
	domain, err := emailDomain.ToASCII(s[at+1:])
	if err != nil {
		return "", models.Invalid("email", "has a domain that is not a valid host name")
	}
	email := local + "@" + domain
	if len(email) > MaxEmailLen {
		return "", tooLong()
	}
	// One plain address: a dot-atom local part (no quotes, comments or display name).
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email || addr.Name != "" {
		return "", notAnAddress()
	}
	return email, nil
}

func tooLong() error {
	return models.Invalid("email", fmt.Sprintf("must be at most %d bytes", MaxEmailLen))
}

func notAnAddress() error { return models.Invalid("email", "is not an email address") }

// normalizeLocal spells a local part (or the start of one) as NormalizeEmail does.
func normalizeLocal(s string) (string, error) {
	local, err := emailLocal.String(s)
	switch {
	case err != nil:
		return "", models.Invalid("email", "contains a character not allowed in an email address")
	case detachedMark(local):
		return "", models.Invalid("email", "has an accent that stands apart from its letter (such as İ, which becomes i and a dot)")
	case mixedScripts(local):
		return "", models.Invalid("email", "mixes letters of different scripts (such as Latin and Cyrillic) before the @")
	}
	return local, nil
}

// normalizeEmailPrefix spells the start of an email, for the admin search, as NormalizeEmail
// spells whole ones: the local part through the same profile, the domain, when there is one,
// as far as it can be (a partial ASCII label such as "my-" is searched as it is).
func normalizeEmailPrefix(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxEmailInput {
		return "", tooLong()
	}
	if !utf8.ValidString(s) {
		return "", models.Invalid("email", "is not valid UTF-8")
	}
	if err := refuseHidden("email", s, hiddenInEmail, "contains an invisible or control character"); err != nil {
		return "", err
	}
	local, domain, hasDomain := strings.Cut(width.Fold.String(s), "@")
	local, err := normalizeLocal(local)
	if err != nil || !hasDomain {
		return local, err
	}
	d, err := emailDomain.ToASCII(domain)
	if err != nil {
		if !isASCII(domain) {
			return "", models.Invalid("email", "has a domain that is not a valid host name")
		}
		d = strings.ToLower(domain)
	}
	return local + "@" + d, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// hiddenInEmail is hiddenRune, and variation selectors too: no address needs one.
func hiddenInEmail(r rune) bool { return hiddenRune(r) || unicode.Is(unicode.Variation_Selector, r) }

// detachedMark reports a combining mark that NFC left standing after a plain ASCII character
// (or at the start): had a precomposed letter existed NFC would have used it, so such a mark
// only decorates a letter that reads as the plain one ("i" + U+0307, from the dotted İ, shows
// as "i" in most fonts).
func detachedMark(s string) bool {
	prev := rune(0)
	for _, r := range s {
		if unicode.In(r, unicode.Mn, unicode.Me) && prev < utf8.RuneSelf {
			return true
		}
		prev = r
	}
	return false
}

// scriptSets are the scripts one local part may combine, as Unicode TS #39 allows at its
// "highly restrictive" level: one script alone, or Latin with the scripts Japanese, Chinese and
// Korean are written in together. Common characters (digits, ".", "+", "-") and inherited
// ones (combining marks) go with any script.
var scriptSets = [][]*unicode.RangeTable{
	{unicode.Latin, unicode.Han, unicode.Hiragana, unicode.Katakana},
	{unicode.Latin, unicode.Han, unicode.Bopomofo},
	{unicode.Latin, unicode.Han, unicode.Hangul},
}

// mixedScripts reports whether s uses letters of scripts that no one writes together, such as
// Latin and Cyrillic or Greek: their look-alikes make one address pass for another.
func mixedScripts(s string) bool {
	var seen []*unicode.RangeTable
	for _, r := range s {
		if sc := scriptOf(r); sc != nil && !slices.Contains(seen, sc) {
			seen = append(seen, sc)
		}
	}
	if len(seen) <= 1 {
		return false
	}
	for _, set := range scriptSets {
		if !slices.ContainsFunc(seen, func(t *unicode.RangeTable) bool { return !slices.Contains(set, t) }) {
			return false // every script seen is in this set
		}
	}
	return true
}

// scriptOf returns the script of r, or nil for Common and Inherited characters.
func scriptOf(r rune) *unicode.RangeTable {
	switch {
	case r < utf8.RuneSelf:
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			return unicode.Latin
		}
		return nil
	case unicode.In(r, unicode.Common, unicode.Inherited):
		return nil
	}
	for _, t := range unicode.Scripts {
		if unicode.Is(t, r) {
			return t
		}
	}
	return nil
}
