package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

// hostileCase is one malformed request and the exact answer it must get.
type hostileCase struct {
	name         string
	method, path string
	ct, body     string
	headers      []string
	status       int
	code         string
	field        string // named in details.fields, when set
}

// TestHostileRequests sends malformed requests to every kind of route, on SQLite and on
// Postgres (which refuses a NUL in text with an error: none may reach it), and checks each
// exact status and code, and the offending field.
func TestHostileRequests(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{})
			email := s.Register(t)
			login := s.Login(t, email, "Phone")
			user := apitest.Bearer(login.JSON["token"].(string))
			current := login.JSON["session"].(map[string]any)["id"].(string)
			adminEmail := s.Register(t)
			s.MakeAdmin(t, adminEmail)
			admin := apitest.Bearer(s.MustLogin(t, adminEmail, "Laptop"))
			plan := s.JSON("GET", "/v1/admin/plans", nil, admin...).JSON["plans"].([]any)[0].(map[string]any)["id"].(string)
			var userID string
			if err := store.DB.Model(&models.User{}).Select("id").Where("email = ?", email).Scan(&userID).Error; err != nil {
				t.Fatal(err)
			}
			basic := []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("catalog:not-checked-before-the-body"))}
			random := uuid.NewString()
			long := func(n int) string { return strings.Repeat("x", n) }
			j := "application/json"

			cases := []hostileCase{
				// Sign-up.
				{"register: NUL in email", "POST", "/v1/auth/register", j, `{"email":"a\u0000b@example.com","password":"long enough"}`, nil, 400, "invalid_request", "email"},
				{"register: 255-byte email", "POST", "/v1/auth/register", j, `{"email":"` + long(243) + `@example.com","password":"long enough"}`, nil, 400, "invalid_request", "email"},
				{"register: display name of 101", "POST", "/v1/auth/register", j, `{"email":"dn@example.com","password":"long enough","display_name":"` + long(101) + `"}`, nil, 400, "invalid_request", "display_name"},
				{"register: bell in display name", "POST", "/v1/auth/register", j, `{"email":"bell@example.com","password":"long enough","display_name":"a\u0007"}`, nil, 400, "invalid_request", "display_name"},
				{"register: 10 KB password", "POST", "/v1/auth/register", j, `{"email":"big@example.com","password":"` + long(10<<10) + `"}`, nil, 400, "weak_password", ""},
				{"register: common password", "POST", "/v1/auth/register", j, `{"email":"common@example.com","password":"password123"}`, nil, 400, "weak_password", ""},
				{"register: password a number", "POST", "/v1/auth/register", j, `{"email":"n@example.com","password":12345678}`, nil, 400, "invalid_request", "password"},
				{"register: null email", "POST", "/v1/auth/register", j, `{"email":null,"password":"long enough"}`, nil, 400, "invalid_request", "email"},
				{"register: email with a display name", "POST", "/v1/auth/register", j, `{"email":"Eve <eve@example.com>","password":"long enough"}`, nil, 400, "invalid_request", "email"},
				{"register: XML", "POST", "/v1/auth/register", "application/xml", `<email/>`, nil, 415, "unsupported_media_type", ""},
				{"register: form", "POST", "/v1/auth/register", "application/x-www-form-urlencoded", `email=a`, nil, 415, "unsupported_media_type", ""},
				{"register: bad media type", "POST", "/v1/auth/register", "application/json; charset", `{}`, nil, 415, "unsupported_media_type", ""},
				{"register: a JSON string", "POST", "/v1/auth/register", j, `"hello"`, nil, 400, "invalid_request", "body"},
				{"register: byte order mark", "POST", "/v1/auth/register", j, "\ufeff{}", nil, 400, "invalid_request", "body"},
				{"register: nested arrays as email", "POST", "/v1/auth/register", j, `{"email":` + strings.Repeat("[", 500) + strings.Repeat("]", 500) + `}`, nil, 400, "invalid_request", "email"},
				{"register: NUL outside strings", "POST", "/v1/auth/register", j, "{\"email\":\"a@b.co\"\x00}", nil, 400, "invalid_request", "body"},
				// Sign-in.
				{"login: device id of 129", "POST", "/v1/auth/login", j, `{"email":"a@b.co","password":"x","device":{"id":"` + long(129) + `"}}`, nil, 400, "invalid_request", "device.id"},
				{"login: device name of 101", "POST", "/v1/auth/login", j, `{"email":"a@b.co","password":"x","device":{"name":"` + long(101) + `"}}`, nil, 400, "invalid_request", "device.name"},
				{"login: NUL in device name", "POST", "/v1/auth/login", j, `{"email":"a@b.co","password":"x","device":{"name":"TV\u0000"}}`, nil, 400, "invalid_request", "device.name"},
				{"login: NUL in device id", "POST", "/v1/auth/login", j, `{"email":"a@b.co","password":"x","device":{"id":"\u0000"}}`, nil, 400, "invalid_request", "device.id"},
				{"login: device a string", "POST", "/v1/auth/login", j, `{"email":"a@b.co","password":"x","device":"TV"}`, nil, 400, "invalid_request", "device"},
				{"login: email a number", "POST", "/v1/auth/login", j, `{"email":1,"password":"x"}`, nil, 400, "invalid_request", "email"},
				{"login: password an array", "POST", "/v1/auth/login", j, `{"email":"a@b.co","password":["x"]}`, nil, 400, "invalid_request", "password"},
				{"login: unknown device field", "POST", "/v1/auth/login", j, `{"email":"a@b.co","password":"x","device":{"os":"tvOS"}}`, nil, 400, "invalid_request", "device.os"},
				{"login: 300-byte email", "POST", "/v1/auth/login", j, `{"email":"` + long(300) + `@b.co","password":"` + password + `"}`, nil, 401, "invalid_credentials", ""},
				{"login: 10 KB password", "POST", "/v1/auth/login", j, `{"email":"` + email + `","password":"` + long(10<<10) + `"}`, nil, 401, "invalid_credentials", ""},
				{"login: replace a garbage id", "POST", "/v1/auth/login", j, `{"email":"` + email + `","password":"` + password + `","replace_session_id":"' OR 1=1 --"}`, nil, 400, "invalid_request", "replace_session_id"},
				{"login: replace garbage ids", "POST", "/v1/auth/login", j, `{"email":"` + email + `","password":"` + password + `","replace_session_ids":["' OR 1=1 --"]}`, nil, 400, "invalid_request", "replace_session_ids"},
				{"login: replace ids a string", "POST", "/v1/auth/login", j, `{"email":"a@b.co","password":"x","replace_session_ids":"0190a000-0000-7000-8000-000000000001"}`, nil, 400, "invalid_request", "replace_session_ids"},
				{"login: replace ids of numbers", "POST", "/v1/auth/login", j, `{"email":"a@b.co","password":"x","replace_session_ids":[1]}`, nil, 400, "invalid_request", "replace_session_ids.0"},
				{"login: replace ids with a null", "POST", "/v1/auth/login", j, `{"email":"` + email + `","password":"` + password + `","replace_session_ids":[null]}`, nil, 400, "invalid_request", "replace_session_ids"},
				{"login: multipart", "POST", "/v1/auth/login", "multipart/form-data; boundary=x", "--x--", nil, 415, "unsupported_media_type", ""},
				{"login: 65 KiB body", "POST", "/v1/auth/login", j, `{"email":"` + long(65<<10) + `"}`, nil, 413, "request_too_large", ""},
				{"healthz: 65 KiB body", "GET", "/healthz", j, long(65 << 10), nil, 413, "request_too_large", ""},
				{"login: truncated JSON", "POST", "/v1/auth/login", j, `{"email":"a@b.co","password":"x"`, nil, 400, "invalid_request", "body"},
				// One reading of every body (issue 19): a name given twice, a name in another case,
				// a null body. encoding/json took the last of two names: this logged in b.
				{"login: email twice", "POST", "/v1/auth/login", j, `{"email":"` + email + `","email":"` + adminEmail + `","password":"` + password + `"}`, nil, 400, "invalid_request", "email"},
				{"login: device name twice", "POST", "/v1/auth/login", j, `{"email":"a@b.co","password":"x","device":{"name":"TV","name":"Phone"}}`, nil, 400, "invalid_request", "device.name"},
				{"login: EMAIL", "POST", "/v1/auth/login", j, `{"EMAIL":"` + email + `","password":"` + password + `"}`, nil, 400, "invalid_request", "EMAIL"},
				{"login: Password", "POST", "/v1/auth/login", j, `{"email":"` + email + `","Password":"` + password + `"}`, nil, 400, "invalid_request", "Password"},
				{"login: null body", "POST", "/v1/auth/login", j, `null`, nil, 400, "invalid_request", "body"},
				{"login: empty body", "POST", "/v1/auth/login", j, " \n", nil, 400, "invalid_request", "body"},
				{"login: two objects", "POST", "/v1/auth/login", j, `{"email":"a@b.co"}{"email":"b@b.co"}`, nil, 400, "invalid_request", "body"},
				{"register: email twice", "POST", "/v1/auth/register", j, `{"email":"twice@example.com","password":"long enough","email":"other@example.com"}`, nil, 400, "invalid_request", "email"},
				{"register: null body", "POST", "/v1/auth/register", j, ` null `, nil, 400, "invalid_request", "body"},
				{"register: Display_Name", "POST", "/v1/auth/register", j, `{"email":"dn2@example.com","password":"long enough","Display_Name":"x"}`, nil, 400, "invalid_request", "Display_Name"},
				{"introspect: token twice", "POST", "/v1/introspect", j, `{"token":"a","token":"b"}`, basic, 400, "invalid_request", "token"},
				{"introspect: TOKEN", "POST", "/v1/introspect", j, `{"TOKEN":"a"}`, basic, 400, "invalid_request", "TOKEN"},
				{"introspect: null body", "POST", "/v1/introspect", j, `null`, basic, 400, "invalid_request", "body"},
				{"introspect: form token twice", "POST", "/v1/introspect", "application/x-www-form-urlencoded", `token=a&token=b`, basic, 400, "invalid_request", "token"},
				{"admin: override twice", "PATCH", "/v1/admin/users/" + userID, j, `{"max_sessions_override":3,"max_sessions_override":null}`, admin, 400, "invalid_request", "max_sessions_override"},
				{"admin: role twice", "PATCH", "/v1/admin/users/" + userID, j, `{"role":"user","role":"admin"}`, admin, 400, "invalid_request", "role"},
				{"admin: ROLE", "PATCH", "/v1/admin/users/" + userID, j, `{"ROLE":"admin"}`, admin, 400, "invalid_request", "ROLE"},
				{"admin: null patch", "PATCH", "/v1/admin/users/" + userID, j, `null`, admin, 400, "invalid_request", "body"},
				{"admin: plan name twice", "POST", "/v1/admin/plans", j, `{"name":"a","name":"b","max_sessions":1,"limit_policy":"reject"}`, admin, 400, "invalid_request", "name"},
				{"admin: null plan patch", "PATCH", "/v1/admin/plans/" + plan, j, `null`, admin, 400, "invalid_request", "body"},
				{"password: null body", "POST", "/v1/auth/password", j, `null`, user, 400, "invalid_request", "body"},
				{"devices: scope twice", "POST", "/v1/sessions/revoke", j, `{"scope":"others","scope":"all","password":"x"}`, user, 400, "invalid_request", "scope"},
				// One reading of who is calling: two Authorization headers are refused, whichever
				// would count (here one of them is even valid).
				{"two bearers", "GET", "/v1/sessions", "", "", append(apitest.Bearer("AZCgAAAAAHAAgAAAAAAAAQ."+long(43)), user...), 400, "invalid_request", "Authorization"},
				{"two bearers, both valid", "POST", "/v1/auth/logout", "", "", append(slices.Clone(user), admin...), 400, "invalid_request", "Authorization"},
				{"two bearers on whoami", "GET", "/v1/auth/session", "", "", append(slices.Clone(user), user...), 400, "invalid_request", "Authorization"},
				{"two bearers on admin", "GET", "/v1/admin/users", "", "", append(slices.Clone(admin), user...), 400, "invalid_request", "Authorization"},
				{"two Basic on introspect", "POST", "/v1/introspect", j, `{"token":"a"}`, append(slices.Clone(basic), basic...), 400, "invalid_request", "Authorization"},
				// Tokens.
				{"empty bearer", "POST", "/v1/auth/logout", "", "", []string{"Authorization", "Bearer "}, 401, "session_invalid", ""},
				{"10 KB bearer", "GET", "/v1/auth/session", "", "", apitest.Bearer(long(10 << 10)), 401, "session_invalid", ""},
				{"NUL in bearer", "GET", "/v1/auth/session", "", "", apitest.Bearer(current + ".\x00"), 401, "session_invalid", ""},
				{"well-formed unknown token", "GET", "/v1/auth/session", "", "", apitest.Bearer(base64.RawURLEncoding.EncodeToString(uuid.New().NodeID()) + "." + strings.Repeat("A", 43)), 401, "session_invalid", ""},
				{"token in the query string", "GET", "/v1/auth/session?token=" + login.JSON["token"].(string), "", "", nil, 401, "unauthenticated", ""},
				{"garbage cookie", "GET", "/v1/auth/session", "", "", []string{"Cookie", "sessiond=%00garbage"}, 401, "session_invalid", ""},
				{"two-part scheme", "GET", "/v1/auth/session", "", "", []string{"Authorization", "Token abc"}, 401, "session_invalid", ""},
				// Password change.
				{"password: new one short", "POST", "/v1/auth/password", j, `{"current_password":"` + password + `","new_password":"short"}`, user, 400, "weak_password", ""},
				{"password: current wrong", "POST", "/v1/auth/password", j, `{"current_password":"not it","new_password":"a brand new one"}`, user, 401, "invalid_credentials", ""},
				{"password: sign_out_others a string", "POST", "/v1/auth/password", j, `{"current_password":"x","new_password":"y","sign_out_others":"yes"}`, user, 400, "invalid_request", "sign_out_others"},
				{"password: unknown field", "POST", "/v1/auth/password", j, `{"current_password":"x","new_password":"y","confirm":"y"}`, user, 400, "invalid_request", "confirm"},
				// My devices.
				{"devices: delete the presenting session", "DELETE", "/v1/sessions/" + current, "", "", user, 400, "use_logout", ""},
				{"devices: delete an unknown id", "DELETE", "/v1/sessions/" + random, "", "", user, 404, "not_found", ""},
				{"devices: delete a non-uuid", "DELETE", "/v1/sessions/1;DROP%20TABLE%20sessions", "", "", user, 404, "not_found", ""},
				{"devices: delete a NUL id", "DELETE", "/v1/sessions/%00", "", "", user, 404, "not_found", ""},
				{"devices: delete an upper-case id", "DELETE", "/v1/sessions/" + strings.ToUpper(current), "", "", user, 404, "not_found", ""},
				{"devices: bulk scope unknown", "POST", "/v1/sessions/revoke", j, `{"scope":"everything","password":"x"}`, user, 400, "invalid_request", "scope"},
				{"devices: bulk wrong password", "POST", "/v1/sessions/revoke", j, `{"scope":"others","password":"not it"}`, user, 401, "invalid_credentials", ""},
				{"history: limit not a number", "GET", "/v1/sessions/history?limit=ten", "", "", user, 400, "invalid_request", "limit"},
				{"history: limit too big", "GET", "/v1/sessions/history?limit=100000", "", "", user, 400, "invalid_request", "limit"},
				{"history: limit negative", "GET", "/v1/sessions/history?limit=-1", "", "", user, 400, "invalid_request", "limit"},
				{"history: garbage cursor", "GET", "/v1/sessions/history?before=%00%ff", "", "", user, 400, "invalid_request", "before"},
				{"devices: PUT", "PUT", "/v1/sessions", j, `{}`, user, 405, "method_not_allowed", ""},
				// Administration.
				{"admin: not an admin", "GET", "/v1/admin/users", "", "", user, 403, "forbidden", ""},
				{"admin: plan without a name", "POST", "/v1/admin/plans", j, `{"name":"","max_sessions":2,"limit_policy":"reject"}`, admin, 400, "invalid_request", "name"},
				{"admin: negative limit", "POST", "/v1/admin/plans", j, `{"name":"neg","max_sessions":-1,"limit_policy":"reject"}`, admin, 400, "invalid_request", "max_sessions"},
				{"admin: unknown policy", "POST", "/v1/admin/plans", j, `{"name":"yolo","max_sessions":1,"limit_policy":"yolo"}`, admin, 400, "invalid_request", "limit_policy"},
				{"admin: NUL in plan name", "POST", "/v1/admin/plans", j, `{"name":"a\u0000","max_sessions":1,"limit_policy":"reject"}`, admin, 400, "invalid_request", "name"},
				{"admin: limit a float", "PATCH", "/v1/admin/plans/" + plan, j, `{"max_sessions":1.5}`, admin, 400, "invalid_request", "max_sessions"},
				{"admin: enforce maybe", "PATCH", "/v1/admin/plans/" + plan + "?enforce=maybe", j, `{}`, admin, 400, "invalid_request", "enforce"},
				{"admin: patch a non-uuid plan", "PATCH", "/v1/admin/plans/standard", j, `{}`, admin, 404, "not_found", ""},
				{"admin: unknown plan", "GET", "/v1/admin/plans/" + random, "", "", admin, 404, "not_found", ""},
				{"admin: users limit zero", "GET", "/v1/admin/users?limit=0", "", "", admin, 400, "invalid_request", "limit"},
				{"admin: role root", "PATCH", "/v1/admin/users/" + userID, j, `{"role":"root"}`, admin, 400, "invalid_request", "role"},
				{"admin: override a string", "PATCH", "/v1/admin/users/" + userID, j, `{"max_sessions_override":"two"}`, admin, 400, "invalid_request", "max_sessions_override"},
				{"admin: NUL user id", "GET", "/v1/admin/users/%00/sessions", "", "", admin, 404, "not_found", ""},
				{"admin: unknown session", "DELETE", "/v1/admin/sessions/" + random, "", "", admin, 404, "not_found", ""},
				{"admin: client name of 1000", "POST", "/v1/admin/service-clients", j, `{"name":"` + long(1000) + `"}`, admin, 400, "invalid_request", "name"},
				{"admin: unknown client", "DELETE", "/v1/admin/service-clients/zzz", "", "", admin, 404, "not_found", ""},
				{"admin: unlock nobody", "POST", "/v1/admin/users/" + random + "/unlock", "", "", admin, 404, "not_found", ""},
			}
			if len(cases) < 50 {
				t.Fatalf("only %d cases", len(cases))
			}
			for _, tc := range cases {
				checkHostile(t, s, tc)
			}
		})
	}
}

func checkHostile(t *testing.T, s *apitest.Server, tc hostileCase) {
	t.Helper()
	r := s.Do(tc.method, tc.path, tc.ct, tc.body, tc.headers...)
	if r.Code != tc.status || r.ErrorCode() != tc.code {
		t.Errorf("%s: %s %.60s = %d %.200s, want %d %s", tc.name, tc.method, tc.path, r.Code, r.Body, tc.status, tc.code)
		return
	}
	if tc.field != "" {
		fields, _ := r.ErrorDetails()["fields"].(map[string]any)
		if _, ok := fields[tc.field]; !ok {
			t.Errorf("%s: details.fields = %v, want %q named", tc.name, fields, tc.field)
		}
	}
}

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

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestTokensNeverLeak signs in, uses the token by header and by cookie, fails a login with the
// token as the password, and one with the device key, signs in with the key, signs out, all
// with every log line captured; then searches the logs and every row of every table for the
// raw token and device key, their secrets, and the secrets' bytes in hex: there must be no hit.
func TestTokensNeverLeak(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			var logs bytes.Buffer
			s := apitest.NewServer(t, store, apitest.Options{Log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			email := s.Register(t)
			login := s.Login(t, email, "Phone")
			token, key := login.JSON["token"].(string), login.JSON["device_key"].(string)
			var needles []string
			for _, credential := range []string{token, key} {
				_, secret, _ := strings.Cut(credential, ".")
				raw, err := base64.RawURLEncoding.DecodeString(secret)
				if err != nil {
					t.Fatal(err)
				}
				needles = append(needles, credential, secret, hex.EncodeToString(raw), string(raw))
			}
			s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(token)...)
			s.Do("GET", "/v1/sessions", "", "", "Cookie", "sessiond="+token)
			s.JSON("POST", "/v1/auth/login", map[string]any{"email": email, "password": token})
			s.JSON("POST", "/v1/auth/login", map[string]any{"email": email, "password": key, "device": map[string]any{"key": key}})
			s.Login(t, email, "Phone", map[string]any{"device": map[string]any{"name": "Phone", "key": key}})
			s.Do("GET", "/v1/nope?token="+token, "", "")
			s.Do("POST", "/v1/auth/logout", "", "", apitest.Bearer(token)...)
			if logs.Len() == 0 {
				t.Fatal("nothing was logged: the test would prove nothing")
			}
			for _, n := range needles {
				if bytes.Contains(logs.Bytes(), []byte(n)) {
					t.Errorf("the logs hold the token (as %q)", n)
				}
			}
			dump := dumpDatabase(t, store)
			for _, n := range needles {
				if strings.Contains(dump, n) {
					t.Errorf("the database holds the token (as %q)", n)
				}
			}
		})
	}
}

// dumpDatabase renders every row of every table as text, byte columns also in hex.
func dumpDatabase(t *testing.T, store servicetest.Store) string {
	t.Helper()
	q := `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	if store.Dialect == "sqlite" {
		q = `SELECT name FROM sqlite_master WHERE type = 'table'`
	}
	var tables []string
	if err := store.DB.Raw(q).Scan(&tables).Error; err != nil || len(tables) < 5 {
		t.Fatalf("list tables = %v, %v", tables, err)
	}
	var out strings.Builder
	for _, table := range tables {
		rows, err := store.DB.Raw(`SELECT * FROM "` + table + `"`).Rows()
		if err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				if b, ok := v.([]byte); ok {
					fmt.Fprintf(&out, "%s %s|", b, hex.EncodeToString(b))
				} else {
					fmt.Fprintf(&out, "%v|", v)
				}
			}
			out.WriteString("\n")
		}
		rows.Close()
	}
	return out.String()
}
