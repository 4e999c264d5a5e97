package models

import (
	"cmp"
	"errors"
	"slices"
	"time"
)

// DeviceType is the kind of device a session runs on.
type DeviceType string

// DeviceTypes lists every accepted device type, in the order the API documents them.
var DeviceTypes = []DeviceType{"tv", "mobile", "tablet", "web", "desktop", "console", "other"}

// Valid reports whether t is one of DeviceTypes.
func (t DeviceType) Valid() bool { return slices.Contains(DeviceTypes, t) }

// Device identifies the client a session belongs to. ID is the client's own stable
// identifier (optional); Name is what the user sees.
type Device struct {
	ID   string
	Name string
	Type DeviceType
}

// RevokeReason records why a session ended before its expiry.
type RevokeReason string

// The reasons a session can be revoked.
const (
	ReasonLogout          RevokeReason = "logout"
	ReasonEvicted         RevokeReason = "evicted"
	ReasonReplaced        RevokeReason = "replaced"
	ReasonRevokedByUser   RevokeReason = "revoked_by_user"
	ReasonRevokedByAdmin  RevokeReason = "revoked_by_admin"
	ReasonPasswordChanged RevokeReason = "password_changed"
	ReasonUserDisabled    RevokeReason = "user_disabled"
	ReasonPasswordReset   RevokeReason = "password_reset"
)

// Session is one signed-in device. SecretHash is SHA-256 of the token's secret; the token
// itself is never stored. IdleExpiresAt is when the session dies if not seen again: it slides
// forward on use but never past ExpiresAt, the absolute cap. IdleRecheckAt is when the purge
// next looks at the session: never later than IdleExpiresAt, and indexed in its place, so
// that sliding IdleExpiresAt (a touch) writes no indexed column (zero: at the next purge).
type Session struct {
	ID            string `gorm:"primaryKey"`
	UserID        string
	SecretHash    []byte
	DeviceID      string
	DeviceName    string
	DeviceType    DeviceType
	IP            string
	UserAgent     string
	CreatedAt     time.Time
	LastSeenAt    time.Time
	ExpiresAt     time.Time
	IdleExpiresAt time.Time
	IdleRecheckAt time.Time
	RevokedAt     *time.Time
	RevokeReason  *RevokeReason
	RevokedBy     *string // the session that displaced this one, or the acting user or admin
}

// Device returns the device the session belongs to.
func (s Session) Device() Device {
	return Device{ID: s.DeviceID, Name: s.DeviceName, Type: s.DeviceType}
}

// Revoked reports whether the session was ended before its expiry.
func (s Session) Revoked() bool { return s.RevokedAt != nil }

// Expired reports whether the session's idle or absolute lifetime has run out at now.
func (s Session) Expired(now time.Time) bool {
	return !now.Before(s.ExpiresAt) || !now.Before(s.IdleExpiresAt)
}

// Active reports whether the session is usable at now: neither revoked nor expired.
func (s Session) Active(now time.Time) bool { return !s.Revoked() && !s.Expired(now) }

// IdleDeadline returns when a session seen at seen expires if it is not seen again: seen plus
// the idle timeout, capped by the absolute expiry so sliding renewal never extends a session's life.
func IdleDeadline(seen time.Time, idle time.Duration, expiresAt time.Time) time.Time {
	d := seen.Add(idle)
	if d.After(expiresAt) {
		return expiresAt
	}
	return d
}

// Admission is what must happen to a user's active sessions so that one more may start.
type Admission struct {
	Replaced []Session // the same device signing in again
	Evicted  []Session // signed out to make room: the ones the user chose, then the policy's picks
}

// Admit decides, without side effects, which of a user's active sessions must end for a new
// session on device deviceID to fit within limit. A session with the same non-empty device id
// is replaced; the sessions chosen names (the user's answer to a DeviceLimitError) are
// evicted. Both free their slot. Chosen ids that are not among active (signed out meanwhile,
// or never the user's) are ignored: the limit decides without them. If the rest still leave
// no room, the evict policies pick exactly enough victims, while PolicyReject returns a
// *DeviceLimitError.
//
// A refusal signs nobody out, the chosen sessions included, so the error lists every session
// that could make room (the chosen ones too), newest first, and MustSignOut counts how many
// of those must go: a retry naming that many of the listed sessions always gets in, whatever
// the refused attempt named. (Counting only the unchosen ones would send a client that
// retries with the new list alone round in circles.)
func Admit(active []Session, deviceID string, chosen []string, limit Limit) (Admission, error) {
	var adm Admission
	var rest []Session
	for _, s := range active {
		switch {
		case deviceID != "" && s.DeviceID == deviceID:
			adm.Replaced = append(adm.Replaced, s)
		case slices.Contains(chosen, s.ID):
			adm.Evicted = append(adm.Evicted, s)
		default:
			rest = append(rest, s)
		}
	}
	room := max(limit.Max, 1)
	excess := len(rest) + 1 - room
	if excess <= 0 {
		return adm, nil
	}
	if limit.Policy == PolicyReject {
		candidates := slices.Concat(rest, adm.Evicted)
		slices.SortFunc(candidates, newestFirst)
		return Admission{}, &DeviceLimitError{Limit: limit.Max, MustSignOut: len(candidates) + 1 - room, Sessions: candidates}
	}
	slices.SortFunc(rest, evictionOrder(limit.Policy))
	adm.Evicted = append(adm.Evicted, rest[:excess]...)
	return adm, nil
}

// EvictionOrder returns the victims a lowered limit must revoke so that at most max active
// sessions remain, in the order the policy evicts them. PolicyReject cannot refuse sessions
// that already exist, so it evicts oldest first.
func EvictionOrder(active []Session, limit Limit) []Session {
	excess := len(active) - max(limit.Max, 1)
	if excess <= 0 {
		return nil
	}
	sorted := slices.Clone(active)
	slices.SortFunc(sorted, evictionOrder(limit.Policy))
	return sorted[:excess]
}

func evictionOrder(p LimitPolicy) func(a, b Session) int {
	if p == PolicyEvictLeastRecent {
		return func(a, b Session) int {
			return cmp.Or(a.LastSeenAt.Compare(b.LastSeenAt), a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
		}
	}
	return func(a, b Session) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	}
}

func newestFirst(a, b Session) int {
	return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
}

// SortNewestFirst orders sessions by creation time, newest first.
func SortNewestFirst(s []Session) { slices.SortFunc(s, newestFirst) }

// Principal is who presented a valid token: the session, its user, the user's plan and the
// identities at external providers linked to the user.
type Principal struct {
	Session    Session
	User       User
	Plan       Plan
	Identities []LinkedIdentity
}

// LinkedIdentity is an identity as its user sees it.
type LinkedIdentity struct {
	Provider string `json:"provider"`
	Issuer   string `json:"issuer"`
	Subject  string `json:"subject"`
	Email    string `json:"email"`
}

// Introspection is what a service client learns of a token: whether it is usable now and, if
// so, whose it is (RFC 7662's answer).
type Introspection struct {
	Active    bool
	Principal Principal // when Active
}

// LoginParams is one device's sign-in attempt. ReplaceSessionID and ReplaceSessionIDs
// optionally name sessions of the user to sign out to make room (the answer to a
// DeviceLimitError): together, one set. KeepPending asks, should the reject policy refuse the
// device, for the login to be kept pending (DeviceLimitError.Pending) so that it can be
// completed without the password. DeviceKey is the key an earlier sign-in of this device
// issued (LoginResult.DeviceKey), if the client has one: a valid one has its own failure
// count; anything else counts as none.
type LoginParams struct {
	Email             string
	Password          string
	Device            Device
	DeviceKey         string
	ReplaceSessionID  string
	ReplaceSessionIDs []string
	IP                string
	UserAgent         string
	KeepPending       bool
}

// LoginResult is a successful login: the token (returned only here; the store keeps its hash),
// the new session, its user, the sessions the limit policy evicted to make room, and the
// device's key for later sign-ins with its expiry (the key presented, if valid, else a new one).
type LoginResult struct {
	Token              string
	Session            Session
	User               User
	Evicted            []Session
	DeviceKey          string
	DeviceKeyExpiresAt time.Time
}

// DeviceList is a user's active sessions at At, newest first, with the limit they count against
// and the fresh-session age under which signing out an older session needs the password (0: off).
type DeviceList struct {
	Sessions        []Session
	Limit           Limit
	FreshSessionAge time.Duration
	At              time.Time
}

// NeedsPassword reports whether current signing out target needs the password, as of the
// list's time (RevokeNeedsPassword under the list's fresh-session age).
func (l DeviceList) NeedsPassword(current, target Session) bool {
	return RevokeNeedsPassword(current, target, l.FreshSessionAge, l.At)
}

// RevokeNeedsPassword reports whether current signing out target needs the password: current is
// younger than freshAge at now (0: the rule is off) and target was signed in before it
// (Telegram's rule: a stolen session cannot sign out the owner's devices).
func RevokeNeedsPassword(current, target Session, freshAge time.Duration, now time.Time) bool {
	return freshAge > 0 && now.Sub(current.CreatedAt) < freshAge && target.CreatedAt.Before(current.CreatedAt)
}

// ErrSessionTooNew refuses a session younger than the fresh-session age signing out an older
// session without the password (RevokeNeedsPassword). Joined with ErrInvalidCredentials when a
// password was given and is wrong.
var ErrSessionTooNew = errors.New("session too new to sign out older sessions without the password")

// RevokeScope says which of a user's sessions a bulk sign-out ends.
type RevokeScope string

// The bulk sign-out scopes.
const (
	ScopeOthers RevokeScope = "others" // every session but the presenting one
	ScopeAll    RevokeScope = "all"    // the presenting one too
)

// ErrUseLogout refuses revoking the presenting session through the device list: that is a logout.
var ErrUseLogout = errors.New("use logout to end the presenting session")
