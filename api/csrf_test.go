package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/api"
)

// TestCSRF pins the one guard's reading of what a browser says (its callers' tests pin where it
// applies: TestCookieSession, TestCrossSiteCookieDeleteRefused, TestPagesRefuseForeignForms,
// TestOIDCBrowserFailuresArePagesWithoutSessions). Fetch metadata wins over Origin. An unsafe
// request that says neither is refused, as are Sec-Fetch-Site: none and an http Origin when we
// are served over HTTPS: where http.CrossOriginProtection lets the request through (checked by
// hand with it in sameOrigin's place). A navigation (the OIDC start) is refused only when the
// browser says another site sent it.
func TestCSRF(t *testing.T) {
	const host = "example.com" // httptest.NewRequest's
	serve := func(g api.CSRF, guard func(api.CSRF) gin.HandlerFunc, method, site, origin string) int {
		r := gin.New()
		r.Handle(method, "/x", guard(g), func(c *gin.Context) { c.Status(http.StatusNoContent) })
		req := httptest.NewRequest(method, "/x", nil)
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		return rec.Code
	}
	refuse := func(c *gin.Context, err error) {
		p := api.Classify(err)
		c.AbortWithStatusJSON(p.Status, gin.H{"code": p.Code})
	}
	unsafe := func(g api.CSRF) gin.HandlerFunc { return g.Unsafe(nil, refuse) }
	navigation := func(g api.CSRF) gin.HandlerFunc { return g.Navigation(refuse) }

	for _, c := range []struct {
		method, site, origin string
		secure               bool
		want                 int
	}{
		{"POST", "same-origin", "", true, 204},
		{"POST", "same-site", "", true, 403}, // a sibling subdomain is not us
		{"POST", "cross-site", "", true, 403},
		{"POST", "none", "", true, 403}, // nobody types a POST
		{"POST", "cross-site", "https://" + host, true, 403},
		{"POST", "", "https://" + host, true, 204},
		{"POST", "", "https://EXAMPLE.com", true, 204},
		{"POST", "", "http://" + host, true, 403}, // http when we are served over HTTPS
		{"POST", "", "http://" + host, false, 204},
		{"POST", "", "https://evil.example", true, 403},
		{"POST", "", "null", true, 403},
		{"POST", "", "", true, 403}, // says neither
		{"PUT", "", "", false, 403},
		{"PATCH", "cross-site", "", false, 403},
		{"DELETE", "cross-site", "", false, 403},
		{"GET", "cross-site", "https://evil.example", true, 204}, // safe methods pass
		{"HEAD", "cross-site", "", true, 204},
		{"OPTIONS", "cross-site", "", true, 204},
	} {
		if got := serve(api.CSRF{Secure: c.secure}, unsafe, c.method, c.site, c.origin); got != c.want {
			t.Errorf("Unsafe: %s with Sec-Fetch-Site %q, Origin %q (secure %v) = %d, want %d", c.method, c.site, c.origin, c.secure, got, c.want)
		}
	}
	for _, c := range []struct {
		site, origin string
		want         int
	}{
		{"same-origin", "", 204},
		{"none", "", 204}, // typed, or a bookmark
		{"", "", 204},     // a browser without Fetch metadata: a navigation has no Origin to judge
		{"same-site", "", 403},
		{"cross-site", "", 403},
		{"cross-site", "https://" + host, 403},
	} {
		if got := serve(api.CSRF{Secure: true}, navigation, "GET", c.site, c.origin); got != c.want {
			t.Errorf("Navigation: GET with Sec-Fetch-Site %q, Origin %q = %d, want %d", c.site, c.origin, got, c.want)
		}
	}
}
