package models

import (
	"testing"
	"time"
)

// TestCloneSharesNothing writes through every pointer and slice of a clone and checks that the
// original did not change.
func TestCloneSharesNothing(t *testing.T) {
	at, n, idle, reason, by, policy := time.Unix(1, 0), 3, int64(60), ReasonLogout, "x", PolicyReject
	p := &Principal{
		Session:    Session{SecretHash: []byte{1}, RevokedAt: &at, RevokeReason: &reason, RevokedBy: &by},
		User:       User{MaxSessionsOverride: &n, MaxSessionsOverrideUntil: &at, LimitPolicyOverride: &policy, DisabledAt: &at},
		Plan:       Plan{IdleTimeoutSeconds: &idle, AbsoluteTimeoutSeconds: &idle},
		Identities: []LinkedIdentity{{Provider: "a"}},
	}
	c := p.Clone()
	c.Session.SecretHash[0] = 9
	*c.Session.RevokedAt, *c.Session.RevokeReason, *c.Session.RevokedBy = time.Unix(2, 0), ReasonEvicted, "y"
	*c.User.MaxSessionsOverride, *c.User.MaxSessionsOverrideUntil, *c.User.LimitPolicyOverride = 4, time.Unix(2, 0), PolicyEvictOldest
	*c.User.DisabledAt = time.Unix(2, 0)
	*c.Plan.IdleTimeoutSeconds, *c.Plan.AbsoluteTimeoutSeconds = 1, 1
	c.Identities[0].Provider = "b"
	if p.Session.SecretHash[0] != 1 || !p.Session.RevokedAt.Equal(at) || *p.Session.RevokeReason != ReasonLogout || *p.Session.RevokedBy != "x" ||
		*p.User.MaxSessionsOverride != 3 || !p.User.MaxSessionsOverrideUntil.Equal(at) || *p.User.LimitPolicyOverride != PolicyReject ||
		!p.User.DisabledAt.Equal(at) || *p.Plan.IdleTimeoutSeconds != 60 || *p.Plan.AbsoluteTimeoutSeconds != 60 || p.Identities[0].Provider != "a" {
		t.Errorf("writing a Clone() changed the original: %+v", p)
	}
}
