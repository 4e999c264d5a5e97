package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/sessiond/sessiond/models"
)

// limitBody caps every request body; decode turns the overflow into 413.
func (h *handler) limitBody(c *gin.Context) {
	if c.Request.ContentLength > h.maxBodyBytes {
		h.fail(c, errTooLarge)
		return
	}
	if c.Request.Body != http.NoBody { // nothing to limit (most requests: GET)
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, h.maxBodyBytes)
	}
	c.Next()
}

// securityHeaders are on every response: no MIME sniffing, no framing, no referrer leaving
// the origin, and, when cookies are secure (we are served over HTTPS), HSTS for two years.
func (h *handler) securityHeaders(c *gin.Context) {
	hd := c.Writer.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	if h.cookies.Secure {
		hd.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	c.Next()
}

// noStore keeps responses that carry tokens or personal data out of every cache.
func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Next()
}

// accessLog writes one line per request (never the token or the query string) and tells the
// request observer.
func (h *handler) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	elapsed := time.Since(start)
	if h.requests != nil {
		h.requests.ObserveRequest(c.FullPath(), c.Request.Method, c.Writer.Status(), elapsed)
	}
	if !h.log.Enabled(c.Request.Context(), slog.LevelInfo) {
		return
	}
	attrs := []any{
		"method", c.Request.Method, "route", c.FullPath(), "status", c.Writer.Status(),
		"latency_ms", float64(elapsed.Microseconds()) / 1000, "ip", c.ClientIP(),
	}
	if p, ok := c.Get(principalKey); ok {
		attrs = append(attrs, "user_id", p.(*models.Principal).User.ID)
	}
	h.log.InfoContext(c.Request.Context(), "request", attrs...)
}

// requestIDKey carries the request id in the request's context.
type requestIDKey struct{}

// RequestID returns the id of the request ctx belongs to, or "" (for log handlers).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestIDHeader is X-Request-ID in net/http's canonical spelling, which spares the
// canonicalising copy of the name a lookup or a set would otherwise make on every request.
const requestIDHeader = "X-Request-Id"

// requestContext gives the request its id and its deadline, in one copy of the request (it
// runs on every request). The id is X-Request-ID from a trusted proxy when it is sane, else a
// new one; it goes back in the response and into the request's context, where every log line
// finds it. The deadline bounds the request, and with it every store call it makes: a store
// that stops answering turns into a 503 within the timeout, not a hung request.
func (h *handler) requestContext(c *gin.Context) {
	id := c.GetHeader(requestIDHeader)
	if !validRequestID(id) || !h.fromTrustedProxy(c) {
		id = uuid.NewString()
	}
	c.Header(requestIDHeader, id)
	ctx := context.WithValue(c.Request.Context(), requestIDKey{}, id)
	if h.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.timeout)
		defer cancel()
	}
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:/+=", r)) {
			return false
		}
	}
	return true
}

// fromTrustedProxy reports whether the peer is one of the trusted proxies.
func (h *handler) fromTrustedProxy(c *gin.Context) bool {
	ip, err := netip.ParseAddr(c.RemoteIP())
	if err != nil {
		return false
	}
	ip = ip.Unmap() // an IPv4 peer on a dual-stack listener
	for _, p := range h.proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// readyTimeout bounds the store ping of /readyz. Not a setting: a readiness probe must
// answer within the prober's own timeout (1 s by default in Kubernetes), whatever the store.
const readyTimeout = time.Second

func (h *handler) healthz(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }

func (h *handler) readyz(c *gin.Context) {
	if h.draining != nil && h.draining() {
		h.fail(c, errDraining)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
	defer cancel()
	if err := h.store.Ping(ctx); err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// WithRequestID wraps a log handler so that every record logged with a request's context
// carries its request_id: the access line, errors, and whatever the services log.
func WithRequestID(h slog.Handler) slog.Handler { return requestIDHandler{h} }

type requestIDHandler struct{ slog.Handler }

func (r requestIDHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id := RequestID(ctx); id != "" {
		rec.AddAttrs(slog.String("request_id", id))
	}
	return r.Handler.Handle(ctx, rec)
}

func (r requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{r.Handler.WithAttrs(attrs)}
}

func (r requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{r.Handler.WithGroup(name)}
}
