package services

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/sessiond/sessiond/models"
)

// LogTransport "delivers" mail into the log at info level, link included, so that sessiond
// runs with no mail server (development, a first try). It never fails.
type LogTransport struct {
	Log *slog.Logger
}

// Send writes m to the log.
func (t LogTransport) Send(ctx context.Context, m models.OutboundMail) error {
	t.Log.InfoContext(ctx, "mail (no SMTP server configured, so it is logged instead of sent)",
		"mail_id", m.ID, "kind", m.Kind, "to", m.ToAddr, "subject", m.Subject, "body", m.TextBody)
	return nil
}

// SMTPConfig is where SMTPTransport delivers.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string // empty: no authentication
	Password string
	// ImplicitTLS speaks TLS from the first byte (smtps); otherwise StartTLS says whether
	// STARTTLS is "required", "opportunistic" or "none".
	ImplicitTLS bool
	StartTLS    string
	From        string // the sender of every mail
}

// SMTPTransport delivers mail to an SMTP server, one connection per mail, with
// github.com/wneessen/go-mail. Authentication is the strongest mechanism the server offers;
// PLAIN and LOGIN only over TLS (or to a server on this machine).
type SMTPTransport struct {
	cfg SMTPConfig
}

// NewSMTPTransport checks cfg by building a client once (nothing is dialled).
func NewSMTPTransport(cfg SMTPConfig) (*SMTPTransport, error) {
	t := &SMTPTransport{cfg: cfg}
	if _, err := t.client(0); err != nil {
		return nil, err
	}
	if _, err := t.message(models.OutboundMail{ToAddr: "probe@example.com"}); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *SMTPTransport) client(timeout time.Duration) (*gomail.Client, error) {
	opts := []gomail.Option{gomail.WithPort(t.cfg.Port)}
	if timeout > 0 {
		opts = append(opts, gomail.WithTimeout(timeout))
	}
	if t.cfg.ImplicitTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		policy := gomail.TLSMandatory
		switch t.cfg.StartTLS {
		case "opportunistic":
			policy = gomail.TLSOpportunistic
		case "none":
			policy = gomail.NoTLS
		}
		opts = append(opts, gomail.WithTLSPolicy(policy))
	}
	if t.cfg.Username != "" {
		// The strongest mechanism the server offers. PLAIN and LOGIN refuse to run on a
		// connection without TLS, unless the server is on this machine.
		opts = append(opts, gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthSCRAMSHA256PLUS, gomail.SMTPAuthSCRAMSHA256,
			gomail.SMTPAuthSCRAMSHA1PLUS, gomail.SMTPAuthSCRAMSHA1, gomail.SMTPAuthCramMD5, gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
			gomail.WithUsername(t.cfg.Username), gomail.WithPassword(t.cfg.Password))
	}
	c, err := gomail.NewClient(t.cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp client: %w", err)
	}
	return c, nil
}

func (t *SMTPTransport) message(m models.OutboundMail) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.From(t.cfg.From); err != nil {
		return nil, fmt.Errorf("mail from %q: %w", t.cfg.From, err)
	}
	if err := msg.To(m.ToAddr); err != nil {
		return nil, fmt.Errorf("mail to: %w", err)
	}
	msg.Subject(m.Subject)
	// The outbox row's id names the message: a resend after a lapsed lease is recognisably
	// the same mail.
	msg.SetMessageIDWithValue(m.ID + "@sessiond")
	msg.SetDate()
	msg.SetBodyString(gomail.TypeTextPlain, m.TextBody)
	if m.HTMLBody != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTMLBody)
	}
	return msg, nil
}

// Send delivers m, within ctx.
func (t *SMTPTransport) Send(ctx context.Context, m models.OutboundMail) error {
	msg, err := t.message(m)
	if err != nil {
		return err
	}
	var timeout time.Duration // each dial, read and write; the whole send is bounded by ctx
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	c, err := t.client(timeout)
	if err != nil {
		return err
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp send to %s:%d: %w", t.cfg.Host, t.cfg.Port, err)
	}
	return nil
}
