package services_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

func TestOIDCRefusesForgeriesAndReplays(t *testing.T) {
	store := servicetest.SQLite(t)
	ctx := context.Background()
	e := newOIDCEnv(t, store, true, nil)
	bob := func() *mockoidc.MockUser {
		return person("bob-"+randomSuffix(), servicetest.Email(t)+randomSuffix(), true)
	}

	t.Run("forged state", func(t *testing.T) {
		cb := e.browserSignIn(t, "mock", bob(), "Laptop")
		cb.State = "forged" + cb.State[6:]
		if _, _, err := e.oidc.Callback(ctx, "mock", cb); !errors.Is(err, models.ErrSignInStateInvalid) {
			t.Errorf("Callback(forged state) = %v, want ErrSignInStateInvalid", err)
		}
	})
	t.Run("another browser", func(t *testing.T) {
		cb := e.browserSignIn(t, "mock", bob(), "Laptop")
		cb.Browser = "the victim's browser"
		if _, _, err := e.oidc.Callback(ctx, "mock", cb); !errors.Is(err, models.ErrSignInStateInvalid) {
			t.Errorf("Callback(from another browser) = %v, want ErrSignInStateInvalid", err)
		}
	})
	t.Run("replayed callback", func(t *testing.T) {
		cb := e.browserSignIn(t, "mock", bob(), "Laptop")
		if _, _, err := e.oidc.Callback(ctx, "mock", cb); err != nil {
			t.Fatalf("Callback() = %v", err)
		}
		if _, _, err := e.oidc.Callback(ctx, "mock", cb); !errors.Is(err, models.ErrSignInStateInvalid) {
			t.Errorf("Callback(replayed) = %v, want ErrSignInStateInvalid", err)
		}
	})
	t.Run("replayed code", func(t *testing.T) {
		first := e.browserSignIn(t, "mock", bob(), "Laptop")
		if _, _, err := e.oidc.Callback(ctx, "mock", first); err != nil {
			t.Fatalf("Callback() = %v", err)
		}
		// A fresh state of this browser, with the code already exchanged.
		second := e.browserSignIn(t, "mock", bob(), "Laptop")
		second.Code = first.Code
		var idErr *models.IDTokenError
		if _, _, err := e.oidc.Callback(ctx, "mock", second); !errors.As(err, &idErr) {
			t.Errorf("Callback(replayed code) = %v, want IDTokenError", err)
		}
	})
	t.Run("state of another provider", func(t *testing.T) {
		cb := e.browserSignIn(t, "mock", bob(), "Laptop")
		if _, _, err := e.oidc.Callback(ctx, "linking", cb); !errors.Is(err, models.ErrSignInStateInvalid) {
			t.Errorf("Callback(other provider) = %v, want ErrSignInStateInvalid", err)
		}
	})
	t.Run("ID token for another audience", func(t *testing.T) {
		tok := nativeIDToken(t, e.mock, bob(), "")
		var idErr *models.IDTokenError
		if _, err := e.oidc.LoginWithIDToken(ctx, "stranger", native(tok, "", "TV")); !errors.As(err, &idErr) || !strings.Contains(err.Error(), "audience") {
			t.Errorf("LoginWithIDToken(another audience) = %v, want IDTokenError about the audience", err)
		}
	})
	t.Run("wrong nonce", func(t *testing.T) {
		tok := nativeIDToken(t, e.mock, bob(), "the app's nonce")
		for _, nonce := range []string{"another nonce", ""} {
			var idErr *models.IDTokenError
			if _, err := e.oidc.LoginWithIDToken(ctx, "mock", native(tok, nonce, "TV")); !errors.As(err, &idErr) || !strings.Contains(err.Error(), "nonce") {
				t.Errorf("LoginWithIDToken(nonce %q) = %v, want IDTokenError about the nonce", nonce, err)
			}
		}
		if _, err := e.oidc.LoginWithIDToken(ctx, "mock", native(tok, "the app's nonce", "TV")); err != nil {
			t.Errorf("LoginWithIDToken(right nonce) = %v", err)
		}
	})
	t.Run("replayed ID token", func(t *testing.T) {
		tok := nativeIDToken(t, e.mock, bob(), "")
		if _, err := e.oidc.LoginWithIDToken(ctx, "mock", native(tok, "", "TV")); err != nil {
			t.Fatalf("LoginWithIDToken() = %v", err)
		}
		var idErr *models.IDTokenError
		if _, err := e.oidc.LoginWithIDToken(ctx, "mock", native(tok, "", "Thief's TV")); !errors.As(err, &idErr) {
			t.Errorf("LoginWithIDToken(replayed) = %v, want IDTokenError", err)
		}
	})
	t.Run("garbage and unknown provider", func(t *testing.T) {
		var idErr *models.IDTokenError
		if _, err := e.oidc.LoginWithIDToken(ctx, "mock", native("eyJhbGciOiJub25lIn0.e30.", "", "TV")); !errors.As(err, &idErr) {
			t.Errorf("LoginWithIDToken(alg none) = %v, want IDTokenError", err)
		}
		if _, err := e.oidc.LoginWithIDToken(ctx, "nope", native("x", "", "TV")); !errors.Is(err, models.ErrUnknownProvider) {
			t.Errorf("LoginWithIDToken(unknown provider) = %v, want ErrUnknownProvider", err)
		}
	})
	t.Run("one token, other spellings", func(t *testing.T) {
		tok := nativeIDToken(t, e.mock, bob(), "")
		if _, err := e.oidc.LoginWithIDToken(ctx, "mock", native(tok, "", "TV")); err != nil {
			t.Fatalf("LoginWithIDToken() = %v", err)
		}
		// The JOSE library forgives whitespace and the unused bits of the last character;
		// none of these may pass as a fresh token.
		last := tok[len(tok)-1]
		other := string(rune(last ^ 1))
		for _, variant := range []string{tok + "\n", " " + tok, strings.Replace(tok, ".", ".\t", 1), tok[:len(tok)-1] + other} {
			var idErr *models.IDTokenError
			if _, err := e.oidc.LoginWithIDToken(ctx, "mock", native(variant, "", "Thief's TV")); !errors.As(err, &idErr) {
				t.Errorf("LoginWithIDToken(%q…) = %v, want IDTokenError", variant[len(variant)-8:], err)
			}
		}
	})
	t.Run("several audiences", func(t *testing.T) {
		sign := func(claims jwt.MapClaims) string {
			now := time.Now()
			base := jwt.MapClaims{"iss": e.mock.Issuer(), "sub": "multi-" + randomSuffix(), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
				"email": "multi-" + randomSuffix() + "@example.com", "email_verified": true}
			for k, v := range claims {
				base[k] = v
			}
			tok, err := e.mock.Keypair.SignJWT(base)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		both := []string{"another-client", e.mock.ClientID}
		var idErr *models.IDTokenError
		if _, err := e.oidc.LoginWithIDToken(ctx, "mock", native(sign(jwt.MapClaims{"aud": both}), "", "TV")); !errors.As(err, &idErr) {
			t.Errorf("LoginWithIDToken(aud [them, us], no azp) = %v, want IDTokenError", err)
		}
		if _, err := e.oidc.LoginWithIDToken(ctx, "mock", native(sign(jwt.MapClaims{"aud": both, "azp": "another-client"}), "", "TV")); !errors.As(err, &idErr) {
			t.Errorf("LoginWithIDToken(azp another client) = %v, want IDTokenError", err)
		}
		if _, err := e.oidc.LoginWithIDToken(ctx, "mock", native(sign(jwt.MapClaims{"aud": both, "azp": e.mock.ClientID}), "", "TV")); err != nil {
			t.Errorf("LoginWithIDToken(azp us) = %v", err)
		}
	})
	t.Run("expired sign-in state", func(t *testing.T) {
		var ahead atomic.Int64
		later := newOIDCEnv(t, store, true, func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) })
		cb := later.browserSignIn(t, "mock", bob(), "Laptop")
		ahead.Store(int64(11 * time.Minute))
		if _, _, err := later.oidc.Callback(ctx, "mock", cb); !errors.Is(err, models.ErrSignInStateInvalid) {
			t.Errorf("Callback(11 minutes later) = %v, want ErrSignInStateInvalid", err)
		}
	})
	t.Run("another browser cannot burn the state", func(t *testing.T) {
		cb := e.browserSignIn(t, "mock", bob(), "Laptop")
		stolen := cb
		stolen.Browser = "someone else"
		if _, _, err := e.oidc.Callback(ctx, "mock", stolen); !errors.Is(err, models.ErrSignInStateInvalid) {
			t.Fatalf("Callback(other browser) = %v", err)
		}
		if _, _, err := e.oidc.Callback(ctx, "mock", cb); err != nil {
			t.Errorf("Callback(the right browser, after the attempt) = %v", err)
		}
	})
	t.Run("provider down", func(t *testing.T) {
		down := newOIDCEnv(t, store, true, nil)
		tok := nativeIDToken(t, down.mock, bob(), "")
		_ = down.mock.Server.Close()
		_, err := down.oidc.LoginWithIDToken(ctx, "mock", native(tok, "", "TV"))
		if !errors.Is(err, models.ErrProviderUnavailable) || strings.Contains(err.Error(), "127.0.0.1") {
			t.Errorf("LoginWithIDToken(provider down) = %v, want ErrProviderUnavailable without the provider's address", err)
		}
	})
	t.Run("expired ID token", func(t *testing.T) {
		later := newOIDCEnv(t, store, true, func() time.Time { return time.Now().Add(time.Hour) })
		tok := nativeIDToken(t, later.mock, bob(), "")
		var idErr *models.IDTokenError
		if _, err := later.oidc.LoginWithIDToken(ctx, "mock", native(tok, "", "TV")); !errors.As(err, &idErr) || !strings.Contains(err.Error(), "expired") {
			t.Errorf("LoginWithIDToken(expired) = %v, want IDTokenError: expired", err)
		}
	})
}
