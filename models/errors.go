package models

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Sentinel errors shared by every layer; the API maps each to one status and stable code.
var (
	ErrNotFound           = errors.New("not found")
	ErrConflict           = errors.New("conflict")
	ErrInvalidCredentials = errors.New("invalid credentials")
	ErrRegistrationClosed = errors.New("registration closed")
	ErrUnauthenticated    = errors.New("unauthenticated")
	ErrSessionInvalid     = errors.New("session invalid")
	ErrSessionExpired     = errors.New("session expired")
	ErrForbidden          = errors.New("forbidden")
	ErrUnavailable        = errors.New("store unavailable")
	ErrInvalidClient      = errors.New("invalid service client credentials")
)

// ErrOverloaded refuses work there is no room for now (more logins waiting to have a password
// hashed than the queue holds). It is an ErrUnavailable: the request was fine, try it again
// shortly.
var ErrOverloaded = fmt.Errorf("overloaded: %w", ErrUnavailable)

// ValidationError reports invalid input, field by field (JSON field name → problem).
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e.Fields[k]
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Invalid returns a *ValidationError for one field.
func Invalid(field, problem string) *ValidationError {
	return &ValidationError{Fields: map[string]string{field: problem}}
}

// WeakPasswordError reports a password that the password policy refuses.
type WeakPasswordError struct {
	Reason string
}

func (e *WeakPasswordError) Error() string { return "weak password: " + e.Reason }

// DeviceLimitError is returned by a login that the reject policy refuses. Sessions are the
// user's active sessions that could make room for Device, newest first; MustSignOut is how
// many of them must be signed out for it to fit: 1 at the limit, more when the user is over it
// (a lowered plan). Pending is the token of the login kept pending, when the caller asked for
// one (LoginParams.KeepPending), valid until PendingExpiresAt.
type DeviceLimitError struct {
	Limit            int
	MustSignOut      int
	Sessions         []Session
	Device           Device // the device that was refused
	Pending          string
	PendingExpiresAt time.Time
}

func (e *DeviceLimitError) Error() string {
	return fmt.Sprintf("device limit of %d reached: %d of %d sessions must be signed out", e.Limit, e.MustSignOut, len(e.Sessions))
}

// SessionRevokedError is the answer to a token whose session was ended by a logout, the user,
// an admin, a password change or an account disable.
type SessionRevokedError struct {
	Reason    RevokeReason
	RevokedAt time.Time
}

func (e *SessionRevokedError) Error() string { return "session revoked: " + string(e.Reason) }

// SessionEvictedError is the answer to a token whose session the device limit displaced
// when ByDeviceName signed in.
type SessionEvictedError struct {
	EvictedAt    time.Time
	ByDeviceName string // the device whose sign-in evicted it; "" when no longer known
	Limit        int    // the user's device limit now; 0 when unknown
}

func (e *SessionEvictedError) Error() string {
	return "session evicted by " + e.ByDeviceName
}

// ErrPlanInUse refuses deleting a plan that users are on.
var ErrPlanInUse = errors.New("plan in use")

// ErrLastAdmin refuses a change that would leave no enabled admin: demoting or disabling the
// last one. Someone must always be able to manage sessiond without the command line.
var ErrLastAdmin = errors.New("the last enabled admin cannot be demoted or disabled")

// RateLimitedError refuses an attempt that came too soon: after repeated failed logins for an
// account, or too many attempts from one client address. RetryAfter says when to try again.
type RateLimitedError struct {
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limited: retry after %s", e.RetryAfter)
}
