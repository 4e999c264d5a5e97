package services

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/sessiond/sessiond/models"
)

// unsignedToken is a compact JWS whose signature is never checked: the keys are fetched first.
func unsignedToken(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"k"}`)) + "." + enc([]byte(payload)) + "." + enc([]byte("signature"))
}

// TestIDTokenFailurePinsGoOIDC pins the go-oidc failure idTokenFailure knows by its text: keys
// that could not be fetched, from a provider that is unreachable or answers with an error
// status (go-oidc flattens both into text). If go-oidc changes the words (or gives them a
// type), this fails and idTokenFailure must follow.
func TestIDTokenFailurePinsGoOIDC(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	token := unsignedToken(`{"iss":"https://issuer.example","aud":"client","exp":4102444800}`)
	for name, keysURL := range map[string]string{"error status": failing.URL + "/keys", "unreachable": gone.URL + "/keys"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			v := oidc.NewVerifier("https://issuer.example", oidc.NewRemoteKeySet(ctx, keysURL),
				&oidc.Config{SkipClientIDCheck: true, SkipIssuerCheck: true})
			_, err := v.Verify(ctx, token)
			if err == nil {
				t.Fatal("Verify(token, keys endpoint failing) = nil, want an error")
			}
			if !strings.Contains(err.Error(), keysFailure) {
				t.Errorf("Verify(token, keys endpoint %s) = %q, want it to contain %q: update idTokenFailure", name, err, keysFailure)
			}
			if got := idTokenFailure(err); !errors.Is(got, models.ErrProviderUnavailable) {
				t.Errorf("idTokenFailure(%v) = %v, want ErrProviderUnavailable", err, got)
			}
		})
	}
	var idErr *models.IDTokenError
	if got := idTokenFailure(errors.New("failed to verify id token signature")); !errors.As(got, &idErr) {
		t.Errorf("idTokenFailure(bad signature) = %v, want *models.IDTokenError", got)
	}
}

// TestIDTokenParty: the issuer and the audience are checked by sessiond, from the payload
// before the signature (as go-oidc would) and again after.
func TestIDTokenParty(t *testing.T) {
	p := &oidcProvider{conf: OIDCProviderConfig{Issuer: "https://issuer.example", ClientID: "client"}}
	cases := []struct {
		payload string
		want    string // the refusal's reason; "" accepted
	}{
		{`{"iss":"https://issuer.example","aud":"client"}`, ""},
		{`{"iss":"https://issuer.example","aud":["other","client"]}`, ""},
		{`{"iss":"https://issuer.example/","aud":"client"}`, "issued by another provider"},
		{`{"iss":"https://evil.example","aud":"client"}`, "issued by another provider"},
		{`{"iss":"https://issuer.example","aud":"other"}`, "issued for another audience"},
		{`{"iss":"https://issuer.example","aud":["other"]}`, "issued for another audience"},
		{`{"iss":"https://issuer.example"}`, "issued for another audience"},
	}
	for _, c := range cases {
		claimed, ok := unverifiedParty(unsignedToken(c.payload))
		if !ok {
			t.Fatalf("unverifiedParty(%s) = not ok", c.payload)
		}
		err := p.party(claimed.Issuer, claimed.Audience)
		var idErr *models.IDTokenError
		switch {
		case c.want == "" && err != nil:
			t.Errorf("party(%s) = %v, want nil", c.payload, err)
		case c.want != "" && (!errors.As(err, &idErr) || !strings.Contains(idErr.Reason, c.want)):
			t.Errorf("party(%s) = %v, want IDTokenError %q", c.payload, err, c.want)
		}
	}
	for _, raw := range []string{"a.b", "a.!!.c", unsignedToken(`{"aud":1}`), unsignedToken(`not json`)} {
		if _, ok := unverifiedParty(raw); ok {
			t.Errorf("unverifiedParty(%q) = ok, want not ok", raw)
		}
	}
}
