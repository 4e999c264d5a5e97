package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/models"
)

// The "Your devices" page: the list, signing one device out (with the password when this
// browser signed in recently and the device before it), signing all others out.

// devicesData is the "Your devices" page.
type devicesData struct {
	Sessions    []models.Session
	CurrentID   string
	Limit       int
	Noun        string // "device" or "devices", for "1 of 1 device", "2 of 1 devices"
	PlanName    string
	Policy      string
	OverLimit   string // what being over the limit means, if the account is
	BadPassword bool   // the password of "sign out all others" was refused
	// Confirm marks the devices this one, signed in less than FreshAge ago, may sign out only
	// with the password; Asked is the one whose sign-out was just refused for it (the notice
	// says why).
	Confirm  map[string]bool
	FreshAge string
	Asked    string
	Playing  *playing // nil: the pages run without streams
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

func (h *Handler) devicesPage(c *gin.Context) {
	h.renderDevices(c, http.StatusOK, doneNotice(c), "")
}

// renderDevices renders the devices page with notice n; asked names the device whose sign-out
// just asked for the password, if any.
func (h *Handler) renderDevices(c *gin.Context, status int, n *notice, asked string) {
	p := api.Principal(c)
	list, err := h.sessions.List(c.Request.Context(), p.User.ID)
	if err != nil {
		h.fail(c, err)
		return
	}
	now, err := h.playingNow(c.Request.Context(), p.User.ID)
	if err != nil {
		h.fail(c, err)
		return
	}
	signedIn := len(list.Sessions)
	d := devicesData{
		Sessions: list.Sessions, CurrentID: p.Session.ID, Limit: list.Limit.Max,
		Noun:     plural(max(signedIn, list.Limit.Max), "device", "devices"),
		PlanName: capitalize(p.Plan.Name), Policy: policyTexts[list.Limit.Policy],
		BadPassword: asked == "" && n != nil && n.Kind == "error",
		Confirm:     map[string]bool{}, FreshAge: longDuration(list.FreshSessionAge), Asked: asked, Playing: now,
	}
	for _, s := range list.Sessions {
		if s.ID == asked || list.NeedsPassword(p.Session, s) {
			d.Confirm[s.ID] = true
		}
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
	return streamNotice(c.Query("done"))
}

func (h *Handler) signOutDevice(c *gin.Context) {
	p := api.Principal(c)
	id := c.Param("id")
	err := h.sessions.Revoke(c.Request.Context(), p.User.ID, p.Session.ID, id, c.PostForm("password"))
	var limited *models.RateLimitedError
	switch {
	case err == nil:
		c.Redirect(http.StatusSeeOther, "/devices?done=signed_out")
	case errors.Is(err, models.ErrNotFound):
		c.Redirect(http.StatusSeeOther, "/devices?done=gone")
	case errors.Is(err, models.ErrSessionTooNew):
		status, n := failureNotice(err)
		n.Text = "This device signed in recently: enter your password to sign out a device that signed in before it."
		if errors.Is(err, models.ErrInvalidCredentials) {
			n.Text = "Wrong password: the device was not signed out."
		}
		h.renderDevices(c, status, n, id)
	case errors.As(err, &limited):
		status, n := failureNotice(err)
		h.renderDevices(c, status, n, id)
	default:
		h.fail(c, err)
	}
}

func (h *Handler) signOutOthers(c *gin.Context) {
	p := api.Principal(c)
	n, err := h.sessions.RevokeAll(c.Request.Context(), p.User.ID, p.Session.ID, c.PostForm("password"), models.ScopeOthers)
	if err != nil {
		status, msg := failureNotice(err)
		if errors.Is(err, models.ErrInvalidCredentials) {
			msg.Text = "Wrong password: no device was signed out."
		}
		h.renderDevices(c, status, msg, "")
		return
	}
	c.Redirect(http.StatusSeeOther, "/devices?done=others&n="+strconv.Itoa(n))
}
