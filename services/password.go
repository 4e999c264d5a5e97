package services

import (
	"context"
	_ "embed"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
	"golang.org/x/sync/semaphore"

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
// Each derivation takes 19 MiB for its whole run, so the number that run at once is bounded
// (HasherConfig.Slots, GOMAXPROCS by default: running more at once than there are cores
// gains nothing), and so is the number of callers waiting for a slot (HasherConfig.Queue).
// A caller beyond those is refused at once with models.ErrOverloaded, and a caller whose
// context ends while it waits gives up its place, is never hashed, and gets the context's
// error marked models.ErrUnavailable. However many logins arrive, at most Slots × 19 MiB of
// derivation memory is live (the collector lets the heap reach about twice that before it
// reclaims it: see README, Benchmarks) and the wait is bounded.
type Hasher struct {
	params    argon2id.Params
	dummyOnce sync.Once
	dummy     string
	runs      atomic.Int64
	slots     *semaphore.Weighted // FIFO: a newcomer never overtakes a waiter
	waiting   atomic.Int64
	queue     int64
}

// HasherConfig bounds the work of a Hasher.
type HasherConfig struct {
	Slots int // derivations at once; 0: GOMAXPROCS
	Queue int // callers that may wait for a slot; beyond them a call is refused at once
}

// NewHasher returns a Hasher with the given parameters (DefaultArgon2 in production; tests
// may pass cheaper ones) and bounds.
func NewHasher(p argon2id.Params, cfg HasherConfig) *Hasher {
	slots := cfg.Slots
	if slots <= 0 {
		slots = runtime.GOMAXPROCS(0)
	}
	return &Hasher{params: p, slots: semaphore.NewWeighted(int64(slots)), queue: int64(max(cfg.Queue, 0))}
}

// acquire takes a derivation slot, waiting behind at most the queue's bound of other callers
// and no longer than ctx allows, and returns its release. A caller whose context already
// ended is refused even when a slot is free: its answer would go nowhere.
func (h *Hasher) acquire(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("wait for a hashing slot: %w", unavailable(err))
	}
	if !h.slots.TryAcquire(1) {
		if h.waiting.Add(1) > h.queue {
			h.waiting.Add(-1)
			return nil, models.ErrOverloaded
		}
		err := h.slots.Acquire(ctx, 1)
		h.waiting.Add(-1)
		if err != nil {
			return nil, fmt.Errorf("wait for a hashing slot: %w", unavailable(err))
		}
	}
	return func() { h.slots.Release(1) }, nil
}

// Hash returns the PHC string of password, once a slot is free (see Hasher).
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	release, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return h.hash(password)
}

// Verify reports whether password matches the PHC string hash, once a slot is free (see
// Hasher). An empty hash (no such user) is checked against a dummy hash with the same
// parameters, so the time taken does not reveal whether an account exists; it never matches.
func (h *Hasher) Verify(ctx context.Context, password, hash string) (bool, error) {
	release, err := h.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	return h.verify(password, hash)
}

// hash is Hash for a caller that holds a slot.
func (h *Hasher) hash(password string) (string, error) {
	h.runs.Add(1)
	s, err := argon2id.CreateHash(password, &h.params)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return s, nil
}

// verify is Verify for a caller that holds a slot.
func (h *Hasher) verify(password, hash string) (bool, error) {
	h.runs.Add(1)
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
