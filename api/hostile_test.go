package api_test

import (
	"encoding/base64"
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
