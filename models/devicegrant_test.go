package models

import (
	"testing"
	"time"
)

func TestNormalizeUserCode(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"BDWP-HQPK", "BDWPHQPK", true},
		{"bdwphqpk", "BDWPHQPK", true},
		{" bdwp hqpk ", "BDWPHQPK", true},
		{"Bd-Wp-Hq-Pk", "BDWPHQPK", true},
		{"BDWP-HQP", "", false},     // too short
		{"BDWP-HQPKB", "", false},   // too long
		{"BDWA-HQPK", "", false},    // a vowel
		{"BDW1-HQPK", "", false},    // a digit
		{"BDWＰ-HQPK", "", false},    // full width
		{"BDWPHQPK\x00", "", false}, // a NUL
	} {
		if got, ok := NormalizeUserCode(c.in); got != c.want || ok != c.ok {
			t.Errorf("NormalizeUserCode(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestDecidePoll(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { x := now.Add(d); return &x }
	sid := "s"
	base := DeviceAuthorization{ExpiresAt: now.Add(time.Minute), IntervalSeconds: 5}
	with := func(f func(a *DeviceAuthorization)) DeviceAuthorization { a := base; f(&a); return a }
	for _, c := range []struct {
		name string
		a    DeviceAuthorization
		want PollDecision
	}{
		{"first poll", base, PollPending},
		{"after the interval", with(func(a *DeviceAuthorization) { a.LastPolledAt = at(-5 * time.Second) }), PollPending},
		{"within the jitter allowance", with(func(a *DeviceAuthorization) { a.LastPolledAt = at(-4100 * time.Millisecond) }), PollPending},
		{"an immediate resend", with(func(a *DeviceAuthorization) { a.LastPolledAt = at(-10 * time.Millisecond) }), PollResent},
		{"a second resend", with(func(a *DeviceAuthorization) { a.LastPolledAt, a.Resent = at(-10*time.Millisecond), true }), PollSlowDown},
		{"too soon, no resend", with(func(a *DeviceAuthorization) { a.LastPolledAt = at(-3 * time.Second) }), PollSlowDown},
		{"expired", with(func(a *DeviceAuthorization) { a.ExpiresAt = now }), PollExpired},
		{"denied", with(func(a *DeviceAuthorization) { a.DeniedAt = at(0) }), PollDenied},
		{"approved", with(func(a *DeviceAuthorization) { a.SessionID = &sid }), PollIssue},
		{"approved, polled late", with(func(a *DeviceAuthorization) { a.SessionID, a.ExpiresAt = &sid, now }), PollIssue},
		{"spent", with(func(a *DeviceAuthorization) { a.SessionID, a.IssuedAt = &sid, at(0) }), PollExpired},
	} {
		if got := DecidePoll(c.a, now); got != c.want {
			t.Errorf("DecidePoll(%s) = %v, want %v", c.name, got, c.want)
		}
	}
}
