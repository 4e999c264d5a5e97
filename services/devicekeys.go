package services

import (
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// DefaultDeviceKeyTTL is how long a device key lives unused: every sign-in with it slides it.
const DefaultDeviceKeyTTL = 90 * 24 * time.Hour

// maxDeviceKeys bounds the keys one account holds: a client that never keeps its key gets a
// new one at every sign-in, and the least recently used beyond this many go.
const maxDeviceKeys = 32

// Device keys (OWASP "device cookies") are spelled like session tokens, base64url(id, 16
// bytes) "." base64url(secret, 32 bytes), and kept like them: the id is the primary key, the
// store holds the SHA-256 of the secret, compared in constant time. A key is not a credential
// to get in (the password still is); it only chooses the failure count a login is throttled by.

// validDeviceKey reports whether key is a valid device key of the account with this normalised
// email at now, and its id. Anything else, malformed included, is no key and no error: the
// caller then treats the attempt exactly as one without a key. Only the parsed id reaches the
// store; the email is compared here.
func validDeviceKey(db *gorm.DB, email, key string, now time.Time) (string, bool, error) {
	if key == "" {
		return "", false, nil
	}
	id, secret, err := parseToken(key)
	if err != nil {
		return "", false, nil
	}
	var rows []struct {
		SecretHash []byte
		ExpiresAt  time.Time
		Email      string
	}
	err = db.Raw(`SELECT device_keys.secret_hash, device_keys.expires_at, users.email
FROM device_keys JOIN users ON users.id = device_keys.user_id WHERE device_keys.id = ?`, id.String()).Scan(&rows).Error
	if err != nil {
		return "", false, storeError(err)
	}
	ok := len(rows) == 1 && secretMatches(secret[:], rows[0].SecretHash) && now.Before(rows[0].ExpiresAt) && rows[0].Email == email
	return id.String(), ok, nil
}

// keepDeviceKey returns the device key of a sign-in of userID into session sessionID, and when
// it expires: the key presented, if it is a valid key of this user, with its life slid to ttl
// from now and its failure count cleared; else a new key. The caller holds the user's lock.
//
// A valid key is given back as it is, not rotated: it opens nothing by itself, and a client
// that lost the answer of a rotating sign-in (a crash, a timeout, two sign-ins racing) would
// be left with a dead key, and so without its protection when the account is under attack.
func keepDeviceKey(tx *gorm.DB, userID, sessionID, presented string, ttl time.Duration, now time.Time) (string, time.Time, error) {
	expires := now.Add(ttl)
	if id, secret, err := parseToken(presented); presented != "" && err == nil {
		var k models.DeviceKey
		err := storeError(tx.Where("id = ?", id.String()).Take(&k).Error)
		switch {
		case err != nil && !errors.Is(err, models.ErrNotFound):
			return "", time.Time{}, err
		case err == nil && k.UserID == userID && now.Before(k.ExpiresAt) && secretMatches(secret[:], k.SecretHash):
			err := tx.Model(&models.DeviceKey{}).Where("id = ?", k.ID).Updates(map[string]any{
				"last_session_id": sessionID, "last_used_at": now, "expires_at": expires,
				"failures": 0, "failed_at": nil, "blocked_until": nil,
			}).Error
			return presented, expires, storeError(err)
		}
	}
	id, key, hash, err := newToken()
	if err != nil {
		return "", time.Time{}, err
	}
	k := models.DeviceKey{
		ID: id.String(), UserID: userID, SecretHash: hash, LastSessionID: &sessionID,
		CreatedAt: now, LastUsedAt: now, ExpiresAt: expires,
	}
	if err := storeError(tx.Create(&k).Error); err != nil {
		return "", time.Time{}, err
	}
	err = tx.Exec(`DELETE FROM device_keys WHERE user_id = ? AND id NOT IN (
  SELECT id FROM device_keys WHERE user_id = ? ORDER BY last_used_at DESC, id DESC LIMIT ?)`, userID, userID, maxDeviceKeys).Error
	return key, expires, storeError(err)
}

// voidDeviceKeys deletes the user's device keys but the one that signed in keepSessionID: a
// password change that signs out the other devices also stops them counting as known, so that
// a thief's device gets no attempts at the new password beyond the account's. The caller holds
// the user's lock.
func voidDeviceKeys(tx *gorm.DB, userID, keepSessionID string) error {
	return storeError(tx.Where("user_id = ? AND (last_session_id IS NULL OR last_session_id <> ?)", userID, keepSessionID).
		Delete(&models.DeviceKey{}).Error)
}
