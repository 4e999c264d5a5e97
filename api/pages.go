package api

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/mileusna/useragent"

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
		if p, ok := c.Get(principalKey); ok {
			u := p.(models.Principal).User
			d.Viewer = &viewer{Email: u.Email, Admin: u.Role == models.RoleAdmin}
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

// static serves the embedded stylesheet and icon.
func static() gin.HandlerFunc {
	sub, _ := fs.Sub(webFS, "web/static")
	files := http.FileServerFS(sub)
	return func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=3600")
		c.Request.URL.Path = c.Param("file")
		files.ServeHTTP(c.Writer, c.Request)
	}
}

// pageSession admits the holder of a valid session cookie (bearer tokens are for the API).
// Without one the browser goes to the sign-in page; a device that was signed out is told why
// there. Unsafe methods must come from our own pages (the API's CSRF rule).
func (h *handler) pageSession(c *gin.Context) {
	if !safeMethod(c.Request.Method) && !sameOrigin(c.Request, h.cookieSecure) {
		h.pageFail(c, errCSRF)
		return
	}
	token, err := c.Cookie(h.cookieName())
	if err != nil || token == "" {
		c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request.URL.RequestURI()))
		c.Abort()
		return
	}
	p, err := h.sessions.Authenticate(c.Request.Context(), token)
	if err != nil {
		if n := signedOutNotice(err); n != nil {
			h.clearCookie(c)
			h.renderLogin(c, http.StatusUnauthorized, loginForm{Next: safeNext(c.Request.URL.RequestURI())}, n)
			c.Abort()
			return
		}
		h.pageFail(c, err)
		return
	}
	c.Set(principalKey, p)
	c.Set(viaCookieKey, true)
	c.Next()
}

// sameOriginForm refuses forms posted from other sites (login CSRF included).
func (h *handler) sameOriginForm(c *gin.Context) {
	if !sameOrigin(c.Request, h.cookieSecure) {
		h.pageFail(c, errCSRF)
		return
	}
	c.Next()
}

// pageAdmin admits admins only.
func (h *handler) pageAdmin(c *gin.Context) {
	if principal(c).User.Role != models.RoleAdmin {
		h.pageFail(c, models.ErrForbidden)
		return
	}
	c.Next()
}

// signedOutNotice explains why a session cookie stopped working, or returns nil when it does
// not need explaining (then the error is not about the session).
func signedOutNotice(err error) *notice {
	var (
		evicted *models.SessionEvictedError
		revoked *models.SessionRevokedError
	)
	const title = "This device was signed out"
	switch {
	case errors.As(err, &evicted):
		who := "Another device"
		if evicted.ByDeviceName != "" {
			who = evicted.ByDeviceName
		}
		text := who + " signed in and your plan's device limit was reached."
		if evicted.Limit > 0 {
			text = fmt.Sprintf("%s signed in and your plan allows %d %s.", who, evicted.Limit, plural(evicted.Limit, "device", "devices"))
		}
		return &notice{Kind: "warn", Title: title, Text: text + " Sign in again to use it here; another device will be signed out."}
	case errors.As(err, &revoked):
		return &notice{Kind: "warn", Title: title, Text: revokeReasonText[revoked.Reason]}
	case errors.Is(err, models.ErrSessionExpired):
		return &notice{Kind: "warn", Title: "Your session expired", Text: "Sign in again to continue."}
	case errors.Is(err, models.ErrSessionInvalid):
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
	e := classify(err)
	title, text := "Something went wrong", "Try again in a moment."
	switch e.status {
	case http.StatusServiceUnavailable:
		c.Header("Retry-After", retryAfter)
		title, text = "Temporarily unavailable", "sessiond cannot reach its store right now. Try again in a moment."
	case http.StatusForbidden:
		title, text = "Not allowed", "You are not allowed to do that."
		if errors.Is(err, errCSRF) {
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
	h.render(c, e.status, "error", pageData{Data: map[string]string{"Title": title, "Text": text}})
	c.Abort()
}

// failureNotice turns a form's error into the notice shown above the form again, with the
// status the API would answer.
func failureNotice(err error) (int, *notice) {
	e := classify(err)
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
	return e.status, &notice{Kind: "error", Text: text}
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
	if err != nil || next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.Contains(next, `\`) || u.Scheme != "" || u.Host != "" || strings.HasPrefix(next, "/login") {
		return "/devices"
	}
	return next
}

// devicePrefill names and types the browser from its User-Agent, for the sign-in form.
func devicePrefill(ua string) (string, models.DeviceType) {
	p := useragent.Parse(ua)
	typ := models.DeviceType("web")
	switch {
	case p.Tablet:
		typ = "tablet"
	case p.Mobile:
		typ = "mobile"
	}
	switch {
	case p.Name != "" && p.OS != "":
		return p.Name + " on " + p.OS, typ
	case p.Name != "":
		return p.Name, typ
	}
	return "Web browser", typ
}

type option struct{ Value, Label string }

var deviceTypes = []option{
	{"web", "Web browser"}, {"desktop", "Computer"}, {"mobile", "Phone"}, {"tablet", "Tablet"},
	{"tv", "TV"}, {"console", "Game console"}, {"other", "Other"},
}

var policies = []option{
	{"evict_oldest", "Sign out the oldest device"},
	{"evict_least_recent", "Sign out the least recently used"},
	{"reject", "Ask which device to sign out"},
}

func label(opts []option, v string) string {
	for _, o := range opts {
		if o.Value == v {
			return o.Label
		}
	}
	return v
}

var pageFuncs = template.FuncMap{
	"deviceIcon": func(t models.DeviceType) string {
		switch t {
		case "tv", "mobile", "tablet", "web", "desktop", "console":
			return string(t)
		}
		return "other"
	},
	"deviceType": func(t models.DeviceType) string { return label(deviceTypes, string(t)) },
	"ago":        func(t time.Time) string { return ago(time.Since(t), t) },
	"date":       func(t any) string { return formatTime(t, "2 Jan 2006, 15:04 UTC") },
	"clock":      func(t time.Time) string { return t.UTC().Format("15:04 UTC") },
	"plural":     plural,
	"duration": func(s *int64) string {
		if s == nil {
			return ""
		}
		return shortDuration(time.Duration(*s) * time.Second)
	},
	"eventText": eventText,
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func formatTime(t any, layout string) string {
	switch v := t.(type) {
	case time.Time:
		return v.UTC().Format(layout)
	case *time.Time:
		if v != nil {
			return v.UTC().Format(layout)
		}
	}
	return ""
}

// ago says how long ago something happened, as people say it.
func ago(d time.Duration, t time.Time) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		n := int(d / time.Minute)
		return fmt.Sprintf("%d %s ago", n, plural(n, "minute", "minutes"))
	case d < 24*time.Hour:
		n := int(d / time.Hour)
		return fmt.Sprintf("%d %s ago", n, plural(n, "hour", "hours"))
	case d < 30*24*time.Hour:
		n := int(d / (24 * time.Hour))
		return fmt.Sprintf("%d %s ago", n, plural(n, "day", "days"))
	}
	return "on " + t.UTC().Format("2 Jan 2006")
}

func humanSeconds(s int) string {
	if s < 120 {
		return fmt.Sprintf("%d %s", s, plural(s, "second", "seconds"))
	}
	return fmt.Sprintf("%d minutes", (s+59)/60)
}

// shortDuration writes 336h0m0s as 336h and 1h30m0s as 1h30m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

var eventTexts = map[models.EventType]string{
	models.EventLogin:           "Signed in",
	models.EventLogout:          "Signed out",
	models.EventEvicted:         "Signed out: another device signed in at the device limit",
	models.EventReplaced:        "Replaced by a new sign-in",
	models.EventExpired:         "Session expired",
	models.EventLimitRejected:   "Sign-in held: device limit reached",
	models.EventPasswordChanged: "Password changed",
}

// eventText describes a history event; a revocation says by whom or why.
func eventText(e models.SessionEvent) string {
	if e.Type == models.EventRevoked {
		var d struct {
			Reason models.RevokeReason `json:"reason"`
		}
		_ = json.Unmarshal([]byte(e.Details), &d)
		switch d.Reason {
		case models.ReasonRevokedByUser:
			return "Signed out from another device"
		case models.ReasonRevokedByAdmin:
			return "Signed out by an administrator"
		case models.ReasonPasswordChanged:
			return "Signed out: password changed"
		case models.ReasonUserDisabled:
			return "Signed out: account disabled"
		}
		return "Signed out"
	}
	if t, ok := eventTexts[e.Type]; ok {
		return t
	}
	return strconv.Quote(string(e.Type))
}
