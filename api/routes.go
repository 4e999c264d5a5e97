package api

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

// SessionService is what the handlers need of session use cases.
type SessionService interface {
	Login(ctx context.Context, p models.LoginParams) (models.LoginResult, error)
	Authenticate(ctx context.Context, token string) (*models.Principal, error) // shared: read only
	Logout(ctx context.Context, userID, sessionID string) error
	List(ctx context.Context, userID string) (models.DeviceList, error)
	Revoke(ctx context.Context, userID, currentID, sessionID, password string) error
	RevokeAll(ctx context.Context, userID, currentID, password string, scope models.RevokeScope) (int, error)
	History(ctx context.Context, userID string, limit int, before string) ([]models.SessionEvent, string, error)
	Introspect(ctx context.Context, token string) (models.Introspection, error)
}

// UserService is what the handlers need of account use cases.
type UserService interface {
	Register(ctx context.Context, p models.RegisterParams) (models.User, error)
	ChangePassword(ctx context.Context, userID, currentSessionID, current, next string, signOutOthers bool) error
}

// PlanService is what the admin handlers need of plan use cases.
type PlanService interface {
	List(ctx context.Context) ([]models.Plan, error)
	Get(ctx context.Context, id string) (models.Plan, error)
	Create(ctx context.Context, by models.Admin, in models.PlanInput) (models.Plan, error)
	Update(ctx context.Context, by models.Admin, id string, in models.PlanInput, enforceNow bool) (models.Plan, models.EnforceResult, error)
	Delete(ctx context.Context, by models.Admin, id string) error
}

// AdminService is what the admin handlers need of user and session management.
type AdminService interface {
	List(ctx context.Context, f models.UserFilter, limit int, before string) ([]models.User, string, error)
	Get(ctx context.Context, id string) (models.User, error)
	Update(ctx context.Context, by models.Admin, id string, p models.UserPatch) (models.User, error)
	Sessions(ctx context.Context, userID string) ([]models.Session, error)
	RevokeSession(ctx context.Context, by models.Admin, sessionID string) error
	RevokeSessions(ctx context.Context, by models.Admin, userID string) (int, error)
	Unlock(ctx context.Context, by models.Admin, userID string) error
}

// Pinger reports whether the store answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Pages are served by the same engine as the API, behind the same middleware: the
// server-rendered pages (package web).
type Pages interface {
	Register(r gin.IRouter)
}

// Deps is everything NewHandler wires together.
type Deps struct {
	Sessions       SessionService
	Users          UserService
	Plans          PlanService
	Admin          AdminService
	Clients        ClientService
	Stats          StatsService // GET /v1/admin/stats
	OIDC           OIDCService  // sign-ins through identity providers; nil: none configured
	DeviceGrant    DeviceGrantService
	Recovery       RecoveryService // forgotten passwords, verified email
	Pages          Pages           // the server-rendered pages (web.New); nil: none
	Store          Pinger
	Log            *slog.Logger
	CookieSecure   bool
	TrustedProxies []netip.Prefix // networks whose X-Forwarded-For and X-Request-ID are believed (no other header); none by default
	MaxBodyBytes   int64
	RequestTimeout time.Duration   // bounds every request's store calls; 0: none
	Requests       RequestObserver // hears of every request (metrics); nil: nobody
	Metrics        http.Handler    // served at GET /metrics; nil: no such route
	Draining       func() bool     // true once shutdown began: /readyz answers 503; nil: never
	Streams        StreamService   // what plays now (issue 22)
}

// RequestObserver hears of every request once answered. route is the matched route pattern
// ("" when none matched): never a raw path, so its values are bounded.
type RequestObserver interface {
	ObserveRequest(route, method string, status int, elapsed time.Duration)
}

type handler struct {
	sessions     SessionService
	users        UserService
	plans        PlanService
	admin        AdminService
	clients      ClientService
	stats        StatsService
	oidc         OIDCService
	grant        DeviceGrantService
	streams      StreamService
	recovery     RecoveryService
	store        Pinger
	log          *slog.Logger
	cookies      Cookies
	csrf         CSRF
	maxBodyBytes int64
	timeout      time.Duration
	requests     RequestObserver
	draining     func() bool
	proxies      []netip.Prefix
}

//go:embed openapi.yaml
var openapiYAML []byte

// NewHandler returns the HTTP handler serving every route of API.md: the API's, and the pages'
// when d.Pages is set.
func NewHandler(d Deps) (http.Handler, error) {
	h := &handler{
		sessions: d.Sessions, users: d.Users, plans: d.Plans, admin: d.Admin, clients: d.Clients, stats: d.Stats, oidc: d.OIDC, grant: d.DeviceGrant, streams: d.Streams,
		recovery: d.Recovery, store: d.Store, log: d.Log,
		cookies: Cookies{Secure: d.CookieSecure}, csrf: CSRF{Secure: d.CookieSecure},
		maxBodyBytes: d.MaxBodyBytes, timeout: d.RequestTimeout, requests: d.Requests, draining: d.Draining,
	}
	r := gin.New()
	// The client's address (c.ClientIP: the per-address limit, sessions, logs) is the peer's,
	// or, when the peer is a trusted proxy, X-Forwarded-For read from the right, skipping
	// trusted proxies. Nothing else: Gin would also believe X-Real-IP, which a client behind a
	// proxy that does not overwrite it sets to anything (a new one per request escaped the
	// per-address limit), a platform's header when one is named, and every proxy unless told
	// whom to trust.
	r.ForwardedByClientIP = true
	r.RemoteIPHeaders = []string{"X-Forwarded-For"}
	r.TrustedPlatform = ""
	proxies := make([]string, len(d.TrustedProxies))
	for i, p := range d.TrustedProxies {
		proxies[i] = p.String()
	}
	if err := r.SetTrustedProxies(proxies); err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	h.proxies = d.TrustedProxies
	r.RedirectTrailingSlash, r.RedirectFixedPath = false, false
	r.HandleMethodNotAllowed = true
	r.NoRoute(func(c *gin.Context) { h.fail(c, errRouteNotFound) })
	r.NoMethod(func(c *gin.Context) { h.fail(c, errMethodNotAllowed) })
	r.Use(h.requestContext, h.accessLog, gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, what any) {
		logFailure(h.log, c, what)
		h.fail(c, errPanic)
	}), h.securityHeaders, h.limitBody)

	r.GET("/healthz", h.healthz)
	r.GET("/readyz", h.readyz)
	if d.Metrics != nil {
		r.GET("/metrics", gin.WrapH(d.Metrics))
	}
	r.GET("/openapi.yaml", func(c *gin.Context) { c.Data(http.StatusOK, "application/yaml", openapiYAML) })

	v1 := r.Group("/v1", noStore)
	v1.POST("/auth/register", h.register)
	v1.POST("/auth/login", h.login)
	v1.POST("/introspect", h.introspect)
	v1.POST("/auth/oidc/:provider/token", h.oidcToken)
	v1.GET("/auth/session", h.whoami)            // checks the token itself: the hot path
	v1.POST("/auth/device/code", h.deviceCode)   // TV sign-in with a code (RFC 8628): the device's side
	v1.POST("/auth/device/token", h.deviceToken) // answers in OAuth's shapes
	v1.POST("/auth/password/forgot", h.forgotPassword)
	v1.POST("/auth/password/reset", h.resetPassword)
	v1.POST("/auth/email/verify", h.verifyEmail)

	// Cookie-authenticated unsafe requests must come from our own origin; bearer ones need not.
	authed := v1.Group("", h.csrf.Unsafe(h.notByCookie, h.fail), h.authenticate)
	authed.POST("/auth/logout", h.logout)
	authed.POST("/auth/password", h.changePassword)
	authed.POST("/auth/email/verify/resend", h.resendVerification)
	authed.GET("/sessions", h.listSessions)
	authed.DELETE("/sessions/:id", h.revokeSession)
	authed.POST("/sessions/revoke", h.revokeSessions)
	authed.GET("/sessions/history", h.myHistory)
	authed.GET("/auth/device", h.deviceWaiting) // TV sign-in with a code: the person's side
	authed.POST("/auth/device/approve", h.deviceApprove)
	authed.POST("/auth/device/deny", h.deviceDeny)
	authed.POST("/streams", h.startStream)
	authed.GET("/streams", h.listStreams)
	authed.DELETE("/streams/:id", h.stopStream)
	// The hot path checks its token itself (a session that ended learns its stream ended too);
	// a cookie-presented heartbeat still passes the CSRF check.
	v1.Group("", h.csrf.Unsafe(h.notByCookie, h.fail)).POST("/streams/:id/heartbeat", h.heartbeat)

	admin := authed.Group("/admin", RequireAdmin(h.fail))
	admin.GET("/plans", h.listPlans)
	admin.POST("/plans", h.createPlan)
	admin.GET("/plans/:id", h.getPlan)
	admin.PATCH("/plans/:id", h.updatePlan)
	admin.DELETE("/plans/:id", h.deletePlan)
	admin.GET("/users", h.listUsers)
	admin.GET("/users/:id", h.getUser)
	admin.PATCH("/users/:id", h.updateUser)
	admin.GET("/users/:id/sessions", h.userSessions)
	admin.DELETE("/users/:id/sessions", h.revokeUserSessions)
	admin.GET("/users/:id/events", h.userEvents)
	admin.POST("/users/:id/unlock", h.unlockUser)
	admin.DELETE("/sessions/:id", h.adminRevokeSession)
	admin.GET("/users/:id/streams", h.userStreams)
	admin.DELETE("/streams/:id", h.adminEndStream)
	admin.GET("/service-clients", h.listClients)
	admin.POST("/service-clients", h.createClient)
	admin.DELETE("/service-clients/:id", h.deleteClient)
	admin.GET("/stats", h.adminStats)

	if d.Pages != nil {
		d.Pages.Register(r) // API.md "Web pages", and the browser's OIDC sign-in under /v1
	}
	return r, nil
}
