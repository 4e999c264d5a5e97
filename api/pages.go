package api

import (
	"bytes"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

// The web pages (API.md "Web pages"): server-rendered with html/template from embedded files,
// cookie session, the API's CSRF rule, no script at all. Handlers stay as thin as the API's:
// read the form, call one service method, render or redirect (POST, then redirect, then GET).

//go:embed web/templates/*.html web/static/*
var webFS embed.FS

// pageNames are the templates under web/templates, each rendered inside layout.html.
var pageNames = []string{"login", "limit", "devices", "history", "admin", "admin_user", "error"}

// pageData is what every page template gets.
type pageData struct {
	Viewer *viewer // the signed-in person; nil on the sign-in pages
	Nav    string  // the navigation entry to mark current
	Wide   bool
	Notice *notice
	Data   any // the page's own
}

type viewer struct {
	Email string
	Admin bool
}

// notice is the message box at the top of a page.
type notice struct {
	Kind  string // ok, warn, error
	Title string
	Text  string
}

func parsePages() (map[string]*template.Template, error) {
	out := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(pageFuncs).ParseFS(webFS, "web/templates/layout.html", "web/templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// render writes the page; it is rendered to a buffer first, so a template failure is a clean
// 500 rather than half a page.
func (h *handler) render(c *gin.Context, status int, name string, d pageData) {
	if d.Viewer == nil {
		if p, ok := LookupPrincipal(c); ok {
			_, notAdmin := p.AsAdmin()
			d.Viewer = &viewer{Email: p.User.Email, Admin: notAdmin == nil}
		}
	}
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "layout", d); err != nil {
		h.log.ErrorContext(c.Request.Context(), "render page failed", "page", name, "err", err)
		c.AbortWithStatus(http.StatusInternalServerError)
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// pageHeaders: pages load nothing but our own stylesheet and icon, run no script, post forms
// only to us, and are never cached (they show personal data).
func pageHeaders(c *gin.Context) {
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	c.Header("Cache-Control", "no-store")
	c.Next()
}

// static serves the embedded stylesheet and icon (files only: no directory listing).
func static() gin.HandlerFunc {
	sub, err := fs.Sub(webFS, "web/static")
	if err != nil {
		panic(err) // a constant path into the embedded files
	}
	files := http.FileServerFS(sub)
	return func(c *gin.Context) {
		file := c.Param("file")
		if strings.HasSuffix(file, "/") { // no listings; the file server's own 404
			http.NotFound(c.Writer, c.Request)
			return
		}
		c.Header("Cache-Control", "public, max-age=3600")
		c.Request.URL.Path = file
		files.ServeHTTP(c.Writer, c.Request)
	}
}

// pageSession lets through the holder of a valid session cookie (bearer tokens are for the
// API). Without one the browser goes to the sign-in page, which tells a device that was signed
// out why.
func (h *handler) pageSession(c *gin.Context) {
	token, err := c.Cookie(h.cookies.Session())
	if err != nil || token == "" {
		h.toLogin(c)
		return
	}
	p, err := h.sessions.Authenticate(c.Request.Context(), token)
	if err != nil {
		if why := signedOutBecause(err); why != nil {
			// Not SignOut: Clear-Site-Data would also drop the note set here, and the
			// browser's device id.
			h.cookies.Delete(c, h.cookies.Session())
			h.setSignedOut(c, *why)
			h.toLogin(c)
			return
		}
		h.pageFail(c, err)
		return
	}
	SetPrincipal(c, p)
	c.Next()
}

// toLogin sends the browser to the sign-in page, to come back here afterwards if here is a
// page (a form's target is not).
func (h *handler) toLogin(c *gin.Context) {
	to := "/login"
	if c.Request.Method == http.MethodGet {
		to += "?next=" + url.QueryEscape(c.Request.URL.RequestURI())
	}
	c.Redirect(http.StatusSeeOther, to)
	c.Abort()
}

// signedOut is why a browser's session ended, carried to the sign-in page in a cookie of a
// minute (set by us only, so a link cannot make the page say anything).
type signedOut struct {
	Kind   string              `json:"k"` // evicted, revoked, expired, invalid
	By     string              `json:"b,omitempty"`
	Limit  int                 `json:"l,omitempty"`
	Reason models.RevokeReason `json:"r,omitempty"`
}

// signedOutBecause says why a session cookie stopped working, or nil when the error is not
// about the session (the store is down, say).
func signedOutBecause(err error) *signedOut {
	var (
		evicted *models.SessionEvictedError
		revoked *models.SessionRevokedError
	)
	switch {
	case errors.As(err, &evicted):
		return &signedOut{Kind: "evicted", By: evicted.ByDeviceName, Limit: evicted.Limit}
	case errors.As(err, &revoked):
		return &signedOut{Kind: "revoked", Reason: revoked.Reason}
	case errors.Is(err, models.ErrSessionExpired):
		return &signedOut{Kind: "expired"}
	case errors.Is(err, models.ErrSessionInvalid):
		return &signedOut{Kind: "invalid"}
	}
	return nil
}

func (h *handler) setSignedOut(c *gin.Context, why signedOut) {
	b, _ := json.Marshal(why)
	h.cookies.Put(c, h.cookies.SignedOut(), base64.RawURLEncoding.EncodeToString(b), 60)
}

// takeSignedOut reads and clears the reason the last session ended, as a notice, if any.
func (h *handler) takeSignedOut(c *gin.Context) *notice {
	v, err := c.Cookie(h.cookies.SignedOut())
	if err != nil {
		return nil
	}
	h.cookies.Delete(c, h.cookies.SignedOut())
	var why signedOut
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || json.Unmarshal(b, &why) != nil {
		return nil
	}
	return why.notice()
}

func (w signedOut) notice() *notice {
	const title = "This device was signed out"
	switch w.Kind {
	case "evicted":
		who := "Another device"
		if w.By != "" {
			who = w.By
		}
		text := who + " signed in and your plan's device limit was reached."
		if w.Limit > 0 {
			text = fmt.Sprintf("%s signed in and your plan allows %d %s.", who, w.Limit, plural(w.Limit, "device", "devices"))
		}
		return &notice{Kind: "warn", Title: title, Text: text + " Sign in again to use it here; another device will be signed out."}
	case "revoked":
		if text, ok := revokeReasonText[w.Reason]; ok {
			return &notice{Kind: "warn", Title: title, Text: text}
		}
		return &notice{Kind: "warn", Title: title}
	case "expired":
		return &notice{Kind: "warn", Title: "Your session expired", Text: "Sign in again to continue."}
	case "invalid":
		return &notice{Kind: "warn", Title: "Please sign in again", Text: "This device's sign-in is no longer valid."}
	}
	return nil
}

var revokeReasonText = map[models.RevokeReason]string{
	models.ReasonLogout:          "You signed out.",
	models.ReasonEvicted:         "Another device signed in and your plan's device limit was reached.",
	models.ReasonReplaced:        "You signed in again on this device.",
	models.ReasonRevokedByUser:   "You signed it out from another device.",
	models.ReasonRevokedByAdmin:  "An administrator signed it out.",
	models.ReasonPasswordChanged: "Your password was changed, which signs out your other devices.",
	models.ReasonUserDisabled:    "Your account was disabled.",
}

// pageFail renders err as an error page with the API's status for it.
func (h *handler) pageFail(c *gin.Context, err error) {
	e := Classify(err)
	if e.RetryAfter != "" {
		c.Header("Retry-After", e.RetryAfter)
	}
	title, text := "Something went wrong", "Try again in a moment."
	switch e.Status {
	case http.StatusServiceUnavailable:
		title, text = "Temporarily unavailable", "sessiond cannot reach its store right now. Try again in a moment."
	case http.StatusForbidden:
		title, text = "Not allowed", "You are not allowed to do that."
		if e.Code == "csrf_failed" {
			text = "That form came from another site, so it was refused. Use the pages of this site."
		}
	case http.StatusNotFound:
		title, text = "Not found", "There is nothing here, or it is not yours."
	case http.StatusBadRequest:
		title, text = "That did not work", e.Message
	case http.StatusTooManyRequests:
		title, text = "Too many attempts", e.Message
	case http.StatusInternalServerError:
		h.log.ErrorContext(c.Request.Context(), "page failed", "method", c.Request.Method, "route", c.FullPath(), "err", err)
	}
	h.render(c, e.Status, "error", pageData{Data: map[string]string{"Title": title, "Text": text}})
	c.Abort()
}

// failureNotice turns a form's error into the notice shown above the form again, with the
// status the API would answer.
func failureNotice(err error) (int, *notice) {
	e := Classify(err)
	text := e.Message
	switch {
	case e.Code == "rate_limited":
		if s, ok := e.Details["retry_after_seconds"].(int); ok {
			text = fmt.Sprintf("Too many attempts. Try again in %s.", humanSeconds(s))
		}
	case e.Code == "unavailable":
		text = "sessiond cannot reach its store right now. Try again in a moment."
	case e.Code == "invalid_request":
		text = "Check the highlighted fields."
	}
	return e.Status, &notice{Kind: "error", Text: text}
}

// fieldErrors returns the form field names a validation error names, with their problems.
func fieldErrors(err error, names map[string]string) map[string]string {
	var v *models.ValidationError
	if !errors.As(err, &v) {
		return nil
	}
	out := map[string]string{}
	for field, problem := range v.Fields {
		if name, ok := names[field]; ok {
			out[name] = "This " + problem + "."
		}
	}
	return out
}

// safeNext keeps a return path only when it is one of ours: a path, not a scheme-relative
// or absolute URL that would send the person elsewhere after signing in.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || len(next) > 2048 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.Contains(next, `\`) || u.Scheme != "" || u.Host != "" || strings.HasPrefix(next, "/login") {
		return "/devices"
	}
	return next
}
