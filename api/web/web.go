package web

import (
	"context"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/models"
)

// SessionService is what the pages need of session use cases.
type SessionService interface {
	Login(ctx context.Context, p models.LoginParams) (models.LoginResult, error)
	Authenticate(ctx context.Context, token string) (*models.Principal, error) // shared: read only
	Logout(ctx context.Context, userID, sessionID string) error
	List(ctx context.Context, userID string) (models.DeviceList, error)
	Revoke(ctx context.Context, userID, currentID, sessionID, password string) error
	RevokeAll(ctx context.Context, userID, currentID, password string, scope models.RevokeScope) (int, error)
	History(ctx context.Context, userID string, limit int, before string) ([]models.SessionEvent, string, error)
	Held(ctx context.Context, pending string) (models.HeldLogin, error)
	Resume(ctx context.Context, pending string, replaceSessionIDs []string, deviceKey string) (models.LoginResult, error)
	Cancel(ctx context.Context, pending string) error
}

// PlanService is what the admin pages need of plan use cases.
type PlanService interface {
	List(ctx context.Context) ([]models.Plan, error)
	Get(ctx context.Context, id string) (models.Plan, error)
	Update(ctx context.Context, by models.Admin, id string, in models.PlanInput, enforceNow bool) (models.Plan, models.EnforceResult, error)
	Create(ctx context.Context, by models.Admin, in models.PlanInput) (models.Plan, error)
	Delete(ctx context.Context, by models.Admin, id string) error
}

// ClientService is what the admin page needs of service clients.
type ClientService interface {
	Create(ctx context.Context, by models.Admin, name string) (models.ServiceClient, string, error)
	List(ctx context.Context) ([]models.ServiceClient, error)
	Delete(ctx context.Context, by models.Admin, id string) error
}

// StatsService is what the admin page's charts need.
type StatsService interface {
	Get(ctx context.Context, days int) (models.Stats, error)
}

// UserService is what the sign-up page needs.
type UserService interface {
	Register(ctx context.Context, p models.RegisterParams) (models.User, error)
}

// AdminService is what the admin pages need of user management.
type AdminService interface {
	List(ctx context.Context, f models.UserFilter, limit int, before string) ([]models.User, string, error)
	Get(ctx context.Context, id string) (models.User, error)
	Update(ctx context.Context, by models.Admin, id string, p models.UserPatch) (models.User, error)
	RevokeSession(ctx context.Context, by models.Admin, sessionID string) error
	RevokeSessions(ctx context.Context, by models.Admin, userID string) (int, error)
}

// OIDCService is what the pages need of sign-ins through external identity providers: the
// browser's side of the flow, and the identities an admin sees.
type OIDCService interface {
	Providers() []models.Provider
	Start(ctx context.Context, provider string, p models.OIDCStart) (models.OIDCRedirect, error)
	Callback(ctx context.Context, provider string, cb models.OIDCCallback) (models.LoginResult, string, error)
	Identities(ctx context.Context, userID string) ([]models.Identity, error)
}

// DeviceGrantService is what the pages need of the TV sign-in with a code: /tv acts as the
// TV, /activate is the person's side.
type DeviceGrantService interface {
	Start(ctx context.Context, req models.DeviceCodeRequest) (models.DeviceCode, error)
	Token(ctx context.Context, deviceCode string) (models.LoginResult, error)
	Waiting(ctx context.Context, userID, ip, userCode string) (models.DeviceAuthorization, error)
	Approve(ctx context.Context, p models.DeviceApproval) (models.LoginResult, error)
	Deny(ctx context.Context, p models.DeviceApproval) error
}

// Deps is everything New wires together.
type Deps struct {
	Sessions     SessionService
	Plans        PlanService
	Admin        AdminService
	OIDC         OIDCService // nil: no identity provider configured
	DeviceGrant  DeviceGrantService
	Streams      StreamService // nil: the pages show no streams
	Recovery     RecoveryService
	Users        UserService   // sign-up (/register)
	Clients      ClientService // the admin page's service clients
	Stats        StatsService  // the admin page's charts
	Log          *slog.Logger
	CookieSecure bool // served over HTTPS: as api.Deps.CookieSecure
	// Now is the pages' clock: how long ago things happened and whether a stream's lease still
	// runs are read from it, so tests can pin it to the services' clock. nil: time.Now.
	Now func() time.Time

	RegistrationClosed bool // SESSIOND_REGISTRATION=closed: /register says so and offers no form
}

// Handler serves the pages; api.NewHandler registers them (Register).
type Handler struct {
	sessions SessionService
	plans    PlanService
	admin    AdminService
	oidc     OIDCService
	grant    DeviceGrantService
	streams  StreamService
	recovery RecoveryService
	users    UserService
	clients  ClientService
	stats    StatsService
	closed   bool
	now      func() time.Time
	log      *slog.Logger
	cookies  api.Cookies
	csrf     api.CSRF
	pages    map[string]*template.Template
	static   http.Handler
}

// New parses the embedded templates and returns the pages over d's services.
func New(d Deps) (*Handler, error) {
	h := &Handler{
		sessions: d.Sessions, plans: d.Plans, admin: d.Admin, oidc: d.OIDC, grant: d.DeviceGrant, streams: d.Streams, recovery: d.Recovery, log: d.Log,
		users: d.Users, clients: d.Clients, stats: d.Stats, closed: d.RegistrationClosed || d.Users == nil,
		cookies: api.Cookies{Secure: d.CookieSecure}, csrf: api.CSRF{Secure: d.CookieSecure},
		pages: make(map[string]*template.Template, len(pageNames)), now: d.Now,
	}
	if h.now == nil {
		h.now = time.Now
	}
	// "ago" reads the pages' clock, not the process's: it is bound per handler.
	clocked := template.FuncMap{"ago": func(t time.Time) string { return ago(h.now().Sub(t), t) }}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(pageFuncs).Funcs(clocked).ParseFS(files, "templates/layout.html", "templates/choice.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		h.pages[name] = t
	}
	static, err := fs.Sub(files, "static")
	if err != nil {
		return nil, err
	}
	h.static = http.FileServerFS(static)
	return h, nil
}
