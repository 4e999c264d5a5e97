package models

import (
	"errors"
	"time"
)

// PendingLogin is a login whose credentials were proved but which the reject policy held at
// the device limit: the person may complete it within minutes by choosing a device to sign out,
// without proving the credentials again (the web device chooser, and sign-ins through an
// identity provider that cannot be repeated at will). The client holds its token; the store
// keeps the SHA-256 of the secret, as for sessions.
type PendingLogin struct {
	ID         string `gorm:"primaryKey"`
	SecretHash []byte
	UserID     string
	DeviceID   string
	DeviceName string
	DeviceType DeviceType
	IP         string
	UserAgent  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// ErrPendingLoginInvalid is the answer to a pending-login token that is unknown, malformed,
// spent or expired, or whose user changed password or was disabled since: sign in again.
var ErrPendingLoginInvalid = errors.New("pending login unknown or expired")

// HeldLogin is what a pending login waits on: the device it would sign in, the user's device
// limit, the active sessions that could make room (newest first), how many of them must be
// signed out for the device to fit (0: there is room now), and when it can no longer be
// completed.
type HeldLogin struct {
	Device      Device
	Limit       Limit
	Sessions    []Session
	MustSignOut int
	ExpiresAt   time.Time
}
