package services_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

// emailCases is the table of issue 19: the spellings that used to register as separate accounts
// that look alike, and what each answers now. want is the stored spelling; refused, the start
// of the problem reported on field "email".
var emailCases = []struct {
	name, in, want, refused string
}{
	{"plain", "ann@example.com", "ann@example.com", ""},
	{"case and spaces", "  Ann@Example.COM ", "ann@example.com", ""},
	{"fullwidth letter", "ａnn@example.com", "ann@example.com", ""},
	{"fullwidth everything (IME)", "ＡＮＮ＠ｅｘａｍｐｌｅ．ｃｏｍ", "ann@example.com", ""},
	{"NFD accent", "a\u0301nn@example.com", "\u00e1nn@example.com", ""},
	{"NFC accent, upper case", "\u00c1NN@example.com", "\u00e1nn@example.com", ""},
	{"Kelvin sign folds to k", "\u212Ann@example.com", "knn@example.com", ""},
	{"sharp s folds to ss", "Straße@example.com", "strasse@example.com", ""},
	{"long s folds to s", "\u017Fam@example.com", "sam@example.com", ""},
	{"Greek alone, final sigma folded", "ΣΑΣ@example.gr", "σασ@example.gr", ""},
	{"Japanese: Han with Hiragana", "山田たろう@example.jp", "山田たろう@example.jp", ""},
	{"Latin with Han", "taro山田@example.jp", "taro山田@example.jp", ""},
	{"common characters with Cyrillic", "иван.1+2@example.ru", "иван.1+2@example.ru", ""},
	{"Unicode domain in ASCII form", "ann@EXÄMPLE.de", "ann@xn--exmple-cua.de", ""},
	{"ASCII form of the domain", "ann@xn--exmple-cua.de", "ann@xn--exmple-cua.de", ""},
	{"Cyrillic a in a Latin domain shows as xn--", "ann@ex\u0430mple.com", "ann@xn--exmple-4nf.com", ""},
	{"tag kept", "ann+tv@example.com", "ann+tv@example.com", ""},
	// Whole-script look-alikes are not caught: every letter Cyrillic, one script (README).
	{"all-Cyrillic look-alike", "\u0430\u0441\u0435@example.com", "\u0430\u0441\u0435@example.com", ""},

	{"zero-width space after", "ann@example.com\u200b", "", "contains an invisible or control character (U+200B)"},
	{"zero-width joiner inside", "an\u200dn@example.com", "", "contains an invisible or control character (U+200D)"},
	{"right-to-left override", "ann\u202e@example.com", "", "contains an invisible or control character (U+202E)"},
	{"soft hyphen in the domain", "ann@exam\u00adple.com", "", "contains an invisible or control character (U+00AD)"},
	{"variation selector", "ann\ufe0f@example.com", "", "contains an invisible or control character (U+FE0F)"},
	{"Hangul filler", "\u3164@example.com", "", "contains an invisible or control character (U+3164)"},
	{"NUL", "a\x00nn@example.com", "", "contains an invisible or control character (U+0000)"},
	{"Cyrillic a among Latin", "\u0430nn@example.com", "", "mixes letters of different scripts"},
	{"Greek omicron among Latin", "p\u03bfp@example.com", "", "mixes letters of different scripts"},
	{"Cyrillic with Greek", "\u0430\u03b1@example.com", "", "mixes letters of different scripts"},
	{"dotted capital I folds to i + U+0307", "\u0130nn@example.com", "", "has an accent that stands apart"},
	{"i + combining dot typed as such", "i\u0307nn@example.com", "", "has an accent that stands apart"},
	{"empty", "  ", "", "is required"},
	{"display name form", "Ann <ann@example.com>", "", "contains a character not allowed"},
	{"quoted local part", `"ann"@example.com`, "", "is not an email address"},
	{"two dots", "a..nn@example.com", "", "is not an email address"},
	{"no local part", "@example.com", "", "is not an email address"},
	{"domain literal", "ann@[127.0.0.1]", "", "has a domain that is not a valid host name"},
	{"underscore in the domain", "ann@ex_ample.com", "", "has a domain that is not a valid host name"},
	{"punycode that decodes to nothing valid", "ann@xn--abc-.com", "", "has a domain that is not a valid host name"},
	{"too long", strings.Repeat("a", 250) + "@example.com", "", "must be at most 254 bytes"},
}

func TestNormalizeEmail(t *testing.T) {
	for _, c := range emailCases {
		got, err := services.NormalizeEmail(c.in)
		var invalid *models.ValidationError
		switch {
		case c.refused == "" && (err != nil || got != c.want):
			t.Errorf("%s: NormalizeEmail(%+q) = %+q, %v; want %+q", c.name, c.in, got, err, c.want)
		case c.refused != "" && (!errors.As(err, &invalid) || !strings.HasPrefix(invalid.Fields["email"], c.refused)):
			t.Errorf("%s: NormalizeEmail(%+q) = %+q, %v; want email %q…", c.name, c.in, got, err, c.refused)
		case c.refused == "":
			if again, err := services.NormalizeEmail(got); again != got || err != nil {
				t.Errorf("%s: NormalizeEmail(%+q) = %+q, %v; want its own output back", c.name, got, again, err)
			}
		}
	}
}

// TestOneAccountPerAddress: every spelling of an address reaches the one account, through
// sign-up (taken), login, the account throttle, the admin lookup and the command line's lookup;
// a refused spelling is 400 at sign-up and, at login, the same 401 after the same single key
// derivation as an unknown account.
func TestOneAccountPerAddress(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			ctx := context.Background()
			e := newThrottled(t, store, accountOnly())
			domain := randomSuffix() + ".example.com"
			ann, err := e.users.Register(ctx, models.RegisterParams{Email: "ann@" + domain, Password: testPassword})
			if err != nil {
				t.Fatalf("Register(ann) = %v", err)
			}
			for _, spelling := range []string{"Ann@" + strings.ToUpper(domain), "ａnn@" + domain, "ＡＮＮ＠" + domain, " ann@" + domain + " "} {
				if _, err := e.users.Register(ctx, models.RegisterParams{Email: spelling, Password: testPassword}); !errors.Is(err, models.ErrConflict) {
					t.Errorf("Register(%+q) = %v, want ErrConflict: the address is taken", spelling, err)
				}
				if res, err := e.sessions.Login(ctx, models.LoginParams{Email: spelling, Password: testPassword}); err != nil || res.User.ID != ann.ID {
					t.Errorf("Login(%+q) = user %q, %v; want ann (%s)", spelling, res.User.ID, err, ann.ID)
				}
				if u, err := e.users.GetByEmail(ctx, spelling); err != nil || u.ID != ann.ID {
					t.Errorf("GetByEmail(%+q) = %q, %v; want ann", spelling, u.ID, err)
				}
			}
			if found, _, err := e.users.List(ctx, models.UserFilter{EmailPrefix: "ＡＮＮ＠" + strings.ToUpper(domain)}, 10, ""); err != nil || len(found) != 1 || found[0].ID != ann.ID {
				t.Errorf("List(prefix in fullwidth capitals) = %v, %v; want ann alone", found, err)
			}
			for _, c := range emailCases {
				if c.refused == "" || !strings.HasSuffix(c.in, "@example.com") {
					continue
				}
				in := strings.TrimSuffix(c.in, "@example.com") + "@" + domain
				_, err := e.users.Register(ctx, models.RegisterParams{Email: in, Password: testPassword})
				var invalid *models.ValidationError
				if !errors.As(err, &invalid) || invalid.Fields["email"] == "" {
					t.Errorf("%s: Register(%+q) = %v, want invalid email", c.name, in, err)
				}
				before := e.hasher.Runs()
				if err := e.attempt(in, testPassword, ""); !errors.Is(err, models.ErrInvalidCredentials) || err.Error() != models.ErrInvalidCredentials.Error() {
					t.Errorf("%s: Login(%+q) = %v, want exactly ErrInvalidCredentials", c.name, in, err)
				}
				if runs := e.hasher.Runs() - before; runs != 1 {
					t.Errorf("%s: Login(%+q) ran the KDF %d times, want 1, as for an unknown account", c.name, in, runs)
				}
			}
		})
	}
}

// TestThrottleCountsEverySpellingAsOne: wrong passwords sent under different spellings of one
// address count toward one account's delay, so that spellings are no way around it.
func TestThrottleCountsEverySpellingAsOne(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			cfg := accountOnly()
			cfg.FreeFailures = 3
			e := newThrottled(t, store, cfg)
			u := e.register(t, nil)
			local, domain, _ := strings.Cut(u.Email, "@")
			for _, spelling := range []string{strings.ToUpper(u.Email), fullwidth(local) + "@" + domain, local + "＠" + strings.ToUpper(domain)} {
				if err := e.attempt(spelling, "wrong password", ""); !errors.Is(err, models.ErrInvalidCredentials) {
					t.Fatalf("Login(%+q, wrong) = %v, want ErrInvalidCredentials", spelling, err)
				}
			}
			if wait := retryAfter(t, e.attempt(u.Email, testPassword, "")); wait != cfg.BaseDelay {
				t.Errorf("after 3 failures in 3 spellings, Retry-After %s, want %s", wait, cfg.BaseDelay)
			}
		})
	}
}

// TestOIDCLinksEverySpelling: a provider's email in another spelling links to the account (it
// is the same address); one that NormalizeEmail refuses links to nothing and creates nothing.
func TestOIDCLinksEverySpelling(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			ctx := context.Background()
			e := newOIDCEnv(t, store, true, nil)
			u := markVerified(t, store.DB, e.register(t, nil))
			local, domain, _ := strings.Cut(u.Email, "@")
			tok := nativeIDToken(t, e.mock, person("sub-"+randomSuffix(), fullwidth(strings.ToUpper(u.Email)), true), "")
			if res, err := e.oidc.LoginWithIDToken(ctx, "linking", native(tok, "", "TV")); err != nil || res.User.ID != u.ID {
				t.Errorf("LoginWithIDToken(the email in fullwidth capitals) = user %q, %v; want %s linked", res.User.ID, err, u.ID)
			}
			users := func() (n int64) {
				if err := store.DB.Model(&models.User{}).Count(&n).Error; err != nil {
					t.Fatal(err)
				}
				return n
			}
			before := users()
			spoof := "\u0430" + local[1:] + "@" + domain
			tok = nativeIDToken(t, e.mock, person("sub-"+randomSuffix(), spoof, true), "")
			if _, err := e.oidc.LoginWithIDToken(ctx, "linking", native(tok, "", "TV")); !errors.Is(err, models.ErrEmailNotVerified) {
				t.Errorf("LoginWithIDToken(%+q) = %v, want ErrEmailNotVerified (no usable email)", spoof, err)
			}
			if after := users(); after != before {
				t.Errorf("accounts after the look-alike's sign-in = %d, want %d: it created none", after, before)
			}
		})
	}
}

// fullwidth spells the ASCII of s in its fullwidth forms, as an IME in fullwidth mode types it.
func fullwidth(s string) string {
	return strings.Map(func(r rune) rune {
		if '!' <= r && r <= '~' {
			return r + 0xFEE0
		}
		return r
	}, s)
}
