package client

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/maypok86/otter/v2"
	"golang.org/x/sync/singleflight"
)

// Middleware guards Gin routes with sessiond sessions. Answers are cached (bounded: at most
// MaxEntries tokens, each at most TTL, and never past the session's own expiry; inactive
// answers NegativeTTL), identical lookups in flight at once share one call to sessiond, and
// when sessiond cannot answer the request is refused with 503: never let through unchecked.
type Middleware struct {
	client      *Client
	ttl         time.Duration
	negativeTTL time.Duration
	cookies     []string
	maxEntries  int
	cache       *otter.Cache[tokenKey, *Session]
	seeds       [2]maphash.Seed
	flight      singleflight.Group
	now         func() time.Time
}

// MiddlewareOption configures a Middleware.
type MiddlewareOption func(*Middleware)

// WithTTL caches an active answer at most d (default 5 s): the revocation delay the service
// accepts. 0 turns caching off.
func WithTTL(d time.Duration) MiddlewareOption { return func(m *Middleware) { m.ttl = d } }

// WithNegativeTTL caches an inactive answer d (default 1 s), so a flood of bad tokens does not
// become a flood of introspections.
func WithNegativeTTL(d time.Duration) MiddlewareOption {
	return func(m *Middleware) { m.negativeTTL = d }
}

// WithCookies names the cookies a browser's token may come in (default sessiond's own,
// __Host-sessiond and sessiond): for services served on sessiond's site.
func WithCookies(names ...string) MiddlewareOption { return func(m *Middleware) { m.cookies = names } }

// WithMaxEntries bounds the cache (default 100,000 tokens).
func WithMaxEntries(n int) MiddlewareOption { return func(m *Middleware) { m.maxEntries = n } }

// Middleware returns the Gin middleware of this client. Call Close when done with it.
func (c *Client) Middleware(opts ...MiddlewareOption) *Middleware {
	m := &Middleware{
		client: c, ttl: 5 * time.Second, negativeTTL: time.Second,
		cookies: []string{"__Host-sessiond", "sessiond"}, maxEntries: 100_000, now: time.Now,
	}
	for _, o := range opts {
		o(m)
	}
	m.seeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}
	m.cache = otter.Must(&otter.Options[tokenKey, *Session]{
		MaximumSize:      m.maxEntries,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[tokenKey, *Session]) time.Duration { return m.ttlOf(*e.Value) }),
	})
	return m
}

// tokenKey names a token in the cache without keeping it: 128 bits of keyed hashing
// (hash/maphash under two seeds drawn at random for this process). Nobody outside the process
// knows the seeds, so nobody can aim a token of theirs at another's entry, and 128 bits leave
// accidental collisions out of reach. A cryptographic hash would cost more than the rest of
// the middleware together (SHA-256 of a token: about 165 ns here).
type tokenKey [2]uint64

func (m *Middleware) key(token string) tokenKey {
	return tokenKey{maphash.String(m.seeds[0], token), maphash.String(m.seeds[1], token)}
}

func (k tokenKey) String() string {
	return string(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, k[0]), k[1]))
}

// ttlOf is how long an answer may be reused: an active one the TTL, never past the session's
// own expiry; an inactive one the negative TTL.
func (m *Middleware) ttlOf(s Session) time.Duration {
	if !s.Active {
		return m.negativeTTL
	}
	now := m.now()
	return min(m.ttl, s.ExpiresAt.Sub(now), s.IdleUntil.Sub(now))
}

// Close stops the cache's maintenance goroutines.
func (m *Middleware) Close() { m.cache.StopAllGoroutines() }

// maxTokenLen bounds what is worth asking sessiond about (its tokens are 66 characters).
const maxTokenLen = 512

// Session returns the request's active session, as the cache has it: for a request
// RequireSession, RequirePlan or RequireRole let through, the very answer they let it through
// on while that is cached (up to the TTL). Letting a request through stores nothing in it (Gin's
// per-request map would cost more than the rest of the middleware); handlers that want the
// session ask for it. Once the cached answer is gone (its TTL or the session's deadline
// passed, the cache evicted it, or WithTTL(0)), Session asks sessiond again and returns what
// it says now, which may differ from what was let through: ok is false when the request carries no
// active session any more, or sessiond cannot answer. Handlers must check ok.
func (m *Middleware) Session(c *gin.Context) (s Session, ok bool) {
	found, err := m.check(c)
	if err != nil || !found.Active {
		return Session{}, false
	}
	return *found, true
}

// RequireSession lets through requests carrying an active sessiond session (a bearer token, else a
// sessiond cookie); Session returns it. Otherwise 401 unauthenticated, 400 invalid_request for
// a request with two Authorization headers, or 503 unavailable when sessiond cannot answer.
func (m *Middleware) RequireSession() gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, ok := m.guard(c); ok {
			c.Next()
		}
	}
}

// RequirePlan lets through sessions on one of plans (it checks the session itself: RequireSession
// before it is not needed). Otherwise 403 plan_required.
func (m *Middleware) RequirePlan(plans ...string) gin.HandlerFunc {
	return m.require(func(s *Session) bool { return slices.Contains(plans, s.Plan) }, "plan_required",
		"Your plan does not include this.")
}

// RequireRole lets through sessions of users with one of roles. Otherwise 403 forbidden.
func (m *Middleware) RequireRole(roles ...string) gin.HandlerFunc {
	return m.require(func(s *Session) bool { return slices.Contains(roles, s.Role) }, "forbidden",
		"You are not allowed to do that.")
}

func (m *Middleware) require(allowed func(*Session) bool, code, message string) gin.HandlerFunc {
	return func(c *gin.Context) {
		s, ok := m.guard(c)
		if !ok {
			return
		}
		if !allowed(s) {
			refuse(c, http.StatusForbidden, code, message)
			return
		}
		c.Next()
	}
}

// guard finds the request's active session, or aborts the request with the refusal.
func (m *Middleware) guard(c *gin.Context) (*Session, bool) {
	s, err := m.check(c)
	switch {
	case errors.Is(err, errNoToken):
		refuse(c, http.StatusUnauthorized, "unauthenticated", "Sign in first.")
	case errors.Is(err, errTwoAuthorizations):
		refuse(c, http.StatusBadRequest, "invalid_request", "Send one Authorization header.")
	case errors.Is(err, ErrInvalidClient):
		refuse(c, http.StatusServiceUnavailable, "unavailable", "This service cannot check sessions.")
	case err != nil:
		c.Header("Retry-After", "1")
		refuse(c, http.StatusServiceUnavailable, "unavailable", "Sessions cannot be checked right now; try again shortly.")
	case !s.Active:
		refuse(c, http.StatusUnauthorized, "unauthenticated", "The session is not valid; sign in again.")
	default:
		return s, true
	}
	return nil, false
}

var (
	// errNoToken: the request carries no token worth asking about.
	errNoToken = errors.New("no session token")
	// errTwoAuthorizations: which of two Authorization headers counts depends on who reads
	// them, and a proxy in front may have checked another one than we would use.
	errTwoAuthorizations = errors.New("more than one Authorization header")
)

// check answers for the request's token, from the cache when it can. The answer is shared:
// callers must not modify it.
func (m *Middleware) check(c *gin.Context) (*Session, error) {
	if len(c.Request.Header["Authorization"]) > 1 {
		return nil, errTwoAuthorizations
	}
	token := m.token(c)
	if token == "" || len(token) > maxTokenLen {
		return nil, errNoToken
	}
	return m.lookup(c.Request.Context(), token)
}

// Token returns the session token the request presents (a bearer token, else a sessiond
// cookie), or "": for a service that calls sessiond on the viewer's behalf (StartStream).
func (m *Middleware) Token(c *gin.Context) string { return m.token(c) }

func (m *Middleware) token(c *gin.Context) string {
	if h := c.GetHeader("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	for _, name := range m.cookies {
		if v, err := c.Cookie(name); err == nil && v != "" {
			return v
		}
	}
	return ""
}

// lookup answers from the cache, or asks sessiond once for all concurrent askers of a token.
// The answer is shared: callers must not modify it.
func (m *Middleware) lookup(ctx context.Context, token string) (*Session, error) {
	key := m.key(token)                         // the cache holds no raw token
	if s, ok := m.cache.GetIfPresent(key); ok { // entries expire by ttlOf: never past the session's expiry
		return s, nil
	}
	ch := m.flight.DoChan(key.String(), func() (any, error) {
		// Detached from the first asker's cancellation (the others may still wait for it),
		// and bounded on its own.
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.client.callTimeout())
		defer cancel()
		s, err := m.client.Introspect(callCtx, token)
		if err != nil {
			return nil, err
		}
		m.remember(key, &s)
		return &s, nil
	})
	select {
	case <-ctx.Done(): // this asker gives up; the call goes on for the others
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, ctx.Err())
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*Session), nil
	}
}

// remember caches s for as long as ttlOf allows.
func (m *Middleware) remember(key tokenKey, s *Session) {
	if m.ttlOf(*s) > 0 {
		m.cache.Set(key, s)
	}
}

func refuse(c *gin.Context, status int, code, message string) {
	c.AbortWithStatusJSON(status, gin.H{"error": gin.H{"code": code, "message": message}})
}
