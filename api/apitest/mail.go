package apitest

import (
	"regexp"
	"testing"

	"github.com/sessiond/sessiond/models"
)

var mailedLink = regexp.MustCompile(`https?://[^/\s]+/(reset|verify)\?token=([A-Za-z0-9_.-]+)`)

// Mails returns the outbox's mails to the address, oldest first: what the sender will deliver.
func (s *Server) Mails(t testing.TB, to string) []models.OutboundMail {
	t.Helper()
	var ms []models.OutboundMail
	if err := s.Store.DB.Where("to_addr = ?", to).Order("created_at, id").Find(&ms).Error; err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	return ms
}

// MailedToken returns the token of the last reset or verification link mailed to the
// address, read from the mail's text as a person would.
func (s *Server) MailedToken(t testing.TB, to, kind string) string {
	t.Helper()
	ms := s.Mails(t, to)
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Kind != kind {
			continue
		}
		if m := mailedLink.FindStringSubmatch(ms[i].TextBody); m != nil {
			return m[2]
		}
		t.Fatalf("the %s mail to %s has no link:\n%s", kind, to, ms[i].TextBody)
	}
	t.Fatalf("no %s mail to %s among %d", kind, to, len(ms))
	return ""
}

// MarkVerified marks the account's email verified, as opening the mailed link does: what
// linking an identity by email needs of it.
func (s *Server) MarkVerified(t testing.TB, email string) {
	t.Helper()
	if err := s.Store.DB.Model(&models.User{}).Where("email = ?", email).Update("email_verified", true).Error; err != nil {
		t.Fatal(err)
	}
}
