package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/services/store"
)

// TestUsersCollisions: `sessiond users collisions` says when every stored email is in its one
// spelling, and otherwise lists each address with its accounts, stored spellings quoted in
// ASCII so that a look-alike shows as what it is. The colliding row is written as a process of
// the previous version would have, after the migration ran.
func TestUsersCollisions(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	env := map[string]string{"SESSIOND_DATABASE_URL": "sqlite://" + path}
	if code, out, stderr := runCmd(ctx, env, "ann password 1\n", "admin", "create", "--email", "ann@example.com"); code != 0 {
		t.Fatalf("admin create = %d %q %q", code, out, stderr)
	}
	if code, out, stderr := runCmd(ctx, env, "", "users", "collisions"); code != 0 || !strings.Contains(out, "no collisions") {
		t.Fatalf("users collisions = %d %q %q, want 0 and no collisions", code, out, stderr)
	}
	db, err := store.Open("sqlite", path, store.Options{MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Exec(`INSERT INTO users (id, email, password_hash, display_name, role, plan_id, created_at, updated_at)
SELECT '01a22306-9f95-7682-a7fb-f3fb9ac77e29', 'ａnn@example.com', '', '', 'user', id, created_at, created_at FROM plans WHERE name = 'standard'`).Error
	if sqlDB, _ := db.DB(); sqlDB != nil {
		sqlDB.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCmd(ctx, env, "", "users", "collisions")
	for _, want := range []string{"ann@example.com: 2 accounts", `"ann@example.com"`, `01a22306-9f95-7682-a7fb-f3fb9ac77e29`, `"\uff41nn@example.com"`} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("users collisions = %d %q %q, want 0 and %s", code, out, stderr, want)
		}
	}
}

// TestLastAdminOnTheCommandLine: `users set-role` and `users disable` refuse, with a message
// and a non-zero exit, to leave no enabled admin; with two admins they pass.
func TestLastAdminOnTheCommandLine(t *testing.T) {
	ctx := context.Background()
	env := map[string]string{"SESSIOND_DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "s.db")}
	steps := []struct {
		stdin string
		args  []string
		ok    bool
		want  string // in stdout when ok, in stderr otherwise
	}{
		{"op password 1\n", []string{"admin", "create", "--email", "op@example.com"}, true, "created"},
		{"", []string{"users", "set-role", "op@example.com", "user"}, false, "the last enabled admin cannot be demoted or disabled"},
		{"", []string{"users", "disable", "OP@example.com"}, false, "the last enabled admin cannot be demoted or disabled"},
		{"two password 2\n", []string{"admin", "create", "--email", "two@example.com"}, true, "created"},
		{"", []string{"users", "set-role", "op@example.com", "user"}, true, "user op@example.com is now user"},
		{"", []string{"users", "disable", "two@example.com"}, false, "the last enabled admin cannot be demoted or disabled"},
		{"", []string{"users", "set-role", "op@example.com", "admin"}, true, "user op@example.com is now admin"},
		{"", []string{"users", "disable", "two@example.com"}, true, "two@example.com disabled"},
		{"", []string{"users", "enable", "two@example.com"}, true, "two@example.com enabled"},
		{"", []string{"users", "set-role", "two@example.com", "root"}, false, "role"},
	}
	for _, s := range steps {
		code, out, stderr := runCmd(ctx, env, s.stdin, s.args...)
		if got := map[bool]string{true: out, false: stderr}[s.ok]; (code == 0) != s.ok || !strings.Contains(got, s.want) {
			t.Errorf("sessiond %s = %d %q %q, want success %v with %q", strings.Join(s.args, " "), code, out, stderr, s.ok, s.want)
		}
	}
}
