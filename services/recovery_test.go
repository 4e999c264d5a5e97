package services_test

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

// recoveryEnv is env with a login throttle, verification mode, notices and Recovery, and
// the hasher they share (to count key derivations).
type recoveryEnv struct {
	*env
	recovery *services.Recovery
	hasher   *services.Hasher
	throttle *services.Throttle
}

var publicURL = &url.URL{Scheme: "https", Host: "accounts.example.com"}

func newRecoveryEnv(tb testing.TB, store servicetest.Store, mode models.VerificationMode, notify bool) *recoveryEnv {
	tb.Helper()
	clock := newFakeClock()
	h := servicetest.FastHasher()
	tc := servicetest.Throttle()
	tc.IPRate, tc.FreeFailures, tc.LockAfter, tc.MaxDelay, tc.Now = 0, 2, 3, time.Second, clock.Now
	throttle, err := services.NewThrottle(store.DB, tc)
	if err != nil {
		tb.Fatal(err)
	}
	e := &env{
		store: store, clock: clock,
		users: services.NewUsers(store.DB, h, services.UsersConfig{
			DefaultPlan: "standard", RegistrationOpen: true, Now: clock.Now, Verification: mode, PublicURL: publicURL,
		}),
		sessions: services.NewSessions(store.DB, h, services.SessionsConfig{
			Defaults: defaultTimeouts, TouchInterval: time.Minute, Now: clock.Now, Throttle: throttle,
			Verification: mode, NotifySignIn: notify, NotifyEviction: notify, PublicURL: publicURL,
		}),
	}
	r, err := services.NewRecovery(store.DB, h, services.RecoveryConfig{
		PublicURL: publicURL, Verification: mode, Throttle: throttle, Now: clock.Now,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return &recoveryEnv{env: e, recovery: r, hasher: h, throttle: throttle}
}

// mails returns the outbox's mails to the address, oldest first.
func mails(tb testing.TB, db *gorm.DB, to string) []models.OutboundMail {
	tb.Helper()
	var ms []models.OutboundMail
	if err := db.Where("to_addr = ?", to).Order("created_at, id").Find(&ms).Error; err != nil {
		tb.Fatalf("read outbox: %v", err)
	}
	return ms
}

var linkToken = regexp.MustCompile(`https://accounts\.example\.com/(reset|verify)\?token=([A-Za-z0-9_.-]+)`)

// lastToken returns the token of the last mail of kind to the address, read from its text as
// the person would.
func lastToken(tb testing.TB, db *gorm.DB, to, kind string) string {
	tb.Helper()
	ms := mails(tb, db, to)
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Kind == kind {
			m := linkToken.FindStringSubmatch(ms[i].TextBody)
			if m == nil {
				tb.Fatalf("mail %s to %s has no link:\n%s", kind, to, ms[i].TextBody)
			}
			return m[2]
		}
	}
	tb.Fatalf("no %s mail to %s in %d mails", kind, to, len(ms))
	return ""
}

// TestForgotAndReset is the whole recovery of a locked-out account: the link arrives, a weak
// password does not spend it, the reset signs every device out (reason password_reset, in the
// history), drops held logins, device keys and the lock, and the new password signs in.
func TestForgotAndReset(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			ctx := context.Background()
			e := newRecoveryEnv(t, store, models.VerificationOff, false)
			u := e.register(t, &models.Limit{Max: 5, Policy: models.PolicyReject})
			tv, phone := e.login(t, u, "Living room TV"), e.login(t, u, "Phone")
			// Someone guesses until the account is locked: the owner's password fails too.
			bad := loginParams(u, "Laptop")
			bad.Password = "wrong password"
			for i := 0; i < 3; i++ {
				_, _ = e.sessions.Login(ctx, bad)
				e.clock.Advance(2 * time.Second)
			}
			if _, err := e.sessions.Login(ctx, loginParams(u, "Laptop")); err == nil {
				t.Fatalf("Login(locked account) succeeded; the test needs a lock")
			}
			if err := e.recovery.Forgot(ctx, u.Email, "192.0.2.1"); err != nil {
				t.Fatalf("Forgot() = %v", err)
			}
			token := lastToken(t, store.DB, u.Email, services.MailPasswordReset)
			var weak *models.WeakPasswordError
			if err := e.recovery.Reset(ctx, token, "short"); !errors.As(err, &weak) {
				t.Fatalf("Reset(weak) = %v, want WeakPasswordError", err)
			}
			if err := e.recovery.Reset(ctx, token, "a brand new passphrase"); err != nil {
				t.Fatalf("Reset() = %v, want nil (a weak password does not spend the token)", err)
			}
			for _, s := range []models.LoginResult{tv, phone} {
				var revoked *models.SessionRevokedError
				if _, err := e.sessions.Authenticate(ctx, s.Token); !errors.As(err, &revoked) || revoked.Reason != models.ReasonPasswordReset {
					t.Errorf("Authenticate(%s after reset) = %v, want revoked for password_reset", s.Session.DeviceName, err)
				}
			}
			if ev := eventTypes(t, store.DB, u.ID); ev[models.EventPasswordReset] != 1 || ev[models.EventRevoked] != 2 {
				t.Errorf("events after reset = %v, want one password_reset and two revoked", ev)
			}
			var keys int64
			store.DB.Model(&models.DeviceKey{}).Where("user_id = ?", u.ID).Count(&keys)
			if keys != 0 {
				t.Errorf("device keys after reset = %d, want 0", keys)
			}
			if _, err := e.sessions.Login(ctx, loginParams(u, "Laptop")); !errors.Is(err, models.ErrInvalidCredentials) {
				t.Errorf("Login(old password) = %v, want ErrInvalidCredentials", err)
			}
			p := loginParams(u, "Laptop")
			p.Password = "a brand new passphrase"
			if _, err := e.sessions.Login(ctx, p); err != nil {
				t.Errorf("Login(new password) = %v, want nil: the reset clears the lock", err)
			}
			if err := e.recovery.Reset(ctx, token, "another new passphrase"); !errors.Is(err, models.ErrTokenInvalid) {
				t.Errorf("Reset(the same token again) = %v, want ErrTokenInvalid", err)
			}
			if ms := mails(t, store.DB, u.Email); len(ms) != 2 || ms[1].Kind != services.MailPasswordChanged {
				t.Errorf("mails = %d, want the link and the notice that the password changed", len(ms))
			}
		})
	}
}

// TestResetTokenMisuse: every token that is not a live reset link of this purpose reads the
// same, token_invalid; a newer reset voids the older links.
func TestResetTokenMisuse(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			ctx := context.Background()
			e := newRecoveryEnv(t, store, models.VerificationOptional, false)
			u := e.register(t, nil)
			verify := lastToken(t, store.DB, u.Email, services.MailVerifyEmail)
			mustForgot := func() string {
				t.Helper()
				if err := e.recovery.Forgot(ctx, u.Email, ""); err != nil {
					t.Fatalf("Forgot() = %v", err)
				}
				return lastToken(t, store.DB, u.Email, services.MailPasswordReset)
			}
			first, second := mustForgot(), mustForgot()
			wrong := []byte(second)
			wrong[len(wrong)-1] ^= 1 // same id, another secret
			for name, tok := range map[string]string{
				"empty": "", "malformed": "not-a-token", "wrong secret": string(wrong), "a verify token": verify,
			} {
				if err := e.recovery.Reset(ctx, tok, "a brand new passphrase"); !errors.Is(err, models.ErrTokenInvalid) {
					t.Errorf("Reset(%s) = %v, want ErrTokenInvalid", name, err)
				}
			}
			if err := e.recovery.Reset(ctx, second, "a brand new passphrase"); err != nil {
				t.Fatalf("Reset(the newest link) = %v", err)
			}
			if err := e.recovery.Reset(ctx, first, "another new passphrase"); !errors.Is(err, models.ErrTokenInvalid) {
				t.Errorf("Reset(an older link after a reset) = %v, want ErrTokenInvalid", err)
			}
			expiring := mustForgot()
			e.clock.Advance(services.ResetTokenTTL)
			if err := e.recovery.Reset(ctx, expiring, "another new passphrase"); !errors.Is(err, models.ErrTokenInvalid) {
				t.Errorf("Reset(after 30 minutes) = %v, want ErrTokenInvalid", err)
			}
		})
	}
}

// TestResetRace: two resets with one token at once; exactly one sets its password. (Without
// the conditional spend in the transaction both would: checked by hand.)
func TestResetRace(t *testing.T) {
	store := servicetest.Postgres(t)
	ctx := context.Background()
	e := newRecoveryEnv(t, store, models.VerificationOff, false)
	u := e.register(t, nil)
	if err := e.recovery.Forgot(ctx, u.Email, ""); err != nil {
		t.Fatal(err)
	}
	token := lastToken(t, store.DB, u.Email, services.MailPasswordReset)
	start := make(chan struct{})
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = e.recovery.Reset(ctx, token, []string{"first new passphrase", "second new passphrase"}[i])
		}()
	}
	close(start)
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("two Resets with one token = %v, %v; want exactly one to succeed", errs[0], errs[1])
	}
	for _, err := range errs {
		if err != nil && !errors.Is(err, models.ErrTokenInvalid) {
			t.Errorf("the losing Reset = %v, want ErrTokenInvalid", err)
		}
	}
}

// TestForgotEnumeration: for an address with an account and one without, Forgot answers the
// same, derives no key (counted), and writes one mail each (counted): nothing that leaves the
// service tells them apart.
func TestForgotEnumeration(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			ctx := context.Background()
			e := newRecoveryEnv(t, store, models.VerificationOff, false)
			account := e.register(t, nil)
			known := account.Email
			unknown := servicetest.Email(t)
			for _, email := range []string{known, unknown} {
				runs := e.hasher.Runs()
				err := e.recovery.Forgot(ctx, email, "192.0.2.1")
				if err != nil {
					t.Errorf("Forgot(%s) = %v, want nil", email, err)
				}
				if d := e.hasher.Runs() - runs; d != 0 {
					t.Errorf("Forgot(%s) derived %d keys, want 0", email, d)
				}
				if n := len(mails(t, store.DB, email)); n != 1 {
					t.Errorf("Forgot(%s) wrote %d mails, want 1", email, n)
				}
			}
			var tokens int64
			store.DB.Model(&models.MailToken{}).Where("user_id = ?", account.ID).Count(&tokens)
			if tokens != 1 {
				t.Errorf("reset tokens = %d, want 1 (only the account's)", tokens)
			}
		})
	}
}

// TestForgotRateLimits: per mailed address (known or not), then per client address.
func TestForgotRateLimits(t *testing.T) {
	store := servicetest.SQLite(t)
	ctx := context.Background()
	e := newRecoveryEnv(t, store, models.VerificationOff, false)
	var limited *models.RateLimitedError
	for _, email := range []string{e.register(t, nil).Email, servicetest.Email(t)} {
		for i := 0; i < 3; i++ {
			if err := e.recovery.Forgot(ctx, email, "198.51.100."+string(rune('1'+i))); err != nil {
				t.Fatalf("Forgot(%s) #%d = %v", email, i+1, err)
			}
		}
		if err := e.recovery.Forgot(ctx, email, "198.51.100.9"); !errors.As(err, &limited) {
			t.Errorf("Forgot(%s) #4 within the hour = %v, want RateLimitedError", email, err)
		}
	}
	for i := 0; i < 5; i++ {
		if err := e.recovery.Forgot(ctx, servicetest.Email(t), "203.0.113.5"); err != nil {
			t.Fatalf("Forgot() #%d from one address = %v", i+1, err)
		}
	}
	if err := e.recovery.Forgot(ctx, servicetest.Email(t), "203.0.113.5"); !errors.As(err, &limited) {
		t.Errorf("Forgot() #6 from one address = %v, want RateLimitedError", err)
	}
}
