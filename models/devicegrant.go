package models

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// The TV's sign-in with a code: OAuth 2.0's device authorization grant (RFC 8628). A device
// without a keyboard asks for a code, shows the user code, and polls with the device code
// while a signed-in person approves it on another device.

// UserCodeAlphabet is RFC 8628 §6.1's alphabet for user codes: consonants only (no vowels,
// so no words; no Y), easy to read and to type on a phone.
const UserCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

// UserCodeLen is the letters of a user code: 20^8 ≈ 2^34.6 codes.
const UserCodeLen = 8

// DeviceAuthorization is one device's request to be signed in with a code. The device code is
// kept as its SHA-256 only; so are the secrets of the session and device key it will receive
// (derived from the device code, so that only its holder can spell them). UserCode is kept
// normalised (NormalizeUserCode). LastPolledAt is the last poll paced by the interval; Resent
// says its one immediate resend was used (DecidePoll). Approved: SessionID set; spent once
// IssuedAt is set.
type DeviceAuthorization struct {
	ID                  string `gorm:"primaryKey"`
	DeviceCodeHash      []byte
	TokenSecretHash     []byte
	DeviceKeySecretHash []byte
	UserCode            string
	ClientID            string
	DeviceID            string
	DeviceName          string
	DeviceType          DeviceType
	IP                  string
	UserAgent           string
	CreatedAt           time.Time
	ExpiresAt           time.Time
	LastPolledAt        *time.Time
	Resent              bool
	IntervalSeconds     int
	ApprovedByUserID    *string
	ApprovedAt          *time.Time
	DeniedAt            *time.Time
	SessionID           *string
	DeviceKeyID         *string
	IssuedAt            *time.Time
}

// Device returns the device asking to be signed in.
func (a DeviceAuthorization) Device() Device {
	return Device{ID: a.DeviceID, Name: a.DeviceName, Type: a.DeviceType}
}

// Interval is how long the device must wait between polls.
func (a DeviceAuthorization) Interval() time.Duration {
	return time.Duration(a.IntervalSeconds) * time.Second
}

// Pending reports whether a person may still approve or deny the request at now: not
// answered, not expired.
func (a DeviceAuthorization) Pending(now time.Time) bool {
	return a.ApprovedAt == nil && a.DeniedAt == nil && now.Before(a.ExpiresAt)
}

// FormatUserCode shows a normalised user code as people read it: "BDWP-HQPK".
func FormatUserCode(code string) string {
	if len(code) != UserCodeLen {
		return code
	}
	return code[:4] + "-" + code[4:]
}

// NormalizeUserCode reads a user code as a person may type it: any case, with or without the
// hyphen or spaces. It returns the 8 letters in upper case, or ok false when the input cannot
// be a user code (another length, another alphabet).
func NormalizeUserCode(in string) (code string, ok bool) {
	if len(in) > 4*UserCodeLen {
		return "", false
	}
	var b strings.Builder
	for _, r := range in {
		switch {
		case r == '-' || r == ' ' || r == '\t':
			continue
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		}
		if r > 'Z' || !strings.ContainsRune(UserCodeAlphabet, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != UserCodeLen {
		return "", false
	}
	return b.String(), true
}

// PollDecision is the answer to one poll of the token endpoint.
type PollDecision int

// The answers to a poll.
const (
	PollPending  PollDecision = iota // authorization_pending, a poll paced by the interval
	PollResent                       // authorization_pending, the paced poll's one immediate resend
	PollSlowDown                     // slow_down: polled too often; the interval grows by 5 s
	PollIssue                        // approved: hand out the session, once
	PollDenied                       // access_denied
	PollExpired                      // expired_token: too late, or already handed out
)

// SlowDownStep is what RFC 8628 §3.5 adds to the interval of a device that polls too often.
const SlowDownStep = 5 * time.Second

// DecidePoll answers a poll of a at now, without side effects. Spent (handed out) and
// expired authorizations are expired_token; a denied one access_denied; an approved one is
// issued (even a little past its expiry: the session exists and is the device's); a pending
// one is authorization_pending, or slow_down when it comes sooner than the interval after the
// last paced poll. Two allowances: a fifth of the interval (at most 1 s) for the network's
// jitter, and one resend within half the interval of each paced poll, because OAuth clients
// resend a refused poll at once in another form (golang.org/x/oauth2 probes where the client
// id goes), which is not impatience.
func DecidePoll(a DeviceAuthorization, now time.Time) PollDecision {
	switch {
	case a.IssuedAt != nil:
		return PollExpired
	case a.DeniedAt != nil:
		return PollDenied
	case a.SessionID != nil:
		return PollIssue
	case !now.Before(a.ExpiresAt):
		return PollExpired
	case a.LastPolledAt == nil:
		return PollPending
	}
	since, interval := now.Sub(*a.LastPolledAt), a.Interval()
	switch {
	case since >= interval-min(interval/5, time.Second):
		return PollPending
	case !a.Resent && since < interval/2:
		return PollResent
	}
	return PollSlowDown
}

// DeviceCodeRequest is a device asking for a code: the app (client_id, recorded, not
// authenticated: a TV is a public client), the device, and where the request came from.
type DeviceCodeRequest struct {
	ClientID  string
	Device    Device
	IP        string
	UserAgent string
}

// DeviceCode is what the device shows and polls with (RFC 8628 §3.2).
type DeviceCode struct {
	DeviceCode              string
	UserCode                string // formatted, "BDWP-HQPK"
	VerificationURI         string
	VerificationURIComplete string
	ExpiresIn               time.Duration
	Interval                time.Duration
}

// DeviceApproval is a signed-in person approving (or denying) the device that shows UserCode,
// from their session SessionID at address IP. ReplaceSessionIDs names sessions to sign out to
// make room at the device limit (the answer to a DeviceLimitError).
type DeviceApproval struct {
	UserID            string
	SessionID         string
	UserCode          string
	IP                string
	ReplaceSessionIDs []string
}

// The device grant's answers to a poll that is not a success (RFC 8628 §3.5, RFC 6749 §5.2).
var (
	ErrAuthorizationPending = errors.New("authorization_pending")
	ErrAccessDenied         = errors.New("access_denied")
	ErrExpiredToken         = errors.New("expired_token")
	ErrInvalidGrant         = errors.New("invalid_grant")
)

// SlowDownError answers a device that polls too often: wait Interval between polls from now on.
type SlowDownError struct {
	Interval time.Duration
}

func (e *SlowDownError) Error() string { return "slow_down: poll every " + e.Interval.String() }

// ErrDeviceCodeInvalid is the answer to a user code that names no device waiting for approval
// (unknown, expired, already approved or denied): one answer for all, so that a guess learns
// nothing.
// It is an ErrNotFound.
var ErrDeviceCodeInvalid = fmt.Errorf("device code unknown or expired: %w", ErrNotFound)
