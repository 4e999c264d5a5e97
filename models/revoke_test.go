package models

import (
	"testing"
	"time"
)

func TestRevokeNeedsPassword(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(ago time.Duration) Session { return Session{CreatedAt: now.Add(-ago)} }
	for _, c := range []struct {
		name            string
		current, target Session
		freshAge        time.Duration
		want            bool
	}{
		{"fresh signs out an older one", at(time.Hour), at(2 * time.Hour), 24 * time.Hour, true},
		{"fresh signs out a newer one", at(time.Hour), at(time.Minute), 24 * time.Hour, false},
		{"signed in at the same instant", at(time.Hour), at(time.Hour), 24 * time.Hour, false},
		{"exactly the fresh age old", at(24 * time.Hour), at(48 * time.Hour), 24 * time.Hour, false},
		{"just under the fresh age", at(24*time.Hour - time.Microsecond), at(48 * time.Hour), 24 * time.Hour, true},
		{"the rule is off", at(time.Minute), at(48 * time.Hour), 0, false},
	} {
		if got := RevokeNeedsPassword(c.current, c.target, c.freshAge, now); got != c.want {
			t.Errorf("%s: RevokeNeedsPassword() = %v, want %v", c.name, got, c.want)
		}
	}
}
