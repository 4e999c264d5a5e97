package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessiond/sessiond/api/client"
)

// handTicker ticks when the test says so.
type handTicker chan time.Time

func (h handTicker) C() <-chan time.Time { return h }
func (h handTicker) Stop()               {}

// TestCatalogPlaysUnderTheStreamLimit: on the standard plan (2 streams, reject) two TVs play;
// a third is refused with who watches what, takes the kitchen's stream over, and the kitchen's
// player (KeepPlaying) learns on its next heartbeat that the bedroom took it; a stopped stream
// frees its slot.
func TestCatalogPlaysUnderTheStreamLimit(t *testing.T) {
	base := sessiond(t)
	admin, _ := loginAs(t, base, "ops@example.com", "operations desk", "Ops desk")
	catalog, sessiondClient := startCatalog(t, base, admin, time.Second)
	const email, password = "family@example.com", "three tellies one plan"
	if status, body := call(t, "POST", base+"/v1/auth/register", map[string]any{"email": email, "password": password}, ""); status != 201 {
		t.Fatalf("register = %d %v", status, body)
	}
	_, userID := loginAs(t, base, email, password, "Living room TV")
	// Three devices may be signed in; the standard plan still plays two at once.
	if status, body := call(t, "PATCH", base+"/v1/admin/users/"+userID, map[string]any{"max_sessions_override": 3}, admin); status != 200 {
		t.Fatalf("PATCH user = %d %v", status, body)
	}
	living, _ := loginAs(t, base, email, password, "Living room TV")
	kitchen, _ := loginAs(t, base, email, password, "Kitchen TV")
	bedroom, _ := loginAs(t, base, email, password, "Bedroom TV")
	play := func(token, title string, body any) (int, map[string]any) {
		t.Helper()
		return call(t, "POST", catalog.URL+"/catalog/"+title+"/play", body, token)
	}
	if status, body := play(living, "nature-1", nil); status != 201 || body["heartbeat_interval"] != float64(60) || body["on"] != "Living room TV" {
		t.Fatalf("living room plays = %d %v, want 201 with a 60 s heartbeat", status, body)
	}
	status, body := play(kitchen, "drama-7", nil)
	if status != 201 {
		t.Fatalf("kitchen plays = %d %v, want 201", status, body)
	}
	kitchenStream := body["stream_id"].(string)
	tick, beats, done := keepPlaying(sessiondClient, kitchen, kitchenStream)
	tick <- time.Now() // a heartbeat that renews the lease: KeepPlaying goes on
	if err := <-beats; err != nil {
		t.Fatalf("the kitchen's first heartbeat = %v, want the lease renewed", err)
	}

	status, body = play(bedroom, "drama-7", nil)
	details, _ := body["error"].(map[string]any)["details"].(map[string]any)
	if status != 409 || details["limit"] != float64(2) || len(details["streams"].([]any)) != 2 {
		t.Fatalf("a third stream = %d %v, want 409 stream_limit_reached listing the two", status, body)
	}
	watching := map[string]string{}
	for _, s := range details["streams"].([]any) {
		s := s.(map[string]any)
		watching[s["device"].(string)] = s["content_id"].(string)
	}
	if watching["Living room TV"] != "nature-1" || watching["Kitchen TV"] != "drama-7" {
		t.Fatalf("the refusal lists %v, want who watches what", watching)
	}
	if status, body := play(bedroom, "drama-7", map[string]any{"replace_stream_id": kitchenStream}); status != 201 {
		t.Fatalf("bedroom takes the kitchen's stream over = %d %v, want 201", status, body)
	}
	select { // the kitchen's next heartbeat learns it is over
	case tick <- time.Now():
	case err := <-done:
		t.Fatalf("KeepPlaying() ended early: %v", err)
	}
	var ended *client.StreamEndedError
	if err := <-done; !errors.As(err, &ended) || ended.Reason != "taken_over" || ended.ByDeviceName != "Bedroom TV" {
		t.Fatalf("kitchen's KeepPlaying() = %v, want *StreamEndedError taken over by Bedroom TV", err)
	}
	status, body = call(t, "POST", catalog.URL+"/catalog/streams/"+kitchenStream+"/heartbeat", nil, kitchen)
	if status != 410 || body["error"].(map[string]any)["details"].(map[string]any)["by_device_name"] != "Bedroom TV" {
		t.Fatalf("kitchen heartbeat through the catalog = %d %v, want 410 taken over by Bedroom TV", status, body)
	}
	status, body = play(living, "cup-final", nil) // the living room switches title: its own stream is replaced
	if status != 201 {
		t.Fatalf("living room switches = %d %v, want 201 (no extra slot)", status, body)
	}
	if status, body := call(t, "DELETE", catalog.URL+"/catalog/streams/"+body["stream_id"].(string), nil, living); status != 204 {
		t.Fatalf("stop = %d %v, want 204", status, body)
	}
	if status, body := play(kitchen, "nature-1", nil); status != 201 {
		t.Fatalf("kitchen plays after the living room stopped = %d %v, want 201: a stopped stream frees its slot", status, body)
	}
	if status, body := call(t, "POST", catalog.URL+"/catalog/streams/nope/heartbeat", nil, kitchen); status != 404 && status != 410 {
		t.Fatalf("heartbeat of an unknown stream = %d %v, want 404", status, body)
	}
}

// keepPlaying runs the client's KeepPlaying on a hand ticker and returns the ticker, each
// heartbeat's outcome and its result.
func keepPlaying(c *client.Client, token, stream string) (handTicker, chan error, chan error) {
	tick, beats, done := make(handTicker), make(chan error, 4), make(chan error, 1)
	go func() {
		done <- c.KeepPlaying(context.Background(), token, stream, time.Minute,
			client.WithTicker(func(time.Duration) client.Ticker { return tick }),
			client.WithBeats(func(_ client.Stream, err error) { beats <- err }))
	}()
	return tick, beats, done
}
