package config

import (
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	cfg, err := Load(getenv(nil))
	if err != nil {
		t.Fatalf("Load(no env) = %v", err)
	}
	if cfg.Addr != ":8080" || cfg.Database != (Database{Dialect: "sqlite", DSN: "./sessiond.db"}) || cfg.DefaultPlan != "standard" ||
		!cfg.RegistrationOpen() || cfg.SessionIdleTimeout != 336*time.Hour || cfg.SessionAbsoluteTimeout != 720*time.Hour ||
		cfg.PurgeSchedule != "@every 5m" || cfg.RevokedRetention != 168*time.Hour || !cfg.CookieSecure ||
		len(cfg.TrustedProxies) != 0 || cfg.LogFormat != "json" || cfg.LogLevel != slog.LevelInfo || cfg.SessionTouchInterval != 0 || cfg.CacheTTL != 10*time.Minute || cfg.CacheSize != 200_000 ||
		cfg.HashQueue != 64 || cfg.HTTPReadHeaderTimeout != 5*time.Second || cfg.HTTPIdleTimeout != 2*time.Minute {
		t.Errorf("Load(no env) = %+v, want the defaults of DESIGN.md", cfg)
	}
}

func TestValues(t *testing.T) {
	cfg, err := Load(getenv(map[string]string{
		"SESSIOND_DATABASE_URL":    "postgres://u@db:5432/sessiond",
		"SESSIOND_REGISTRATION":    "closed",
		"SESSIOND_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7,2001:db8::1,::ffff:198.51.100.9",
		"SESSIOND_LOG_LEVEL":       "WARN",
		"SESSIOND_COOKIE_SECURE":   "false",
		"SESSIOND_PURGE_SCHEDULE":  "*/10 * * * *",
	}))
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	if cfg.Database != (Database{Dialect: Postgres, DSN: "postgres://u@db:5432/sessiond"}) || cfg.RegistrationOpen() || cfg.CookieSecure || cfg.LogLevel != slog.LevelWarn {
		t.Errorf("Load() = %+v", cfg)
	}
	// A bare address is a network of one; an IPv4 address written in IPv6 is the IPv4 one.
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("2001:db8::1/128"), netip.MustParsePrefix("198.51.100.9/32")}
	if !slices.Equal(cfg.TrustedProxies, want) {
		t.Errorf("Load() TrustedProxies = %v, want %v", cfg.TrustedProxies, want)
	}
}

func TestAllErrorsAtOnce(t *testing.T) {
	_, err := Load(getenv(map[string]string{
		"SESSIOND_DATABASE_URL":          "mysql://x",
		"SESSIOND_REGISTRATION":          "maybe",
		"SESSIOND_SESSION_IDLE_TIMEOUT":  "-1h",
		"SESSIOND_REVOKED_RETENTION":     "a week",
		"SESSIOND_PURGE_SCHEDULE":        "sometimes",
		"SESSIOND_TRUSTED_PROXIES":       "not-an-ip",
		"SESSIOND_LOG_FORMAT":            "xml",
		"SESSIOND_LOG_LEVEL":             "loud",
		"SESSIOND_COOKIE_SECURE":         "perhaps",
		"SESSIOND_BOOTSTRAP_ADMIN_EMAIL": "root@example.com",
		"SESSIOND_LOGIN_FREE_FAILURES":   "10",
		"SESSIOND_LOGIN_LOCK_AFTER":      "3",
		"SESSIOND_LOGIN_RATE_PER_IP":     "-1",
		"SESSIOND_LOGIN_MAX_DELAY":       "0s",
		"SESSIOND_HASH_QUEUE":            "-1",
	}))
	if err == nil {
		t.Fatal("Load(bad env) = nil, want errors")
	}
	var want []string
	for _, name := range []string{"DATABASE_URL", "REGISTRATION", "SESSION_IDLE_TIMEOUT", "REVOKED_RETENTION",
		"PURGE_SCHEDULE", "TRUSTED_PROXIES", "LOG_FORMAT", "LOG_LEVEL", "COOKIE_SECURE", "BOOTSTRAP_ADMIN_EMAIL",
		"LOGIN_LOCK_AFTER", "LOGIN_RATE_PER_IP", "LOGIN_MAX_DELAY", "HASH_QUEUE"} {
		want = append(want, "SESSIOND_"+name)
	}
	// Each variable once: a value that cannot be parsed is not also reported as invalid.
	if got := problemVars(t, err); !sameSet(got, want) {
		t.Errorf("Load(bad env) reports %v, want exactly %v", got, want)
	}
	var one *Error
	if !errors.As(err, &one) || one.Var == "" || one.Err == nil {
		t.Errorf("errors.As(Load(bad env), *Error) = %+v, want a problem naming its variable", one)
	}
}

func TestOIDCProviders(t *testing.T) {
	cfg, err := Load(getenv(map[string]string{
		"SESSIOND_OIDC_PROVIDERS":            "google, corp",
		"SESSIOND_OIDC_GOOGLE_ISSUER":        "https://accounts.google.com",
		"SESSIOND_OIDC_GOOGLE_CLIENT_ID":     "web-client",
		"SESSIOND_OIDC_GOOGLE_CLIENT_SECRET": "s3cret",
		"SESSIOND_OIDC_GOOGLE_REDIRECT_URL":  "https://tv.example/v1/auth/oidc/google/callback",
		"SESSIOND_OIDC_CORP_ISSUER":          "http://127.0.0.1:9000/oidc",
		"SESSIOND_OIDC_CORP_CLIENT_ID":       "corp",
		"SESSIOND_OIDC_CORP_REDIRECT_URL":    "http://localhost:8080/v1/auth/oidc/corp/callback",
		"SESSIOND_OIDC_CORP_SCOPES":          "openid,email",
		"SESSIOND_OIDC_CORP_LINK_BY_EMAIL":   "true",
		"SESSIOND_OIDC_CORP_LABEL":           "Corporate sign-in",
	}))
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	if len(cfg.OIDC) != 2 {
		t.Fatalf("OIDC = %+v, want google and corp", cfg.OIDC)
	}
	g, c := cfg.OIDC[0], cfg.OIDC[1]
	if g.Name != "google" || g.Label != "Google" || g.ClientSecret != "s3cret" || strings.Join(g.Scopes, " ") != "openid email profile" || g.LinkByEmail {
		t.Errorf("google = %+v", g)
	}
	if c.Name != "corp" || c.Label != "Corporate sign-in" || strings.Join(c.Scopes, " ") != "openid email" || !c.LinkByEmail {
		t.Errorf("corp = %+v", c)
	}
}

func TestOIDCMisconfigurationNamesTheProvider(t *testing.T) {
	_, err := Load(getenv(map[string]string{
		"SESSIOND_OIDC_PROVIDERS":            "good,broken,Bad-Name,good",
		"SESSIOND_OIDC_GOOD_ISSUER":          "https://id.example",
		"SESSIOND_OIDC_GOOD_CLIENT_ID":       "x",
		"SESSIOND_OIDC_GOOD_REDIRECT_URL":    "https://tv.example/v1/auth/oidc/good/callback",
		"SESSIOND_OIDC_BROKEN_ISSUER":        "http://id.example", // plain HTTP off loopback
		"SESSIOND_OIDC_BROKEN_REDIRECT_URL":  "https://tv.example/v1/auth/oidc/good/callback",
		"SESSIOND_OIDC_BROKEN_SCOPES":        "email",
		"SESSIOND_OIDC_BROKEN_LINK_BY_EMAIL": "sometimes",
	}))
	if err == nil {
		t.Fatal("Load(bad providers) = nil, want errors")
	}
	want := []string{"SESSIOND_OIDC_PROVIDERS", "SESSIOND_OIDC_BROKEN_LINK_BY_EMAIL"}
	if got := problemVars(t, err); !sameSet(got, want) {
		t.Errorf("Load(bad providers) reports %v, want exactly %v", got, want)
	}
	if got := providers(t, err); !sameSet(got, []string{"", "broken"}) {
		t.Errorf("Load(bad providers) names providers %q, want broken (and none for the list's own problems)", got)
	}
	_, err = Load(getenv(map[string]string{
		"SESSIOND_OIDC_PROVIDERS":           "broken",
		"SESSIOND_OIDC_BROKEN_ISSUER":       "http://id.example",
		"SESSIOND_OIDC_BROKEN_REDIRECT_URL": "https://tv.example/v1/auth/oidc/good/callback",
		"SESSIOND_OIDC_BROKEN_SCOPES":       "email",
	}))
	want = []string{"SESSIOND_OIDC_BROKEN_ISSUER", "SESSIOND_OIDC_BROKEN_CLIENT_ID", "SESSIOND_OIDC_BROKEN_REDIRECT_URL", "SESSIOND_OIDC_BROKEN_SCOPES"}
	if got := problemVars(t, err); !sameSet(got, want) || !sameSet(providers(t, err), []string{"broken"}) {
		t.Errorf("Load(broken provider) reports %v of %v, want exactly %v of broken", got, providers(t, err), want)
	}
}

func TestDeviceKeyAndFreshSessionSettings(t *testing.T) {
	cfg, err := Load(getenv(nil))
	if err != nil || cfg.DeviceKeyTTL != 90*24*time.Hour || cfg.FreshSessionAge != 24*time.Hour {
		t.Fatalf("Load(no env) = device key TTL %s, fresh session age %s, %v; want 2160h and 24h", cfg.DeviceKeyTTL, cfg.FreshSessionAge, err)
	}
	if cfg, err := Load(getenv(map[string]string{"SESSIOND_FRESH_SESSION_AGE": "0"})); err != nil || cfg.FreshSessionAge != 0 {
		t.Errorf("Load(FRESH_SESSION_AGE=0) = %s, %v; want the rule off", cfg.FreshSessionAge, err)
	}
	_, err = Load(getenv(map[string]string{"SESSIOND_FRESH_SESSION_AGE": "-1h", "SESSIOND_DEVICE_KEY_TTL": "0s"}))
	if got, want := problemVars(t, err), []string{"SESSIOND_FRESH_SESSION_AGE", "SESSIOND_DEVICE_KEY_TTL"}; !sameSet(got, want) {
		t.Errorf("Load(bad fresh session age, device key TTL) reports %v, want %v", got, want)
	}
}

// problemVars returns the variables err's problems concern; err must be Load's Errors.
func problemVars(t *testing.T, err error) []string {
	t.Helper()
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Load() = %v, want config.Errors", err)
	}
	return errs.Vars()
}

// providers returns the providers err's problems name ("" for none), each once.
func providers(t *testing.T, err error) []string {
	t.Helper()
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Load() = %v, want config.Errors", err)
	}
	var out []string
	for _, e := range errs {
		if !slices.Contains(out, e.Provider) {
			out = append(out, e.Provider)
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestPublicURL(t *testing.T) {
	for _, c := range []struct {
		value string
		ok    bool
		want  string
	}{
		{"", true, "http://localhost:8080"},
		{"https://tv.example.com/base", true, "https://tv.example.com/base"},
		{"ftp://x", false, ""},
		{"https://x/?a=1", false, ""},
		{"/relative", false, ""},
	} {
		cfg, err := Load(func(k string) string {
			if k == Prefix+"PUBLIC_URL" {
				return c.value
			}
			return ""
		})
		if (err == nil) != c.ok || (c.ok && cfg.PublicURL.String() != c.want) {
			t.Errorf("Load(PUBLIC_URL=%q) = %q, %v; want ok %v, %q", c.value, cfg.PublicURL.String(), err, c.ok, c.want)
		}
	}
}
