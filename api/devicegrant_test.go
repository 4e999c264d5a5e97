package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

const formType = "application/x-www-form-urlencoded"

// TestDeviceGrantOverHTTP drives the grant in RFC 8628's forms and in JSON: the TV's
// polls in OAuth's shapes, the phone's view and answer, and the device limit's chooser.
func TestDeviceGrantOverHTTP(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{})
			email := s.Register(t)
			s.SetLimit(t, email, models.Limit{Max: 1, Policy: models.PolicyReject})
			phone := s.MustLogin(t, email, "Phone")

			code := s.Do("POST", "/v1/auth/device/code", formType,
				url.Values{"client_id": {"tv-app"}, "scope": {"ignored"}, "device_name": {"Living room TV"}}.Encode(), "User-Agent", "SmartTV/2")
			if code.Code != 200 || code.JSON["expires_in"] != float64(600) || code.JSON["interval"] != float64(5) ||
				code.JSON["verification_uri"] != "http://sessiond.test/activate" {
				t.Fatalf("POST /v1/auth/device/code = %d %s", code.Code, code.Body)
			}
			userCode, deviceCode := code.JSON["user_code"].(string), code.JSON["device_code"].(string)
			poll := func() apitest.Response {
				return s.Do("POST", "/v1/auth/device/token", formType, url.Values{
					"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {deviceCode}, "client_id": {"tv-app"}}.Encode())
			}
			if r := poll(); r.Code != 400 || r.JSON["error"] != "authorization_pending" {
				t.Fatalf("poll = %d %s, want 400 authorization_pending", r.Code, r.Body)
			}

			lower := strings.ToLower(strings.ReplaceAll(userCode, "-", ""))
			r := s.Do("GET", "/v1/auth/device?user_code="+lower, "", "", apitest.Bearer(phone)...)
			if r.Code != 200 || r.JSON["device"].(map[string]any)["name"] != "Living room TV" || r.JSON["client_id"] != "tv-app" ||
				r.JSON["user_agent"] != "SmartTV/2" || r.JSON["user_code"] != userCode {
				t.Fatalf("GET /v1/auth/device = %d %s", r.Code, r.Body)
			}
			r = s.JSON("POST", "/v1/auth/device/approve", map[string]any{"user_code": lower}, apitest.Bearer(phone)...)
			details := r.ErrorDetails()
			if r.Code != 409 || r.ErrorCode() != "device_limit_reached" || details["must_sign_out"] != float64(1) {
				t.Fatalf("approve at the limit = %d %s, want 409 device_limit_reached", r.Code, r.Body)
			}
			phoneID := s.SessionID(t, phone)
			r = s.JSON("POST", "/v1/auth/device/approve", map[string]any{"user_code": userCode, "replace_session_ids": []string{phoneID}}, apitest.Bearer(phone)...)
			if r.Code != 204 {
				t.Fatalf("approve replacing the phone = %d %s, want 204", r.Code, r.Body)
			}
			s.Clock.Advance(5e9)
			r = poll()
			if r.Code != 200 || r.JSON["token_type"] != "Bearer" || r.JSON["device_key"] == "" || len(r.JSON["evicted"].([]any)) != 1 {
				t.Fatalf("poll after approval = %d %s", r.Code, r.Body)
			}
			tv := r.JSON["access_token"].(string)
			if who := s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(tv)...); who.Code != 200 {
				t.Errorf("whoami with the TV's token = %d %s", who.Code, who.Body)
			}
			if who := s.Do("GET", "/v1/auth/session", "", "", apitest.Bearer(phone)...); who.ErrorCode() != "session_evicted" {
				t.Errorf("whoami of the replaced phone = %d %s, want session_evicted", who.Code, who.Body)
			}
			if r := poll(); r.Code != 400 || r.JSON["error"] != "expired_token" {
				t.Errorf("second poll = %d %s, want expired_token", r.Code, r.Body)
			}

			// JSON, denied.
			code = s.JSON("POST", "/v1/auth/device/code", map[string]any{"client_id": "tv-app", "device": map[string]any{"name": "Bedroom TV", "type": "tv"}})
			if code.Code != 200 {
				t.Fatalf("POST /v1/auth/device/code (JSON) = %d %s", code.Code, code.Body)
			}
			if r := s.JSON("POST", "/v1/auth/device/deny", map[string]any{"user_code": code.JSON["user_code"]}, apitest.Bearer(tv)...); r.Code != 204 {
				t.Fatalf("deny = %d %s", r.Code, r.Body)
			}
			r = s.JSON("POST", "/v1/auth/device/token", map[string]any{"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": code.JSON["device_code"]})
			if r.Code != 400 || r.JSON["error"] != "access_denied" {
				t.Errorf("poll of a denied code = %d %s, want access_denied", r.Code, r.Body)
			}
			if r := s.JSON("POST", "/v1/auth/device/approve", map[string]any{"user_code": code.JSON["user_code"]}, apitest.Bearer(tv)...); r.Code != 404 {
				t.Errorf("approve a denied code = %d %s, want 404", r.Code, r.Body)
			}
		})
	}
}

// TestDeviceGrantHostileInput: every bad request is a 4xx in its endpoint's shape, never a 5xx.
func TestDeviceGrantHostileInput(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{})
	email := s.Register(t)
	phone := s.MustLogin(t, email, "Phone")
	long := strings.Repeat("x", 5000)
	grant := "urn:ietf:params:oauth:grant-type:device_code"
	for _, c := range []struct {
		name, path, ctype, body string
		auth                    bool
		status                  int
		code                    string // error.code, or OAuth's error
	}{
		{"a long device name", "/v1/auth/device/code", formType, url.Values{"device_name": {long}}.Encode(), false, 400, "invalid_request"},
		{"a long client id", "/v1/auth/device/code", formType, url.Values{"client_id": {long}}.Encode(), false, 400, "invalid_request"},
		{"a bad device type", "/v1/auth/device/code", formType, "device_type=fridge", false, 400, "invalid_request"},
		{"a parameter twice", "/v1/auth/device/code", formType, "client_id=a&client_id=b", false, 400, "invalid_request"},
		{"a control character", "/v1/auth/device/code", formType, "device_name=TV%00", false, 400, "invalid_request"},
		{"an unknown JSON member", "/v1/auth/device/code", "application/json", `{"client_idx":"a"}`, false, 400, "invalid_request"},
		{"text/plain", "/v1/auth/device/code", "text/plain", "client_id=a", false, 415, "unsupported_media_type"},
		{"a device key", "/v1/auth/device/code", "application/json", `{"device":{"key":"k"}}`, false, 400, "invalid_request"},
		{"no grant type", "/v1/auth/device/token", formType, "device_code=x", false, 400, "invalid_request"},
		{"another grant type", "/v1/auth/device/token", formType, "grant_type=password&device_code=x", false, 400, "unsupported_grant_type"},
		{"no device code", "/v1/auth/device/token", formType, "grant_type=" + url.QueryEscape(grant), false, 400, "invalid_request"},
		{"a garbage device code", "/v1/auth/device/token", formType, url.Values{"grant_type": {grant}, "device_code": {long}}.Encode(), false, 400, "invalid_grant"},
		{"a device code twice", "/v1/auth/device/token", formType, url.Values{"grant_type": {grant}, "device_code": {"a", "b"}}.Encode(), false, 400, "invalid_request"},
		{"malformed JSON", "/v1/auth/device/token", "application/json", `{"grant_type":`, false, 400, "invalid_request"},
		{"an unknown code", "/v1/auth/device/approve", "application/json", `{"user_code":"BCDF-GHJK"}`, true, 404, "not_found"},
		{"a code of another shape", "/v1/auth/device/approve", "application/json", `{"user_code":"12345678"}`, true, 400, "invalid_request"},
		{"a long code", "/v1/auth/device/deny", "application/json", `{"user_code":"` + long + `"}`, true, 400, "invalid_request"},
		{"no code", "/v1/auth/device/deny", "application/json", `{}`, true, 400, "invalid_request"},
		{"bad replace ids", "/v1/auth/device/approve", "application/json", `{"user_code":"BCDF-GHJK","replace_session_ids":["x"]}`, true, 400, "invalid_request"},
		{"no session", "/v1/auth/device/approve", "application/json", `{"user_code":"BCDF-GHJK"}`, false, 401, "unauthenticated"},
	} {
		var headers []string
		if c.auth {
			headers = apitest.Bearer(phone)
		}
		r := s.Do("POST", c.path, c.ctype, c.body, headers...)
		got := r.ErrorCode()
		if oauth, ok := r.JSON["error"].(string); ok {
			got = oauth
		}
		if r.Code != c.status || got != c.code {
			t.Errorf("%s: POST %s = %d %s, want %d %s", c.name, c.path, r.Code, r.Body, c.status, c.code)
		}
	}
	// Wrong codes are limited per user: after five, even GET answers 429.
	var last apitest.Response
	for range 6 {
		last = s.Do("GET", "/v1/auth/device?user_code=BCDF-GHJK", "", "", apitest.Bearer(phone)...)
	}
	if last.Code != http.StatusTooManyRequests || last.Header().Get("Retry-After") == "" {
		t.Errorf("sixth wrong code = %d %s, want 429 with Retry-After", last.Code, last.Body)
	}
}
