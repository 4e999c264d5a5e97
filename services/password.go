package services

import (
	_ "embed"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"

	"github.com/sessiond/sessiond/models"
)

// Password length bounds, in characters, checked before any hashing so that a huge password
// costs nothing. Passwords are never truncated.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 128
)

// DefaultArgon2 are OWASP's argon2id parameters: 19 MiB of memory, 2 passes, 1 lane.
var DefaultArgon2 = argon2id.Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// Hasher hashes and verifies passwords with argon2id, producing self-describing PHC strings.
// It is safe for concurrent use.
//
// At most GOMAXPROCS derivations run at once; the others wait their turn. Each takes 19 MiB
// for its whole run: unbounded, a flood of logins would take memory without limit, where
// running more at once than there are cores gains nothing.
type Hasher struct {
	params    argon2id.Params
	dummyOnce sync.Once
	dummy     string
	runs      atomic.Int64
	slots     chan struct{}
}

// NewHasher returns a Hasher with the given parameters (DefaultArgon2 in production; tests
// may pass cheaper ones).
func NewHasher(p argon2id.Params) *Hasher {
	return &Hasher{params: p, slots: make(chan struct{}, runtime.GOMAXPROCS(0))}
}

// slot waits for a free derivation slot and returns its release.
func (h *Hasher) slot() func() {
	h.slots <- struct{}{}
	return func() { <-h.slots }
}

// Hash returns the PHC string of password.
func (h *Hasher) Hash(password string) (string, error) {
	h.runs.Add(1)
	defer h.slot()()
	s, err := argon2id.CreateHash(password, &h.params)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return s, nil
}

// Verify reports whether password matches the PHC string hash. An empty hash (no such user)
// is checked against a dummy hash with the same parameters, so the time taken does not reveal
// whether an account exists; it never matches.
func (h *Hasher) Verify(password, hash string) (bool, error) {
	h.runs.Add(1)
	defer h.slot()()
	if hash == "" {
		h.dummyOnce.Do(func() { h.dummy, _ = argon2id.CreateHash("dummy password", &h.params) })
		_, err := argon2id.ComparePasswordAndHash(password, h.dummy)
		return false, err
	}
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	if err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	return ok, nil
}

// Runs is how many times the key derivation function ran (hashes and verifications), the
// unit of a login's cost.
func (h *Hasher) Runs() int64 { return h.runs.Load() }

// commonPasswords holds passwords of at least MinPasswordLen characters, lower-cased, from
// the 30,000 most frequent in leaked-password corpora (the "passwords" list of zxcvbn 4.4.2,
// MIT licence, Dropbox), one per line.
//
//go:embed commonpasswords.txt
var commonPasswordList string

var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 12000)
	for _, p := range strings.Split(commonPasswordList, "\n") {
		if p != "" {
			set[p] = struct{}{}
		}
	}
	return set
})

// IsCommonPassword reports whether password, ignoring case, is on the shipped list.
func IsCommonPassword(password string) bool {
	_, ok := commonPasswords()[strings.ToLower(password)]
	return ok
}

// checkPasswordPolicy refuses passwords that are too short, too long, common or equal to the
// email.
func checkPasswordPolicy(password, email string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case !utf8.ValidString(password):
		return &models.WeakPasswordError{Reason: "password must be valid UTF-8"}
	case n < MinPasswordLen:
		return &models.WeakPasswordError{Reason: fmt.Sprintf("password must have at least %d characters", MinPasswordLen)}
	case n > MaxPasswordLen:
		return &models.WeakPasswordError{Reason: fmt.Sprintf("password must have at most %d characters", MaxPasswordLen)}
	case email != "" && spellsEmail(password, email):
		return &models.WeakPasswordError{Reason: "password must not be the email address"}
	case IsCommonPassword(password):
		return &models.WeakPasswordError{Reason: "password is one of the most common passwords; choose another"}
	}
	return nil
}

// spellsEmail reports whether s is, in any spelling NormalizeEmail takes, the address email.
func spellsEmail(s, email string) bool {
	normal, err := NormalizeEmail(s)
	return err == nil && normal == email
}
