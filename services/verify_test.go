package services_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestVerifyEmail: sign-up mails a link; with verification required the right password gets
// 403 email_unverified (and is not counted as a failure), the link verifies once, and then the
// login goes through. A link for an address the account no longer has verifies nothing.
func TestVerifyEmail(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			ctx := context.Background()
			e := newRecoveryEnv(t, store, models.VerificationRequired, false)
			u := e.register(t, nil)
			if u.EmailVerified {
				t.Fatalf("Register() = verified, want unverified")
			}
			token := lastToken(t, store.DB, u.Email, services.MailVerifyEmail)
			for i := 0; i < 4; i++ { // more than the throttle's lock (3): the right password is no failure
				if _, err := e.sessions.Login(ctx, loginParams(u, "TV")); !errors.Is(err, models.ErrEmailUnverified) {
					t.Fatalf("Login(unverified) #%d = %v, want ErrEmailUnverified", i+1, err)
				}
			}
			bad := loginParams(u, "TV")
			bad.Password = "wrong password"
			if _, err := e.sessions.Login(ctx, bad); !errors.Is(err, models.ErrInvalidCredentials) {
				t.Errorf("Login(unverified, wrong password) = %v, want ErrInvalidCredentials: nothing told before the password", err)
			}
			e.clock.Advance(2 * time.Second)
			if err := e.recovery.VerifyEmail(ctx, token); err != nil {
				t.Fatalf("VerifyEmail() = %v", err)
			}
			if err := e.recovery.VerifyEmail(ctx, token); !errors.Is(err, models.ErrTokenInvalid) {
				t.Errorf("VerifyEmail(again) = %v, want ErrTokenInvalid", err)
			}
			res := e.login(t, u, "TV")
			if !res.User.EmailVerified {
				t.Errorf("Login().User.EmailVerified = false after verifying")
			}
			p, err := e.sessions.Authenticate(ctx, res.Token)
			if err != nil || !p.User.EmailVerified {
				t.Errorf("Authenticate() = %v, verified %v; want the verified user", err, p != nil && p.User.EmailVerified)
			}

			// A link for an old address: the account's email changed since it was mailed.
			v := e.register(t, nil)
			old := lastToken(t, store.DB, v.Email, services.MailVerifyEmail)
			if err := store.DB.Model(&models.User{}).Where("id = ?", v.ID).Update("email", "new-"+v.Email).Error; err != nil {
				t.Fatal(err)
			}
			if err := e.recovery.VerifyEmail(ctx, old); !errors.Is(err, models.ErrTokenInvalid) {
				t.Errorf("VerifyEmail(a link to the old address) = %v, want ErrTokenInvalid", err)
			}
		})
	}
}

// TestResendVerification: a new link voids the old one; a verified account gets none; a
// person who cannot sign in asks by address, and an unknown address reads the same.
func TestResendVerification(t *testing.T) {
	store := servicetest.SQLite(t)
	ctx := context.Background()
	e := newRecoveryEnv(t, store, models.VerificationOptional, false)
	u := e.register(t, nil)
	first := lastToken(t, store.DB, u.Email, services.MailVerifyEmail)
	if err := e.recovery.ResendVerification(ctx, u.ID, "192.0.2.1"); err != nil {
		t.Fatalf("ResendVerification() = %v", err)
	}
	if err := e.recovery.ResendVerificationTo(ctx, servicetest.Email(t), "192.0.2.1"); err != nil {
		t.Errorf("ResendVerificationTo(unknown) = %v, want nil", err)
	}
	second := lastToken(t, store.DB, u.Email, services.MailVerifyEmail)
	if err := e.recovery.VerifyEmail(ctx, first); !errors.Is(err, models.ErrTokenInvalid) {
		t.Errorf("VerifyEmail(the first link after a resend) = %v, want ErrTokenInvalid", err)
	}
	if err := e.recovery.VerifyEmail(ctx, second); err != nil {
		t.Fatalf("VerifyEmail(the newest link) = %v", err)
	}
	if err := e.recovery.ResendVerificationTo(ctx, u.Email, "192.0.2.1"); err != nil {
		t.Errorf("ResendVerificationTo(verified) = %v", err)
	}
	if n := len(mails(t, store.DB, u.Email)); n != 2 {
		t.Errorf("mails = %d, want 2: a verified address gets no more links", n)
	}
	// A reset link proves the mailbox too.
	w := e.register(t, nil)
	if err := e.recovery.Forgot(ctx, w.Email, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.recovery.Reset(ctx, lastToken(t, store.DB, w.Email, services.MailPasswordReset), "a brand new passphrase"); err != nil {
		t.Fatal(err)
	}
	var got models.User
	store.DB.Where("id = ?", w.ID).Take(&got)
	if !got.EmailVerified {
		t.Errorf("after a reset through a mailed link, email_verified = false, want true")
	}
}

// TestVerificationOff: no mail at sign-up, logins need none, and an admin the operator makes
// is verified whatever the mode.
func TestVerificationOff(t *testing.T) {
	store := servicetest.SQLite(t)
	e := newRecoveryEnv(t, store, models.VerificationOff, false)
	u := e.register(t, nil)
	if n := len(mails(t, store.DB, u.Email)); n != 0 {
		t.Errorf("sign-up mailed %d, want 0 with verification off", n)
	}
	e.login(t, u, "TV")
	req := newRecoveryEnv(t, store, models.VerificationRequired, false)
	admin, err := req.users.CreateAdmin(context.Background(), servicetest.Email(t), testPassword)
	if err != nil || !admin.EmailVerified {
		t.Fatalf("CreateAdmin() = verified %v, %v; want a verified admin", admin.EmailVerified, err)
	}
	req.login(t, admin, "Laptop")
}

// TestNotices: with the notices on, each sign-in mails "New sign-in", each eviction mails
// the evicted device's notice, both from the login's transaction; a login the limit refuses
// (nothing committed but its record) mails nothing.
func TestNotices(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			ctx := context.Background()
			e := newRecoveryEnv(t, store, models.VerificationOff, true)
			u := e.register(t, &models.Limit{Max: 1, Policy: models.PolicyEvictOldest})
			e.login(t, u, "Living room TV")
			e.clock.Advance(time.Second)
			e.login(t, u, "Phone")
			ms := mails(t, store.DB, u.Email)
			kinds := []string{}
			for _, m := range ms {
				kinds = append(kinds, m.Kind+": "+m.Subject)
			}
			want := []string{
				"signin_notice: New sign-in on Living room TV", "signin_notice: New sign-in on Phone",
				"eviction_notice: Living room TV was signed out because Phone signed in",
			}
			if len(kinds) != len(want) {
				t.Fatalf("mails = %q, want %q", kinds, want)
			}
			for _, w := range want {
				found := false
				for _, k := range kinds {
					found = found || k == w
				}
				if !found {
					t.Errorf("mails = %q, want %q among them", kinds, w)
				}
			}
			setLimit(t, store.DB, u.ID, models.Limit{Max: 1, Policy: models.PolicyReject})
			var limit *models.DeviceLimitError
			if _, err := e.sessions.Login(ctx, loginParams(u, "Laptop")); !errors.As(err, &limit) {
				t.Fatalf("Login(at the limit, reject) = %v, want DeviceLimitError", err)
			}
			if n := len(mails(t, store.DB, u.Email)); n != len(want) {
				t.Errorf("mails after a refused login = %d, want %d", n, len(want))
			}
		})
	}
}
