package main

import (
	"context"
	"fmt"
	"log/slog"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/api/web"
	"github.com/sessiond/sessiond/config"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/store"
)

// The services satisfy the interfaces the API and the pages declare.
var (
	_ api.SessionService     = (*services.Sessions)(nil)
	_ api.UserService        = (*services.Users)(nil)
	_ api.AdminService       = (*services.Users)(nil)
	_ api.ClientService      = (*services.Clients)(nil)
	_ api.PlanService        = (*services.Plans)(nil)
	_ api.StatsService       = (*services.Stats)(nil)
	_ api.Pinger             = (*services.Health)(nil)
	_ api.OIDCService        = (*services.OIDC)(nil)
	_ api.DeviceGrantService = (*services.DeviceGrant)(nil)
	_ api.StreamService      = (*services.Sessions)(nil)
	_ api.RecoveryService    = (*services.Recovery)(nil)
	_ web.RecoveryService    = (*services.Recovery)(nil)
	_ web.SessionService     = (*services.Sessions)(nil)
	_ web.StreamService      = (*services.Sessions)(nil)
	_ web.AdminService       = (*services.Users)(nil)
	_ web.PlanService        = (*services.Plans)(nil)
	_ web.OIDCService        = (*services.OIDC)(nil)
	_ web.StatsService       = (*services.Stats)(nil)
	_ web.ClientService      = (*services.Clients)(nil)
	_ web.UserService        = (*services.Users)(nil)
)

// app is sessiond wired together: configuration, logger, store and use cases.
type app struct {
	cfg      config.Config
	log      *slog.Logger
	db       *gorm.DB
	users    *services.Users
	plans    *services.Plans
	clients  *services.Clients
	stats    *services.Stats
	sessions *services.Sessions
	grant    *services.DeviceGrant
	recovery *services.Recovery
	mail     *services.MailSender
	purger   *services.Purger
	throttle *services.Throttle
	health   *services.Health
	metrics  *metrics
	cache    *store.SessionCache // nil when off
	touches  *services.Touches   // writes the checks' touches behind them; run by serve
	listener *store.Listener     // nil unless the cache is on over Postgres
}

// newApp loads the configuration and opens the store. The caller closes the app.
func newApp(env *environment) (*app, error) {
	cfg, err := config.Load(env.getenv)
	if err != nil {
		return nil, err
	}
	log := newLogger(cfg, env)
	db, err := store.Open(cfg.Database.Dialect, cfg.Database.DSN, store.Options{
		MaxOpenConns: cfg.DBMaxOpenConns, MaxIdleConns: cfg.DBMaxIdleConns, ConnMaxLifetime: cfg.DBConnMaxLifetime,
		ConnectTimeout: cfg.DBConnectTimeout, StatementTimeout: cfg.DBStatementTimeout,
	})
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, db: db, health: services.NewHealth(db)}
	sqlDB, err := db.DB()
	if err != nil {
		closeStore(db, log)
		return nil, err
	}
	a.metrics = newMetrics(sqlDB, a.health, log)
	var obs services.Observer = a.metrics
	// The cache needs to hear of every change, whichever process makes it: on Postgres the
	// listener does that. SQLite has no NOTIFY, and the command line (sessiond users revoke…)
	// is another process on the same file, so there the cache stays off.
	if cfg.CacheSize > 0 && cfg.Database.Dialect == config.Postgres {
		a.cache = store.NewSessionCache(cfg.CacheSize, cfg.CacheTTL)
		obs = services.Observers{a.metrics, services.CacheObserver{Cache: a.cache}}
		a.listener = store.NewListener(cfg.ListenDSN(), a.cache, cfg.DBConnectTimeout, log)
	}
	onFlush := a.metrics.watchCache(a.cache)
	a.touches = services.NewTouches(db, services.TouchesConfig{Cache: a.cache, OnFlush: onFlush, Log: log})
	a.metrics.watchTouches(a.touches)
	tc := services.ThrottleConfig{
		FreeFailures: cfg.LoginFreeFailures, MaxDelay: cfg.LoginMaxDelay, LockAfter: cfg.LoginLockAfter,
		IPRate: cfg.LoginRatePerIP, IPBurst: cfg.LoginBurstPerIP,
	}
	throttle, err := services.NewThrottle(db, tc)
	if err != nil {
		closeStore(db, log)
		return nil, err
	}
	a.throttle = throttle
	hasher := services.NewHasher(services.DefaultArgon2, services.HasherConfig{Queue: cfg.HashQueue})
	publicURL, verification := cfg.PublicURL, models.VerificationMode(cfg.Recovery.EmailVerification)
	a.users = services.NewUsers(db, hasher, services.UsersConfig{
		DefaultPlan: cfg.DefaultPlan, RegistrationOpen: cfg.RegistrationOpen(), Throttle: throttle, Observer: obs,
		Verification: verification, PublicURL: &publicURL,
	})
	a.plans = services.NewPlans(db, nil, log, obs)
	a.clients = services.NewClients(db, services.ClientsConfig{})
	a.stats = services.NewStats(db, nil)
	a.purger = services.NewPurger(db, services.PurgeConfig{
		RevokedRetention: cfg.RevokedRetention, EventRetention: cfg.EventRetention,
		BatchSize: cfg.PurgeBatchSize, Throttle: tc, Log: log, Observer: obs,
	})
	a.sessions = services.NewSessions(db, hasher, services.SessionsConfig{
		Defaults:      models.Timeouts{Idle: cfg.SessionIdleTimeout, Absolute: cfg.SessionAbsoluteTimeout},
		TouchInterval: cfg.SessionTouchInterval,
		Touches:       a.touches,
		Throttle:      throttle,
		Observer:      obs,
		Cache:         a.cache,
		Log:           log,

		DeviceKeyTTL:    cfg.DeviceKeyTTL,
		FreshSessionAge: cfg.FreshSessionAge,
		Streams:         services.StreamsConfig{HeartbeatInterval: cfg.Streams.HeartbeatInterval, LeaseTTL: cfg.Streams.TTL()},
		Verification:    verification, NotifySignIn: cfg.Recovery.NotifySignIn, NotifyEviction: cfg.Recovery.NotifyEviction,
		PublicURL: &publicURL,
	})
	a.recovery, err = services.NewRecovery(db, hasher, services.RecoveryConfig{
		PublicURL: &publicURL, Verification: verification, Throttle: throttle, Observer: obs, Log: log,
	})
	if err != nil {
		closeStore(db, log)
		return nil, err
	}
	a.grant, err = services.NewDeviceGrant(db, a.sessions, services.DeviceGrantConfig{
		PublicURL: &publicURL, Lifetime: cfg.DeviceCodeLifetime, Interval: cfg.DeviceCodeInterval,
		StartRate: cfg.DeviceCodeRatePerIP, StartBurst: cfg.DeviceCodeBurstPerIP, Observer: a.metrics, Log: log,
	})
	if err != nil {
		closeStore(db, log)
		return nil, err
	}
	if a.mail, err = a.newMailSender(a.metrics.reg); err != nil {
		closeStore(db, log)
		return nil, err
	}
	return a, nil
}

// newOIDC discovers the configured identity providers (none configured: an OIDC that knows
// no provider). A provider that cannot be discovered stops the start, named.
func (a *app) newOIDC(ctx context.Context) (*services.OIDC, error) {
	providers := make([]services.OIDCProviderConfig, len(a.cfg.OIDC))
	for i, p := range a.cfg.OIDC {
		providers[i] = services.OIDCProviderConfig{
			Name: p.Name, Label: p.Label, Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.ClientSecret,
			RedirectURL: p.RedirectURL, Scopes: p.Scopes, LinkByEmail: p.LinkByEmail,
		}
	}
	return services.NewOIDC(ctx, a.db, a.sessions, services.OIDCConfig{
		RegistrationOpen: a.cfg.RegistrationOpen(), DefaultPlan: a.cfg.DefaultPlan, Throttle: a.throttle,
		Observer: a.metrics, Log: a.log,
	}, providers)
}

// migrate applies pending migrations.
func (a *app) migrate(ctx context.Context) error { return services.Migrate(ctx, a.db, a.log) }

func (a *app) close() {
	a.cache.Close()
	closeStore(a.db, a.log)
}

func closeStore(db *gorm.DB, log *slog.Logger) {
	if sqlDB, err := db.DB(); err == nil {
		if err := sqlDB.Close(); err != nil {
			log.Error("close store", "err", err)
		}
	}
}

func newLogger(cfg config.Config, env *environment) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler = slog.NewJSONHandler(env.stderr, opts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(env.stderr, opts)
	}
	return slog.New(api.WithRequestID(h))
}

// bootstrapAdmin creates the configured first admin unless that account exists.
func (a *app) bootstrapAdmin(ctx context.Context) error {
	if a.cfg.BootstrapAdminEmail == "" {
		return nil
	}
	created, err := a.users.EnsureAdmin(ctx, a.cfg.BootstrapAdminEmail, a.cfg.BootstrapAdminPassword)
	if err != nil {
		return fmt.Errorf("bootstrap admin: %w", err)
	}
	if created {
		a.log.InfoContext(ctx, "bootstrap admin created", "email", a.cfg.BootstrapAdminEmail)
	}
	return nil
}
