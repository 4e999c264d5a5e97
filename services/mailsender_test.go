package services_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

const mailFrom = "Sessiond Test <no-reply@sessiond.test>"

// mailClock is a clock tests move by hand: the sender's backoff is waited out by moving it.
type mailClock struct{ ns atomic.Int64 }

func newMailClock() *mailClock {
	c := &mailClock{}
	c.ns.Store(time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *mailClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *mailClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// mailCounts counts the sender's outcomes, as the metrics do.
type mailCounts struct {
	mu sync.Mutex
	n  map[services.MailOutcome]int
}

func (c *mailCounts) MailAttempted(o services.MailOutcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[services.MailOutcome]int{}
	}
	c.n[o]++
}

func (c *mailCounts) get(o services.MailOutcome) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[o]
}

func smtpTransport(tb testing.TB, srv *servicetest.SMTPServer) *services.SMTPTransport {
	tb.Helper()
	t, err := services.NewSMTPTransport(services.SMTPConfig{
		Host: srv.Host, Port: srv.Port, Username: servicetest.SMTPUser, Password: servicetest.SMTPPassword,
		StartTLS: "opportunistic", From: mailFrom,
	})
	if err != nil {
		tb.Fatalf("NewSMTPTransport() = %v", err)
	}
	return t
}

func enqueue(tb testing.TB, db *gorm.DB, to, link string, now time.Time) {
	tb.Helper()
	if err := db.Transaction(func(tx *gorm.DB) error { return services.EnqueueTestMail(tx, to, link, now) }); err != nil {
		tb.Fatalf("EnqueueTestMail(%s) = %v", to, err)
	}
}

func outboxRow(tb testing.TB, db *gorm.DB, to string) models.OutboundMail {
	tb.Helper()
	var m models.OutboundMail
	if err := db.Where("to_addr = ?", to).Take(&m).Error; err != nil {
		tb.Fatalf("outbox row to %s: %v", to, err)
	}
	return m
}

func sendDue(tb testing.TB, s *services.MailSender) int {
	tb.Helper()
	n, err := s.SendDue(context.Background())
	if err != nil {
		tb.Fatalf("SendDue() = %d, %v", n, err)
	}
	return n
}

// TestMailSenderRefusedThenAccepted: the SMTP server refuses twice (451), then accepts. The
// mail is retried after its backoff, not before, and arrives once, intact.
func TestMailSenderRefusedThenAccepted(t *testing.T) {
	for _, st := range servicetest.FreshStores(t) {
		t.Run(st.Name, func(t *testing.T) {
			srv := servicetest.NewSMTPServer(t)
			clk, counts := newMailClock(), &mailCounts{}
			sender := services.NewMailSender(st.DB, services.MailSenderConfig{
				Transport: smtpTransport(t, srv), RetryBase: time.Minute, RetryMax: time.Hour, MaxAttempts: 5,
				SendTimeout: 10 * time.Second, Observer: counts, Now: clk.Now,
			})
			const to = "ann@example.com"
			link := "https://sessiond.example/reset?token=" + strings.Repeat("Ab_-9", 9) // longer than a QP line
			enqueue(t, st.DB, to, link, clk.Now())
			srv.RefuseNext(2)

			if n := sendDue(t, sender); n != 1 || srv.Refused() != 1 {
				t.Fatalf("first SendDue() = %d attempts, %d refused; want 1, 1", n, srv.Refused())
			}
			clk.Advance(59 * time.Second)
			if n := sendDue(t, sender); n != 0 {
				t.Fatalf("SendDue() before the 1m backoff = %d attempts, want 0", n)
			}
			clk.Advance(time.Second)
			if n := sendDue(t, sender); n != 1 || srv.Refused() != 2 {
				t.Fatalf("second SendDue() = %d attempts, %d refused; want 1, 2", n, srv.Refused())
			}
			clk.Advance(119 * time.Second) // doubled: 2m
			if n := sendDue(t, sender); n != 0 {
				t.Fatalf("SendDue() before the 2m backoff = %d attempts, want 0", n)
			}
			clk.Advance(time.Second)
			if n := sendDue(t, sender); n != 1 {
				t.Fatalf("third SendDue() = %d attempts, want 1", n)
			}
			clk.Advance(24 * time.Hour)
			if n := sendDue(t, sender); n != 0 {
				t.Fatalf("SendDue() after delivery = %d attempts, want 0", n)
			}

			mails := srv.MailsTo(to)
			if len(mails) != 1 || len(srv.Mails()) != 1 {
				t.Fatalf("server received %d mails to %s (%d in all), want 1", len(mails), to, len(srv.Mails()))
			}
			m := mails[0]
			if !strings.Contains(m.Text, link) || !strings.Contains(m.HTML, link) || m.Subject != "Reset your password" ||
				m.From != "no-reply@sessiond.test" || !strings.Contains(m.Header.Get("From"), "no-reply@sessiond.test") {
				t.Errorf("received mail = subject %q, from %q, text:\n%s\nwant the reset mail with its link", m.Subject, m.From, m.Text)
			}
			row := outboxRow(t, st.DB, to)
			if row.SentAt == nil || row.FailedAt != nil || row.Attempts != 3 || row.LastError != "" || row.TextBody != "" || row.HTMLBody != "" {
				t.Errorf("outbox row = sent %v, failed %v, attempts %d, last error %q; want sent after 3 attempts, bodies (live links) blanked", row.SentAt, row.FailedAt, row.Attempts, row.LastError)
			}
			if !strings.Contains(m.Header.Get("Message-Id"), row.ID) {
				t.Errorf("Message-Id = %q, want it to name the outbox row %s", m.Header.Get("Message-Id"), row.ID)
			}
			if counts.get(services.MailSent) != 1 || counts.get(services.MailRetried) != 2 || counts.get(services.MailFailed) != 0 {
				t.Errorf("outcomes = %v, want sent 1, retried 2", counts.n)
			}
		})
	}
}

// TestMailSenderGivesUp: a mail the server keeps refusing is tried MaxAttempts times, then
// marked failed and never tried again.
func TestMailSenderGivesUp(t *testing.T) {
	for _, st := range servicetest.FreshStores(t) {
		t.Run(st.Name, func(t *testing.T) {
			srv := servicetest.NewSMTPServer(t)
			srv.RefuseNext(100)
			clk, counts := newMailClock(), &mailCounts{}
			sender := services.NewMailSender(st.DB, services.MailSenderConfig{
				Transport: smtpTransport(t, srv), RetryBase: time.Minute, RetryMax: 3 * time.Minute, MaxAttempts: 4,
				Observer: counts, Now: clk.Now,
			})
			const to = "bob@example.com"
			enqueue(t, st.DB, to, "https://sessiond.example/reset?token=x", clk.Now())
			attempts := 0
			for range 10 {
				attempts += sendDue(t, sender)
				clk.Advance(3 * time.Minute)
			}
			row := outboxRow(t, st.DB, to)
			if attempts != 4 || srv.Refused() != 4 || row.FailedAt == nil || row.SentAt != nil || row.Attempts != 4 ||
				!strings.Contains(row.LastError, "451") {
				t.Fatalf("after 10 rounds: %d attempts, %d refused, row failed %v sent %v attempts %d error %q; want 4 attempts, then failed",
					attempts, srv.Refused(), row.FailedAt, row.SentAt, row.Attempts, row.LastError)
			}
			if counts.get(services.MailRetried) != 3 || counts.get(services.MailFailed) != 1 || counts.get(services.MailSent) != 0 {
				t.Errorf("outcomes = %v, want retried 3, failed 1", counts.n)
			}
		})
	}
}

// TestMailSenderRolledBackSendsNothing: the mail of a transaction that rolled back is never
// sent; the committed one beside it is.
func TestMailSenderRolledBackSendsNothing(t *testing.T) {
	for _, st := range servicetest.FreshStores(t) {
		t.Run(st.Name, func(t *testing.T) {
			srv := servicetest.NewSMTPServer(t)
			sender := services.NewMailSender(st.DB, services.MailSenderConfig{Transport: smtpTransport(t, srv)})
			now := time.Now()
			err := st.DB.Transaction(func(tx *gorm.DB) error {
				if err := services.EnqueueTestMail(tx, "rolled@example.com", "https://x.example/reset?token=rolled", now); err != nil {
					return err
				}
				return fmt.Errorf("the use case failed after enqueueing")
			})
			if err == nil {
				t.Fatal("Transaction() = nil, want the use case's error")
			}
			enqueue(t, st.DB, "kept@example.com", "https://x.example/reset?token=kept", now)
			if n := sendDue(t, sender); n != 1 {
				t.Fatalf("SendDue() = %d attempts, want 1 (the committed mail)", n)
			}
			if got := srv.Mails(); len(got) != 1 || got[0].To[0] != "kept@example.com" {
				t.Fatalf("server received %d mails (%+v), want only the committed one", len(got), got)
			}
		})
	}
}

// TestMailSenderTwoProcesses: two senders, each with its own connection pool as two server
// processes have, drain one Postgres outbox at once: every mail arrives exactly once.
// Checked by hand: without SKIP LOCKED's row lock in claim, mails arrive twice.
func TestMailSenderTwoProcesses(t *testing.T) {
	st := servicetest.FreshStores(t)
	if len(st) < 2 {
		t.Skip("needs Postgres")
	}
	pg := st[1]
	srv := servicetest.NewSMTPServer(t)
	const n = 60
	now := time.Now()
	for i := range n {
		enqueue(t, pg.DB, fmt.Sprintf("user%02d@example.com", i), fmt.Sprintf("https://x.example/reset?token=%02d", i), now)
	}
	counts := &mailCounts{}
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for p := range 2 {
		sender := services.NewMailSender(pg.Open(t), services.MailSenderConfig{Transport: smtpTransport(t, srv), BatchSize: 3, Observer: counts})
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[p] = sender.SendDue(context.Background())
		}()
	}
	close(start)
	wg.Wait()
	for p, err := range errs {
		if err != nil {
			t.Fatalf("sender %d: SendDue() = %v", p, err)
		}
	}
	seen := map[string]int{}
	for _, m := range srv.Mails() {
		seen[m.To[0]]++
	}
	for i := range n {
		if to := fmt.Sprintf("user%02d@example.com", i); seen[to] != 1 {
			t.Errorf("%s received %d mails, want 1", to, seen[to])
		}
	}
	if len(srv.Mails()) != n || counts.get(services.MailSent) != n {
		t.Errorf("server received %d mails, senders counted %d sent; want %d", len(srv.Mails()), counts.get(services.MailSent), n)
	}
}

// TestMailSenderRun: the loop sends mail enqueued while it runs, and returns when stopped.
func TestMailSenderRun(t *testing.T) {
	st := servicetest.SQLite(t)
	srv := servicetest.NewSMTPServer(t)
	sender := services.NewMailSender(st.DB, services.MailSenderConfig{Transport: smtpTransport(t, srv), PollInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sender.Run(ctx) }()
	enqueue(t, st.DB, "run@example.com", "https://x.example/verify?token=run", time.Now())
	srv.WaitMails(t, 1, 10*time.Second)
	cancel()
	<-done
	if got := srv.Mails(); len(got) != 1 {
		t.Fatalf("server received %d mails, want 1", len(got))
	}
}

// TestMailSenderLogsWithoutSMTP: with no transport configured, each mail is written to the
// log at info level, link included, and counts as sent.
func TestMailSenderLogsWithoutSMTP(t *testing.T) {
	st := servicetest.SQLite(t)
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	sender := services.NewMailSender(st.DB, services.MailSenderConfig{Log: log})
	link := "https://sessiond.example/reset?token=logged-token"
	enqueue(t, st.DB, "dev@example.com", link, time.Now())
	if n := sendDue(t, sender); n != 1 {
		t.Fatalf("SendDue() = %d, want 1", n)
	}
	out := buf.String()
	if !strings.Contains(out, `"level":"INFO"`) || !strings.Contains(out, link) || !strings.Contains(out, "dev@example.com") {
		t.Fatalf("log = %s, want an info line with the recipient and the link", out)
	}
	if row := outboxRow(t, st.DB, "dev@example.com"); row.SentAt == nil {
		t.Errorf("outbox row not marked sent after logging")
	}
}

// cancellingTransport accepts every mail, and cancels the sender's
// context after the first: the rest of the batch must be released, not lost or left leased.
type cancellingTransport struct {
	cancel context.CancelFunc
	sent   atomic.Int32
}

func (c *cancellingTransport) Send(context.Context, models.OutboundMail) error {
	c.sent.Add(1)
	c.cancel()
	return nil
}

// TestMailSenderStopReleasesBatch: a sender stopped mid-batch records the mail it sent and
// gives back the others, due at once with their attempt uncounted; the next sender sends them.
func TestMailSenderStopReleasesBatch(t *testing.T) {
	for _, st := range servicetest.FreshStores(t) {
		t.Run(st.Name, func(t *testing.T) {
			clk := newMailClock()
			for i := range 3 {
				enqueue(t, st.DB, fmt.Sprintf("batch%d@example.com", i), "https://x.example/verify?token=b", clk.Now())
			}
			ctx, cancel := context.WithCancel(context.Background())
			tr := &cancellingTransport{cancel: cancel}
			n, err := services.NewMailSender(st.DB, services.MailSenderConfig{Transport: tr, Now: clk.Now}).SendDue(ctx)
			if n != 1 || err == nil || tr.sent.Load() != 1 {
				t.Fatalf("SendDue() cancelled after the first send = %d, %v (%d sent); want 1 and ctx's error", n, err, tr.sent.Load())
			}
			var rows []models.OutboundMail
			if err := st.DB.Order("to_addr").Find(&rows).Error; err != nil {
				t.Fatal(err)
			}
			sent := 0
			for _, r := range rows {
				switch {
				case r.SentAt != nil:
					sent++
				case r.Attempts != 0 || r.NextAttemptAt.After(clk.Now()):
					t.Errorf("released row %s = attempts %d, due %v; want 0, due now (%v)", r.ToAddr, r.Attempts, r.NextAttemptAt, clk.Now())
				}
			}
			if sent != 1 {
				t.Errorf("rows sent = %d, want 1", sent)
			}
			srv := servicetest.NewSMTPServer(t)
			if n := sendDue(t, services.NewMailSender(st.DB, services.MailSenderConfig{Transport: smtpTransport(t, srv), Now: clk.Now})); n != 2 {
				t.Errorf("next SendDue() = %d, want the 2 released", n)
			}
		})
	}
}

// TestPurgeRemovesOldDoneMail: the purge deletes mail sent or failed longer ago than the event
// retention, and keeps mail still pending, however old, and recent mail.
func TestPurgeRemovesOldDoneMail(t *testing.T) {
	for _, st := range servicetest.FreshStores(t) {
		t.Run(st.Name, func(t *testing.T) {
			now := time.Now().UTC().Truncate(time.Microsecond)
			old := now.Add(-eventRetention - time.Hour)
			for _, to := range []string{"old-sent@x.example", "old-failed@x.example", "old-pending@x.example"} {
				enqueue(t, st.DB, to, "https://x.example/l", old)
			}
			enqueue(t, st.DB, "new-sent@x.example", "https://x.example/l", now)
			mark := func(to, col string) {
				if err := st.DB.Model(&models.OutboundMail{}).Where("to_addr = ?", to).Update(col, old).Error; err != nil {
					t.Fatal(err)
				}
			}
			mark("old-sent@x.example", "sent_at")
			mark("old-failed@x.example", "failed_at")
			mark("new-sent@x.example", "sent_at")
			if _, err := newPurger(st.DB, now, 2).Purge(context.Background(), false, nil); err != nil {
				t.Fatalf("Purge() = %v", err)
			}
			var left []string
			if err := st.DB.Model(&models.OutboundMail{}).Order("to_addr").Pluck("to_addr", &left).Error; err != nil {
				t.Fatal(err)
			}
			if strings.Join(left, ",") != "new-sent@x.example,old-pending@x.example" {
				t.Errorf("outbox after purge = %v, want the recent and the pending mail", left)
			}
		})
	}
}
