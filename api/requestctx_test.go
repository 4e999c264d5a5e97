package api_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/api/web"
	"github.com/sessiond/sessiond/models"
)

// ctxSessions records the context its Authenticate is called with.
type ctxSessions struct {
	apitest.FakeSessions
	got *context.Context
}

func (f ctxSessions) Authenticate(ctx context.Context, _ string) (*models.Principal, error) {
	*f.got = ctx
	return nil, models.ErrSessionInvalid
}

// TestRequestContext: what the store is asked with carries the request's id (the one the
// apitest.Response gives back) and, when a request timeout is set, its deadline.
func TestRequestContext(t *testing.T) {
	for _, timeout := range []time.Duration{2 * time.Second, 0} {
		var got context.Context
		log := slog.New(slog.DiscardHandler)
		h := apitest.NewHandler(t, api.Deps{
			Sessions: ctxSessions{got: &got}, Store: apitest.FakePinger{},
			Log: log, MaxBodyBytes: 1 << 16, RequestTimeout: timeout,
		}, web.Deps{Log: log})
		s := apitest.Serving(t, h)
		began := time.Now()
		r := s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer("AZCgAAAAAHAAgAAAAAAAAQ."+strings.Repeat("A", 43))...)
		if got == nil {
			t.Fatalf("timeout %v: the token was never checked (%d %s)", timeout, r.Code, r.Body)
		}
		if id := r.Header().Get("X-Request-ID"); id == "" || api.RequestID(got) != id {
			t.Errorf("timeout %v: request id in the context %q, in the apitest.Response %q", timeout, api.RequestID(got), id)
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
