package models

import (
	"errors"
	"fmt"
	"slices"
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
	four := append(slices.Clone(active), sess("d", "", 4, 40))
	cases := []struct {
		name              string
		active            []Session
		deviceID          string
		chosen            []string
		limit             Limit
		replaced, evicted string
		limitErr          string // ids listed by DeviceLimitError, newest first
		mustSignOut       int    // and how many of them it says must go
	}{
		{"room left", active, "", nil, Limit{4, PolicyReject}, "", "", "", 0},
		{"no sessions, limit 1", nil, "", nil, Limit{1, PolicyReject}, "", "", "", 0},
		{"evict oldest", active, "", nil, Limit{3, PolicyEvictOldest}, "", "a", "", 0},
		{"evict least recent", active, "", nil, Limit{3, PolicyEvictLeastRecent}, "", "b", "", 0},
		{"lowered limit evicts down to it", active, "", nil, Limit{1, PolicyEvictOldest}, "", "abc", "", 0},
		{"reject lists newest first", active, "", nil, Limit{3, PolicyReject}, "", "", "cba", 1},
		{"same device replaced, not counted", active, "dev-b", nil, Limit{3, PolicyReject}, "b", "", "", 0},
		{"replace_session_id: the chosen one is evicted", active, "", []string{"c"}, Limit{3, PolicyReject}, "", "c", "", 0},
		{"chosen first, then the policy", active, "", []string{"a"}, Limit{2, PolicyEvictOldest}, "", "ab", "", 0},
		{"replace unknown id changes nothing", active, "", []string{"zz"}, Limit{3, PolicyReject}, "", "", "cba", 1},
		{"same device and still over", active, "dev-a", nil, Limit{1, PolicyEvictOldest}, "a", "bc", "", 0},
		{"limit below one acts as one", active, "", nil, Limit{0, PolicyEvictOldest}, "", "abc", "", 0},
		// Over the limit on a reject plan (a lowered plan): 3 signed in, 1 allowed.
		{"over the limit: all three must go", active, "", nil, Limit{1, PolicyReject}, "", "", "cba", 3},
		{"over the limit: one named is too few, and the list keeps it", active, "", []string{"a"}, Limit{1, PolicyReject}, "", "", "cba", 3},
		{"over the limit: two named are too few", active, "", []string{"c", "a"}, Limit{1, PolicyReject}, "", "", "cba", 3},
		{"over the limit: naming all three gets in", active, "", []string{"c", "b", "a"}, Limit{1, PolicyReject}, "", "abc", "", 0},
		{"over the limit: unknown ids do not count", active, "", []string{"a", "b", "zz"}, Limit{1, PolicyReject}, "", "", "cba", 3},
		{"over the limit at 2: two of three must go", active, "", nil, Limit{2, PolicyReject}, "", "", "cba", 2},
		{"over the limit at 2: any two get in", active, "", []string{"b", "c"}, Limit{2, PolicyReject}, "", "bc", "", 0},
		{"three over the limit: four must go", four, "", []string{"a", "b", "c"}, Limit{1, PolicyReject}, "", "", "dcba", 4},
		{"three over the limit: naming four gets in", four, "", []string{"a", "b", "c", "d"}, Limit{1, PolicyReject}, "", "abcd", "", 0},
		{"the device's own session is replaced, not listed", active, "dev-a", nil, Limit{1, PolicyReject}, "", "", "cb", 2},
		{"the device's own session and the others named", active, "dev-a", []string{"b", "c"}, Limit{1, PolicyReject}, "a", "bc", "", 0},
		{"duplicates count once", active, "", []string{"a", "a", "a"}, Limit{1, PolicyReject}, "", "", "cba", 3},
	}
	for _, tc := range cases {
		adm, err := Admit(tc.active, tc.deviceID, tc.chosen, tc.limit)
		var le *DeviceLimitError
		switch {
		case tc.limitErr != "":
			if !errors.As(err, &le) || ids(le.Sessions) != tc.limitErr || le.Limit != tc.limit.Max || le.MustSignOut != tc.mustSignOut {
				t.Errorf("%s: Admit() = %+v, %v; want DeviceLimitError listing %s, must sign out %d", tc.name, adm, err, tc.limitErr, tc.mustSignOut)
			}
		case err != nil:
			t.Errorf("%s: Admit() error = %v, want nil", tc.name, err)
		case ids(adm.Replaced) != tc.replaced || ids(adm.Evicted) != tc.evicted:
			t.Errorf("%s: Admit() replaced %q evicted %q, want %q and %q", tc.name, ids(adm.Replaced), ids(adm.Evicted), tc.replaced, tc.evicted)
		}
	}
}

// TestAdmitNamingMustSignOutAlwaysGetsIn checks the contract's promise over every way of
// being refused: whatever a refused attempt named, a retry naming MustSignOut of the sessions
// the refusal listed is admitted, and naming one fewer is refused again.
func TestAdmitNamingMustSignOutAlwaysGetsIn(t *testing.T) {
	for signedIn := 0; signedIn <= 6; signedIn++ {
		var active []Session
		for i := range signedIn {
			active = append(active, sess(fmt.Sprint("s", i), fmt.Sprint("dev-", i), i, i))
		}
		for limit := 1; limit <= 4; limit++ {
			for named := 0; named <= signedIn; named++ {
				for _, deviceID := range []string{"", "dev-0"} {
					first := make([]string, named) // a first attempt naming some, oldest first
					for i := range named {
						first[i] = active[i].ID
					}
					_, err := Admit(active, deviceID, first, Limit{limit, PolicyReject})
					var le *DeviceLimitError
					if !errors.As(err, &le) {
						continue // admitted
					}
					what := fmt.Sprintf("%d signed in, limit %d, %d named, device %q", signedIn, limit, named, deviceID)
					if le.MustSignOut < 1 || le.MustSignOut > len(le.Sessions) {
						t.Fatalf("%s: MustSignOut = %d of %d listed", what, le.MustSignOut, len(le.Sessions))
					}
					var retry []string // the newest ones listed: a choice the first attempt did not make
					for _, s := range le.Sessions[:le.MustSignOut] {
						retry = append(retry, s.ID)
					}
					if _, err := Admit(active, deviceID, retry, Limit{limit, PolicyReject}); err != nil {
						t.Errorf("%s: retry naming %v = %v, want admitted", what, retry, err)
					}
					if _, err := Admit(active, deviceID, retry[1:], Limit{limit, PolicyReject}); !errors.As(err, &le) {
						t.Errorf("%s: retry naming one fewer %v = %v, want refused", what, retry[1:], err)
					}
				}
			}
		}
	}
}

func TestAdmitDoesNotReorderItsInput(t *testing.T) {
	active := []Session{sess("a", "", 1, 30), sess("b", "", 2, 10)}
	_, _ = Admit(active, "", nil, Limit{1, PolicyEvictLeastRecent})
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
	adm, _ := Admit(active, "", nil, Limit{Max: 2, Policy: PolicyEvictOldest})
	fmt.Println(ids(adm.Evicted))
	// Output: phone
}
