package services

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	"sync"
	"text/template"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// The transactional outbox: a use case that mails calls enqueueMail inside its own
// transaction, so the mail is committed with the change it tells of, or not at all. The
// sender (mailsender.go) delivers committed rows, any number of processes at once.

// Mail kinds: each names a pair of templates in mailtemplates/ (<kind>.txt, whose "subject"
// block is the subject line, and <kind>.html, the "content" of layout.html).
const (
	// MailPasswordReset carries the single-use link to /reset (Link, ValidFor).
	MailPasswordReset = "password_reset"
	// MailVerifyEmail carries the link to /verify (Link, ValidFor).
	MailVerifyEmail = "verify_email"
	// MailPasswordChanged tells that the password was reset and every device signed out.
	MailPasswordChanged = "password_changed"
	// MailSignInNotice tells of a new sign-in on Device.
	MailSignInNotice = "signin_notice"
	// MailEvictionNotice tells that Device was signed out because ByDevice signed in.
	MailEvictionNotice = "eviction_notice"
	// MailResetUnknown answers a reset asked for an address without an account that can sign
	// in: Forgot mails every address it is asked for, so the mails leaving tell nobody which
	// addresses have accounts.
	MailResetUnknown = "reset_unknown"
)

// mailKinds is every kind with templates; renderMail refuses others.
var mailKinds = []string{MailPasswordReset, MailVerifyEmail, MailPasswordChanged, MailSignInNotice, MailEvictionNotice, MailResetUnknown}

// mailData is what the templates may say. Every field is optional; a template shows what is set.
type mailData struct {
	Email        string        // the account's address (the recipient)
	Link         string        // the action: reset or verify link, built with mailLink
	ValidFor     time.Duration // how long Link works
	Device       string        // the device concerned: that signed in, was signed out, or asked
	ByDevice     string        // eviction: the device whose sign-in made room
	IP           string        // where the request came from, if known
	When         time.Time     // when it happened
	SecurityLink string        // what to do if it was not you: e.g. <public>/forgot, <public>/devices
}

// mailMessage is one mail to enqueue: the template kind, the recipient, the data, and the use
// case's clock (the mail is due at once).
type mailMessage struct {
	Kind string
	To   string
	Data mailData
	Now  time.Time
}

// enqueueMail renders m and inserts it into the outbox in tx, due at m.Now. It never begins a
// transaction: the caller's commit is what makes the mail exist (a rollback sends nothing).
// Errors: an unknown kind, a template failure, an empty recipient, or the insert's.
func enqueueMail(tx *gorm.DB, m mailMessage) error {
	to := strings.TrimSpace(m.To)
	if to == "" || strings.ContainsAny(to, "\r\n") {
		return fmt.Errorf("enqueue %s mail: bad recipient %q", m.Kind, m.To)
	}
	subject, text, html, err := renderMail(m.Kind, m.Data)
	if err != nil {
		return fmt.Errorf("enqueue %s mail: %w", m.Kind, err)
	}
	now := m.Now
	if now.IsZero() {
		now = clock(nil)
	}
	row := models.OutboundMail{
		ID: newID(), Kind: m.Kind, ToAddr: to, Subject: subject, TextBody: text, HTMLBody: html,
		CreatedAt: now, NextAttemptAt: now,
	}
	if err := tx.Create(&row).Error; err != nil {
		return fmt.Errorf("enqueue %s mail: %w", m.Kind, err)
	}
	return nil
}

// mailLink builds an absolute link on the public URL: base + path, with query q.
func mailLink(base url.URL, path string, q url.Values) string {
	u := base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath = ""
	u.RawQuery = q.Encode()
	u.Fragment = ""
	return u.String()
}

//go:embed mailtemplates
var mailTemplateFS embed.FS

type mailTemplate struct {
	text *template.Template
	html *htmltemplate.Template
}

var mailFuncs = map[string]any{
	// human says a duration the way a person would: "30 minutes", "24 hours".
	"human": humanDuration,
	// when says a time in UTC, unambiguously.
	"when": func(t time.Time) string { return t.UTC().Format("Mon 2 Jan 2006, 15:04 UTC") },
}

// mailTemplates parses the embedded templates once. They ship in the binary, so a parse error
// is a build defect: it panics, and TestMailTemplates finds it first.
var mailTemplates = sync.OnceValue(func() map[string]mailTemplate {
	out := make(map[string]mailTemplate, len(mailKinds))
	for _, k := range mailKinds {
		t := template.Must(template.New(k+".txt").Funcs(mailFuncs).ParseFS(mailTemplateFS, "mailtemplates/"+k+".txt"))
		if t.Lookup("subject") == nil {
			panic("mail template " + k + ".txt has no subject block")
		}
		h := htmltemplate.Must(htmltemplate.New("layout.html").Funcs(mailFuncs).ParseFS(mailTemplateFS,
			"mailtemplates/layout.html", "mailtemplates/"+k+".html"))
		out[k] = mailTemplate{text: t, html: h}
	}
	return out
})

// errUnknownMailKind is renderMail's answer to a kind without templates.
var errUnknownMailKind = errors.New("unknown mail kind")

// renderMail renders the templates of kind with data: the subject (one line), the plain-text
// body and the HTML body. Errors: errUnknownMailKind, or a template's execution error.
func renderMail(kind string, data any) (subject, text, html string, err error) {
	t, ok := mailTemplates()[kind]
	if !ok {
		return "", "", "", fmt.Errorf("render mail %q: %w", kind, errUnknownMailKind)
	}
	var b bytes.Buffer
	if err := t.text.ExecuteTemplate(&b, "subject", data); err != nil {
		return "", "", "", fmt.Errorf("render %s subject: %w", kind, err)
	}
	// One line: a subject is a header, and device names come from users.
	subject = strings.Join(strings.Fields(b.String()), " ")
	b.Reset()
	if err := t.text.Execute(&b, data); err != nil {
		return "", "", "", fmt.Errorf("render %s text: %w", kind, err)
	}
	text = strings.TrimSpace(b.String()) + "\n"
	b.Reset()
	if err := t.html.ExecuteTemplate(&b, "layout.html", data); err != nil {
		return "", "", "", fmt.Errorf("render %s html: %w", kind, err)
	}
	return subject, text, b.String(), nil
}

func humanDuration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d >= time.Minute:
		return plural(int64(d/time.Minute), "minute")
	default:
		return plural(int64(d/time.Second), "second")
	}
}
