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
		len(cfg.TrustedProxies) != 0 || cfg.LogFormat != "json" || cfg.LogLevel != "info" || cfg.SessionTouchInterval != time.Minute {
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
	}))
	if err == nil {
		t.Fatal("Load(bad env) = nil, want errors")
	}
	for _, name := range []string{"DATABASE_URL", "REGISTRATION", "SESSION_IDLE_TIMEOUT", "REVOKED_RETENTION",
		"PURGE_SCHEDULE", "TRUSTED_PROXIES", "LOG_FORMAT", "LOG_LEVEL", "COOKIE_SECURE", "BOOTSTRAP_ADMIN_EMAIL",
		"LOGIN_LOCK_AFTER", "LOGIN_RATE_PER_IP", "LOGIN_MAX_DELAY"} {
		if !strings.Contains(err.Error(), "SESSIOND_"+name) {
			t.Errorf("Load(bad env) error does not name SESSIOND_%s:\n%v", name, err)
		}
	}
}
