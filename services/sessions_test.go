package services_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

func TestLoginAndAuthenticate(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			u := e.register(t, nil)
			res := e.login(t, u, "Living room TV")
			if res.Token == "" || res.Session.UserID != u.ID || len(res.Evicted) != 0 {
				t.Fatalf("Login() = %+v, want a token and a session of user %s", res, u.ID)
			}
			pr, err := e.sessions.Authenticate(context.Background(), res.Token)
			if err != nil {
				t.Fatalf("Authenticate() = %v, want nil", err)
			}
			if pr.Session.ID != res.Session.ID || pr.User.ID != u.ID || pr.Plan.Name != "standard" {
				t.Fatalf("Authenticate() = session %s user %s plan %s, want %s %s standard",
					pr.Session.ID, pr.User.ID, pr.Plan.Name, res.Session.ID, u.ID)
			}
			if !pr.Session.ExpiresAt.Equal(e.clock.Now().Add(defaultTimeouts.Absolute)) {
				t.Errorf("ExpiresAt = %v, want login + %v", pr.Session.ExpiresAt, defaultTimeouts.Absolute)
			}

			// The store keeps only the hash of the secret, never the token.
			var stored models.Session
			if err := store.DB.Where("id = ?", res.Session.ID).Take(&stored).Error; err != nil {
				t.Fatal(err)
			}
			_, secret, _ := strings.Cut(res.Token, ".")
			if len(stored.SecretHash) != 32 || bytes.Contains(stored.SecretHash, []byte(secret)) {
				t.Errorf("stored secret_hash = %x, want a 32-byte SHA-256", stored.SecretHash)
			}
			if got := eventTypes(t, store.DB, u.ID); got[models.EventLogin] != 1 {
				t.Errorf("events = %v, want one login", got)
			}
		})
	}
}

func TestAuthenticateRefusesBadTokens(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			u := e.register(t, nil)
			res := e.login(t, u, "Phone")
			id, _, _ := strings.Cut(res.Token, ".")
			for name, token := range map[string]string{
				"empty":         "",
				"no dot":        strings.ReplaceAll(res.Token, ".", ""),
				"wrong secret":  id + "." + strings.Repeat("A", 43),
				"unknown id":    "AZCgAAAAAHAAgAAAAAAAAQ." + strings.Repeat("A", 43),
				"short secret":  id + ".AAAA",
				"not base64":    id + "." + strings.Repeat("*", 43),
				"trailing junk": res.Token + "x",
				"non canonical": res.Token[:len(res.Token)-1] + flipLowBits(res.Token[len(res.Token)-1]),
			} {
				if _, err := e.sessions.Authenticate(context.Background(), token); !errors.Is(err, models.ErrSessionInvalid) {
					t.Errorf("Authenticate(%s) = %v, want ErrSessionInvalid", name, err)
				}
			}
		})
	}
}

// flipLowBits returns another base64url character that decodes to the same leading bits.
func flipLowBits(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return string(alphabet[i^1])
}

func TestEvictOldestTellsTheEvictedDeviceWhy(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			u := e.register(t, &models.Limit{Max: 2, Policy: models.PolicyEvictOldest})
			first := e.login(t, u, "Kitchen tablet")
			e.clock.Advance(time.Second)
			e.login(t, u, "Phone")
			e.clock.Advance(time.Second)
			third := e.login(t, u, "Living room TV")
			if len(third.Evicted) != 1 || third.Evicted[0].ID != first.Session.ID {
				t.Fatalf("third Login().Evicted = %v, want the first session %s", third.Evicted, first.Session.ID)
			}
			_, err := e.sessions.Authenticate(context.Background(), first.Token)
			var ev *models.SessionEvictedError
			if !errors.As(err, &ev) || ev.ByDeviceName != "Living room TV" || !ev.EvictedAt.Equal(e.clock.Now()) {
				t.Fatalf("Authenticate(evicted) = %v, want SessionEvictedError by Living room TV at %v", err, e.clock.Now())
			}
			if n := activeCount(t, store.DB, u.ID, e.clock.Now()); n != 2 {
				t.Errorf("active sessions = %d, want 2", n)
			}
			if got := eventTypes(t, store.DB, u.ID); got[models.EventEvicted] != 1 || got[models.EventLogin] != 3 {
				t.Errorf("events = %v, want 3 logins and 1 evicted", got)
			}
		})
	}
}

func TestEvictLeastRecentUsesLastSeen(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			u := e.register(t, &models.Limit{Max: 2, Policy: models.PolicyEvictLeastRecent})
			older := e.login(t, u, "Old but busy")
			e.clock.Advance(time.Second)
			newer := e.login(t, u, "New but idle")
			e.clock.Advance(2 * time.Minute) // past the touch interval: this check is recorded
			if _, err := e.sessions.Authenticate(context.Background(), older.Token); err != nil {
				t.Fatal(err)
			}
			third := e.login(t, u, "Third")
			if len(third.Evicted) != 1 || third.Evicted[0].ID != newer.Session.ID {
				t.Fatalf("Login().Evicted = %v, want the least recently seen %s", third.Evicted, newer.Session.ID)
			}
		})
	}
}

func TestRejectPolicyListsDevicesAndAllowsReplacement(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			u := e.register(t, &models.Limit{Max: 2, Policy: models.PolicyReject})
			a := e.login(t, u, "A")
			e.clock.Advance(time.Second)
			b := e.login(t, u, "B")

			_, err := e.sessions.Login(context.Background(), loginParams(u, "C"))
			var limitErr *models.DeviceLimitError
			if !errors.As(err, &limitErr) || limitErr.Limit != 2 || len(limitErr.Sessions) != 2 ||
				limitErr.Sessions[0].ID != b.Session.ID || limitErr.Sessions[1].ID != a.Session.ID {
				t.Fatalf("Login(C) = %v, want DeviceLimitError{2, [B A]}", err)
			}
			if got := eventTypes(t, store.DB, u.ID); got[models.EventLimitRejected] != 1 {
				t.Errorf("events = %v, want one limit_rejected", got)
			}

			p := loginParams(u, "C")
			p.ReplaceSessionID = a.Session.ID
			if _, err := e.sessions.Login(context.Background(), p); err != nil {
				t.Fatalf("Login(C, replace A) = %v", err)
			}
			_, err = e.sessions.Authenticate(context.Background(), a.Token)
			var ev *models.SessionEvictedError
			if !errors.As(err, &ev) || ev.ByDeviceName != "C" || ev.Limit != 2 {
				t.Fatalf("Authenticate(A) = %v, want SessionEvictedError by C at limit 2: the chosen device learns why", err)
			}
			if n := activeCount(t, store.DB, u.ID, e.clock.Now()); n != 2 {
				t.Errorf("active sessions = %d, want 2", n)
			}
		})
	}
}

func TestSameDeviceReplacesItsSession(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			u := e.register(t, &models.Limit{Max: 1, Policy: models.PolicyReject})
			p := loginParams(u, "TV")
			p.Device.ID = "tv-livingroom-7f3a"
			first, err := e.sessions.Login(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			second, err := e.sessions.Login(context.Background(), p) // at the limit, but the same device
			if err != nil {
				t.Fatalf("Login(same device) = %v, want the old session replaced", err)
			}
			if len(second.Evicted) != 0 {
				t.Errorf("Evicted = %v, want none: a replaced session is not evicted", second.Evicted)
			}
			_, err = e.sessions.Authenticate(context.Background(), first.Token)
			var rev *models.SessionRevokedError
			if !errors.As(err, &rev) || rev.Reason != models.ReasonReplaced {
				t.Fatalf("Authenticate(first) = %v, want SessionRevokedError(replaced)", err)
			}
		})
	}
}

func TestLoginRefusesBadCredentialsAlike(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			u := e.register(t, nil)
			disabled := e.register(t, nil)
			if err := store.DB.Model(&models.User{}).Where("id = ?", disabled.ID).Update("disabled_at", e.clock.Now()).Error; err != nil {
				t.Fatal(err)
			}
			cases := map[string]models.LoginParams{
				"wrong password": {Email: u.Email, Password: "wrong password!"},
				"unknown email":  {Email: "nobody@example.com", Password: testPassword},
				"disabled":       {Email: disabled.Email, Password: testPassword},
				"empty password": {Email: u.Email},
				"huge password":  {Email: u.Email, Password: strings.Repeat("x", 10_000)},
				"NUL in email":   {Email: "a\x00" + u.Email, Password: testPassword},
				"huge email":     {Email: strings.Repeat("a", 300) + "@example.com", Password: testPassword},
			}
			for name, p := range cases {
				if _, err := e.sessions.Login(context.Background(), p); !errors.Is(err, models.ErrInvalidCredentials) {
					t.Errorf("Login(%s) = %v, want ErrInvalidCredentials", name, err)
				}
			}
			// The email is matched trimmed and case-insensitively.
			p := loginParams(u, "TV")
			p.Email = "  " + strings.ToUpper(u.Email) + " "
			if _, err := e.sessions.Login(context.Background(), p); err != nil {
				t.Errorf("Login(upper-case email) = %v, want nil", err)
			}
		})
	}
}

func TestLoginValidatesDevice(t *testing.T) {
	e := newEnv(t, servicetest.SQLite(t))
	u := e.register(t, nil)
	for _, d := range []models.Device{
		{Name: "TV", Type: "fridge"},
		{Name: strings.Repeat("n", 101), Type: "tv"},
		{Name: "nul\x00", Type: "tv"},
		{ID: strings.Repeat("i", 129), Name: "TV", Type: "tv"},
	} {
		p := loginParams(u, "")
		p.Device = d
		var v *models.ValidationError
		if _, err := e.sessions.Login(context.Background(), p); !errors.As(err, &v) {
			t.Errorf("Login(device %+v) = %v, want ValidationError", d, err)
		}
	}
}

func TestLogoutRevokesWithReason(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			u := e.register(t, nil)
			res := e.login(t, u, "Laptop")
			if err := e.sessions.Logout(context.Background(), u.ID, res.Session.ID); err != nil {
				t.Fatalf("Logout() = %v", err)
			}
			_, err := e.sessions.Authenticate(context.Background(), res.Token)
			var rev *models.SessionRevokedError
			if !errors.As(err, &rev) || rev.Reason != models.ReasonLogout {
				t.Fatalf("Authenticate(after logout) = %v, want SessionRevokedError(logout)", err)
			}
			if err := e.sessions.Logout(context.Background(), u.ID, res.Session.ID); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("second Logout() = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestExpiryIsEnforced(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			u := e.register(t, nil)
			res := e.login(t, u, "TV")
			e.clock.Advance(defaultTimeouts.Idle - time.Second)
			if _, err := e.sessions.Authenticate(context.Background(), res.Token); err != nil {
				t.Fatalf("Authenticate(idle limit - 1s) = %v, want nil", err)
			}
			e.clock.Advance(defaultTimeouts.Idle + time.Second) // idle since the check above
			if _, err := e.sessions.Authenticate(context.Background(), res.Token); !errors.Is(err, models.ErrSessionExpired) {
				t.Fatalf("Authenticate(idle limit + 1s) = %v, want ErrSessionExpired", err)
			}
		})
	}
}
