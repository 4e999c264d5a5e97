package api_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/models"
)

// ctxSessions records the context its Authenticate is called with.
type ctxSessions struct {
	fakeSessions
	got *context.Context
}

func (f ctxSessions) Authenticate(ctx context.Context, _ string) (*models.Principal, error) {
	*f.got = ctx
	return nil, models.ErrSessionInvalid
}

// TestRequestContext: what the store is asked with carries the request's id (the one the
// response gives back) and, when a request timeout is set, its deadline.
func TestRequestContext(t *testing.T) {
	for _, timeout := range []time.Duration{2 * time.Second, 0} {
		var got context.Context
		h := newHandler(t, api.Deps{
			Sessions: ctxSessions{got: &got}, Store: fakePinger{},
			Log: slog.New(slog.DiscardHandler), MaxBodyBytes: 1 << 16, RequestTimeout: timeout,
		})
		s := &server{t: t, h: h}
		began := time.Now()
		r := s.do("GET", "/v1/auth/session", "", "", bearer("AZCgAAAAAHAAgAAAAAAAAQ."+strings.Repeat("A", 43))...)
		if got == nil {
			t.Fatalf("timeout %v: the token was never checked (%d %s)", timeout, r.Code, r.Body)
		}
		if id := r.Header().Get("X-Request-ID"); id == "" || api.RequestID(got) != id {
			t.Errorf("timeout %v: request id in the context %q, in the response %q", timeout, api.RequestID(got), id)
		}
		deadline, ok := got.Deadline()
		switch {
		case timeout > 0 && (!ok || deadline.Before(began.Add(timeout)) || deadline.After(time.Now().Add(timeout))):
			t.Errorf("timeout %v: deadline %v (set: %v), want %v after the request began", timeout, deadline, ok, timeout)
		case timeout == 0 && ok:
			t.Errorf("no timeout: the context has a deadline %v", deadline)
		}
	}
}
