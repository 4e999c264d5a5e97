package services_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

// throttled is an env whose logins go through a login throttle, with its own hasher so that
// tests can count key derivations.
type throttled struct {
	*env
	throttle *services.Throttle
	hasher   *services.Hasher
}

func newThrottled(tb testing.TB, store servicetest.Store, cfg services.ThrottleConfig) *throttled {
	tb.Helper()
	e := newEnv(tb, store)
	cfg.Now = e.clock.Now
	th, err := services.NewThrottle(store.DB, cfg)
	if err != nil {
		tb.Fatalf("NewThrottle() = %v", err)
	}
	h := servicetest.FastHasher()
	e.users = services.NewUsers(store.DB, h, services.UsersConfig{DefaultPlan: "standard", RegistrationOpen: true, Now: e.clock.Now, Throttle: th})
	e.sessions = services.NewSessions(store.DB, h, services.SessionsConfig{
		Defaults: defaultTimeouts, TouchInterval: time.Minute, Now: e.clock.Now, Throttle: th,
	})
	return &throttled{env: e, throttle: th, hasher: h}
}

// attempt logs in as email with password and returns the error (nil on success).
func (t *throttled) attempt(email, password, ip string) error {
	_, err := t.sessions.Login(context.Background(), models.LoginParams{
		Email: email, Password: password, Device: models.Device{Name: "TV", Type: "tv"}, IP: ip,
	})
	return err
}

// failTimes fails n logins of email with a wrong password, waiting out every delay on the
// fake clock.
func (e *throttled) failTimes(t *testing.T, email string, n int) {
	t.Helper()
	for failures := 0; failures < n; {
		err := e.attempt(email, "wrong password", "")
		if errors.Is(err, models.ErrInvalidCredentials) {
			failures++
			continue
		}
		e.clock.Advance(retryAfter(t, err))
	}
}

// retryAfter returns how long a rate-limited error says to wait, or fails the test.
func retryAfter(tb testing.TB, err error) time.Duration {
	tb.Helper()
	var limited *models.RateLimitedError
	if !errors.As(err, &limited) {
		tb.Fatalf("got %v, want *models.RateLimitedError", err)
	}
	return limited.RetryAfter
}

func accountOnly() services.ThrottleConfig {
	cfg := servicetest.Throttle()
	cfg.IPRate = 0
	return cfg
}

// TestThrottleDelaysDoubleAfterFreeFailures: five wrong passwords answer 401 at once; then
// each further attempt must wait 1 s, 2 s, 4 s…, an attempt inside the wait is refused with
// its remaining time and counts nothing, and the right password clears the count.
func TestThrottleDelaysDoubleAfterFreeFailures(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newThrottled(t, store, accountOnly())
			u := e.register(t, nil)
			for i := range 5 {
				if err := e.attempt(u.Email, "wrong password", "192.0.2.1"); !errors.Is(err, models.ErrInvalidCredentials) {
					t.Fatalf("free failure %d = %v, want ErrInvalidCredentials", i+1, err)
				}
			}
			for _, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
				// Even the right password must wait: the delay binds attempts, not guesses.
				if got := retryAfter(t, e.attempt(u.Email, testPassword, "192.0.2.1")); got != wait {
					t.Fatalf("Retry-After = %s, want %s", got, wait)
				}
				e.clock.Advance(wait / 2)
				if got := retryAfter(t, e.attempt(u.Email, "wrong password", "192.0.2.1")); got != wait/2 {
					t.Fatalf("Retry-After half-way = %s, want %s", got, wait/2)
				}
				e.clock.Advance(wait / 2)
				if err := e.attempt(u.Email, "wrong password", "192.0.2.1"); !errors.Is(err, models.ErrInvalidCredentials) {
					t.Fatalf("attempt after waiting %s = %v, want ErrInvalidCredentials", wait, err)
				}
			}
			e.clock.Advance(8 * time.Second)
			if err := e.attempt(u.Email, testPassword, "192.0.2.1"); err != nil {
				t.Fatalf("right password after the wait = %v", err)
			}
			for i := range 5 { // the success cleared the count: five free failures again
				if err := e.attempt(u.Email, "wrong password", "192.0.2.1"); !errors.Is(err, models.ErrInvalidCredentials) {
					t.Fatalf("free failure %d after a success = %v, want ErrInvalidCredentials", i+1, err)
				}
			}
		})
	}
}

// TestThrottleDelayIsCapped: the doubling stops at the configured cap.
func TestThrottleDelayIsCapped(t *testing.T) {
	store := servicetest.SQLite(t)
	cfg := accountOnly()
	cfg.MaxDelay = 10 * time.Second
	e := newThrottled(t, store, cfg)
	var waits []time.Duration
	for range 12 {
		err := e.attempt("nobody@example.com", "wrong password", "")
		for err != nil && !errors.Is(err, models.ErrInvalidCredentials) {
			w := retryAfter(t, err)
			waits = append(waits, w)
			e.clock.Advance(w)
			err = e.attempt("nobody@example.com", "wrong password", "")
		}
	}
	want := []time.Duration{1, 2, 4, 8, 10, 10, 10} // seconds, after failures 5 to 11
	if len(waits) != len(want) {
		t.Fatalf("waits = %v, want %v seconds", waits, want)
	}
	for i := range want {
		if waits[i] != want[i]*time.Second {
			t.Fatalf("waits = %v, want %v seconds", waits, want)
		}
	}
}

// TestThrottleLocksAccountUntilReset: at LockAfter consecutive failures even the right
// password is refused, with the same error and the same hashing work as a wrong one, until
// an operator resets the account.
func TestThrottleLocksAccountUntilReset(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			cfg := accountOnly()
			cfg.FreeFailures, cfg.LockAfter, cfg.MaxDelay = 2, 5, time.Second
			e := newThrottled(t, store, cfg)
			u := e.register(t, nil)
			e.failTimes(t, u.Email, 5)
			e.clock.Advance(time.Hour)
			before := e.hasher.Runs()
			if err := e.attempt(u.Email, testPassword, ""); !errors.Is(err, models.ErrInvalidCredentials) {
				t.Fatalf("right password on a locked account = %v, want ErrInvalidCredentials", err)
			}
			if runs := e.hasher.Runs() - before; runs != 1 {
				t.Fatalf("a locked account's login ran the KDF %d times, want 1 (like a wrong password)", runs)
			}
			e.clock.Advance(48 * time.Hour) // a lock does not wear off
			if err := e.attempt(u.Email, testPassword, ""); !errors.Is(err, models.ErrInvalidCredentials) {
				t.Fatalf("right password two days later = %v, want ErrInvalidCredentials", err)
			}
			if err := e.throttle.Reset(context.Background(), strings.ToUpper(u.Email)); err != nil {
				t.Fatalf("Reset() = %v", err)
			}
			if err := e.attempt(u.Email, testPassword, ""); err != nil {
				t.Fatalf("right password after the reset = %v", err)
			}
		})
	}
}

// TestThrottleLimitRejectionIsNotAFailure: a login the reject policy refuses had the right
// password; it never counts toward the delay, and it clears earlier failures.
func TestThrottleLimitRejectionIsNotAFailure(t *testing.T) {
	store := servicetest.SQLite(t)
	e := newThrottled(t, store, accountOnly())
	u := e.register(t, &models.Limit{Max: 1, Policy: models.PolicyReject})
	e.login(t, u, "Phone")
	for range 4 {
		if err := e.attempt(u.Email, "wrong password", ""); !errors.Is(err, models.ErrInvalidCredentials) {
			t.Fatalf("wrong password = %v", err)
		}
	}
	var limit *models.DeviceLimitError
	for i := range 10 {
		if err := e.attempt(u.Email, testPassword, ""); !errors.As(err, &limit) {
			t.Fatalf("login %d at the limit = %v, want *models.DeviceLimitError", i+1, err)
		}
	}
	for i := range 5 {
		if err := e.attempt(u.Email, "wrong password", ""); !errors.Is(err, models.ErrInvalidCredentials) {
			t.Fatalf("free failure %d after the refusals = %v, want ErrInvalidCredentials", i+1, err)
		}
	}
}

// TestThrottleCountsRacingAttempts fires 30 wrong passwords at one account at once: each
// attempt is counted before its password is checked, in one transaction with the delay it
// triggers, so exactly FreeFailures get to a password check (the fifth failure starts the
// first delay) and the rest are refused. Counting after the check lets every racer through.
func TestThrottleCountsRacingAttempts(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newThrottled(t, store, accountOnly())
			u := e.register(t, nil)
			before := e.hasher.Runs()
			checked, refused, unexpected := raceAttempts(30, func() error { return e.attempt(u.Email, "wrong password", "") })
			if len(unexpected) > 0 || checked != 5 || refused != 25 {
				t.Fatalf("30 racing attempts: %d checked, %d refused, others %v; want 5 and 25", checked, refused, unexpected)
			}
			if runs := e.hasher.Runs() - before; runs != 5 {
				t.Fatalf("KDF ran %d times, want 5: a refused attempt must cost no hashing", runs)
			}
		})
	}
}

// raceAttempts runs n attempts released at once and sorts their outcomes: a password checked
// (and wrong), refused by the throttle, or anything else.
func raceAttempts(n int, attempt func() error) (checked, refused int, unexpected []error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		start = make(chan struct{})
	)
	for range n {
		wg.Go(func() {
			<-start
			err := attempt()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, models.ErrInvalidCredentials):
				checked++
			case errors.As(err, new(*models.RateLimitedError)):
				refused++
			default:
				unexpected = append(unexpected, err)
			}
		})
	}
	close(start)
	wg.Wait()
	return checked, refused, unexpected
}

// TestThrottleLimitsAddresses: an address gets its burst and then one attempt per period,
// whatever the accounts; other addresses are unaffected; an IPv6 host is counted per /64.
func TestThrottleLimitsAddresses(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			cfg := servicetest.Throttle()
			cfg.IPRate, cfg.IPBurst = 6, 2 // one every 10 s, 3 at once
			e := newThrottled(t, store, cfg)
			for _, ips := range [][]string{
				{"198.51.100.7", "198.51.100.7", "198.51.100.7", "198.51.100.7"},
				{"2001:db8:1:2::1", "2001:db8:1:2::ffff", "2001:db8:1:2:aaaa::1", "2001:db8:1:2::2"},
			} {
				for i, ip := range ips[:3] {
					if err := e.attempt(servicetest.Email(t), "wrong password", ip); !errors.Is(err, models.ErrInvalidCredentials) {
						t.Fatalf("attempt %d from %s = %v, want ErrInvalidCredentials", i+1, ip, err)
					}
				}
				wait := retryAfter(t, e.attempt(servicetest.Email(t), "wrong password", ips[3]))
				if wait <= 0 || wait > 10*time.Second {
					t.Fatalf("Retry-After = %s, want within the 10 s period", wait)
				}
				if err := e.attempt(servicetest.Email(t), "wrong password", "203.0.113.9"); !errors.Is(err, models.ErrInvalidCredentials) {
					t.Fatalf("another address = %v, want ErrInvalidCredentials", err)
				}
				e.clock.Advance(wait)
				if err := e.attempt(servicetest.Email(t), "wrong password", ips[3]); !errors.Is(err, models.ErrInvalidCredentials) {
					t.Fatalf("after Retry-After = %v, want ErrInvalidCredentials", err)
				}
			}
			// Sign-ups are limited alike: each costs a hash.
			for i := range 3 {
				_, err := e.users.Register(context.Background(), models.RegisterParams{Email: servicetest.Email(t), Password: testPassword, IP: "198.51.100.99"})
				if err != nil {
					t.Fatalf("sign-up %d = %v", i+1, err)
				}
			}
			_, err := e.users.Register(context.Background(), models.RegisterParams{Email: servicetest.Email(t), Password: testPassword, IP: "198.51.100.99"})
			retryAfter(t, err)
		})
	}
}

// TestLoginFailuresCostOneHashAndReadTheSame counts key derivations: an unknown email, a
// wrong password and a disabled account each run the KDF exactly once and fail alike.
func TestLoginFailuresCostOneHashAndReadTheSame(t *testing.T) {
	store := servicetest.SQLite(t)
	e := newThrottled(t, store, accountOnly())
	u := e.register(t, nil)
	off := e.register(t, nil)
	if err := store.DB.Model(&models.User{}).Where("id = ?", off.ID).Update("disabled_at", e.clock.Now()).Error; err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct{ email, password string }{
		"unknown email":    {"nobody-" + randomSuffix() + "@example.com", testPassword},
		"wrong password":   {u.Email, "wrong password"},
		"disabled account": {off.Email, testPassword},
	} {
		before := e.hasher.Runs()
		err := e.attempt(c.email, c.password, "")
		if !errors.Is(err, models.ErrInvalidCredentials) || err.Error() != models.ErrInvalidCredentials.Error() {
			t.Errorf("%s: %v, want exactly ErrInvalidCredentials", name, err)
		}
		if runs := e.hasher.Runs() - before; runs != 1 {
			t.Errorf("%s ran the KDF %d times, want 1", name, runs)
		}
	}
}

// TestPasswordPolicyRefusesBeforeHashing: too long, too short and common passwords are
// refused without computing a hash.
func TestPasswordPolicyRefusesBeforeHashing(t *testing.T) {
	store := servicetest.SQLite(t)
	e := newThrottled(t, store, accountOnly())
	for name, pw := range map[string]string{
		"10 KB":      strings.Repeat("x", 10<<10),
		"129 chars":  strings.Repeat("é", 129),
		"7 chars":    "abc1234",
		"common":     "Password1",
		"common too": "iloveyou2",
		"the email":  "",
	} {
		email := servicetest.Email(t)
		if pw == "" {
			pw = email
		}
		before := e.hasher.Runs()
		_, err := e.users.Register(context.Background(), models.RegisterParams{Email: email, Password: pw})
		var weak *models.WeakPasswordError
		if !errors.As(err, &weak) {
			t.Errorf("%s: Register() = %v, want *models.WeakPasswordError", name, err)
		}
		if runs := e.hasher.Runs() - before; runs != 0 {
			t.Errorf("%s: the KDF ran %d times, want 0", name, runs)
		}
	}
	if !services.IsCommonPassword("QWERTYUIOP") || services.IsCommonPassword(testPassword) {
		t.Error("IsCommonPassword: want the list matched ignoring case, and a passphrase not on it")
	}
	if _, err := e.users.Register(context.Background(), models.RegisterParams{Email: servicetest.Email(t), Password: strings.Repeat("é", 128)}); err != nil {
		t.Errorf("128 characters (256 bytes) = %v, want accepted: the limit counts characters", err)
	}
}

// TestLockedAccountBoundsPasswordRechecks: on a locked account, a signed-in session's password
// re-checks (password change) still come at most once per MaxDelay, so a stolen token cannot
// guess at leisure; the right current password, in time, changes it and lifts the lock.
func TestLockedAccountBoundsPasswordRechecks(t *testing.T) {
	store := servicetest.SQLite(t)
	cfg := accountOnly()
	cfg.FreeFailures, cfg.LockAfter, cfg.MaxDelay = 1, 3, time.Minute
	e := newThrottled(t, store, cfg)
	u := e.register(t, nil)
	sess := e.login(t, u, "TV")
	e.failTimes(t, u.Email, 3)
	e.clock.Advance(time.Hour)
	ctx := context.Background()
	if err := e.users.ChangePassword(ctx, u.ID, sess.Session.ID, "guess one", "a new passphrase", true); !errors.Is(err, models.ErrInvalidCredentials) {
		t.Fatalf("first guess on a locked account = %v, want ErrInvalidCredentials", err)
	}
	if wait := retryAfter(t, e.users.ChangePassword(ctx, u.ID, sess.Session.ID, "guess two", "a new passphrase", true)); wait != time.Minute {
		t.Fatalf("second guess: Retry-After %s, want the full MaxDelay", wait)
	}
	e.clock.Advance(time.Minute)
	if err := e.users.ChangePassword(ctx, u.ID, sess.Session.ID, testPassword, "a new passphrase", true); err != nil {
		t.Fatalf("the right password after the wait = %v", err)
	}
	if err := e.attempt(u.Email, "a new passphrase", ""); err != nil {
		t.Fatalf("login after the password change = %v, want the lock lifted", err)
	}
}
