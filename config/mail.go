package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"time"
)

// Mail is how sessiond sends mail: through SMTP when SMTP_URL is set, else into the log (so
// development needs no mail server), and the pace of the outbox sender.
type Mail struct {
	// SMTP is SESSIOND_SMTP_URL, parsed: smtp://[user:pass@]host[:port] (STARTTLS) or
	// smtps://… (TLS from the first byte). Unset: every mail is written to the log instead.
	SMTP SMTP `env:"SMTP_URL"`
	// From is the sender of every mail, "Name <address>" or a bare address; required with SMTP_URL.
	From string `env:"MAIL_FROM"`
	// MaxAttempts is how many times a mail is tried before it is marked failed.
	MaxAttempts int `env:"MAIL_MAX_ATTEMPTS" envDefault:"10"`
	// After a failed attempt the next waits RetryBase, doubled each time, at most RetryMax.
	RetryBase time.Duration `env:"MAIL_RETRY_BASE" envDefault:"30s"`
	RetryMax  time.Duration `env:"MAIL_RETRY_MAX" envDefault:"1h"`
	// PollInterval is how often the sender looks for due mail.
	PollInterval time.Duration `env:"MAIL_POLL_INTERVAL" envDefault:"2s"`
	// SendTimeout bounds one delivery to the SMTP server.
	SendTimeout time.Duration `env:"MAIL_SEND_TIMEOUT" envDefault:"30s"`
}

// SMTP is a parsed SESSIOND_SMTP_URL. The zero value (Host empty) means no SMTP server.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	// ImplicitTLS: smtps://, TLS from the first byte (default port 465). Otherwise STARTTLS
	// (default port 587), as StartTLS says.
	ImplicitTLS bool
	// StartTLS is "required" (the default: a server that offers none is refused, so neither
	// the links nor the password travel in clear), "opportunistic" (the default for a loopback
	// host, e.g. a local relay or test server) or "none"; set by ?starttls=.
	StartTLS string
}

// STARTTLS policies of SMTP.
const (
	StartTLSRequired      = "required"
	StartTLSOpportunistic = "opportunistic"
	StartTLSNone          = "none"
)

// Enabled reports whether an SMTP server is configured.
func (s SMTP) Enabled() bool { return s.Host != "" }

// String is the URL without its password, for logs.
func (s SMTP) String() string {
	if !s.Enabled() {
		return ""
	}
	u := url.URL{Scheme: "smtp", Host: net.JoinHostPort(s.Host, strconv.Itoa(s.Port))}
	if s.ImplicitTLS {
		u.Scheme = "smtps"
	}
	if s.Username != "" {
		u.User = url.User(s.Username)
	}
	return u.String()
}

// UnmarshalText parses smtp://[user[:pass]@]host[:port][?starttls=required|opportunistic|none]
// or smtps://[user[:pass]@]host[:port]. User and password are URL-encoded.
func (s *SMTP) UnmarshalText(text []byte) error {
	u, err := url.Parse(string(text))
	if err != nil {
		return errors.New("must be a URL like smtp://user:pass@host:587 or smtps://user:pass@host:465")
	}
	out := SMTP{Host: u.Hostname()}
	switch u.Scheme {
	case "smtp":
		out.Port = 587
	case "smtps":
		out.ImplicitTLS, out.Port = true, 465
	default:
		return errors.New("must start with smtp:// or smtps://")
	}
	if out.Host == "" {
		return errors.New("needs a host, e.g. smtp://mail.example.com:587")
	}
	if (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return errors.New("must not have a path or fragment")
	}
	if p := u.Port(); p != "" {
		if out.Port, err = strconv.Atoi(p); err != nil || out.Port < 1 || out.Port > 65535 {
			return fmt.Errorf("port %q is not a port", p)
		}
	}
	if u.User != nil {
		out.Username = u.User.Username()
		out.Password, _ = u.User.Password()
	}
	out.StartTLS = StartTLSRequired
	if ip := net.ParseIP(out.Host); out.Host == "localhost" || (ip != nil && ip.IsLoopback()) {
		out.StartTLS = StartTLSOpportunistic
	}
	q := u.Query()
	for k := range q {
		if k != "starttls" {
			return fmt.Errorf("unknown parameter %q (only starttls)", k)
		}
	}
	if v := q.Get("starttls"); v != "" {
		if v != StartTLSRequired && v != StartTLSOpportunistic && v != StartTLSNone {
			return fmt.Errorf("starttls must be required, opportunistic or none, got %q", v)
		}
		if out.ImplicitTLS {
			return errors.New("starttls does not apply to smtps://")
		}
		out.StartTLS = v
	}
	*s = out
	return nil
}

func (m Mail) validate() Errors {
	var errs Errors
	bad := func(name, format string, args ...any) {
		errs = append(errs, &Error{Var: Prefix + name, Err: fmt.Errorf(format, args...)})
	}
	if m.From != "" {
		if _, err := mail.ParseAddress(m.From); err != nil {
			bad("MAIL_FROM", "must be an address, e.g. \"Example <no-reply@example.com>\": %v", err)
		}
	} else if m.SMTP.Enabled() {
		bad("MAIL_FROM", "must be set with %sSMTP_URL", Prefix)
	}
	if m.MaxAttempts < 1 || m.MaxAttempts > 100 {
		bad("MAIL_MAX_ATTEMPTS", "must be between 1 and 100, got %d", m.MaxAttempts)
	}
	for name, d := range map[string]time.Duration{
		"MAIL_RETRY_BASE": m.RetryBase, "MAIL_RETRY_MAX": m.RetryMax,
		"MAIL_POLL_INTERVAL": m.PollInterval, "MAIL_SEND_TIMEOUT": m.SendTimeout,
	} {
		if d <= 0 {
			bad(name, "must be a positive duration, got %s", d)
		}
	}
	if m.RetryMax > 0 && m.RetryMax < m.RetryBase {
		bad("MAIL_RETRY_MAX", "must not be less than %sMAIL_RETRY_BASE (%s), got %s", Prefix, m.RetryBase, m.RetryMax)
	}
	return errs
}
