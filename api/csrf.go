package api

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

// CSRF is the one guard against cross-site request forgery, for the API's cookie sessions,
// every form of the pages (the sign-in form included: login CSRF) and the browser's OIDC
// start. What the browser says about where a request comes from is read in sameOrigin alone.
//
// It is not the standard library's http.CrossOriginProtection, which lets through what this
// guard refuses: an unsafe request that carries neither Sec-Fetch-Site nor Origin (a cookie
// POST without them is refused: TestCookieSession), any GET (another site's link to the OIDC
// start is refused: TestOIDCBrowserFailuresArePagesWithoutSessions), and, on an unsafe
// request, Sec-Fetch-Site: none or an http Origin when we are served over HTTPS (TestCSRF).
type CSRF struct {
	Secure bool // served over HTTPS: an Origin must be https too
}

// Unsafe returns the middleware that refuses an unsafe request (any method but GET, HEAD and
// OPTIONS) unless its browser says it comes from our own origin. exempt, when not nil, names
// the requests that need no check (the API's bearer requests: a browser never adds that header
// by itself). refuse answers the refusal, errCSRF (403 csrf_failed), the surface's own way,
// and must abort.
func (g CSRF) Unsafe(exempt func(*gin.Context) bool, refuse func(*gin.Context, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !safeMethod(c.Request.Method) && (exempt == nil || !exempt(c)) && !g.sameOrigin(c.Request) {
			refuse(c, errCSRF)
			return
		}
		c.Next()
	}
}

// Navigation returns the middleware for a GET that starts something in the browser (the OIDC
// start signs it in): refused when the browser says another site sent it there. A person
// typing the address or following a bookmark (Sec-Fetch-Site: none) is let through, and so is
// a browser that sends no Fetch metadata: a top-level navigation carries no Origin to judge.
func (g CSRF) Navigation(refuse func(*gin.Context, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		if site := c.GetHeader("Sec-Fetch-Site"); site != "" && site != "none" && !g.sameOrigin(c.Request) {
			refuse(c, errCSRF)
			return
		}
		c.Next()
	}
}

// sameOrigin reports whether the browser says r comes from our own origin: the Fetch metadata
// header when sent, else an Origin whose host is the one requested (and, when we are served
// over HTTPS, whose scheme is https). A request that says neither is not ours.
func (g CSRF) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return false
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host) && (!g.Secure || u.Scheme == "https")
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
