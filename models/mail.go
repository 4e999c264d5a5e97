package models

import "time"

// OutboundMail is one mail in the transactional outbox (table outbound_mail). A use case that
// mails inserts it in its own transaction, already rendered, so a mail exists exactly when the
// change it tells of was committed. A sender sends it when NextAttemptAt is due: SentAt marks
// it delivered; an error counts the attempt, keeps LastError and moves NextAttemptAt on, until
// FailedAt ends the retries. At most one of SentAt and FailedAt is ever set.
type OutboundMail struct {
	ID            string `gorm:"primaryKey"`
	Kind          string // the template it was rendered from, e.g. "password_reset"
	ToAddr        string
	Subject       string
	TextBody      string
	HTMLBody      string
	CreatedAt     time.Time
	NextAttemptAt time.Time
	Attempts      int
	SentAt        *time.Time
	FailedAt      *time.Time
	LastError     string
}

// TableName is the outbox's table: one outbox, not a collection of "mails".
func (OutboundMail) TableName() string { return "outbound_mail" }
