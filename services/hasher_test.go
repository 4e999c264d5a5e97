package services_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

var cheapArgon2 = argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// holdSlot takes a hashing slot of h for the test, and returns its release.
func holdSlot(t *testing.T, h *services.Hasher) func() {
	t.Helper()
	release, err := services.HasherAcquire(context.Background(), h)
	if err != nil {
		t.Fatalf("acquire a free slot = %v", err)
	}
	return release
}

// waitQueued waits until n callers wait for a slot of h. They are goroutines of this test on
// their way into the semaphore: there is nothing to wait on but the count.
func waitQueued(t *testing.T, h *services.Hasher, n int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); services.HasherWaiting(h) != n; runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatalf("%d callers wait for a slot, want %d", services.HasherWaiting(h), n)
		}
	}
}

// TestHasherWaitEndsWithTheContext: with the only slot held, a caller whose context already
// ended returns at once, one whose deadline passes while it waits returns then, and one
// cancelled while it waits returns too; each with models.ErrUnavailable and the context's
// error, none hashed.
func TestHasherWaitEndsWithTheContext(t *testing.T) {
	h := services.NewHasher(cheapArgon2, services.HasherConfig{Slots: 1, Queue: 8})
	hash, err := h.Hash(context.Background(), testPassword)
	if err != nil {
		t.Fatal(err)
	}
	release := holdSlot(t, h)
	defer release()
	before := h.Runs()

	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Verify(ended, testPassword, hash); !errors.Is(err, models.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("Verify(ended context) = %v, want ErrUnavailable and context.Canceled", err)
	}
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(short, testPassword); !errors.Is(err, models.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Hash(deadline passing while waiting) = %v, want ErrUnavailable and context.DeadlineExceeded", err)
	}
	waiting, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := h.Verify(waiting, testPassword, hash)
		done <- err
	}()
	waitQueued(t, h, 1)
	cancel()
	if err := <-done; !errors.Is(err, models.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("Verify(cancelled while waiting) = %v, want ErrUnavailable and context.Canceled", err)
	}
	if runs := h.Runs() - before; runs != 0 {
		t.Errorf("callers that gave up ran the KDF %d times, want 0", runs)
	}
	if n := services.HasherWaiting(h); n != 0 {
		t.Errorf("%d callers still counted as waiting, want 0", n)
	}
}

// TestHasherQueueIsBounded: with the only slot held and the queue's 3 places taken, a fourth
// caller is refused at once with models.ErrOverloaded (an ErrUnavailable), unhashed; once the
// slot is free the three waiting are served, in turn, and the queue takes callers again.
func TestHasherQueueIsBounded(t *testing.T) {
	const queue = 3
	h := services.NewHasher(cheapArgon2, services.HasherConfig{Slots: 1, Queue: queue})
	hash, err := h.Hash(context.Background(), testPassword)
	if err != nil {
		t.Fatal(err)
	}
	release := holdSlot(t, h)
	before := h.Runs()
	results := make(chan error, queue)
	for range queue {
		go func() {
			ok, err := h.Verify(context.Background(), testPassword, hash)
			if err == nil && !ok {
				err = errors.New("the right password did not match")
			}
			results <- err
		}()
	}
	waitQueued(t, h, queue)
	if _, err := h.Verify(context.Background(), testPassword, hash); !errors.Is(err, models.ErrOverloaded) || !errors.Is(err, models.ErrUnavailable) {
		t.Errorf("Verify() beyond the queue = %v, want ErrOverloaded (an ErrUnavailable)", err)
	}
	if runs := h.Runs() - before; runs != 0 {
		t.Errorf("with the slot held the KDF ran %d times, want 0", runs)
	}
	release()
	for range queue {
		if err := <-results; err != nil {
			t.Errorf("a waiting Verify() = %v, want a match once the slot is free", err)
		}
	}
	if runs := h.Runs() - before; runs != queue {
		t.Errorf("the waiting callers ran the KDF %d times, want %d", runs, queue)
	}
	if _, err := h.Hash(context.Background(), testPassword); err != nil {
		t.Errorf("Hash() with the queue empty again = %v", err)
	}
}

// TestRefusedForAFullQueueIsNoFailure: logins refused because the hashing queue is full, or
// because their deadline passed while they waited, are neither hashed nor counted by the
// account throttle; after ten of each the right password still gets in at once (five
// failures are free). Checked by hand (2026-11-30): with the attempt counted before the slot
// is taken, the sixth refused login already answered *models.RateLimitedError on both stores.
func TestRefusedForAFullQueueIsNoFailure(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newThrottled(t, store, accountOnly())
			u := e.register(t, nil)
			withHasher := func(h *services.Hasher) {
				e.sessions = services.NewSessions(store.DB, h, services.SessionsConfig{
					Defaults: defaultTimeouts, TouchInterval: time.Minute, Now: e.clock.Now, Throttle: e.throttle,
				})
			}
			full := services.NewHasher(cheapArgon2, services.HasherConfig{Slots: 1, Queue: 0})
			withHasher(full)
			releaseFull := holdSlot(t, full)
			for range 10 {
				if err := e.attempt(u.Email, testPassword, ""); !errors.Is(err, models.ErrOverloaded) {
					t.Fatalf("Login() with the queue full = %v, want ErrOverloaded", err)
				}
			}
			slow := services.NewHasher(cheapArgon2, services.HasherConfig{Slots: 1, Queue: 10})
			withHasher(slow)
			releaseSlow := holdSlot(t, slow)
			var wg sync.WaitGroup
			for range 10 {
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
					defer cancel()
					_, err := e.sessions.Login(ctx, loginParams(u, "TV"))
					if !errors.Is(err, models.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("Login() whose deadline passed while waiting = %v, want ErrUnavailable", err)
					}
				})
			}
			wg.Wait()
			releaseFull()
			releaseSlow()
			if runs := full.Runs() + slow.Runs(); runs != 0 {
				t.Errorf("refused logins ran the KDF %d times, want 0", runs)
			}
			var counted int64
			sum := sha256.Sum256([]byte(u.Email))
			if err := store.DB.Table("login_throttle").Where("key = ?", hex.EncodeToString(sum[:])).Count(&counted).Error; err != nil {
				t.Fatal(err)
			}
			if counted != 0 {
				t.Errorf("the refused logins left a failure count for the account, want none")
			}
			if _, err := e.sessions.Login(context.Background(), loginParams(u, "TV")); err != nil {
				t.Errorf("Login() after 20 refusals = %v, want a session", err)
			}
		})
	}
}
