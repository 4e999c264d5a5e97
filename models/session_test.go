package models

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// sess returns a session created at t0+created seconds and last seen at t0+seen seconds.
func sess(id, deviceID string, created, seen int) Session {
	return Session{
		ID: id, DeviceID: deviceID,
		CreatedAt:  t0.Add(time.Duration(created) * time.Second),
		LastSeenAt: t0.Add(time.Duration(seen) * time.Second),
	}
}

func ids(ss []Session) string {
	out := ""
	for _, s := range ss {
		out += s.ID
	}
	return out
}

func TestAdmit(t *testing.T) {
	// a is oldest but seen most recently; c is newest.
	active := []Session{sess("a", "dev-a", 1, 30), sess("b", "dev-b", 2, 10), sess("c", "", 3, 20)}
	cases := []struct {
		name              string
		active            []Session
		deviceID, replace string
		limit             Limit
		replaced, evicted string
		limitErr          string // ids listed by DeviceLimitError, newest first
	}{
		{"room left", active, "", "", Limit{4, PolicyReject}, "", "", ""},
		{"no sessions, limit 1", nil, "", "", Limit{1, PolicyReject}, "", "", ""},
		{"evict oldest", active, "", "", Limit{3, PolicyEvictOldest}, "", "a", ""},
		{"evict least recent", active, "", "", Limit{3, PolicyEvictLeastRecent}, "", "b", ""},
		{"lowered limit evicts down to it", active, "", "", Limit{1, PolicyEvictOldest}, "", "abc", ""},
		{"reject lists newest first", active, "", "", Limit{3, PolicyReject}, "", "", "cba"},
		{"same device replaced, not counted", active, "dev-b", "", Limit{3, PolicyReject}, "b", "", ""},
		{"replace_session_id: the chosen one is evicted", active, "", "c", Limit{3, PolicyReject}, "", "c", ""},
		{"chosen first, then the policy", active, "", "a", Limit{2, PolicyEvictOldest}, "", "ab", ""},
		{"replace unknown id changes nothing", active, "", "zz", Limit{3, PolicyReject}, "", "", "cba"},
		{"same device and still over", active, "dev-a", "", Limit{1, PolicyEvictOldest}, "a", "bc", ""},
		{"limit below one acts as one", active, "", "", Limit{0, PolicyEvictOldest}, "", "abc", ""},
	}
	for _, tc := range cases {
		adm, err := Admit(tc.active, tc.deviceID, tc.replace, tc.limit)
		var le *DeviceLimitError
		switch {
		case tc.limitErr != "":
			if !errors.As(err, &le) || ids(le.Sessions) != tc.limitErr || le.Limit != tc.limit.Max {
				t.Errorf("%s: Admit() = %+v, %v; want DeviceLimitError listing %s", tc.name, adm, err, tc.limitErr)
			}
		case err != nil:
			t.Errorf("%s: Admit() error = %v, want nil", tc.name, err)
		case ids(adm.Replaced) != tc.replaced || ids(adm.Evicted) != tc.evicted:
			t.Errorf("%s: Admit() replaced %q evicted %q, want %q and %q", tc.name, ids(adm.Replaced), ids(adm.Evicted), tc.replaced, tc.evicted)
		}
	}
}

func TestAdmitDoesNotReorderItsInput(t *testing.T) {
	active := []Session{sess("a", "", 1, 30), sess("b", "", 2, 10)}
	_, _ = Admit(active, "", "", Limit{1, PolicyEvictLeastRecent})
	if ids(active) != "ab" {
		t.Errorf("Admit reordered its input to %s", ids(active))
	}
}

func TestEffectiveLimit(t *testing.T) {
	plan := Plan{MaxSessions: 2, LimitPolicy: PolicyEvictOldest}
	three, reject := 3, PolicyReject
	later, earlier := t0.Add(time.Hour), t0.Add(-time.Hour)
	cases := []struct {
		user User
		want Limit
	}{
		{User{}, Limit{2, PolicyEvictOldest}},
		{User{MaxSessionsOverride: &three}, Limit{3, PolicyEvictOldest}},
		{User{MaxSessionsOverride: &three, MaxSessionsOverrideUntil: &later}, Limit{3, PolicyEvictOldest}},
		{User{MaxSessionsOverride: &three, MaxSessionsOverrideUntil: &earlier}, Limit{2, PolicyEvictOldest}},
		{User{LimitPolicyOverride: &reject}, Limit{2, PolicyReject}},
	}
	for i, tc := range cases {
		if got := tc.user.EffectiveLimit(plan, t0); got != tc.want {
			t.Errorf("case %d: EffectiveLimit() = %v, want %v", i, got, tc.want)
		}
	}
}

func TestSessionLifetime(t *testing.T) {
	expires := t0.Add(10 * time.Hour)
	if got := IdleDeadline(t0, time.Hour, expires); !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("IdleDeadline(t0, 1h) = %v, want t0+1h", got)
	}
	if got := IdleDeadline(t0.Add(9*time.Hour+30*time.Minute), time.Hour, expires); !got.Equal(expires) {
		t.Errorf("IdleDeadline near the cap = %v, want the absolute expiry %v", got, expires)
	}
	s := Session{ExpiresAt: expires, IdleExpiresAt: t0.Add(time.Hour)}
	for _, tc := range []struct {
		at   time.Duration
		want bool
	}{{time.Hour - time.Second, true}, {time.Hour, false}, {time.Hour + time.Second, false}} {
		if got := s.Active(t0.Add(tc.at)); got != tc.want {
			t.Errorf("Active(t0+%v) = %v, want %v", tc.at, got, tc.want)
		}
	}
	reason := ReasonLogout
	s.RevokedAt, s.RevokeReason = &t0, &reason
	if s.Active(t0) {
		t.Error("Active() of a revoked session = true, want false")
	}
}

func ExampleAdmit() {
	active := []Session{sess("phone", "", 1, 1), sess("tv", "", 2, 2)}
	adm, _ := Admit(active, "", "", Limit{Max: 2, Policy: PolicyEvictOldest})
	fmt.Println(ids(adm.Evicted))
	// Output: phone
}
