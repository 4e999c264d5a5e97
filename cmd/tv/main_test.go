package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/services/servicetest"
)

// phoneApproves is the terminal the TV prints to: when the code shows, the phone approves it.
type phoneApproves struct {
	t     *testing.T
	s     *apitest.Server
	phone string
	mu    sync.Mutex
	out   strings.Builder
	done  bool
}

var shownCode = regexp.MustCompile(`enter\n\n    ([A-Z]{4}-[A-Z]{4})\n`)

func (p *phoneApproves) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out.Write(b)
	if m := shownCode.FindStringSubmatch(p.out.String()); m != nil && !p.done {
		p.done = true
		r := p.s.JSON("POST", "/v1/auth/device/approve", map[string]any{"user_code": m[1]}, apitest.Bearer(p.phone)...)
		if r.Code != http.StatusNoContent {
			p.t.Errorf("approve %s = %d %s", m[1], r.Code, r.Body)
		}
	}
	return len(b), nil
}

// TestTerminalTV runs the terminal TV against the real engine: it shows a code and a QR code,
// the phone approves, and it prints whoami.
func TestTerminalTV(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{})
	srv := httptest.NewServer(s.Handler)
	defer srv.Close()
	email := s.Register(t)
	term := &phoneApproves{t: t, s: s, phone: s.MustLogin(t, email, "Phone")}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, []string{"-url", srv.URL, "-name", "Test TV"}, term, srv.Client()); err != nil {
		t.Fatalf("run() = %v\n%s", err, term.out.String())
	}
	got := term.out.String()
	for _, want := range []string{"http://sessiond.test/activate", "█", "Signed in as " + email + ` on "Test TV"`} {
		if !strings.Contains(got, want) {
			t.Errorf("the terminal shows\n%s\nwant it to contain %q", got, want)
		}
	}
}
