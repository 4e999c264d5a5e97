package models

// Clone returns a deep copy of p: nothing in it shares memory with p, so either may be
// written without the other seeing it.
func (p *Principal) Clone() *Principal {
	c := *p
	s, u, pl := &c.Session, &c.User, &c.Plan
	s.SecretHash = append([]byte(nil), s.SecretHash...)
	s.RevokedAt, s.RevokeReason, s.RevokedBy = clonePtr(s.RevokedAt), clonePtr(s.RevokeReason), clonePtr(s.RevokedBy)
	u.MaxSessionsOverride, u.MaxSessionsOverrideUntil = clonePtr(u.MaxSessionsOverride), clonePtr(u.MaxSessionsOverrideUntil)
	u.LimitPolicyOverride, u.DisabledAt = clonePtr(u.LimitPolicyOverride), clonePtr(u.DisabledAt)
	pl.IdleTimeoutSeconds, pl.AbsoluteTimeoutSeconds = clonePtr(pl.IdleTimeoutSeconds), clonePtr(pl.AbsoluteTimeoutSeconds)
	if p.Identities != nil {
		c.Identities = append([]LinkedIdentity(nil), p.Identities...)
	}
	return &c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
