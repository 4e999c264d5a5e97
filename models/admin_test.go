package models

import (
	"errors"
	"testing"
)

func TestAsAdmin(t *testing.T) {
	for _, c := range []struct {
		role    Role
		want    Admin
		wantErr error
	}{
		{RoleAdmin, Admin{ID: "u1"}, nil},
		{RoleUser, Admin{}, ErrForbidden},
		{"", Admin{}, ErrForbidden},
		{"Admin", Admin{}, ErrForbidden}, // roles are not case-insensitive
	} {
		got, err := Principal{User: User{ID: "u1", Role: c.role}}.AsAdmin()
		if got != c.want || !errors.Is(err, c.wantErr) {
			t.Errorf("Principal{role %q}.AsAdmin() = %+v, %v; want %+v, %v", c.role, got, err, c.want, c.wantErr)
		}
	}
}
