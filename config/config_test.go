package config

import (
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
	db, _ := cfg.Database()
	if cfg.Addr != ":8080" || db != (Database{Dialect: "sqlite", DSN: "./sessiond.db"}) || cfg.DefaultPlan != "standard" ||
		!cfg.RegistrationOpen() || cfg.SessionIdleTimeout != 336*time.Hour || cfg.SessionAbsoluteTimeout != 720*time.Hour ||
		cfg.PurgeSchedule != "@every 5m" || cfg.RevokedRetention != 168*time.Hour || !cfg.CookieSecure ||
		len(cfg.TrustedProxies) != 0 || cfg.LogFormat != "json" || cfg.LogLevel != "info" || cfg.SessionTouchInterval != time.Minute ||
		cfg.HashQueue != 64 {
		t.Errorf("Load(no env) = %+v, want the defaults of DESIGN.md", cfg)
	}
}

func TestValues(t *testing.T) {
	cfg, err := Load(getenv(map[string]string{
		"SESSIOND_DATABASE_URL":    "postgres://u@db:5432/sessiond",
		"SESSIOND_REGISTRATION":    "closed",
		"SESSIOND_TRUSTED_PROXIES": "10.0.0.0/8,192.0.2.7",
		"SESSIOND_COOKIE_SECURE":   "false",
		"SESSIOND_PURGE_SCHEDULE":  "*/10 * * * *",
	}))
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	db, _ := cfg.Database()
	if db.Dialect != "postgres" || cfg.RegistrationOpen() || cfg.CookieSecure || len(cfg.TrustedProxies) != 2 {
		t.Errorf("Load() = %+v", cfg)
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
	for _, name := range []string{"DATABASE_URL", "REGISTRATION", "SESSION_IDLE_TIMEOUT", "REVOKED_RETENTION",
		"PURGE_SCHEDULE", "TRUSTED_PROXIES", "LOG_FORMAT", "LOG_LEVEL", "COOKIE_SECURE", "BOOTSTRAP_ADMIN_EMAIL",
		"LOGIN_LOCK_AFTER", "LOGIN_RATE_PER_IP", "LOGIN_MAX_DELAY", "HASH_QUEUE"} {
		if !strings.Contains(err.Error(), "SESSIOND_"+name) {
			t.Errorf("Load(bad env) error does not name SESSIOND_%s:\n%v", name, err)
		}
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
	for _, want := range []string{`"Bad-Name"`, `"good" is listed twice`, "oidc provider broken"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Load(bad providers) error does not say %s:\n%v", want, err)
		}
	}
	_, err = Load(getenv(map[string]string{
		"SESSIOND_OIDC_PROVIDERS":           "broken",
		"SESSIOND_OIDC_BROKEN_ISSUER":       "http://id.example",
		"SESSIOND_OIDC_BROKEN_REDIRECT_URL": "https://tv.example/v1/auth/oidc/good/callback",
		"SESSIOND_OIDC_BROKEN_SCOPES":       "email",
	}))
	for _, name := range []string{"ISSUER", "CLIENT_ID", "REDIRECT_URL", "SCOPES"} {
		if err == nil || !strings.Contains(err.Error(), "oidc provider broken: SESSIOND_OIDC_BROKEN_"+name) {
			t.Errorf("Load(broken provider) error does not name SESSIOND_OIDC_BROKEN_%s:\n%v", name, err)
		}
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
	for _, name := range []string{"SESSIOND_FRESH_SESSION_AGE", "SESSIOND_DEVICE_KEY_TTL"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Load(bad %s) = %v, want an error naming it", name, err)
		}
	}
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
