package web

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/models"
)

// Signing in and out in the browser: the sign-in page and its form, a sign-in held at the
// device limit (for the chooser), the browser's device id, and sign-out.

// loginForm is the sign-in form as shown, and as posted back.
type loginForm struct {
	Email       string
	DeviceName  string
	DeviceType  string
	Next        string
	Fields      map[string]string // field → problem
	Unverified  bool              // refused for want of a verified email: offer a new link
	DeviceTypes []option
	Providers   []providerLink
}

// providerLink is a sign-in button of an identity provider: a link (a form's redirect to
// another site would break the pages' form-action policy) carrying this device's name and type.
type providerLink struct {
	Label, URL string
}

func (h *Handler) rootPage(c *gin.Context) {
	if cookie, err := c.Cookie(h.cookies.Session()); err == nil && cookie != "" {
		c.Redirect(http.StatusSeeOther, "/devices")
		return
	}
	c.Redirect(http.StatusSeeOther, "/login")
}

func (h *Handler) loginPage(c *gin.Context) {
	n := h.takeSignedOut(c)
	if n == nil && c.Query("done") == "signed_out" {
		n = &notice{Kind: "ok", Text: "You are signed out on this device."}
	}
	h.clearPending(c) // a sign-in left at the chooser is abandoned
	h.renderLogin(c, http.StatusOK, prefilledLogin(c, c.Query("next")), n)
}

// prefilledLogin is the empty sign-in form, this device named from the browser's User-Agent.
func prefilledLogin(c *gin.Context, next string) loginForm {
	name, typ := devicePrefill(c.Request.UserAgent())
	return loginForm{DeviceName: name, DeviceType: string(typ), Next: safeNext(next)}
}

func (h *Handler) renderLogin(c *gin.Context, status int, f loginForm, n *notice) {
	f.DeviceTypes = deviceTypes
	if h.oidc != nil {
		for _, p := range h.oidc.Providers() {
			q := url.Values{"device_name": {f.DeviceName}, "device_type": {f.DeviceType}, "return_to": {safeNext(f.Next)}}
			f.Providers = append(f.Providers, providerLink{Label: p.Label, URL: "/v1/auth/oidc/" + url.PathEscape(p.Name) + "/start?" + q.Encode()})
		}
	}
	h.render(c, status, "login", pageData{Notice: n, Data: f})
}

func (h *Handler) loginSubmit(c *gin.Context) {
	f := loginForm{
		Email: c.PostForm("email"), DeviceName: c.PostForm("device_name"), DeviceType: c.PostForm("device_type"),
		Next: safeNext(c.PostForm("next")),
	}
	res, err := h.sessions.Login(c.Request.Context(), models.LoginParams{
		Email: f.Email, Password: c.PostForm("password"),
		Device:      models.Device{ID: h.browserID(c), Name: f.DeviceName, Type: models.DeviceType(f.DeviceType)},
		DeviceKey:   h.cookies.PresentedDeviceKey(c, ""), // the browser's cookie: the form's device.key
		IP:          c.ClientIP(),
		UserAgent:   c.Request.UserAgent(),
		KeepPending: true,
	})
	h.finishLogin(c, res, err, f)
}

// finishLogin signs the browser in, sends it to the chooser when the plan holds the login at
// the device limit, or shows the form again with what went wrong.
func (h *Handler) finishLogin(c *gin.Context, res models.LoginResult, err error, f loginForm) {
	var limit *models.DeviceLimitError
	switch {
	case err == nil:
		h.cookies.SignIn(c, res)
		h.clearPending(c)
		next := f.Next
		if n := len(res.Evicted); n > 0 && next == "/devices" {
			next += "?done=evicted&n=" + strconv.Itoa(n)
		}
		c.Redirect(http.StatusSeeOther, next)
	case errors.As(err, &limit) && limit.Pending != "":
		h.setPending(c, limit.Pending, limit.PendingExpiresAt)
		c.Redirect(http.StatusSeeOther, "/devices/limit")
	default:
		status, n := failureNotice(err)
		f.Unverified = errors.Is(err, models.ErrEmailUnverified)
		f.Fields = fieldErrors(err, map[string]string{"email": "email", "device.name": "device_name", "device.type": "device_type"})
		h.renderLogin(c, status, f, n)
	}
}

// setPending keeps a sign-in held at the device limit in the browser, for the chooser only.
func (h *Handler) setPending(c *gin.Context, token string, until time.Time) {
	h.cookies.Put(c, h.cookies.Pending(), token, max(1, int(time.Until(until)/time.Second)))
}

func (h *Handler) clearPending(c *gin.Context) {
	if _, err := c.Cookie(h.cookies.Pending()); err != nil {
		return
	}
	h.cookies.Delete(c, h.cookies.Pending())
}

// browserID is this browser's stable device id, kept in a cookie of its own for 400 days: a
// browser that signs in again replaces its own session instead of taking another slot. Until
// the device key took its cookie's name (-device), the id was kept there: one found there is
// kept, moved to -browser.
func (h *Handler) browserID(c *gin.Context) string {
	name := h.cookies.Browser()
	id, err := c.Cookie(name)
	if err == nil && browserIDSpelling(id) {
		return "browser-" + id
	}
	if id, err = c.Cookie(h.cookies.DeviceKey()); err != nil || !browserIDSpelling(id) {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		id = base64.RawURLEncoding.EncodeToString(b)
	}
	h.cookies.Put(c, name, id, 400*24*3600)
	return "browser-" + id
}

// browserIDSpelling reports whether id is spelled as browserID makes them: 16 bytes in base64url.
func browserIDSpelling(id string) bool {
	b, err := base64.RawURLEncoding.DecodeString(id)
	return err == nil && len(b) == 16
}

func (h *Handler) logoutSubmit(c *gin.Context) {
	p := api.Principal(c)
	if err := h.sessions.Logout(c.Request.Context(), p.User.ID, p.Session.ID); err != nil {
		h.fail(c, err)
		return
	}
	h.cookies.SignOut(c) // the pending sign-in too, if any; this device's key stays
	c.Redirect(http.StatusSeeOther, "/login?done=signed_out")
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
