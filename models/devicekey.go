package models

import "time"

// DeviceKey is a credential of one device for one account (OWASP "device cookies"): issued at
// a successful sign-in, presented with later ones, so that the device's password attempts are
// counted under the key alone and failures from elsewhere never delay or lock it out. The
// client holds "id.secret"; the store keeps the SHA-256 of the secret. Failures, FailedAt and
// BlockedUntil are the key's own failure count, kept as the account throttle keeps an
// account's. LastSessionID is the session the key last signed in.
type DeviceKey struct {
	ID            string `gorm:"primaryKey"`
	UserID        string
	SecretHash    []byte
	LastSessionID *string
	CreatedAt     time.Time
	LastUsedAt    time.Time
	ExpiresAt     time.Time // LastUsedAt plus the key's lifetime: it slides with every sign-in
	Failures      int
	FailedAt      *time.Time
	BlockedUntil  *time.Time
}
