package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// The stream calls against a fake sessiond that answers from a script; they run against the
// real server in api (streams_client_test.go).

// script is a fake sessiond: each request to a path gets the next answer queued for it.
type script struct {
	mu      sync.Mutex
	answers map[string][]answer
	seen    []string // "METHOD path token"
}

type answer struct {
	status int
	body   any
}

func (s *script) queue(path string, a ...answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[path] = append(s.answers[path], a...)
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.seen = append(s.seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
	q := s.answers[r.URL.Path]
	if len(q) == 0 {
		s.mu.Unlock()
		w.WriteHeader(http.StatusTeapot)
		return
	}
	a := q[0]
	s.answers[r.URL.Path] = q[1:]
	s.mu.Unlock()
	if a.body != nil {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(a.status)
	if a.body != nil {
		_ = json.NewEncoder(w).Encode(a.body)
	}
}

func scripted(t *testing.T) (*script, *Client) {
	t.Helper()
	s := &script{answers: map[string][]answer{}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL+"/", "catalog", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func stream(id, device string) map[string]any {
	return map[string]any{"id": id, "session_id": "s-" + id, "device": map[string]any{"name": device, "type": "tv"},
		"content_id": "drama-7", "class": "", "started_at": "2026-12-01T02:00:00Z",
		"last_heartbeat_at": "2026-12-01T02:01:00Z", "expires_at": "2026-12-01T02:04:00Z", "current": true}
}

func ended(reason, by string) answer {
	d := map[string]any{"reason": reason}
	if by != "" {
		d["by_device_name"] = by
	}
	return answer{410, map[string]any{"error": map[string]any{"code": "stream_ended", "message": "over", "details": d}}}
}

// TestStreamCalls: each call's request and how each answer comes back, typed.
func TestStreamCalls(t *testing.T) {
	s, c := scripted(t)
	ctx := t.Context()
	s.queue("/v1/streams",
		answer{201, map[string]any{"stream": stream("st1", "TV"), "heartbeat_interval": 30, "ended": []any{stream("st0", "Phone")}}},
		answer{409, map[string]any{"error": map[string]any{"code": "stream_limit_reached", "message": "full",
			"details": map[string]any{"limit": 1, "class": "live", "streams": []any{stream("st1", "TV")}}}}},
		answer{400, map[string]any{"error": map[string]any{"code": "invalid_request", "message": "class is unknown"}}},
		answer{401, map[string]any{"error": map[string]any{"code": "session_revoked", "message": "gone", "details": map[string]any{"reason": "logout"}}}},
	)
	got, err := c.StartStream(ctx, "tok", StreamStart{ContentID: "drama-7"})
	if err != nil || got.Stream.ID != "st1" || got.HeartbeatInterval != 30*time.Second || len(got.Ended) != 1 || got.Ended[0].Device.Name != "Phone" {
		t.Fatalf("StartStream() = %+v, %v; want st1, 30s, one ended", got, err)
	}
	if !got.Stream.ExpiresAt.Equal(time.Date(2026, 12, 1, 2, 4, 0, 0, time.UTC)) {
		t.Fatalf("expires_at read as %s", got.Stream.ExpiresAt)
	}
	var limit *StreamLimitError
	if _, err := c.StartStream(ctx, "tok", StreamStart{Class: "live"}); !errors.As(err, &limit) || limit.Limit != 1 || limit.Class != "live" || len(limit.Streams) != 1 || limit.Streams[0].Device.Name != "TV" {
		t.Fatalf("StartStream() at the limit = %v (%+v), want *StreamLimitError listing the TV", err, limit)
	}
	if _, err := c.StartStream(ctx, "tok", StreamStart{Class: "x"}); !errors.Is(err, ErrRejected) {
		t.Fatalf("StartStream() refused = %v, want ErrRejected", err)
	}
	var gone *SessionEndedError
	if _, err := c.StartStream(ctx, "tok", StreamStart{}); !errors.As(err, &gone) || gone.Code != "session_revoked" || gone.Reason != "logout" {
		t.Fatalf("StartStream() signed out = %v, want *SessionEndedError session_revoked/logout", err)
	}

	s.queue("/v1/streams/st1/heartbeat", answer{200, map[string]any{"stream": stream("st1", "TV")}}, ended("taken_over", "Phone"),
		answer{404, map[string]any{"error": map[string]any{"code": "not_found", "message": "no"}}}, answer{503, map[string]any{}})
	if st, err := c.Heartbeat(ctx, "tok", "st1"); err != nil || st.ID != "st1" {
		t.Fatalf("Heartbeat() = %+v, %v", st, err)
	}
	var over *StreamEndedError
	if _, err := c.Heartbeat(ctx, "tok", "st1"); !errors.As(err, &over) || over.Reason != "taken_over" || over.ByDeviceName != "Phone" {
		t.Fatalf("Heartbeat() of a taken-over stream = %v, want *StreamEndedError taken_over by Phone", err)
	}
	if _, err := c.Heartbeat(ctx, "tok", "st1"); !errors.Is(err, ErrStreamNotFound) {
		t.Fatalf("Heartbeat() of an unknown stream = %v, want ErrStreamNotFound", err)
	}
	if _, err := c.Heartbeat(ctx, "tok", "st1"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Heartbeat() answered 503 = %v, want ErrUnavailable", err)
	}
	s.queue("/v1/streams/st1", answer{204, nil})
	if err := c.StopStream(ctx, "tok", "st1"); err != nil {
		t.Fatalf("StopStream() = %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if last := s.seen[len(s.seen)-1]; last != "DELETE /v1/streams/st1 Bearer tok" {
		t.Fatalf("StopStream sent %q, want DELETE with the session token", last)
	}
}

// handTicker ticks when the test says so.
type handTicker struct {
	c       chan time.Time
	stopped chan struct{}
	every   time.Duration
}

func (h *handTicker) C() <-chan time.Time { return h.c }
func (h *handTicker) Stop()               { close(h.stopped) }

// playing runs KeepPlaying on a hand ticker and returns the ticker, each beat's error, and
// KeepPlaying's result.
func playing(ctx context.Context, c *Client, interval time.Duration) (*handTicker, chan error, chan error) {
	tick := &handTicker{c: make(chan time.Time), stopped: make(chan struct{})}
	beats, done := make(chan error, 10), make(chan error, 1)
	go func() {
		done <- c.KeepPlaying(ctx, "tok", "st1", interval,
			WithTicker(func(d time.Duration) Ticker { tick.every = d; return tick }),
			WithBeats(func(_ Stream, err error) { beats <- err }))
	}()
	return tick, beats, done
}

// TestKeepPlayingUntilTakenOver: beats on every tick, rides out a sessiond that cannot answer,
// and ends with the reason once the stream is taken over; the ticker is stopped.
func TestKeepPlayingUntilTakenOver(t *testing.T) {
	s, c := scripted(t)
	s.queue("/v1/streams/st1/heartbeat", answer{200, map[string]any{"stream": stream("st1", "TV")}},
		answer{503, map[string]any{}}, answer{200, map[string]any{"stream": stream("st1", "TV")}}, ended("taken_over", "Kitchen tablet"))
	tick, beats, done := playing(t.Context(), c, 0)
	for i, want := range []error{nil, ErrUnavailable, nil} {
		tick.c <- time.Now() // received: KeepPlaying beats now
		if err := <-beats; !errors.Is(err, want) && !(want == nil && err == nil) {
			t.Fatalf("beat %d = %v, want %v", i, err, want)
		}
	}
	tick.c <- time.Now()
	<-beats
	var over *StreamEndedError
	if err := <-done; !errors.As(err, &over) || over.Reason != "taken_over" || over.ByDeviceName != "Kitchen tablet" {
		t.Fatalf("KeepPlaying() = %v, want *StreamEndedError taken over by Kitchen tablet", err)
	}
	<-tick.stopped
	if tick.every != DefaultHeartbeatInterval {
		t.Fatalf("ticker every %s with no interval given, want %s", tick.every, DefaultHeartbeatInterval)
	}
}

// TestKeepPlayingUntilCancelled: the caller's cancellation ends it with ctx's error, the
// stream left as it is (no DELETE).
func TestKeepPlayingUntilCancelled(t *testing.T) {
	s, c := scripted(t)
	s.queue("/v1/streams/st1/heartbeat", answer{200, map[string]any{"stream": stream("st1", "TV")}})
	ctx, cancel := context.WithCancel(t.Context())
	tick, beats, done := playing(ctx, c, 30*time.Second)
	tick.c <- time.Now()
	if err := <-beats; err != nil {
		t.Fatalf("beat = %v", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("KeepPlaying() after cancel = %v, want context.Canceled", err)
	}
	if tick.every != 30*time.Second {
		t.Fatalf("ticker every %s, want the interval given", tick.every)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) != 1 {
		t.Fatalf("requests %v, want the one heartbeat", s.seen)
	}
}
