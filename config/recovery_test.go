package config

import (
	"strings"
	"testing"
)

func TestRecoverySettings(t *testing.T) {
	cfg, err := Load(getenv(nil))
	if err != nil {
		t.Fatalf("Load(no env) = %v", err)
	}
	if cfg.Recovery != (Recovery{EmailVerification: "optional"}) {
		t.Errorf("Load(no env).Recovery = %+v, want optional verification and no notices", cfg.Recovery)
	}
	cfg, err = Load(getenv(map[string]string{
		"SESSIOND_EMAIL_VERIFICATION": "required", "SESSIOND_NOTIFY_SIGNIN": "true", "SESSIOND_NOTIFY_EVICTION": "true",
	}))
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	if cfg.Recovery != (Recovery{EmailVerification: "required", NotifySignIn: true, NotifyEviction: true}) {
		t.Errorf("Load().Recovery = %+v, want required and both notices", cfg.Recovery)
	}
	_, err = Load(getenv(map[string]string{"SESSIOND_EMAIL_VERIFICATION": "sometimes"}))
	if err == nil || !strings.Contains(err.Error(), "SESSIOND_EMAIL_VERIFICATION") {
		t.Errorf("Load(EMAIL_VERIFICATION=sometimes) = %v, want an error naming the variable", err)
	}
}
