package config

import (
	"errors"
	"testing"
)

func TestListenURL(t *testing.T) {
	const pooled, direct = "postgres://u@pgbouncer:6432/sessiond", "postgres://u@db1,db2/sessiond?target_session_attrs=read-write"
	cfg, err := Load(getenv(map[string]string{"SESSIOND_DATABASE_URL": pooled}))
	if err != nil || cfg.ListenDSN() != pooled {
		t.Fatalf("Load(no listen URL).ListenDSN() = %q, %v; want the database URL %q", cfg.ListenDSN(), err, pooled)
	}
	cfg, err = Load(getenv(map[string]string{"SESSIOND_DATABASE_URL": pooled, "SESSIOND_DATABASE_LISTEN_URL": direct}))
	if err != nil || cfg.ListenDSN() != direct || cfg.Database.DSN != pooled {
		t.Fatalf("Load(listen URL) = ListenDSN %q, DSN %q, %v; want %q and %q", cfg.ListenDSN(), cfg.Database.DSN, err, direct, pooled)
	}
	for name, env := range map[string]map[string]string{
		"not postgres": {"SESSIOND_DATABASE_URL": pooled, "SESSIOND_DATABASE_LISTEN_URL": "mysql://db"},
		"on sqlite":    {"SESSIOND_DATABASE_LISTEN_URL": direct},
	} {
		_, err := Load(getenv(env))
		var errs Errors
		if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Var != "SESSIOND_DATABASE_LISTEN_URL" {
			t.Errorf("%s: Load() = %v, want one error naming SESSIOND_DATABASE_LISTEN_URL", name, err)
		}
	}
}
