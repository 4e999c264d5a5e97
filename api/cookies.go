package api

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

// Cookies names and writes every cookie of sessiond, for the API and the pages alike. All of
// them are host-only, site-wide, HttpOnly and SameSite=Lax (sent on a provider's redirect
// back, not on cross-site posts), and Secure when Secure is set.
//
// Two of them name the device and outlive its sessions, sign-outs included: the device key
// (DeviceKey) and the browser's device id (Browser). The others are bound to a sign-in: the
// session (Session), a sign-in held at the device limit (Pending), the note that tells a
// browser why its session ended (SignedOut), and a sign-in gone to an identity provider (OIDC).
type Cookies struct {
	Secure bool // served over HTTPS: __Host- names and the Secure attribute
}

// Session names the session cookie: __Host-sessiond when cookies are secure (the prefix makes
// browsers insist on Secure, Path=/ and no Domain); plain-HTTP development gets a plain name.
// Every other cookie's name starts with it.
func (k Cookies) Session() string {
	if k.Secure {
		return "__Host-sessiond"
	}
	return "sessiond"
}

// DeviceKey names the cookie of the browser's device key (API.md: __Host-sessiond-device).
// It is HttpOnly, so a page's script cannot send it as device.key: sign-ins read it themselves
// (PresentedDeviceKey).
func (k Cookies) DeviceKey() string { return k.Session() + "-device" }

// Browser names the cookie of the browser's stable device id (the pages keep it).
func (k Cookies) Browser() string { return k.Session() + "-browser" }

// Pending names the cookie of a sign-in held at the device limit, for the chooser only.
func (k Cookies) Pending() string { return k.Session() + "-pending" }

// SignedOut names the cookie that tells the sign-in page why this browser's session ended.
func (k Cookies) SignedOut() string { return k.Session() + "-signed-out" }

// OIDC names the cookie that binds a sign-in gone to a provider to this browser: the callback
// must bring it. One per sign-in (named after its state), so that two tabs do not undo each
// other.
func (k Cookies) OIDC(state string) string {
	sum := sha256.Sum256([]byte(state))
	return k.oidcPrefix() + hex.EncodeToString(sum[:6])
}

func (k Cookies) oidcPrefix() string { return k.Session() + "-oidc-" }

// Put sets cookie name to value for maxAge seconds; a negative maxAge deletes it.
func (k Cookies) Put(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		Secure: k.Secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

// Delete tells the browser to forget cookie name.
func (k Cookies) Delete(c *gin.Context, name string) { k.Put(c, name, "", -1) }

// SignIn hands the browser, at a sign-in, the token for as long as the session can live, and
// the device key for as long as it lives unused.
func (k Cookies) SignIn(c *gin.Context, res models.LoginResult) {
	s := res.Session
	k.Put(c, k.Session(), res.Token, int(s.ExpiresAt.Sub(s.CreatedAt)/time.Second))
	if res.DeviceKey != "" {
		k.Put(c, k.DeviceKey(), res.DeviceKey, int(res.DeviceKeyExpiresAt.Sub(s.CreatedAt)/time.Second))
	}
}

// PresentedDeviceKey is the device key a sign-in presents: the one in its body, else the
// browser's cookie. Whatever it holds, the service treats an unusable key as none.
func (k Cookies) PresentedDeviceKey(c *gin.Context, fromBody string) string {
	if fromBody != "" {
		return fromBody
	}
	key, _ := c.Cookie(k.DeviceKey())
	return key
}

// SignOut ends the browser's session: it deletes the session cookie and, of the others bound
// to a sign-in (a pending sign-in, the signed-out note, OIDC states), those the request
// carries. The device key and the browser id stay: they name the device, not the session, so
// a browser that signed out is still a known device at its next sign-in, which failed
// passwords from elsewhere cannot lock out. (Clear-Site-Data would drop them with the rest.)
func (k Cookies) SignOut(c *gin.Context) {
	k.Delete(c, k.Session())
	deleted := map[string]bool{}
	for _, ck := range c.Request.Cookies() {
		bound := ck.Name == k.Pending() || ck.Name == k.SignedOut() || strings.HasPrefix(ck.Name, k.oidcPrefix())
		if bound && !deleted[ck.Name] {
			k.Delete(c, ck.Name)
			deleted[ck.Name] = true
		}
	}
}
