package api

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

const (
	principalKey = "sessiond.principal"
	viaCookieKey = "sessiond.via_cookie"
)

// authenticate resolves the presented token (bearer header first, else the session cookie)
// into a principal, or answers 401 with the reason. Cookie-authenticated unsafe requests must
// also come from our own origin.
func (h *handler) authenticate(c *gin.Context) {
	token, viaCookie, err := h.presentedToken(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	if viaCookie && !safeMethod(c.Request.Method) && !sameOrigin(c.Request, h.cookieSecure) {
		h.fail(c, errCSRF)
		return
	}
	p, err := h.sessions.Authenticate(c.Request.Context(), token)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Set(principalKey, p)
	c.Set(viaCookieKey, viaCookie)
	c.Next()
}

func (h *handler) presentedToken(c *gin.Context) (token string, viaCookie bool, err error) {
	if auth := c.GetHeader("Authorization"); auth != "" {
		scheme, token, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return "", false, models.ErrSessionInvalid
		}
		return strings.TrimSpace(token), false, nil
	}
	if cookie, err := c.Cookie(h.cookieName()); err == nil && cookie != "" {
		return cookie, true, nil
	}
	return "", false, models.ErrUnauthenticated
}

// principal returns who the authenticate middleware admitted.
func principal(c *gin.Context) models.Principal {
	return c.MustGet(principalKey).(models.Principal)
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sameOrigin reports whether the browser says the request comes from our own origin: the
// Fetch metadata header when sent, else an Origin whose host is the one requested (and, when
// cookies are secure, whose scheme is https).
func sameOrigin(r *http.Request, secure bool) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return false
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host) && (!secure || u.Scheme == "https")
}

// limitBody caps every request body; decode turns the overflow into 413.
func (h *handler) limitBody(c *gin.Context) {
	if c.Request.ContentLength > h.maxBodyBytes {
		h.fail(c, errTooLarge)
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, h.maxBodyBytes)
	c.Next()
}

// securityHeaders are on every response: no MIME sniffing, no framing, no referrer leaving
// the origin, and, when cookies are secure (we are served over HTTPS), HSTS for two years.
func (h *handler) securityHeaders(c *gin.Context) {
	hd := c.Writer.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	if h.cookieSecure {
		hd.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	c.Next()
}

// noStore keeps responses that carry tokens or personal data out of every cache.
func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Next()
}

// accessLog writes one line per request; never the token or the query string.
func (h *handler) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	attrs := []any{
		"method", c.Request.Method, "route", c.FullPath(), "status", c.Writer.Status(),
		"latency_ms", float64(time.Since(start).Microseconds()) / 1000, "ip", c.ClientIP(),
	}
	if p, ok := c.Get(principalKey); ok {
		attrs = append(attrs, "user_id", p.(models.Principal).User.ID)
	}
	h.log.InfoContext(c.Request.Context(), "request", attrs...)
}

// readyTimeout bounds the store ping of /readyz.
const readyTimeout = time.Second

func (h *handler) healthz(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }

func (h *handler) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
	defer cancel()
	if err := h.store.Ping(ctx); err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}
