package main

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestMailTwoProcessesOneOutbox: two sessiond processes on one Postgres outbox, one SMTP
// server. Every mail arrives exactly once, and each row is marked sent.
func TestMailTwoProcessesOneOutbox(t *testing.T) {
	store := servicetest.Postgres(t)
	srv := servicetest.NewSMTPServer(t)
	const n = 40
	now := time.Now().UTC()
	ids := make([]string, n)
	rows := make([]models.OutboundMail, n)
	for i := range rows {
		ids[i] = uuid.NewString()
		rows[i] = models.OutboundMail{
			ID: ids[i], Kind: "password_reset", ToAddr: fmt.Sprintf("e2e-mail-%02d@example.com", i), Subject: "Reset your password",
			TextBody: fmt.Sprintf("https://sessiond.example/reset?token=%02d\n", i), CreatedAt: now, NextAttemptAt: now,
		}
	}
	if err := store.DB.Create(&rows).Error; err != nil {
		t.Fatalf("insert outbox rows: %v", err)
	}
	env := []string{"SESSIOND_DATABASE_URL=" + store.DSN, "SESSIOND_SMTP_URL=" + srv.URL,
		"SESSIOND_MAIL_FROM=Sessiond <no-reply@sessiond.test>", "SESSIOND_MAIL_POLL_INTERVAL=20ms"}
	procs := []*proc{launch(t, env...), launch(t, env...)}
	for _, p := range procs {
		p.url = p.logs.waitAddr(t, p.exited)
	}
	mine := func(ms []servicetest.ReceivedMail) int {
		c := 0
		for _, m := range ms {
			if len(m.To) == 1 && len(m.To[0]) > 9 && m.To[0][:9] == "e2e-mail-" {
				c++
			}
		}
		return c
	}
	srv.WaitFor(t, 30*time.Second, fmt.Sprintf("%d mails", n), func(ms []servicetest.ReceivedMail) bool { return mine(ms) >= n })
	// Stop both: a send under way finishes (and a duplicate would show) before they exit.
	for _, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		<-p.exited
		if p.err != nil {
			t.Fatalf("sessiond exited with %v:\n%s", p.err, p.logs)
		}
	}
	seen := map[string]int{}
	for _, m := range srv.Mails() {
		seen[m.To[0]]++
	}
	for _, r := range rows {
		if seen[r.ToAddr] != 1 {
			t.Errorf("%s received %d mails, want 1", r.ToAddr, seen[r.ToAddr])
		}
	}
	var sent int64
	if err := store.DB.Model(&models.OutboundMail{}).Where("id IN ? AND sent_at IS NOT NULL", ids).Count(&sent).Error; err != nil || sent != n {
		t.Errorf("outbox rows marked sent = %d, %v; want %d", sent, err, n)
	}
}
