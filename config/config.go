package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/robfig/cron/v3"
)

// Prefix starts the name of every environment variable sessiond reads.
const Prefix = "SESSIOND_"

// Config is every setting of sessiond. Field tags name the variable (after Prefix) and its default.
type Config struct {
	Addr string `env:"ADDR" envDefault:":8080"`
	// Database is SESSIOND_DATABASE_URL, parsed: its dialect and connection string.
	Database Database `env:"DATABASE_URL" envDefault:"sqlite://./sessiond.db"`
	Listen   Listen   // SESSIOND_DATABASE_LISTEN_URL: the cache listener's direct URL (config/listen.go)
	// MigrateOnStart applies pending migrations when `serve` starts.
	MigrateOnStart bool `env:"MIGRATE_ON_START" envDefault:"true"`
	DBMaxOpenConns int  `env:"DB_MAX_OPEN_CONNS" envDefault:"20"`
	DBMaxIdleConns int  `env:"DB_MAX_IDLE_CONNS" envDefault:"20"`
	// Bounds on every wait for Postgres: dialling, one statement (server side), a connection's
	// life; and on one whole request (client side, so a silent network cannot hang it).
	DBConnectTimeout   time.Duration `env:"DB_CONNECT_TIMEOUT" envDefault:"2s"`
	DBStatementTimeout time.Duration `env:"DB_STATEMENT_TIMEOUT" envDefault:"5s"`
	DBConnMaxLifetime  time.Duration `env:"DB_CONN_MAX_LIFETIME" envDefault:"30m"`
	RequestTimeout     time.Duration `env:"REQUEST_TIMEOUT" envDefault:"10s"`

	// The in-process cache of validated sessions: how many, and how long each at most.
	// CACHE_SIZE=0 turns it off. An entry takes about 1.2 KiB (services/store's
	// TestCacheBytesPerEntry), so the default bounds it near 250 MiB; the TTL covers a session
	// used every few minutes. Revocation never waits for the TTL (NOTIFY drops entries at once).
	CacheSize int           `env:"CACHE_SIZE" envDefault:"200000"`
	CacheTTL  time.Duration `env:"CACHE_TTL" envDefault:"10m"`

	DefaultPlan            string `env:"DEFAULT_PLAN" envDefault:"standard"`
	Registration           string `env:"REGISTRATION" envDefault:"open"`
	BootstrapAdminEmail    string `env:"BOOTSTRAP_ADMIN_EMAIL"`
	BootstrapAdminPassword string `env:"BOOTSTRAP_ADMIN_PASSWORD"`

	SessionIdleTimeout     time.Duration `env:"SESSION_IDLE_TIMEOUT" envDefault:"336h"`
	SessionAbsoluteTimeout time.Duration `env:"SESSION_ABSOLUTE_TIMEOUT" envDefault:"720h"`
	// SessionTouchInterval bounds how often a session's last_seen_at is written; 0 derives it
	// from the idle timeout (models.TouchInterval: 1 %, between 1m and 1h).
	SessionTouchInterval time.Duration `env:"SESSION_TOUCH_INTERVAL" envDefault:"0s"`

	PurgeSchedule    string        `env:"PURGE_SCHEDULE" envDefault:"@every 5m"`
	PurgeBatchSize   int           `env:"PURGE_BATCH_SIZE" envDefault:"5000"`
	PurgeTimeout     time.Duration `env:"PURGE_TIMEOUT" envDefault:"10m"`
	RevokedRetention time.Duration `env:"REVOKED_RETENTION" envDefault:"168h"`
	EventRetention   time.Duration `env:"EVENT_RETENTION" envDefault:"2160h"`

	// Login throttling: consecutive failures per account without delay, the cap of the doubling
	// delay after them, failures that lock the account, and attempts per minute (with a
	// burst) per client address for login and sign-up (0: no address limit).
	LoginFreeFailures int           `env:"LOGIN_FREE_FAILURES" envDefault:"5"`
	LoginMaxDelay     time.Duration `env:"LOGIN_MAX_DELAY" envDefault:"15m"`
	LoginLockAfter    int           `env:"LOGIN_LOCK_AFTER" envDefault:"100"`
	LoginRatePerIP    int           `env:"LOGIN_RATE_PER_IP" envDefault:"30"`
	LoginBurstPerIP   int           `env:"LOGIN_BURST_PER_IP" envDefault:"10"`
	// HashQueue is how many logins (and other password checks) may wait for a hashing slot
	// (one per core) at once; beyond them one is refused at once with 503.
	HashQueue int `env:"HASH_QUEUE" envDefault:"64"`
	// DeviceKeyTTL: a device key (issued at every sign-in, giving the device a failure count of
	// its own) unused this long expires.
	DeviceKeyTTL time.Duration `env:"DEVICE_KEY_TTL" envDefault:"2160h"`
	// FreshSessionAge: a session younger than this needs the password to sign out an older one;
	// 0 turns the rule off.
	FreshSessionAge time.Duration `env:"FRESH_SESSION_AGE" envDefault:"24h"`

	// PublicURL is where people reach sessiond: the links it mails and the page a TV sends
	// people to (<PublicURL>/activate). An absolute http(s) URL, no query or fragment.
	PublicURL url.URL `env:"PUBLIC_URL" envDefault:"http://localhost:8080"`
	// The TV sign-in with a code (RFC 8628): how long a code lives, the polling interval it
	// asks for, and code requests per minute per client address (with a burst).
	DeviceCodeLifetime   time.Duration `env:"DEVICE_CODE_LIFETIME" envDefault:"10m"`
	DeviceCodeInterval   time.Duration `env:"DEVICE_CODE_INTERVAL" envDefault:"5s"`
	DeviceCodeRatePerIP  int           `env:"DEVICE_CODE_RATE_PER_IP" envDefault:"10"`
	DeviceCodeBurstPerIP int           `env:"DEVICE_CODE_BURST_PER_IP" envDefault:"5"`

	CookieSecure bool `env:"COOKIE_SECURE" envDefault:"true"`
	// TrustedProxies are the networks whose X-Forwarded-For is believed; a bare address in
	// the variable is a network of one (/32 or /128).
	TrustedProxies  []netip.Prefix `env:"TRUSTED_PROXIES"`
	MaxBodyBytes    int64          `env:"MAX_BODY_BYTES" envDefault:"65536"`
	ShutdownTimeout time.Duration  `env:"SHUTDOWN_TIMEOUT" envDefault:"15s"`
	// The HTTP server's bounds on a slow client: reading the headers, the whole request,
	// writing the answer, and an idle keep-alive connection.
	HTTPReadHeaderTimeout time.Duration `env:"HTTP_READ_HEADER_TIMEOUT" envDefault:"5s"`
	HTTPReadTimeout       time.Duration `env:"HTTP_READ_TIMEOUT" envDefault:"15s"`
	HTTPWriteTimeout      time.Duration `env:"HTTP_WRITE_TIMEOUT" envDefault:"30s"`
	HTTPIdleTimeout       time.Duration `env:"HTTP_IDLE_TIMEOUT" envDefault:"120s"`
	// MetricsAddr, when set, serves /metrics there instead of on ADDR.
	MetricsAddr string `env:"METRICS_ADDR"`
	// ShutdownDelay keeps serving, with /readyz answering 503, this long after SIGTERM before
	// closing the listener, so a balancer stops sending new requests first.
	ShutdownDelay time.Duration `env:"SHUTDOWN_DELAY" envDefault:"0s"`

	LogFormat string     `env:"LOG_FORMAT" envDefault:"json"`
	LogLevel  slog.Level `env:"LOG_LEVEL" envDefault:"info"` // debug, info, warn, error (or e.g. warn+2)

	// OIDCProviderNames lists the external identity providers people may sign in with; each
	// NAME is configured by SESSIOND_OIDC_<NAME>_* (see OIDCProvider) and loaded into OIDC.
	OIDCProviderNames []string       `env:"OIDC_PROVIDERS"`
	OIDC              []OIDCProvider `env:"-"`

	Streams  Streams  // SESSIOND_STREAM_*: stream leases (streams.go)
	Recovery Recovery // SESSIOND_EMAIL_VERIFICATION, SESSIOND_NOTIFY_*: config/recovery.go
	Mail     Mail     // SESSIOND_SMTP_URL, SESSIOND_MAIL_FROM, SESSIOND_MAIL_*: see config/mail.go
}

// Load reads the configuration through getenv (os.Getenv in production). Its error is
// Errors, every problem found rather than the first, each an *Error naming its variable.
func Load(getenv func(string) string) (Config, error) {
	var cfg Config
	opts := env.Options{Prefix: Prefix, Environment: map[string]string{}, FuncMap: parsers}
	params, err := env.GetFieldParamsWithOptions(&cfg, opts)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	for _, p := range params {
		if v := getenv(p.Key); v != "" {
			opts.Environment[p.Key] = v
		}
	}
	var errs Errors
	unparsed := map[string]bool{} // variables whose value could not be parsed at all
	if err := env.ParseWithOptions(&cfg, opts); err != nil {
		var agg env.AggregateError
		if !errors.As(err, &agg) {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		for _, e := range agg.Errors {
			var pe env.ParseError
			if !errors.As(e, &pe) {
				return Config{}, fmt.Errorf("config: %w", e) // a mistake in Config's tags, not in the environment
			}
			key := variable(pe.Name)
			unparsed[key] = true
			errs = append(errs, &Error{Var: key, Err: fmt.Errorf("invalid value %q: %w", opts.Environment[key], pe.Err)})
		}
	}
	errs = append(errs, cfg.loadOIDC(getenv)...)
	for _, e := range cfg.validate() {
		if !unparsed[e.Var] {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return Config{}, errs
	}
	return cfg, nil
}

// parsers read the settings whose type has no UnmarshalText of the right meaning.
var parsers = map[reflect.Type]env.ParserFunc{
	reflect.TypeFor[[]netip.Prefix](): parsePrefixes,
}

// variable returns the environment variable of the Config field named field, looking into
// the nested setting structs (config/mail.go…) too: a parse error names only the field.
func variable(field string) string {
	if key, ok := fieldVariable(reflect.TypeFor[Config](), field); ok {
		return key
	}
	return field
}

func fieldVariable(t reflect.Type, field string) (string, bool) {
	if f, ok := t.FieldByName(field); ok && f.Tag.Get("env") != "" {
		return Prefix + f.Tag.Get("env"), true
	}
	for i := range t.NumField() {
		if f := t.Field(i); f.Type.Kind() == reflect.Struct && f.Tag.Get("env") == "" {
			if key, ok := fieldVariable(f.Type, field); ok {
				return key, true
			}
		}
	}
	return "", false
}

func (c Config) validate() Errors {
	var errs Errors
	bad := func(name, format string, args ...any) {
		errs = append(errs, &Error{Var: Prefix + name, Err: fmt.Errorf(format, args...)})
	}
	if c.Addr == "" {
		bad("ADDR", "must not be empty")
	}
	if err := c.Listen.validate(c.Database); err != nil {
		bad("DATABASE_LISTEN_URL", "%v", err)
	}
	errs = append(errs, c.Streams.validate()...)
	if u := c.PublicURL; (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		bad("PUBLIC_URL", "must be an absolute http or https URL without user, query or fragment, got %q", u.String())
	}
	if c.DeviceCodeLifetime < time.Minute || c.DeviceCodeLifetime > time.Hour {
		bad("DEVICE_CODE_LIFETIME", "must be between 1m and 1h, got %s", c.DeviceCodeLifetime)
	}
	if c.DeviceCodeInterval < time.Second || c.DeviceCodeInterval%time.Second != 0 {
		bad("DEVICE_CODE_INTERVAL", "must be whole seconds, at least 1s, got %s", c.DeviceCodeInterval)
	}
	if c.DeviceCodeRatePerIP < 1 || c.DeviceCodeBurstPerIP < 1 {
		bad("DEVICE_CODE_RATE_PER_IP", "and _BURST_PER_IP must be at least 1, got %d and %d", c.DeviceCodeRatePerIP, c.DeviceCodeBurstPerIP)
	}
	if c.DBMaxOpenConns < 1 {
		bad("DB_MAX_OPEN_CONNS", "must be at least 1, got %d", c.DBMaxOpenConns)
	}
	if c.DBMaxIdleConns < 0 {
		bad("DB_MAX_IDLE_CONNS", "must not be negative, got %d", c.DBMaxIdleConns)
	}
	if strings.TrimSpace(c.DefaultPlan) == "" {
		bad("DEFAULT_PLAN", "must name a plan")
	}
	if c.Registration != "open" && c.Registration != "closed" {
		bad("REGISTRATION", "must be open or closed, got %q", c.Registration)
	}
	if (c.BootstrapAdminEmail == "") != (c.BootstrapAdminPassword == "") {
		bad("BOOTSTRAP_ADMIN_EMAIL", "and %sBOOTSTRAP_ADMIN_PASSWORD must be set together", Prefix)
	}
	for name, d := range map[string]time.Duration{
		"SESSION_IDLE_TIMEOUT":     c.SessionIdleTimeout,
		"SESSION_ABSOLUTE_TIMEOUT": c.SessionAbsoluteTimeout,
		"REVOKED_RETENTION":        c.RevokedRetention,
		"EVENT_RETENTION":          c.EventRetention,
		"SHUTDOWN_TIMEOUT":         c.ShutdownTimeout,
		"PURGE_TIMEOUT":            c.PurgeTimeout,
		"LOGIN_MAX_DELAY":          c.LoginMaxDelay,
		"DEVICE_KEY_TTL":           c.DeviceKeyTTL,
		"DB_CONNECT_TIMEOUT":       c.DBConnectTimeout,
		"DB_STATEMENT_TIMEOUT":     c.DBStatementTimeout,
		"DB_CONN_MAX_LIFETIME":     c.DBConnMaxLifetime,
		"REQUEST_TIMEOUT":          c.RequestTimeout,
		"CACHE_TTL":                c.CacheTTL,
		"HTTP_READ_HEADER_TIMEOUT": c.HTTPReadHeaderTimeout,
		"HTTP_READ_TIMEOUT":        c.HTTPReadTimeout,
		"HTTP_WRITE_TIMEOUT":       c.HTTPWriteTimeout,
		"HTTP_IDLE_TIMEOUT":        c.HTTPIdleTimeout,
	} {
		if d <= 0 {
			bad(name, "must be a positive duration, got %s", d)
		}
	}
	if _, err := cron.ParseStandard(c.PurgeSchedule); err != nil {
		bad("PURGE_SCHEDULE", "%v", err)
	}
	if c.PurgeBatchSize < 1 || c.PurgeBatchSize > 100_000 {
		bad("PURGE_BATCH_SIZE", "must be between 1 and 100000, got %d", c.PurgeBatchSize)
	}
	if c.CacheSize < 0 {
		bad("CACHE_SIZE", "must not be negative (0 turns the cache off), got %d", c.CacheSize)
	}
	if c.SessionTouchInterval < 0 {
		bad("SESSION_TOUCH_INTERVAL", "must not be negative (0 derives it from the idle timeout), got %s", c.SessionTouchInterval)
	}
	if c.FreshSessionAge < 0 {
		bad("FRESH_SESSION_AGE", "must not be negative (0 turns the rule off), got %s", c.FreshSessionAge)
	}
	if c.ShutdownDelay < 0 {
		bad("SHUTDOWN_DELAY", "must not be negative, got %s", c.ShutdownDelay)
	}
	if c.LoginMaxDelay > 0 && c.LoginMaxDelay < time.Second {
		bad("LOGIN_MAX_DELAY", "must be at least 1s (the first delay), got %s", c.LoginMaxDelay)
	}
	if c.LoginFreeFailures < 0 {
		bad("LOGIN_FREE_FAILURES", "must not be negative, got %d", c.LoginFreeFailures)
	}
	if c.LoginLockAfter <= c.LoginFreeFailures {
		bad("LOGIN_LOCK_AFTER", "must be more than %sLOGIN_FREE_FAILURES (%d), got %d", Prefix, c.LoginFreeFailures, c.LoginLockAfter)
	}
	if c.LoginRatePerIP < 0 || c.LoginBurstPerIP < 0 {
		bad("LOGIN_RATE_PER_IP", "and %sLOGIN_BURST_PER_IP must not be negative, got %d and %d", Prefix, c.LoginRatePerIP, c.LoginBurstPerIP)
	}
	if c.HashQueue < 0 {
		bad("HASH_QUEUE", "must not be negative (0: no login waits for a hashing slot), got %d", c.HashQueue)
	}
	if c.MaxBodyBytes < 1024 {
		bad("MAX_BODY_BYTES", "must be at least 1024, got %d", c.MaxBodyBytes)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		bad("LOG_FORMAT", "must be json or text, got %q", c.LogFormat)
	}
	errs = append(errs, c.Mail.validate()...)
	return errs
}

// RegistrationOpen reports whether anyone may create an account.
func (c Config) RegistrationOpen() bool { return c.Registration == "open" }
