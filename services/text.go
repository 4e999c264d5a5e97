package services

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/sessiond/sessiond/models"
)

// Text that people read (device names, display names, plan and client names) has one spelling
// and shows what it holds: it cannot reorder itself or hide characters.

// hiddenRune reports a character that is invisible or changes how the text around it is shown:
// controls (Cc); every format character (Cf), which holds the bidi embeddings, overrides,
// isolates and marks (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C), the zero-width
// space and joiners (U+200B–U+200D), the word joiner (U+2060), the byte order mark (U+FEFF),
// the soft hyphen and the tag characters; line and paragraph separators; and the other
// default-ignorable code points (the Hangul fillers that make a name look blank).
//
// All of Cf, not a list: a list misses the next one. The cost is that text needing a joiner
// (a Persian name written with U+200C, an emoji sequence joined by U+200D) is refused too.
// Variation selectors stay allowed in display text: they only choose how an emoji is drawn.
func hiddenRune(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Other_Default_Ignorable_Code_Point)
}

// refuseHidden returns a *models.ValidationError for field, saying problem and naming the first
// character of s that hidden reports, if there is one.
func refuseHidden(field, s string, hidden func(rune) bool, problem string) error {
	if i := strings.IndexFunc(s, hidden); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return models.Invalid(field, fmt.Sprintf("%s (U+%04X)", problem, r))
	}
	return nil
}

// cleanText returns s as it is stored and shown to people: trimmed and in NFC, so that one name
// has one spelling. It returns a *models.ValidationError for field when s is not UTF-8, holds a
// character hiddenRune reports, or is longer than maxLen characters.
func cleanText(field, s string, maxLen int) (string, error) {
	if !utf8.ValidString(s) {
		return "", models.Invalid(field, "is not valid UTF-8")
	}
	s = norm.NFC.String(strings.TrimSpace(s))
	if err := refuseHidden(field, s, hiddenRune, "contains an invisible, control or direction-changing character"); err != nil {
		return "", err
	}
	if utf8.RuneCountInString(s) > maxLen {
		return "", models.Invalid(field, fmt.Sprintf("must be at most %d characters", maxLen))
	}
	return s, nil
}

// cleanName is cleanText for a name that must not be empty.
func cleanName(field, s string, maxLen int) (string, error) {
	s, err := cleanText(field, s, maxLen)
	if err == nil && s == "" {
		err = models.Invalid(field, fmt.Sprintf("must be 1 to %d characters", maxLen))
	}
	return s, err
}

// nameKey spells a name being looked up as cleanText stored it.
func nameKey(s string) string { return norm.NFC.String(strings.TrimSpace(s)) }

// validateDevice checks the device a client sends, in the spelling it is stored, and fills in
// defaults. Every way in (login, the web form, OIDC, a login held at the limit, which stores
// what this returned) comes through here.
func validateDevice(d models.Device) (models.Device, error) {
	if d.Type == "" {
		d.Type = "other"
	}
	v := &models.ValidationError{Fields: map[string]string{}}
	var err error
	if d.Name, err = cleanText("device.name", d.Name, MaxDeviceNameLen); err != nil {
		v.Fields["device.name"] = err.(*models.ValidationError).Fields["device.name"]
	} else if d.Name == "" {
		d.Name = defaultDevice
	}
	if d.ID, err = cleanText("device.id", d.ID, MaxDeviceIDLen); err != nil {
		v.Fields["device.id"] = err.(*models.ValidationError).Fields["device.id"]
	}
	if !d.Type.Valid() {
		v.Fields["device.type"] = "must be one of tv, mobile, tablet, web, desktop, console, other"
	}
	if len(v.Fields) > 0 {
		return models.Device{}, v
	}
	return d, nil
}

// cleanHeader makes a header value (the User-Agent) safe to store and show: valid UTF-8, every
// character hiddenRune reports (a NUL, a right-to-left override) replaced by U+FFFD so that the
// tampering shows, at most maxBytes.
func cleanHeader(s string, maxBytes int) string {
	s = strings.Map(func(r rune) rune {
		if hiddenRune(r) {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	for len(s) > maxBytes {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}
