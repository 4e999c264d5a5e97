package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestLoginAnswersADeviceKey: 201 carries device_key (and its cookie); a later login presenting
// it as device.key, or only as the cookie, gets the same key back; a key that is no key of the
// account is not an error, the login simply gets a new one; the device object stays strict.
func TestLoginAnswersADeviceKey(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{})
			email := s.Register(t)
			r := s.Login(t, email, "TV")
			key, _ := r.JSON["device_key"].(string)
			if r.Code != http.StatusCreated || len(key) != 66 || key == r.JSON["token"] {
				t.Fatalf("login = %d %s, want 201 with a device_key", r.Code, r.Body)
			}
			device := func(k string) map[string]any {
				return map[string]any{"device": map[string]any{"name": "TV", "type": "tv", "key": k}}
			}
			if r := s.Login(t, email, "TV", device(key)); r.Code != 201 || r.JSON["device_key"] != key {
				t.Errorf("login with device.key = %d %v, want 201 and the same key", r.Code, r.JSON["device_key"])
			}
			body := `{"email":"` + email + `","password":"` + password + `","device":{"name":"Browser","type":"web"}}`
			if r := s.Do("POST", "/v1/auth/login", "application/json", body, "Cookie", "sessiond-device="+key); r.Code != 201 || r.JSON["device_key"] != key {
				t.Errorf("login with the device cookie = %d %v, want 201 and the same key", r.Code, r.JSON["device_key"])
			}
			for _, bad := range []string{"garbage", r.JSON["token"].(string), strings.Repeat("A", 10_000)} {
				r := s.Login(t, email, "TV", device(bad))
				if got, _ := r.JSON["device_key"].(string); r.Code != 201 || got == "" || got == key || got == bad {
					t.Errorf("login with device.key %.20q… = %d %s, want 201 and a new key", bad, r.Code, r.Body)
				}
			}
			r = s.JSON("POST", "/v1/auth/login", map[string]any{"email": email, "password": password, "device": map[string]any{"name": "TV", "kee": key}})
			if r.Code != 400 || r.ErrorCode() != "invalid_request" {
				t.Errorf("login with device.kee = %d %s, want 400 invalid_request", r.Code, r.Body)
			}
			r = s.JSON("POST", "/v1/auth/login", map[string]any{"email": email, "password": password, "device": map[string]any{"key": 7}})
			if r.Code != 400 || r.ErrorCode() != "invalid_request" {
				t.Errorf("login with a numeric device.key = %d %s, want 400 invalid_request", r.Code, r.Body)
			}
		})
	}
}
