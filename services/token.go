package services

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"

	"github.com/google/uuid"

	"github.com/sessiond/sessiond/models"
)

const (
	secretBytes = 32
	// idLen and secretLen are the unpadded base64url lengths of 16 and 32 bytes.
	idLen     = 22
	secretLen = 43
)

var b64 = base64.RawURLEncoding

// newToken returns a fresh session id (UUIDv7, time-ordered for index locality), the token the
// client keeps, and the SHA-256 of its secret, which is all the store keeps.
func newToken() (id uuid.UUID, token string, secretHash []byte, err error) {
	id, err = uuid.NewV7()
	if err != nil {
		return uuid.UUID{}, "", nil, err
	}
	secret := make([]byte, secretBytes)
	if _, err := rand.Read(secret); err != nil {
		return uuid.UUID{}, "", nil, err
	}
	sum := sha256.Sum256(secret)
	return id, b64.EncodeToString(id[:]) + "." + b64.EncodeToString(secret), sum[:], nil
}

// parseToken splits a token into its session id and secret. Anything that is not exactly
// base64url(16 bytes) "." base64url(32 bytes) is models.ErrSessionInvalid. It allocates
// nothing: it runs on every request.
func parseToken(token string) (id uuid.UUID, secret [secretBytes]byte, err error) {
	idPart, secretPart, ok := strings.Cut(token, ".")
	if !ok || len(idPart) != idLen || len(secretPart) != secretLen {
		return id, secret, models.ErrSessionInvalid
	}
	if n, err := b64.Decode(id[:], []byte(idPart)); err != nil || n != len(id) {
		return id, secret, models.ErrSessionInvalid
	}
	if n, err := b64.Decode(secret[:], []byte(secretPart)); err != nil || n != len(secret) {
		return id, secret, models.ErrSessionInvalid
	}
	// Decoding is lenient about the unused low bits of the last character; re-encoding makes
	// the token canonical, so one secret has exactly one spelling.
	var buf [secretLen]byte
	if string(b64.AppendEncode(buf[:0], id[:])) != idPart || string(b64.AppendEncode(buf[:0], secret[:])) != secretPart {
		return id, secret, models.ErrSessionInvalid
	}
	return id, secret, nil
}

// secretMatches compares SHA-256(secret) with the stored hash in constant time.
func secretMatches(secret, hash []byte) bool {
	sum := sha256.Sum256(secret)
	return subtle.ConstantTimeCompare(sum[:], hash) == 1
}

// newSecret returns n random bytes as base64url and the SHA-256 of those bytes.
func newSecret(n int) (string, []byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(b)
	return b64.EncodeToString(b), sum[:], nil
}
