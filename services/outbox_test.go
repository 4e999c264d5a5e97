package services_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestEnqueueMailInTransaction: a mail enqueued in a transaction exists exactly when the
// transaction commits.
func TestEnqueueMailInTransaction(t *testing.T) {
	for _, st := range servicetest.Stores(t) {
		t.Run(st.Name, func(t *testing.T) {
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			to := "enqueue-" + st.Name + "@example.com"
			boom := errors.New("use case failed after enqueueing")
			err := st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
				if err := services.EnqueueTestMail(tx, to, "https://x.example/reset?token=rolled", now); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("Transaction() = %v, want %v", err, boom)
			}
			err = st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
				return services.EnqueueTestMail(tx, to, "https://x.example/reset?token=kept", now)
			})
			if err != nil {
				t.Fatalf("EnqueueTestMail() = %v", err)
			}
			var rows []models.OutboundMail
			if err := st.DB.Where("to_addr = ?", to).Find(&rows).Error; err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 {
				t.Fatalf("outbox rows to %s = %d, want 1 (the committed one)", to, len(rows))
			}
			r := rows[0]
			if r.Kind != services.MailPasswordReset || r.Attempts != 0 || r.SentAt != nil || r.FailedAt != nil ||
				!r.NextAttemptAt.Equal(now) || !r.CreatedAt.Equal(now) || r.Subject == "" || r.HTMLBody == "" {
				t.Errorf("outbox row = %+v, want a due, unsent password_reset mail", r)
			}
		})
	}
}
