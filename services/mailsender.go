package services

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/sessiond/sessiond/models"
)

// MailTransport delivers one rendered mail (SMTPTransport, LogTransport). It must honour ctx.
type MailTransport interface {
	Send(ctx context.Context, m models.OutboundMail) error
}

// MailOutcome is how one delivery attempt ended, as metrics count it.
type MailOutcome string

// Outcomes of a delivery attempt.
const (
	MailSent    MailOutcome = "sent"    // delivered
	MailRetried MailOutcome = "retried" // failed; it will be tried again
	MailFailed  MailOutcome = "failed"  // failed for the last time: the mail is marked failed
)

// MailObserver hears each delivery attempt's outcome. It must be quick and must not fail.
type MailObserver interface {
	MailAttempted(outcome MailOutcome)
}

// MailSenderConfig tunes a MailSender; zero fields take the defaults named.
type MailSenderConfig struct {
	Transport    MailTransport // nil: LogTransport on Log
	MaxAttempts  int           // tries before a mail is marked failed; default 10
	RetryBase    time.Duration // wait after the first failure, doubled after each; default 30s
	RetryMax     time.Duration // the longest wait; default 1h
	BatchSize    int           // mails claimed at once; default 10
	SendTimeout  time.Duration // one delivery at most; default 30s
	PollInterval time.Duration // how often Run looks for due mail; default 2s
	Observer     MailObserver  // nil: nobody
	Log          *slog.Logger
	Now          func() time.Time
}

// MailSender delivers the outbox: it claims due mails, sends them and records the outcome.
// Any number of senders, in any number of processes, may run on one outbox: each claim takes
// rows nobody holds (FOR UPDATE SKIP LOCKED; on SQLite the write lock) and leases them, so
// each mail is sent once. A process that dies mid-batch leaves its lease to lapse, and the mail
// is sent again later: delivery is at least once, and once unless a process dies mid-send.
type MailSender struct {
	db  *gorm.DB
	cfg MailSenderConfig
}

// NewMailSender returns a sender over db's outbox.
func NewMailSender(db *gorm.DB, cfg MailSenderConfig) *MailSender {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Transport == nil {
		cfg.Transport = LogTransport{Log: cfg.Log}
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 30 * time.Second
	}
	if cfg.RetryMax < cfg.RetryBase {
		cfg.RetryMax = max(time.Hour, cfg.RetryBase)
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 10
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = 30 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 2 * time.Second
	}
	return &MailSender{db: db, cfg: cfg}
}

// lease is how long a claim holds its mails: every send of the batch fits in it, with a
// margin, so no other sender takes a mail this one is still sending.
func (s *MailSender) lease() time.Duration {
	return time.Duration(s.cfg.BatchSize)*s.cfg.SendTimeout + time.Minute
}

// Run sends due mail every PollInterval until ctx is cancelled; a batch being sent then is
// cut short and its unsent mails released. Errors are logged, and the next round tries again.
func (s *MailSender) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		if _, err := s.SendDue(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Log.WarnContext(ctx, "send due mail", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SendDue sends every mail due now, a batch at a time, and returns how many attempts it made.
// A failed delivery is not an error: it is recorded on the mail (retried later, or failed).
// The error is the store's, or ctx's.
func (s *MailSender) SendDue(ctx context.Context) (int, error) {
	total := 0
	for {
		batch, err := s.claim(ctx)
		if err != nil {
			return total, err
		}
		for i, m := range batch {
			if ctx.Err() != nil {
				s.release(ctx, batch[i:])
				return total, ctx.Err()
			}
			s.deliver(ctx, m)
			total++
		}
		if len(batch) < s.cfg.BatchSize {
			return total, nil
		}
	}
}

// claim takes up to BatchSize due mails that no other sender holds, oldest due first, and
// leases them: their attempt is counted now (a mail whose sending kills the process still
// runs out of attempts) and they are not due again until the lease ends.
func (s *MailSender) claim(ctx context.Context) ([]models.OutboundMail, error) {
	now := clock(s.cfg.Now)
	var batch []models.OutboundMail
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		batch = nil
		// SKIP LOCKED: rows another sender is claiming are left to it, not waited for.
		err := tx.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"}).
			Where("sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?", now).
			Order("next_attempt_at, id").Limit(s.cfg.BatchSize).Find(&batch).Error
		if err != nil || len(batch) == 0 {
			return err
		}
		ids := make([]string, len(batch))
		until := now.Add(s.lease())
		for i := range batch {
			ids[i] = batch[i].ID
			batch[i].Attempts++
			batch[i].NextAttemptAt = until
		}
		return tx.Model(&models.OutboundMail{}).Where("id IN ?", ids).
			Updates(map[string]any{"attempts": gorm.Expr("attempts + 1"), "next_attempt_at": until}).Error
	})
	if err != nil {
		return nil, fmt.Errorf("claim mail: %w", storeError(err))
	}
	return batch, nil
}

// deliver sends one claimed mail and records the outcome. The update names the claim (its
// attempt number): should the lease have lapsed and another sender have taken the mail, this
// one does not overwrite what that one records.
func (s *MailSender) deliver(ctx context.Context, m models.OutboundMail) {
	sendCtx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
	sendErr := s.cfg.Transport.Send(sendCtx, m)
	cancel()
	now := clock(s.cfg.Now)
	// Done (sent or given up on), the bodies are blanked: they hold live links (a reset token
	// in clear), which must not outlive their need in the table or its backups.
	outcome, set := MailSent, map[string]any{"sent_at": now, "last_error": "", "text_body": "", "html_body": ""}
	if sendErr != nil {
		msg := sendErr.Error()
		if len(msg) > 1000 {
			msg = msg[:1000]
		}
		if m.Attempts >= s.cfg.MaxAttempts {
			outcome, set = MailFailed, map[string]any{"failed_at": now, "last_error": msg, "text_body": "", "html_body": ""}
		} else {
			outcome, set = MailRetried, map[string]any{"next_attempt_at": now.Add(s.backoff(m.Attempts)), "last_error": msg}
		}
	}
	// Not ctx: a mail sent must be recorded as sent even when shutdown has begun.
	recCtx, cancelRec := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancelRec()
	res := s.db.WithContext(recCtx).Model(&models.OutboundMail{}).
		Where("id = ? AND attempts = ? AND sent_at IS NULL AND failed_at IS NULL", m.ID, m.Attempts).Updates(set)
	log := s.cfg.Log.With("mail_id", m.ID, "kind", m.Kind, "attempt", m.Attempts)
	switch {
	case res.Error != nil:
		log.ErrorContext(ctx, "record mail delivery", "outcome", outcome, "err", res.Error)
	case res.RowsAffected == 0:
		log.WarnContext(ctx, "mail claim lapsed before its outcome was recorded", "outcome", outcome)
	}
	if o := s.cfg.Observer; o != nil {
		o.MailAttempted(outcome)
	}
	switch outcome {
	case MailRetried:
		log.WarnContext(ctx, "mail delivery failed, will retry", "err", sendErr)
	case MailFailed:
		log.ErrorContext(ctx, "mail delivery failed for the last time", "err", sendErr)
	}
}

// release gives back claimed mails that were not sent (shutdown): due at once, their attempt
// uncounted.
func (s *MailSender) release(ctx context.Context, batch []models.OutboundMail) {
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	now := clock(s.cfg.Now)
	for _, m := range batch {
		err := s.db.WithContext(ctx).Model(&models.OutboundMail{}).
			Where("id = ? AND attempts = ? AND sent_at IS NULL AND failed_at IS NULL", m.ID, m.Attempts).
			Updates(map[string]any{"attempts": m.Attempts - 1, "next_attempt_at": now}).Error
		if err != nil {
			s.cfg.Log.WarnContext(ctx, "release mail claim; it is due again when the lease ends", "mail_id", m.ID, "err", err)
		}
	}
}

// backoff is the wait after the attempt-th failure: RetryBase doubled attempt-1 times, at
// most RetryMax.
func (s *MailSender) backoff(attempt int) time.Duration {
	d := s.cfg.RetryBase
	for i := 1; i < attempt && d < s.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, s.cfg.RetryMax)
}
