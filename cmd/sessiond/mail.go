package main

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessiond/sessiond/services"
)

// newMailSender builds the outbox sender: SMTP when SESSIOND_SMTP_URL is set, else the log.
// Its outcomes are counted in sessiond_mail_total on reg.
func (a *app) newMailSender(reg prometheus.Registerer) (*services.MailSender, error) {
	m := a.cfg.Mail
	var transport services.MailTransport // nil: the log
	if m.SMTP.Enabled() {
		t, err := services.NewSMTPTransport(services.SMTPConfig{
			Host: m.SMTP.Host, Port: m.SMTP.Port, Username: m.SMTP.Username, Password: m.SMTP.Password,
			ImplicitTLS: m.SMTP.ImplicitTLS, StartTLS: m.SMTP.StartTLS, From: m.From,
		})
		if err != nil {
			return nil, fmt.Errorf("mail: %w", err)
		}
		transport = t
	}
	counts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sessiond_mail_total",
		Help: "Mail delivery attempts by result: sent, retried (failed, to be tried again), failed (given up after SESSIOND_MAIL_MAX_ATTEMPTS).",
	}, []string{"result"})
	for _, o := range []services.MailOutcome{services.MailSent, services.MailRetried, services.MailFailed} {
		counts.WithLabelValues(string(o)) // present at zero from the start
	}
	if err := reg.Register(counts); err != nil {
		return nil, fmt.Errorf("mail metrics: %w", err)
	}
	return services.NewMailSender(a.db, services.MailSenderConfig{
		Transport: transport, MaxAttempts: m.MaxAttempts, RetryBase: m.RetryBase, RetryMax: m.RetryMax,
		SendTimeout: m.SendTimeout, PollInterval: m.PollInterval, Observer: mailCounter{counts}, Log: a.log,
	}), nil
}

type mailCounter struct{ v *prometheus.CounterVec }

func (c mailCounter) MailAttempted(o services.MailOutcome) { c.v.WithLabelValues(string(o)).Inc() }

// startMail runs the outbox sender until stopMail. Not the request's ctx: shutdown stops it
// after draining HTTP, so mail enqueued by the last requests is still picked up (here or by
// another process: it is in the outbox either way).
func (s *server) startMail(ctx context.Context) error {
	a := s.a
	if m := a.cfg.Mail; m.SMTP.Enabled() {
		a.log.InfoContext(ctx, "mail through SMTP", "smtp", m.SMTP.String(), "from", m.From, "starttls", m.SMTP.StartTLS)
	} else {
		a.log.InfoContext(ctx, "no SMTP server configured (SESSIOND_SMTP_URL): mail is written to the log")
	}
	mailCtx, stop := context.WithCancel(context.Background())
	s.stopMailLoop, s.mailDone = stop, make(chan struct{})
	go func() { defer close(s.mailDone); a.mail.Run(mailCtx) }()
	return nil
}

// stopMail stops the sender and waits for it: a mail being sent is recorded; the rest of its
// batch is released for the next sender.
func (s *server) stopMail() {
	if s.stopMailLoop == nil {
		return
	}
	s.stopMailLoop()
	<-s.mailDone
	s.stopMailLoop = nil
}
