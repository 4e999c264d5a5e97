package services

import (
	"time"

	"gorm.io/gorm"
)

// EnqueueTestMail puts a password-reset mail to `to` with link into the outbox in tx, as a use
// case would, for tests of the sender.
func EnqueueTestMail(tx *gorm.DB, to, link string, now time.Time) error {
	return enqueueMail(tx, mailMessage{Kind: MailPasswordReset, To: to, Now: now,
		Data: mailData{Email: to, Link: link, ValidFor: 30 * time.Minute}})
}
