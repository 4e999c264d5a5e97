package web_test

import (
	"net/url"
	"testing"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestRecoveryPages: /login links to /forgot; /forgot answers the same page for a known and an
// unknown address; /reset sets the password once and then offers a new link; with
// verification required, the refused sign-in offers a new link, and /verify asks before it
// verifies.
func TestRecoveryPages(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{Verification: models.VerificationRequired})
	b := apitest.NewBrowser(s)
	email := s.Register(t)
	apitest.WantPage(t, "GET /login", b.Get("/login"), 200, `href="/forgot"`)

	r := b.SignIn(email, apitest.Password, "Laptop")
	apitest.WantPage(t, "sign in unverified", r, 403, `action="/verify/resend"`, "Verify your email address first")
	apitest.WantPage(t, "resend", b.Post("/verify/resend", url.Values{"email": {email}}), 200, "Check your mail")
	token := s.MailedToken(t, email, "verify_email")
	apitest.WantPage(t, "GET /verify", b.Get("/verify?token="+url.QueryEscape(token)), 200, `action="/verify"`)
	if n := len(s.Mails(t, email)); n != 2 {
		t.Fatalf("mails = %d, want the sign-up's link and the resent one", n)
	}
	apitest.WantPage(t, "POST /verify", b.Post("/verify", url.Values{"token": {token}}), 200, "Your address is verified")
	apitest.WantRedirect(t, "sign in verified", b.SignIn(email, apitest.Password, "Laptop"), "/devices")

	known := b.Post("/forgot", url.Values{"email": {email}})
	unknown := b.Post("/forgot", url.Values{"email": {servicetest.Email(t)}})
	apitest.WantPage(t, "POST /forgot (known)", known, 200, "Check your mail")
	apitest.WantPage(t, "POST /forgot (unknown)", unknown, 200, "Check your mail")
	if known.Body.String() != unknown.Body.String() {
		t.Errorf("POST /forgot: the page for a known address differs from the page for an unknown one")
	}
	reset := s.MailedToken(t, email, "password_reset")
	apitest.WantPage(t, "GET /reset", b.Get("/reset?token="+url.QueryEscape(reset)), 200, `name="new_password"`)
	apitest.WantPage(t, "POST /reset (weak)", b.Post("/reset", url.Values{"token": {reset}, "new_password": {"password"}}), 400, `name="new_password"`)
	r = b.Post("/reset", url.Values{"token": {reset}, "new_password": {"a brand new passphrase"}})
	apitest.WantPage(t, "POST /reset", r, 200, "Your password is changed")
	if _, ok := b.Cookies["sessiond"]; ok {
		t.Errorf("the browser keeps its session cookie after the reset")
	}
	apitest.WantPage(t, "POST /reset (again)", b.Post("/reset", url.Values{"token": {reset}, "new_password": {"another new passphrase"}}), 400,
		`href="/forgot"`)
}
