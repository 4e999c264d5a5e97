package servicetest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTP credentials the test server accepts (its URL carries them).
const (
	SMTPUser     = "sessiond"
	SMTPPassword = "s3cret"
)

// SMTPServer is a real SMTP server (github.com/emersion/go-smtp) on 127.0.0.1, in process,
// that requires AUTH PLAIN and keeps every mail it accepts. It can refuse mails on demand, as
// a server in trouble does. It stops when the test ends.
type SMTPServer struct {
	// URL is what SESSIOND_SMTP_URL takes: smtp://user:pass@127.0.0.1:port.
	URL  string
	Host string
	Port int

	mu      sync.Mutex
	mails   []ReceivedMail
	refuse  int // refuse this many more mails
	refused int
	changed chan struct{} // closed and replaced at every mail accepted or refused
}

// ReceivedMail is one mail the server accepted, parsed: envelope, headers, and the decoded
// text and HTML bodies.
type ReceivedMail struct {
	From    string   // the envelope sender (MAIL FROM)
	To      []string // the envelope recipients (RCPT TO)
	Header  mail.Header
	Subject string // decoded
	Text    string // the text/plain part, decoded
	HTML    string // the text/html part, decoded
	Raw     []byte
}

// NewSMTPServer starts a server on a free port of 127.0.0.1.
func NewSMTPServer(tb testing.TB) *SMTPServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen for SMTP: %v", err)
	}
	s := &SMTPServer{changed: make(chan struct{})}
	addr := ln.Addr().(*net.TCPAddr)
	s.Host, s.Port = "127.0.0.1", addr.Port
	s.URL = (&url.URL{Scheme: "smtp", User: url.UserPassword(SMTPUser, SMTPPassword), Host: addr.String()}).String()
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{srv: s}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true // loopback only
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 1 << 20
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			tb.Errorf("SMTP server: %v", err)
		}
	}()
	tb.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return s
}

// RefuseNext makes the server refuse the next n mails with 451 (a temporary failure, at DATA).
func (s *SMTPServer) RefuseNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = n
}

// Refused is how many mails the server has refused.
func (s *SMTPServer) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// Mails returns every mail accepted so far, in order.
func (s *SMTPServer) Mails() []ReceivedMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ReceivedMail(nil), s.mails...)
}

// MailsTo returns the mails accepted so far for the recipient addr.
func (s *SMTPServer) MailsTo(addr string) []ReceivedMail {
	var out []ReceivedMail
	for _, m := range s.Mails() {
		for _, to := range m.To {
			if strings.EqualFold(to, addr) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// WaitFor waits until cond holds of the mails accepted, re-checking at every mail accepted or
// refused, and fails the test after timeout. It returns the mails.
func (s *SMTPServer) WaitFor(tb testing.TB, timeout time.Duration, what string, cond func([]ReceivedMail) bool) []ReceivedMail {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		mails, changed := append([]ReceivedMail(nil), s.mails...), s.changed
		s.mu.Unlock()
		if cond(mails) {
			return mails
		}
		select {
		case <-changed:
		case <-deadline.C:
			tb.Fatalf("SMTP server: waited %s for %s; got %d mails, refused %d", timeout, what, len(mails), s.Refused())
			return nil
		}
	}
}

// WaitMails waits until at least n mails have been accepted and returns them all.
func (s *SMTPServer) WaitMails(tb testing.TB, n int, timeout time.Duration) []ReceivedMail {
	tb.Helper()
	return s.WaitFor(tb, timeout, fmt.Sprintf("%d mails", n), func(m []ReceivedMail) bool { return len(m) >= n })
}

func (s *SMTPServer) bump() {
	close(s.changed)
	s.changed = make(chan struct{})
}

type smtpSession struct {
	srv    *SMTPServer
	authed bool
	from   string
	to     []string
}

func (ss *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != SMTPUser || pass != SMTPPassword {
			return errors.New("invalid credentials")
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s := ss.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.bump()
	if s.refuse > 0 {
		s.refuse--
		s.refused++
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	m, err := parseMail(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: err.Error()}
	}
	m.From, m.To = ss.from, append([]string(nil), ss.to...)
	s.mails = append(s.mails, m)
	return nil
}

func (ss *smtpSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *smtpSession) Logout() error { return nil }

func parseMail(raw []byte) (ReceivedMail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ReceivedMail{}, fmt.Errorf("parse mail: %w", err)
	}
	out := ReceivedMail{Header: msg.Header, Raw: raw}
	if out.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return ReceivedMail{}, fmt.Errorf("parse subject: %w", err)
	}
	err = walkParts(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, &out)
	return out, err
}

// walkParts decodes a body, descending into multipart ones, keeping the text and HTML parts.
func walkParts(contentType, encoding string, body io.Reader, out *ReceivedMail) error {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mediaType = "text/plain"
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("parse part: %w", err)
			}
			if err := walkParts(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, out); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("read part: %w", err)
	}
	switch mediaType {
	case "text/plain":
		out.Text = string(b)
	case "text/html":
		out.HTML = string(b)
	}
	return nil
}
