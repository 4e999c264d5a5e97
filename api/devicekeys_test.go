package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestLoginAnswersADeviceKey: 201 carries device_key (and its cookie); a later login presenting
// it as device.key, or only as the cookie, gets the same key back; a key that is no key of the
// account is not an error, the login simply gets a new one; the device object stays strict.
func TestLoginAnswersADeviceKey(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := newServer(t, store, options{})
			email := s.register(t)
			r := s.login(t, email, "TV")
			key, _ := r.body["device_key"].(string)
			if r.Code != http.StatusCreated || len(key) != 66 || key == r.body["token"] {
				t.Fatalf("login = %d %s, want 201 with a device_key", r.Code, r.Body)
			}
			device := func(k string) map[string]any {
				return map[string]any{"device": map[string]any{"name": "TV", "type": "tv", "key": k}}
			}
			if r := s.login(t, email, "TV", device(key)); r.Code != 201 || r.body["device_key"] != key {
				t.Errorf("login with device.key = %d %v, want 201 and the same key", r.Code, r.body["device_key"])
			}
			body := `{"email":"` + email + `","password":"` + password + `","device":{"name":"Browser","type":"web"}}`
			if r := s.do("POST", "/v1/auth/login", "application/json", body, "Cookie", "sessiond-device="+key); r.Code != 201 || r.body["device_key"] != key {
				t.Errorf("login with the device cookie = %d %v, want 201 and the same key", r.Code, r.body["device_key"])
			}
			for _, bad := range []string{"garbage", r.body["token"].(string), strings.Repeat("A", 10_000)} {
				r := s.login(t, email, "TV", device(bad))
				if got, _ := r.body["device_key"].(string); r.Code != 201 || got == "" || got == key || got == bad {
					t.Errorf("login with device.key %.20q… = %d %s, want 201 and a new key", bad, r.Code, r.Body)
				}
			}
			r = s.json("POST", "/v1/auth/login", map[string]any{"email": email, "password": password, "device": map[string]any{"name": "TV", "kee": key}})
			if r.Code != 400 || r.errorCode() != "invalid_request" {
				t.Errorf("login with device.kee = %d %s, want 400 invalid_request", r.Code, r.Body)
			}
			r = s.json("POST", "/v1/auth/login", map[string]any{"email": email, "password": password, "device": map[string]any{"key": 7}})
			if r.Code != 400 || r.errorCode() != "invalid_request" {
				t.Errorf("login with a numeric device.key = %d %s, want 400 invalid_request", r.Code, r.Body)
			}
		})
	}
}

// TestPagesSignInSendsTheDeviceKey: the sign-in form sends the browser's device key (its
// cookie), so a browser that signed in before still gets in while someone who only knows the
// email has locked the account; another browser is refused. A browser id kept under the
// cookie's old name stays this browser's id.
func TestPagesSignInSendsTheDeviceKey(t *testing.T) {
	for _, store := range servicetest.Stores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := newServer(t, store, options{throttle: true, lockAfter: 3})
			email := s.register(t)
			known := newBrowser(s)
			legacyID := "AAECAwQFBgcICQoLDA0ODw" // 16 bytes, as browser ids were kept in sessiond-device
			known.cookies["sessiond-device"] = legacyID
			wantRedirect(t, "sign in", known.signIn(email, password, "Laptop"), "/devices")
			key := known.cookies["sessiond-device"]
			if len(key) != 66 || known.cookies["sessiond-browser"] != legacyID {
				t.Fatalf("cookies after sign-in = %v, want the device key and the browser id kept", known.cookies)
			}
			var deviceID string
			store.DB.Model(&models.Session{}).Where("device_name = ?", "Laptop").Select("device_id").Scan(&deviceID)
			if deviceID != "browser-"+legacyID {
				t.Fatalf("the session's device id = %q, want the browser's old id", deviceID)
			}

			for i := 0; i < 3; {
				r := s.json("POST", "/v1/auth/login", map[string]any{"email": email, "password": "the attacker's guess"})
				switch r.Code {
				case http.StatusUnauthorized:
					i++
				case http.StatusTooManyRequests:
					s.clock.Advance(time.Second)
				default:
					t.Fatalf("attacker's login = %d %s", r.Code, r.Body)
				}
			}
			s.clock.Advance(time.Minute)
			stranger := newBrowser(s)
			wantPage(t, "sign in on another browser", stranger.signIn(email, password, "Kiosk"), 401, "Wrong email or password")
			wantRedirect(t, "sign in again on the known browser", known.signIn(email, password, "Laptop"), "/devices")
			if known.cookies["sessiond-device"] != key {
				t.Errorf("device key after signing in again = %q, want the same %q", known.cookies["sessiond-device"], key)
			}
		})
	}
}
