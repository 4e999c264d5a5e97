package api

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

// loginForm is the sign-in form as shown, and as posted back.
type loginForm struct {
	Email       string
	DeviceName  string
	DeviceType  string
	Next        string
	Fields      map[string]string // field → problem
	DeviceTypes []option
	Providers   []providerLink
}

// providerLink is a sign-in button of an identity provider: a link (a form's redirect to
// another site would break the pages' form-action policy) carrying this device's name and type.
type providerLink struct {
	Label, URL string
}

func (h *handler) rootPage(c *gin.Context) {
	if cookie, err := c.Cookie(h.cookieName()); err == nil && cookie != "" {
		c.Redirect(http.StatusSeeOther, "/devices")
		return
	}
	c.Redirect(http.StatusSeeOther, "/login")
}

func (h *handler) loginPage(c *gin.Context) {
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

func (h *handler) renderLogin(c *gin.Context, status int, f loginForm, n *notice) {
	f.DeviceTypes = deviceTypes
	if h.oidc != nil {
		for _, p := range h.oidc.Providers() {
			q := url.Values{"device_name": {f.DeviceName}, "device_type": {f.DeviceType}, "return_to": {safeNext(f.Next)}}
			f.Providers = append(f.Providers, providerLink{Label: p.Label, URL: "/v1/auth/oidc/" + url.PathEscape(p.Name) + "/start?" + q.Encode()})
		}
	}
	h.render(c, status, "login", pageData{Notice: n, Data: f})
}

func (h *handler) loginSubmit(c *gin.Context) {
	f := loginForm{
		Email: c.PostForm("email"), DeviceName: c.PostForm("device_name"), DeviceType: c.PostForm("device_type"),
		Next: safeNext(c.PostForm("next")),
	}
	res, err := h.sessions.Login(c.Request.Context(), models.LoginParams{
		Email: f.Email, Password: c.PostForm("password"),
		Device:      models.Device{ID: h.browserID(c), Name: f.DeviceName, Type: models.DeviceType(f.DeviceType)},
		IP:          c.ClientIP(),
		UserAgent:   c.Request.UserAgent(),
		KeepPending: true,
	})
	h.finishLogin(c, res, err, f)
}

// finishLogin signs the browser in, sends it to the chooser when the plan holds the login at
// the device limit, or shows the form again with what went wrong.
func (h *handler) finishLogin(c *gin.Context, res models.LoginResult, err error, f loginForm) {
	var limit *models.DeviceLimitError
	switch {
	case err == nil:
		h.setCookie(c, res.Token, res.Session)
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
		f.Fields = fieldErrors(err, map[string]string{"email": "email", "device.name": "device_name", "device.type": "device_type"})
		h.renderLogin(c, status, f, n)
	}
}

// pendingCookie holds a login held at the device limit, for the chooser only.
func (h *handler) pendingCookie() string { return h.cookieName() + "-pending" }

func (h *handler) setPending(c *gin.Context, token string, until time.Time) {
	h.putCookie(c, h.pendingCookie(), token, max(1, int(time.Until(until)/time.Second)))
}

func (h *handler) clearPending(c *gin.Context) {
	if _, err := c.Cookie(h.pendingCookie()); err != nil {
		return
	}
	h.putCookie(c, h.pendingCookie(), "", -1)
}

// browserID is this browser's stable device id, kept in a cookie of its own for 400 days: a
// browser that signs in again replaces its own session instead of taking another slot.
func (h *handler) browserID(c *gin.Context) string {
	name := h.cookieName() + "-device"
	if id, err := c.Cookie(name); err == nil && len(id) == 22 {
		if _, err := base64.RawURLEncoding.DecodeString(id); err == nil {
			return "browser-" + id
		}
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	h.putCookie(c, name, id, 400*24*3600)
	return "browser-" + id
}

func (h *handler) logoutSubmit(c *gin.Context) {
	p := principal(c)
	if err := h.sessions.Logout(c.Request.Context(), p.User.ID, p.Session.ID); err != nil {
		h.pageFail(c, err)
		return
	}
	h.clearCookie(c)
	h.clearPending(c)
	c.Redirect(http.StatusSeeOther, "/login?done=signed_out")
}

// devicesData is the "Your devices" page.
type devicesData struct {
	Sessions    []models.Session
	CurrentID   string
	Limit       int
	Noun        string // "device" or "devices", for "1 of 1 device", "2 of 1 devices"
	PlanName    string
	Policy      string
	OverLimit   string // what being over the limit means, if the account is
	BadPassword bool
}

var policyTexts = map[models.LimitPolicy]string{
	models.PolicyEvictOldest:      "at the limit, a new sign-in signs out your oldest device",
	models.PolicyEvictLeastRecent: "at the limit, a new sign-in signs out the device you used least recently",
	models.PolicyReject:           "at the limit, a new sign-in asks you which device to sign out",
}

// overLimit says what the next sign-in does to an account over its limit (a lowered plan),
// given how many devices it must sign out.
var overLimit = map[models.LimitPolicy]string{
	models.PolicyEvictOldest:      "over your plan's limit, a new sign-in signs out the %d oldest",
	models.PolicyEvictLeastRecent: "over your plan's limit, a new sign-in signs out the %d used least recently",
	models.PolicyReject:           "over your plan's limit, a new sign-in will ask you to choose %d to sign out",
}

func (h *handler) devicesPage(c *gin.Context) {
	h.renderDevices(c, http.StatusOK, doneNotice(c))
}

func (h *handler) renderDevices(c *gin.Context, status int, n *notice) {
	p := principal(c)
	list, err := h.sessions.List(c.Request.Context(), p.User.ID)
	if err != nil {
		h.pageFail(c, err)
		return
	}
	signedIn := len(list.Sessions)
	d := devicesData{
		Sessions: list.Sessions, CurrentID: p.Session.ID, Limit: list.Limit.Max,
		Noun:     plural(max(signedIn, list.Limit.Max), "device", "devices"),
		PlanName: capitalize(p.Plan.Name), Policy: policyTexts[list.Limit.Policy],
		BadPassword: n != nil && n.Kind == "error",
	}
	if signedIn > list.Limit.Max {
		// These stay signed in; only a new sign-in must make room, for itself too.
		d.OverLimit = fmt.Sprintf(overLimit[list.Limit.Policy], signedIn-max(list.Limit.Max, 1)+1)
	}
	h.render(c, status, "devices", pageData{Nav: "devices", Notice: n, Data: d})
}

// doneNotice confirms what the last form did; the query names one of a fixed set of outcomes,
// so a link cannot make the page say anything else.
func doneNotice(c *gin.Context) *notice {
	n, err := strconv.Atoi(c.Query("n"))
	if err != nil || n < 0 || n > 1000 {
		n = 0
	}
	switch c.Query("done") {
	case "signed_out":
		return &notice{Kind: "ok", Text: "The device was signed out. It will be told why the next time it is used."}
	case "gone":
		return &notice{Kind: "ok", Text: "That device was already signed out."}
	case "others":
		return &notice{Kind: "ok", Text: fmt.Sprintf("Signed out %d other %s.", n, plural(n, "device", "devices"))}
	case "evicted":
		return &notice{Kind: "ok", Title: "Signed in", Text: fmt.Sprintf("To stay within your plan, %d %s signed out.", n, plural(n, "device was", "devices were"))}
	case "replaced":
		if n > 1 {
			return &notice{Kind: "ok", Title: "Signed in", Text: fmt.Sprintf("The %d devices you chose were signed out.", n)}
		}
		return &notice{Kind: "ok", Title: "Signed in", Text: "The device you chose was signed out."}
	case "plan_saved":
		return &notice{Kind: "ok", Text: "Plan saved."}
	case "enforced":
		return &notice{Kind: "ok", Text: fmt.Sprintf("Plan saved and enforced: %d %s signed out.", n, plural(n, "session", "sessions"))}
	case "enforcing":
		return &notice{Kind: "warn", Title: "Plan saved, still enforcing", Text: fmt.Sprintf(
			"%d %s signed out so far. The rest of the plan's users are brought down by the purge job's next pass, on any server; nothing more to do here.",
			n, plural(n, "session", "sessions"))}
	}
	return nil
}

func (h *handler) signOutDevice(c *gin.Context) {
	p := principal(c)
	err := h.sessions.Revoke(c.Request.Context(), p.User.ID, p.Session.ID, c.Param("id"))
	switch {
	case err == nil:
		c.Redirect(http.StatusSeeOther, "/devices?done=signed_out")
	case errors.Is(err, models.ErrNotFound):
		c.Redirect(http.StatusSeeOther, "/devices?done=gone")
	default:
		h.pageFail(c, err)
	}
}

func (h *handler) signOutOthers(c *gin.Context) {
	p := principal(c)
	n, err := h.sessions.RevokeAll(c.Request.Context(), p.User.ID, p.Session.ID, c.PostForm("password"), models.ScopeOthers)
	if err != nil {
		status, msg := failureNotice(err)
		if errors.Is(err, models.ErrInvalidCredentials) {
			msg.Text = "Wrong password: no device was signed out."
		}
		h.renderDevices(c, status, msg)
		return
	}
	c.Redirect(http.StatusSeeOther, "/devices?done=others&n="+strconv.Itoa(n))
}

// historyData is one page of the person's session events.
type historyData struct {
	Events []models.SessionEvent
	Next   string
}

func (h *handler) historyPage(c *gin.Context) {
	evs, next, err := h.sessions.History(c.Request.Context(), principal(c).User.ID, 50, c.Query("before"))
	if err != nil {
		h.pageFail(c, err)
		return
	}
	h.render(c, http.StatusOK, "history", pageData{Nav: "history", Wide: true, Data: historyData{Events: evs, Next: next}})
}

func capitalize(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 {
		return s
	}
	return string(unicode.ToTitle(r)) + s[size:]
}
