package api_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"testing"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/services/servicetest"
)

const proxy = "10.0.0.1" // the one trusted proxy of these tests

var proxies = []netip.Prefix{netip.MustParsePrefix(proxy + "/32")}

// from returns a request that peer sent.
func from(peer, method, path string, body any, headers ...string) *http.Request {
	req := apitest.Request(method, path, "application/json", mustJSON(body), headers...)
	req.RemoteAddr = peer + ":40000"
	return req
}

// TestClientAddressComesOnlyFromXForwardedFor: the address the per-address limit counts is
// the peer's, or X-Forwarded-For from a trusted proxy, and nothing else. A client rotating
// X-Real-IP (or Forwarded) behind the proxy, or X-Forwarded-For without one, is still one
// address and is limited after the burst (3 sign-ups at once); rotating X-Forwarded-For
// through the proxy is many clients, none limited. Checked by hand: with Gin's default
// remote-IP headers (X-Forwarded-For, X-Real-IP) the first case signs up 8 times unlimited.
func TestClientAddressComesOnlyFromXForwardedFor(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{Throttle: true, IPRate: 6, TrustedProxies: proxies})
			n := 0 // a new number for every sign-up: rotated headers never repeat
			signUp := func(req func(i int) *http.Request) (statuses []int) {
				for range 8 {
					n++
					statuses = append(statuses, s.Serve(req(n)).Code)
				}
				return statuses
			}
			body := func(int) map[string]any { return map[string]any{"email": servicetest.Email(t), "password": password} }
			limited := []int{201, 201, 201, 429, 429, 429, 429, 429}
			for _, c := range []struct {
				name string
				req  func(i int) *http.Request
				want []int
			}{
				{"rotating X-Real-IP behind the proxy", func(i int) *http.Request {
					return from(proxy, "POST", "/v1/auth/register", body(i), "X-Real-IP", fmt.Sprintf("198.51.100.%d", i))
				}, limited},
				{"rotating Forwarded behind the proxy", func(i int) *http.Request {
					return from(proxy, "POST", "/v1/auth/register", body(i), "Forwarded", fmt.Sprintf("for=198.51.100.%d", i),
						"X-Forwarded-For", "203.0.113.7")
				}, limited},
				{"rotating X-Forwarded-For from an untrusted peer", func(i int) *http.Request {
					return from("192.0.2.50", "POST", "/v1/auth/register", body(i), "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i),
						"X-Real-IP", fmt.Sprintf("198.51.100.%d", i))
				}, limited},
				{"a forged X-Forwarded-For entry left of the proxy's", func(i int) *http.Request {
					return from(proxy, "POST", "/v1/auth/register", body(i), "X-Forwarded-For", fmt.Sprintf("198.51.100.%d, 203.0.113.8", i))
				}, limited},
				{"a forged X-Forwarded-For line before the proxy's", func(i int) *http.Request {
					return from(proxy, "POST", "/v1/auth/register", body(i), "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i),
						"X-Forwarded-For", "203.0.113.9")
				}, limited},
				{"many clients through the proxy", func(i int) *http.Request {
					return from(proxy, "POST", "/v1/auth/register", body(i), "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
				}, []int{201, 201, 201, 201, 201, 201, 201, 201}},
			} {
				if got := signUp(c.req); fmt.Sprint(got) != fmt.Sprint(c.want) {
					t.Errorf("%s: 8 sign-ups = %v, want %v", c.name, got, c.want)
				}
			}

			// The address a session records is the same one (on a server without the limit:
			// the proxy's own address has no attempts left).
			s = apitest.NewServer(t, store, apitest.Options{TrustedProxies: proxies})
			email := s.Register(t)
			for _, c := range []struct {
				peer    string
				headers []string
				want    string
			}{
				{proxy, []string{"X-Forwarded-For", "203.0.113.20"}, "203.0.113.20"},
				{proxy, []string{"X-Forwarded-For", "6.6.6.6, 203.0.113.21"}, "203.0.113.21"},
				{proxy, []string{"X-Real-IP", "6.6.6.6"}, proxy},
				{"192.0.2.60", []string{"X-Forwarded-For", "6.6.6.6", "X-Real-IP", "6.6.6.6"}, "192.0.2.60"},
			} {
				r := s.Serve(from(c.peer, "POST", "/v1/auth/login", map[string]any{"email": email, "password": password}, c.headers...))
				if r.Code != http.StatusCreated {
					t.Fatalf("login from %s %q = %d %s", c.peer, c.headers, r.Code, r.Body)
				}
				if ip := r.JSON["session"].(map[string]any)["ip"]; ip != c.want {
					t.Errorf("login from %s with %q: session ip %v, want %s", c.peer, c.headers, ip, c.want)
				}
			}
		})
	}
}
