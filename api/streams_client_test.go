package api_test

import (
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/api/client"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

// handTicker ticks when the test says so.
type handTicker chan time.Time

func (h handTicker) C() <-chan time.Time { return h }
func (h handTicker) Stop()               {}

// TestClientStreams: the Go client against the real engine, on both stores. Starts at the limit
// come back as *client.StreamLimitError listing who plays what; a takeover ends the other
// player's KeepPlaying with the reason and the device; a revoked session's heartbeat and an
// unknown stream are typed errors, never "unavailable".
func TestClientStreams(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{})
			srv := httptest.NewServer(s.Handler)
			t.Cleanup(srv.Close)
			c, err := client.New(srv.URL, "player", "unused")
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			email := s.Register(t)
			s.SetLimit(t, email, models.Limit{Max: 3, Policy: models.PolicyEvictOldest})
			tv, phone, laptop := s.MustLogin(t, email, "TV"), s.MustLogin(t, email, "Phone"), s.MustLogin(t, email, "Laptop")

			onTV, err := c.StartStream(ctx, tv, client.StreamStart{ContentID: "drama-7"})
			if err != nil || onTV.Stream.ID == "" || onTV.HeartbeatInterval <= 0 || onTV.Stream.Device.Name != "TV" {
				t.Fatalf("StartStream(TV) = %+v, %v", onTV, err)
			}
			if _, err := c.StartStream(ctx, phone, client.StreamStart{ContentID: "cup-final", Class: "live"}); err != nil {
				t.Fatalf("StartStream(phone) = %v", err)
			}
			var limit *client.StreamLimitError
			if _, err := c.StartStream(ctx, laptop, client.StreamStart{ContentID: "nature-1"}); !errors.As(err, &limit) || limit.Limit != 2 || len(limit.Streams) != 2 {
				t.Fatalf("StartStream(laptop) at the limit = %v, want *StreamLimitError listing 2", err)
			}
			if _, err := c.StartStream(ctx, laptop, client.StreamStart{Class: "sport"}); !errors.Is(err, client.ErrRejected) {
				t.Fatalf("StartStream(unknown class) = %v, want ErrRejected", err)
			}

			tick, beats, done := make(handTicker), make(chan error, 4), make(chan error, 1)
			go func() {
				done <- c.KeepPlaying(ctx, tv, onTV.Stream.ID, onTV.HeartbeatInterval,
					client.WithTicker(func(time.Duration) client.Ticker { return tick }),
					client.WithBeats(func(_ client.Stream, err error) { beats <- err }))
			}()
			beat := func() {
				t.Helper()
				select {
				case tick <- time.Now():
				case err := <-done:
					t.Fatalf("KeepPlaying() ended early: %v", err)
				}
			}
			beat()
			if err := <-beats; err != nil {
				t.Fatalf("the TV's first heartbeat = %v, want the lease renewed", err)
			}
			if _, err := c.StartStream(ctx, laptop, client.StreamStart{ContentID: "nature-1", ReplaceStreamID: onTV.Stream.ID}); err != nil {
				t.Fatalf("StartStream(laptop, replacing the TV's) = %v", err)
			}
			beat()
			var ended *client.StreamEndedError
			if err := <-done; !errors.As(err, &ended) || ended.Reason != "taken_over" || ended.ByDeviceName != "Laptop" {
				t.Fatalf("the TV's KeepPlaying() = %v, want *StreamEndedError taken_over by Laptop", err)
			}

			if _, err := c.Heartbeat(ctx, laptop, "0190a000-0000-7000-8000-0000000000ff"); !errors.Is(err, client.ErrStreamNotFound) {
				t.Fatalf("Heartbeat(unknown stream) = %v, want ErrStreamNotFound", err)
			}
			if r := s.Do("POST", "/v1/auth/logout", "", "", apitest.Bearer(phone)...); r.Code != 204 {
				t.Fatalf("logout = %d", r.Code)
			}
			list := s.Do("GET", "/v1/streams", "", "", apitest.Bearer(laptop)...)
			if n := len(list.JSON["streams"].([]any)); n != 1 {
				t.Fatalf("streams after the phone signed out = %d, want 1: its stream ended with it", n)
			}
			for _, st := range list.JSON["streams"].([]any) {
				if err := c.StopStream(ctx, laptop, st.(map[string]any)["id"].(string)); err != nil {
					t.Fatalf("StopStream() = %v", err)
				}
			}
			var signedOut *client.SessionEndedError
			if _, err := c.StartStream(ctx, phone, client.StreamStart{}); !errors.As(err, &signedOut) {
				t.Fatalf("StartStream(signed out) = %v, want *SessionEndedError", err)
			}
		})
	}
}
