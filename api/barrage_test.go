package api_test

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestBarrage fires thousands of random requests (routes, methods, bodies, headers and
// tokens drawn at random, some valid, most not) and asserts that none gets a 5xx, that every
// error is JSON with a code, and that the server still works afterwards. The seed is logged.
func TestBarrage(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			seed := rand.Uint64()
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 0))
			s := apitest.NewServer(t, store, apitest.Options{})
			email := s.Register(t)
			adminEmail := s.Register(t)
			s.MakeAdmin(t, adminEmail)
			var tokens []string
			statuses := map[int]int{}
			for i := range 3000 {
				if i%200 == 0 { // the barrage signs sessions out; sign in again now and then
					tokens = []string{s.MustLogin(t, email, "Phone"), s.MustLogin(t, adminEmail, "Laptop")}
				}
				method, path, ct, body, headers := randomRequest(rng, tokens)
				r := s.Do(method, path, ct, body, headers...)
				statuses[r.Code]++
				if r.Code >= 500 {
					t.Fatalf("request %d: %s %q (Content-Type %q, headers %q, body %q) = %d %s", i, method, path, ct, headers, body, r.Code, r.Body)
				}
				if r.Code >= 400 && r.ErrorCode() == "" {
					t.Fatalf("request %d: %s %q = %d without an error code: %s", i, method, path, r.Code, r.Body)
				}
			}
			t.Logf("statuses: %v", statuses)
			if len(statuses) < 5 {
				t.Errorf("the barrage met only statuses %v: it does not reach far enough", statuses)
			}
			s.MustLogin(t, email, "After the barrage")
		})
	}
}

var (
	barrageRoutes = []string{
		"POST /v1/auth/register", "POST /v1/auth/login", "POST /v1/auth/logout", "GET /v1/auth/session",
		"POST /v1/auth/password", "GET /v1/sessions", "DELETE /v1/sessions/{id}", "POST /v1/sessions/revoke",
		"GET /v1/sessions/history", "GET /v1/admin/plans", "POST /v1/admin/plans", "GET /v1/admin/plans/{id}",
		"PATCH /v1/admin/plans/{id}", "DELETE /v1/admin/plans/{id}", "GET /v1/admin/users", "GET /v1/admin/users/{id}",
		"PATCH /v1/admin/users/{id}", "GET /v1/admin/users/{id}/sessions", "DELETE /v1/admin/users/{id}/sessions",
		"GET /v1/admin/users/{id}/events", "POST /v1/admin/users/{id}/unlock", "DELETE /v1/admin/sessions/{id}",
		"GET /v1/admin/service-clients", "POST /v1/admin/service-clients", "DELETE /v1/admin/service-clients/{id}",
		"GET /healthz", "GET /readyz", "GET /nope", "POST /v1/auth/login/", "GET //v1//sessions",
	}
	barrageMethods = []string{"GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS"}
	barrageFields  = []string{"email", "password", "device", "name", "type", "id", "replace_session_id", "replace_session_ids", "scope",
		"current_password", "new_password", "sign_out_others", "max_sessions", "limit_policy", "plan_id", "role",
		"disabled", "max_sessions_override", "limit_policy_override", "idle_timeout_seconds", "display_name"}
	barrageQueries = []string{"", "?limit=2", "?limit=-5", "?limit=abc", "?before=%00", "?enforce=now", "?email=%27",
		"?plan_id=x", "?limit=99999999999999999999", "?before=" + base64.RawURLEncoding.EncodeToString([]byte("2026|x"))}
)

// randomRequest draws one request; tokens are valid bearer tokens it may present.
func randomRequest(rng *rand.Rand, tokens []string) (method, path, ct, body string, headers []string) {
	method, path, _ = strings.Cut(barrageRoutes[rng.IntN(len(barrageRoutes))], " ")
	if rng.IntN(5) == 0 {
		method = barrageMethods[rng.IntN(len(barrageMethods))]
	}
	path = strings.ReplaceAll(path, "{id}", randomID(rng))
	path += barrageQueries[rng.IntN(len(barrageQueries))]
	switch rng.IntN(6) {
	case 0:
		ct = ""
	case 1:
		ct = "text/plain"
	default:
		ct = "application/json"
	}
	switch rng.IntN(5) {
	case 0:
		body = string(randomBytes(rng, rng.IntN(200)))
	case 1:
		body = ""
	default:
		obj := map[string]any{}
		for range rng.IntN(5) {
			obj[barrageFields[rng.IntN(len(barrageFields))]] = randomValue(rng, 3)
		}
		body = mustJSON(obj)
	}
	switch rng.IntN(5) {
	case 0: // anonymous
	case 1:
		headers = apitest.Bearer(string(randomBytes(rng, rng.IntN(80))))
	case 2:
		headers = []string{"Cookie", "sessiond=" + tokens[rng.IntN(len(tokens))], "Origin", "https://evil.example"}
	default:
		headers = apitest.Bearer(tokens[rng.IntN(len(tokens))])
	}
	return method, path, ct, body, headers
}

func randomID(rng *rand.Rand) string {
	switch rng.IntN(4) {
	case 0:
		return uuid.NewString()
	case 1:
		return "%00"
	case 2:
		return strings.ToUpper(uuid.NewString())
	}
	return fmt.Sprint(rng.Int64())
}

func randomValue(rng *rand.Rand, depth int) any {
	switch k := rng.IntN(9); {
	case k == 0 && depth > 0:
		arr := []any{}
		for range rng.IntN(3) {
			arr = append(arr, randomValue(rng, depth-1))
		}
		return arr
	case k == 1 && depth > 0:
		obj := map[string]any{}
		for range rng.IntN(3) {
			obj[barrageFields[rng.IntN(len(barrageFields))]] = randomValue(rng, depth-1)
		}
		return obj
	case k == 2:
		return rng.NormFloat64() * 1e12
	case k == 3:
		return rng.IntN(2) == 0
	case k == 4:
		return nil
	case k == 5:
		return strings.Repeat("é\u0000", rng.IntN(300))
	case k == 6:
		return []string{"reject", "evict_oldest", "others", "all", "admin", "tv", password, "a@b.co"}[rng.IntN(8)]
	}
	return string(randomBytes(rng, rng.IntN(40)))
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.IntN(256))
	}
	return b
}
