package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/sessiond/sessiond/services/servicetest"
)

// pendingWatch is the TV's transport: it tells when the server first answered a poll with
// authorization_pending, so that the phone approves while the library polls. It only looks.
type pendingWatch struct {
	once    sync.Once
	pending chan struct{}
}

func (w *pendingWatch) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err == nil && strings.Contains(string(body), `"authorization_pending"`) {
		w.once.Do(func() { close(w.pending) })
	}
	return resp, err
}

// TestDeviceGrantWithGoOAuth2 is the interoperability test of the TV sign-in with a code:
// golang.org/x/oauth2's DeviceAuth and DeviceAccessToken, unmodified, against the real
// binary on Postgres, a phone approving from a second client while the library polls; then
// the token the library returned is the TV's session.
func TestDeviceGrantWithGoOAuth2(t *testing.T) {
	store := servicetest.Postgres(t)
	base := startBinary(t, "SESSIOND_DATABASE_URL="+store.DSN, "SESSIOND_PUBLIC_URL=https://tv.example",
		"SESSIOND_DEVICE_CODE_INTERVAL=1s")
	email := servicetest.Email(t)
	if resp, body := postJSON(t, base+"/v1/auth/register", map[string]any{"email": email, "password": "a phone and a tv"}); resp.StatusCode != 201 {
		t.Fatalf("register = %d %v", resp.StatusCode, body)
	}
	resp, phone := postJSON(t, base+"/v1/auth/login", map[string]any{"email": email, "password": "a phone and a tv",
		"device": map[string]any{"name": "Phone", "type": "mobile"}})
	if resp.StatusCode != 201 {
		t.Fatalf("login = %d %v", resp.StatusCode, phone)
	}

	watch := &pendingWatch{pending: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: watch})
	cfg := &oauth2.Config{ClientID: "interop-tv", Endpoint: oauth2.Endpoint{
		DeviceAuthURL: base + "/v1/auth/device/code", TokenURL: base + "/v1/auth/device/token",
	}}
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("DeviceAuth() = %v", err)
	}
	if len(da.UserCode) != 9 || da.VerificationURI != "https://tv.example/activate" ||
		da.VerificationURIComplete != "https://tv.example/activate?code="+strings.ReplaceAll(da.UserCode, "-", "") || da.Interval != 1 {
		t.Fatalf("DeviceAuth() = %+v", da)
	}
	type result struct {
		tok *oauth2.Token
		err error
	}
	done := make(chan result, 1)
	go func() {
		tok, err := cfg.DeviceAccessToken(ctx, da)
		done <- result{tok, err}
	}()
	select {
	case <-watch.pending:
	case r := <-done:
		t.Fatalf("DeviceAccessToken() = %v, %v before any approval", r.tok, r.err)
	}

	approve, err := http.NewRequest("POST", base+"/v1/auth/device/approve", strings.NewReader(`{"user_code":"`+strings.ToLower(da.UserCode)+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	approve.Header.Set("Content-Type", "application/json")
	approve.Header.Set("Authorization", "Bearer "+phone["token"].(string))
	ar, err := http.DefaultClient.Do(approve)
	if err != nil {
		t.Fatal(err)
	}
	ar.Body.Close()
	if ar.StatusCode != http.StatusNoContent {
		t.Fatalf("approve = %d, want 204", ar.StatusCode)
	}

	r := <-done
	if r.err != nil {
		t.Fatalf("DeviceAccessToken() = %v", r.err)
	}
	if r.tok.TokenType != "Bearer" || r.tok.AccessToken == "" || r.tok.Expiry.IsZero() || r.tok.Extra("device_key") == "" {
		t.Fatalf("DeviceAccessToken() = %+v", r.tok)
	}
	who, err := http.NewRequest("GET", base+"/v1/auth/session", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.tok.SetAuthHeader(who)
	wr, err := http.DefaultClient.Do(who)
	if err != nil {
		t.Fatal(err)
	}
	defer wr.Body.Close()
	var whoami struct {
		Session struct {
			Device struct{ Name, Type string }
		}
		User struct{ Email string }
	}
	if err := json.NewDecoder(wr.Body).Decode(&whoami); err != nil || wr.StatusCode != 200 {
		t.Fatalf("GET /v1/auth/session with the library's token = %d, %v", wr.StatusCode, err)
	}
	if whoami.User.Email != email || whoami.Session.Device.Type != "tv" || !strings.HasPrefix(whoami.Session.Device.Name, "interop-tv") {
		t.Errorf("whoami of the TV = %+v, want %s's tv named after interop-tv", whoami, email)
	}
	// The code is spent: the library, asked again, is told so.
	if _, err := cfg.DeviceAccessToken(ctx, da); err == nil || !strings.Contains(err.Error(), "expired_token") {
		t.Errorf("DeviceAccessToken() again = %v, want expired_token", err)
	}
	mr, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer mr.Body.Close()
	metrics, err := io.ReadAll(mr.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`sessiond_device_grants_total{event="started"} 1`, `sessiond_device_grants_total{event="approved"} 1`,
		`sessiond_device_grants_total{event="denied"} 0`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
