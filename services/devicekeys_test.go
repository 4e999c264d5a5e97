package services_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

// signIn logs in as email with password from a device presenting key ("" for none).
func (e *throttled) signIn(email, password, key string) (models.LoginResult, error) {
	return e.sessions.Login(context.Background(), models.LoginParams{
		Email: email, Password: password, DeviceKey: key, Device: models.Device{Name: "TV", Type: "tv"},
	})
}

// failWithKey fails n logins of email presenting key, waiting out every delay on the fake clock.
func (e *throttled) failWithKey(t *testing.T, email, key string, n int) {
	t.Helper()
	for failures := 0; failures < n; {
		_, err := e.signIn(email, "wrong password", key)
		if errors.Is(err, models.ErrInvalidCredentials) {
			failures++
			continue
		}
		e.clock.Advance(retryAfter(t, err))
	}
}

// lockingThrottle: two free failures, a lock at the fourth, delays of at most a minute.
func lockingThrottle() services.ThrottleConfig {
	cfg := accountOnly()
	cfg.FreeFailures, cfg.LockAfter, cfg.MaxDelay = 2, 4, time.Minute
	return cfg
}

// TestDeviceKeyIssuedKeptAndSlid: every login answers a device key, stored as the SHA-256 of
// its secret only; presenting it gives the same key back with its 90 days slid from now;
// a key that is not this account's valid one gets a new key instead.
func TestDeviceKeyIssuedKeptAndSlid(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newThrottled(t, store, accountOnly())
			u, other := e.register(t, nil), e.register(t, nil)
			first, err := e.signIn(u.Email, testPassword, "")
			if err != nil {
				t.Fatalf("Login() = %v", err)
			}
			key := first.DeviceKey
			id, secret, ok := strings.Cut(key, ".")
			if !ok || len(id) != 22 || len(secret) != 43 || key == first.Token {
				t.Fatalf("DeviceKey = %q, want base64url(16 bytes).base64url(32 bytes), not the token", key)
			}
			if want := e.clock.Now().Add(services.DefaultDeviceKeyTTL); !first.DeviceKeyExpiresAt.Equal(want) {
				t.Errorf("DeviceKeyExpiresAt = %v, want %v (90 days)", first.DeviceKeyExpiresAt, want)
			}
			var stored models.DeviceKey
			if err := store.DB.Where("user_id = ?", u.ID).Take(&stored).Error; err != nil {
				t.Fatal(err)
			}
			raw, _ := base64.RawURLEncoding.DecodeString(secret)
			if sum := sha256.Sum256(raw); string(stored.SecretHash) != string(sum[:]) || stored.LastSessionID == nil || *stored.LastSessionID != first.Session.ID {
				t.Errorf("stored key = %+v, want the SHA-256 of the secret and the session it signed in", stored)
			}

			e.clock.Advance(80 * 24 * time.Hour)
			again, err := e.signIn(u.Email, testPassword, key)
			if err != nil || again.DeviceKey != key || !again.DeviceKeyExpiresAt.Equal(e.clock.Now().Add(services.DefaultDeviceKeyTTL)) {
				t.Fatalf("Login(with the key, 80 days on) = %q until %v, %v; want the same key, slid to 90 days from now",
					again.DeviceKey, again.DeviceKeyExpiresAt, err)
			}

			otherKey, err := e.signIn(other.Email, testPassword, "")
			if err != nil {
				t.Fatal(err)
			}
			tampered := key[:len(key)-2] + map[bool]string{true: "AE", false: "AA"}[strings.HasSuffix(key, "AA")]
			for name, k := range map[string]string{
				"garbage": "not a key", "tampered secret": tampered, "another account's key": otherKey.DeviceKey, "the token": first.Token,
			} {
				res, err := e.signIn(u.Email, testPassword, k)
				if err != nil || res.DeviceKey == "" || res.DeviceKey == k || res.DeviceKey == key {
					t.Errorf("Login(%s) = key %q, %v; want a new key", name, res.DeviceKey, err)
				}
			}

			e.clock.Advance(services.DefaultDeviceKeyTTL) // unused for 90 days
			if res, err := e.signIn(u.Email, testPassword, key); err != nil || res.DeviceKey == key {
				t.Errorf("Login(with a key unused for 90 days) = %q, %v; want a new key", res.DeviceKey, err)
			}
		})
	}
}

// TestDeviceKeySurvivesAccountLock: someone who only knows the email locks the account; the
// owner's login with a device key and the right password still gets in, without one it is
// refused, and with an unusable key exactly as without one (same error, one key derivation).
// Before the lock, the account's delays do not bind the key either.
func TestDeviceKeySurvivesAccountLock(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newThrottled(t, store, lockingThrottle())
			u, other := e.register(t, nil), e.register(t, nil)
			known, err := e.signIn(u.Email, testPassword, "")
			if err != nil {
				t.Fatal(err)
			}
			otherKey, err := e.signIn(other.Email, testPassword, "")
			if err != nil {
				t.Fatal(err)
			}

			e.failTimes(t, u.Email, 2) // the attacker, without a key: the account is now delayed
			retryAfter(t, e.attempt(u.Email, testPassword, ""))
			if res, err := e.signIn(u.Email, testPassword, known.DeviceKey); err != nil || res.DeviceKey != known.DeviceKey {
				t.Fatalf("Login(key) while the account is delayed = %v, want in with the same key", err)
			}
			e.failTimes(t, u.Email, 2) // the account is locked now (a success with a key did not reset it)
			e.clock.Advance(time.Hour)
			if err := e.attempt(u.Email, testPassword, ""); !errors.Is(err, models.ErrInvalidCredentials) {
				t.Fatalf("Login(no key) on the locked account = %v, want ErrInvalidCredentials", err)
			}
			for i := range 3 {
				e.clock.Advance(time.Hour) // past the locked account's once-per-MaxDelay
				if res, err := e.signIn(u.Email, testPassword, known.DeviceKey); err != nil || res.DeviceKey != known.DeviceKey {
					t.Fatalf("Login(key) %d on the locked account = %v, want in with the same key", i+1, err)
				}
			}
			for name, k := range map[string]string{"no key": "", "garbage": "x.y", "another account's key": otherKey.DeviceKey} {
				e.clock.Advance(time.Hour)
				before := e.hasher.Runs()
				_, err := e.signIn(u.Email, testPassword, k)
				if !errors.Is(err, models.ErrInvalidCredentials) || err.Error() != models.ErrInvalidCredentials.Error() {
					t.Errorf("Login(%s, right password) on the locked account = %v, want exactly ErrInvalidCredentials", name, err)
				}
				if runs := e.hasher.Runs() - before; runs != 1 {
					t.Errorf("Login(%s) ran the KDF %d times, want 1", name, runs)
				}
			}
		})
	}
}

// TestDeviceKeyFailuresLockOnlyThatKey: wrong passwords with one key are delayed and then lock
// that key alone; another key of the account, and the account without a key, are untouched.
// An operator's reset unlocks the key too.
func TestDeviceKeyFailuresLockOnlyThatKey(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newThrottled(t, store, lockingThrottle())
			u := e.register(t, nil)
			var keys [2]string
			for i := range keys {
				res, err := e.signIn(u.Email, testPassword, "")
				if err != nil {
					t.Fatal(err)
				}
				keys[i] = res.DeviceKey
			}
			stolen, kept := keys[0], keys[1]
			e.failWithKey(t, u.Email, stolen, 2)
			_, err := e.signIn(u.Email, testPassword, stolen)
			if wait := retryAfter(t, err); wait != time.Second {
				t.Fatalf("third attempt with the key: Retry-After %s, want 1s", wait)
			}
			// The key's failures are its own: the account still has all its free failures.
			if _, err := e.signIn(u.Email, testPassword, kept); err != nil {
				t.Fatalf("Login(the other key) = %v", err)
			}
			e.failWithKey(t, u.Email, stolen, 2) // the key is locked now
			e.clock.Advance(time.Hour)
			if _, err := e.signIn(u.Email, testPassword, stolen); !errors.Is(err, models.ErrInvalidCredentials) {
				t.Fatalf("Login(locked key, right password) = %v, want ErrInvalidCredentials", err)
			}
			if _, err := e.signIn(u.Email, testPassword, kept); err != nil {
				t.Fatalf("Login(the other key) after the first locked = %v", err)
			}
			e.failTimes(t, u.Email, 1)
			if err := e.attempt(u.Email, testPassword, ""); err != nil {
				t.Fatalf("Login(no key) = %v: the key's failures must not count for the account", err)
			}
			if err := e.throttle.Reset(context.Background(), u.Email); err != nil {
				t.Fatal(err)
			}
			if res, err := e.signIn(u.Email, testPassword, stolen); err != nil || res.DeviceKey != stolen {
				t.Fatalf("Login(the key after an operator's reset) = %v, want in with the same key", err)
			}
		})
	}
}

// TestUnusableKeyCountsForTheAccount: a login presenting a key that is not a valid key of the
// account is counted under the account, like one without a key: after the free failures, the
// next attempt without a key waits.
func TestUnusableKeyCountsForTheAccount(t *testing.T) {
	store := servicetest.SQLite(t)
	e := newThrottled(t, store, lockingThrottle())
	other := e.register(t, nil)
	otherKey, err := e.signIn(other.Email, testPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]func(u models.User) string{
		"garbage":               func(models.User) string { return "garbage" },
		"another account's key": func(models.User) string { return otherKey.DeviceKey },
		"an expired key": func(u models.User) string {
			res, err := e.signIn(u.Email, testPassword, "")
			if err != nil {
				t.Fatal(err)
			}
			if err := store.DB.Model(&models.DeviceKey{}).Where("user_id = ?", u.ID).Update("expires_at", e.clock.Now()).Error; err != nil {
				t.Fatal(err)
			}
			return res.DeviceKey
		},
	} {
		u := e.register(t, nil)
		k := key(u)
		e.failWithKey(t, u.Email, k, 2)
		if err := e.attempt(u.Email, testPassword, ""); !errors.As(err, new(*models.RateLimitedError)) {
			t.Errorf("%s: login without a key after two failures with it = %v, want *RateLimitedError", name, err)
		}
	}
}

// TestDeviceKeyCountsRacingAttempts fires 30 wrong passwords with one key at once: exactly
// FreeFailures reach a password check. The count is one UPDATE … RETURNING, which holds the
// key's row until the delay it triggers is written: checked by hand, a read and a separate
// write let 8 through on Postgres (SQLite's immediate transaction serialises them anyway).
func TestDeviceKeyCountsRacingAttempts(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newThrottled(t, store, accountOnly())
			u := e.register(t, nil)
			res, err := e.signIn(u.Email, testPassword, "")
			if err != nil {
				t.Fatal(err)
			}
			checked, refused, unexpected := raceAttempts(30, func() error {
				_, err := e.signIn(u.Email, "wrong password", res.DeviceKey)
				return err
			})
			if len(unexpected) > 0 || checked != 5 || refused != 25 {
				t.Fatalf("30 racing attempts with one key: %d checked, %d refused, others %v; want 5 and 25", checked, refused, unexpected)
			}
		})
	}
}

// TestPasswordChangeVoidsOtherDeviceKeys: a password change that signs the other devices out
// deletes their keys (a thief's device is not known any more) and keeps the presenting
// device's; one that keeps the others signed in keeps their keys.
func TestPasswordChangeVoidsOtherDeviceKeys(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newThrottled(t, store, accountOnly())
			ctx := context.Background()
			u := e.register(t, nil)
			mine, err := e.signIn(u.Email, testPassword, "")
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := e.signIn(u.Email, testPassword, "")
			if err != nil {
				t.Fatal(err)
			}
			if err := e.users.ChangePassword(ctx, u.ID, mine.Session.ID, testPassword, "a second passphrase", false); err != nil {
				t.Fatal(err)
			}
			if res, err := e.signIn(u.Email, "a second passphrase", theirs.DeviceKey); err != nil || res.DeviceKey != theirs.DeviceKey {
				t.Fatalf("Login(their key) after a change that kept the others signed in = %v, want the same key back", err)
			}
			key := mine.DeviceKey
			if mine, err = e.signIn(u.Email, "a second passphrase", key); err != nil || mine.DeviceKey != key {
				t.Fatalf("Login(my key) after a change that kept the others signed in = %v, want the same key back", err)
			}
			if err := e.users.ChangePassword(ctx, u.ID, mine.Session.ID, "a second passphrase", "a third passphrase", true); err != nil {
				t.Fatal(err)
			}
			if res, err := e.signIn(u.Email, "a third passphrase", mine.DeviceKey); err != nil || res.DeviceKey != mine.DeviceKey {
				t.Errorf("Login(the presenting device's key) = %v, want the same key back", err)
			}
			if res, err := e.signIn(u.Email, "a third passphrase", theirs.DeviceKey); err != nil || res.DeviceKey == theirs.DeviceKey {
				t.Errorf("Login(a signed-out device's key) = %v, want a new key: the old one is void", err)
			}
		})
	}
}

// TestDeviceKeysPerAccountAreBounded: a client that never keeps its key gets a new one every
// time; the account keeps the 32 most recently used.
func TestDeviceKeysPerAccountAreBounded(t *testing.T) {
	store := servicetest.SQLite(t)
	e := newThrottled(t, store, accountOnly())
	u := e.register(t, nil)
	first, err := e.signIn(u.Email, testPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	for range 40 {
		e.clock.Advance(time.Second)
		if _, err := e.signIn(u.Email, testPassword, ""); err != nil {
			t.Fatal(err)
		}
	}
	var n int64
	if err := store.DB.Model(&models.DeviceKey{}).Where("user_id = ?", u.ID).Count(&n).Error; err != nil || n != 32 {
		t.Fatalf("keys of the account = %d (%v), want 32", n, err)
	}
	if res, err := e.signIn(u.Email, testPassword, first.DeviceKey); err != nil || res.DeviceKey == first.DeviceKey {
		t.Errorf("Login(the least recently used key) = %v, want a new key: it was dropped", err)
	}
}

// TestPurgeDropsExpiredDeviceKeys: keys past their expiry go, with their failure counts; a live
// key stays, even a locked one.
func TestPurgeDropsExpiredDeviceKeys(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			u := e.register(t, nil)
			now := e.clock.Now()
			keys := map[string]models.DeviceKey{}
			for name, expires := range map[string]time.Time{"expired": now.Add(-time.Second), "live": now.Add(time.Minute)} {
				k := models.DeviceKey{ID: uuid.NewString(), UserID: u.ID, SecretHash: []byte("h"), CreatedAt: now.Add(-time.Hour),
					LastUsedAt: now.Add(-time.Hour), ExpiresAt: expires, Failures: 100}
				if err := store.DB.Create(&k).Error; err != nil {
					t.Fatal(err)
				}
				keys[name] = k
			}
			res, err := newPurger(store.DB, now, 100).Purge(context.Background(), false, nil)
			if err != nil || res.Throttles < 1 {
				t.Fatalf("Purge() = %+v, %v; want the expired key counted", res, err)
			}
			for name, stays := range map[string]bool{"expired": false, "live": true} {
				var n int64
				store.DB.Model(&models.DeviceKey{}).Where("id = ?", keys[name].ID).Count(&n)
				if (n == 1) != stays {
					t.Errorf("%s key: %d rows after the purge, want stays=%v", name, n, stays)
				}
			}
		})
	}
}

// TestEveryWayInGivesTheDeviceKey: a sign-in through a provider (browser or native) and the
// completion of a login held at the limit answer a device key too, the one presented when it
// is the account's.
func TestEveryWayInGivesTheDeviceKey(t *testing.T) {
	store := servicetest.SQLite(t)
	ctx := context.Background()

	o := newOIDCEnv(t, store, true, nil)
	ann := person("ann-"+randomSuffix(), servicetest.Email(t), true)
	first, _, err := o.oidc.Callback(ctx, "mock", o.browserSignIn(t, "mock", ann, "Laptop"))
	if err != nil || first.DeviceKey == "" {
		t.Fatalf("Callback() = key %q, %v; want a device key", first.DeviceKey, err)
	}
	cb := o.browserSignIn(t, "mock", ann, "Laptop")
	cb.DeviceKey = first.DeviceKey
	if again, _, err := o.oidc.Callback(ctx, "mock", cb); err != nil || again.DeviceKey != first.DeviceKey {
		t.Errorf("Callback(with the key) = key %q, %v; want the same key", again.DeviceKey, err)
	}
	p := native(nativeIDToken(t, o.mock, ann, ""), "", "TV")
	p.DeviceKey = first.DeviceKey
	if tv, err := o.oidc.LoginWithIDToken(ctx, "mock", p); err != nil || tv.DeviceKey != first.DeviceKey {
		t.Errorf("LoginWithIDToken(with the key) = key %q, %v; want the same key", tv.DeviceKey, err)
	}

	e := newEnv(t, store)
	_, a, _, held := heldAtLimit(t, e)
	if res, err := e.sessions.Resume(ctx, held.Pending, []string{a.Session.ID}, a.DeviceKey); err != nil || res.DeviceKey != a.DeviceKey {
		t.Errorf("Resume(with A's key) = key %q, %v; want A's key", res.DeviceKey, err)
	}
}
