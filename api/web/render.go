package web

import (
	"bytes"
	"cmp"
	"embed"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/models"
)

// Rendering: the embedded templates and stylesheet, the pages' headers, and errors as pages.

//go:embed templates/*.html static/*
var files embed.FS

// pageNames are the templates under templates/, each rendered inside layout.html.
var pageNames = []string{"login", "limit", "devices", "history", "admin", "admin_user", "error", "activate", "tv", "streams_limit", "forgot", "reset", "verify", "register"}

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

// render writes the page; it is rendered to a buffer first, so a template failure is a clean
// 500 rather than half a page.
func (h *Handler) render(c *gin.Context, status int, name string, d pageData) {
	if d.Viewer == nil {
		if p, ok := api.LookupPrincipal(c); ok {
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

// serveStatic serves the embedded stylesheet and icon (files only: no directory listing).
func (h *Handler) serveStatic(c *gin.Context) {
	file := c.Param("file")
	if strings.HasSuffix(file, "/") { // no listings; the file server's own 404
		http.NotFound(c.Writer, c.Request)
		return
	}
	c.Header("Cache-Control", "public, max-age=3600")
	c.Request.URL.Path = file
	h.static.ServeHTTP(c.Writer, c.Request)
}

// fail renders err as an error page with the API's status for it (and its Retry-After).
func (h *Handler) fail(c *gin.Context, err error) {
	e := api.Classify(err)
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
	e := api.Classify(err)
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

// problems writes a validation error's fields as "Name problem", sorted, naming each field
// as names says (the field's own name when names has none).
func problems(v *models.ValidationError, names map[string]string) []string {
	out := make([]string, 0, len(v.Fields))
	for field, problem := range v.Fields {
		out = append(out, cmp.Or(names[field], field)+" "+problem)
	}
	slices.Sort(out)
	return out
}
