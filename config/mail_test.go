package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/config"
)

func loadWith(t *testing.T, vars map[string]string) (config.Config, error) {
	t.Helper()
	return config.Load(func(k string) string { return vars[k] })
}

func TestMailDefaults(t *testing.T) {
	cfg, err := loadWith(t, nil)
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	m := cfg.Mail
	if m.SMTP.Enabled() || m.MaxAttempts != 10 || m.RetryBase.String() != "30s" || m.RetryMax.String() != "1h0m0s" ||
		m.PollInterval.String() != "2s" || m.SendTimeout.String() != "30s" {
		t.Fatalf("Load().Mail = %+v, want no SMTP and the documented defaults", m)
	}
}

func TestSMTPURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want config.SMTP
	}{
		{"smtp://mail.example.com", config.SMTP{Host: "mail.example.com", Port: 587, StartTLS: "required"}},
		{"smtp://u%40x:p%3Ass@mail.example.com:2525", config.SMTP{Host: "mail.example.com", Port: 2525, Username: "u@x", Password: "p:ss", StartTLS: "required"}},
		{"smtps://u:p@mail.example.com", config.SMTP{Host: "mail.example.com", Port: 465, Username: "u", Password: "p", ImplicitTLS: true, StartTLS: "required"}},
		{"smtp://127.0.0.1:1025", config.SMTP{Host: "127.0.0.1", Port: 1025, StartTLS: "opportunistic"}},
		{"smtp://localhost:1025?starttls=required", config.SMTP{Host: "localhost", Port: 1025, StartTLS: "required"}},
		{"smtp://relay.internal:25?starttls=none", config.SMTP{Host: "relay.internal", Port: 25, StartTLS: "none"}},
	} {
		cfg, err := loadWith(t, map[string]string{"SESSIOND_SMTP_URL": tc.url, "SESSIOND_MAIL_FROM": "Example <no-reply@example.com>"})
		if err != nil {
			t.Errorf("Load(SMTP_URL=%s) = %v", tc.url, err)
			continue
		}
		if cfg.Mail.SMTP != tc.want {
			t.Errorf("Load(SMTP_URL=%s).Mail.SMTP = %+v, want %+v", tc.url, cfg.Mail.SMTP, tc.want)
		}
		if strings.Contains(cfg.Mail.SMTP.String(), "p:ss") || (tc.want.Password != "" && strings.Contains(cfg.Mail.SMTP.String(), ":"+tc.want.Password+"@")) {
			t.Errorf("SMTP.String() = %q shows the password", cfg.Mail.SMTP.String())
		}
	}
}

func TestMailInvalid(t *testing.T) {
	for _, tc := range []struct {
		vars    map[string]string
		wantVar string
	}{
		{map[string]string{"SESSIOND_SMTP_URL": "http://mail.example.com", "SESSIOND_MAIL_FROM": "a@example.com"}, "SESSIOND_SMTP_URL"},
		{map[string]string{"SESSIOND_SMTP_URL": "smtp://", "SESSIOND_MAIL_FROM": "a@example.com"}, "SESSIOND_SMTP_URL"},
		{map[string]string{"SESSIOND_SMTP_URL": "smtp://h:99999", "SESSIOND_MAIL_FROM": "a@example.com"}, "SESSIOND_SMTP_URL"},
		{map[string]string{"SESSIOND_SMTP_URL": "smtp://h?starttls=maybe", "SESSIOND_MAIL_FROM": "a@example.com"}, "SESSIOND_SMTP_URL"},
		{map[string]string{"SESSIOND_SMTP_URL": "smtps://h?starttls=none", "SESSIOND_MAIL_FROM": "a@example.com"}, "SESSIOND_SMTP_URL"},
		{map[string]string{"SESSIOND_SMTP_URL": "smtp://mail.example.com"}, "SESSIOND_MAIL_FROM"},
		{map[string]string{"SESSIOND_MAIL_FROM": "not an address"}, "SESSIOND_MAIL_FROM"},
		{map[string]string{"SESSIOND_MAIL_MAX_ATTEMPTS": "0"}, "SESSIOND_MAIL_MAX_ATTEMPTS"},
		{map[string]string{"SESSIOND_MAIL_MAX_ATTEMPTS": "many"}, "SESSIOND_MAIL_MAX_ATTEMPTS"},
		{map[string]string{"SESSIOND_MAIL_RETRY_BASE": "0s"}, "SESSIOND_MAIL_RETRY_BASE"},
		{map[string]string{"SESSIOND_MAIL_RETRY_BASE": "2h"}, "SESSIOND_MAIL_RETRY_MAX"},
	} {
		_, err := loadWith(t, tc.vars)
		var errs config.Errors
		if !errors.As(err, &errs) {
			t.Errorf("Load(%v) = %v, want config.Errors", tc.vars, err)
			continue
		}
		found := false
		for _, e := range errs {
			found = found || e.Var == tc.wantVar
		}
		if !found {
			t.Errorf("Load(%v) = %v, want an error about %s", tc.vars, err, tc.wantVar)
		}
	}
}
