package web

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

// limitData is the chooser: the device waiting to sign in, the devices that could make room
// for it, and how many of them must go. One is a choice of one (radio buttons, which the
// browser insists on); more, when the account is over its limit, is a choice of several
// (checkboxes).
type limitData struct {
	Device      string
	Limit       int
	MustSignOut int // 0: a device signed out meanwhile, the sign-in can go ahead without a choice
	Sessions    []models.Session
	Chosen      map[string]bool // checked: the choice the person made last
	MinutesLeft int
	Now         time.Time // the pages' clock, for "last active … ago"
}

// Free reports whether there is room without a choice.
func (d limitData) Free() bool { return d.MustSignOut == 0 }

// Several reports whether more than one device must be signed out.
func (d limitData) Several() bool { return d.MustSignOut > 1 }

// Choice is the chooser's list.
func (d limitData) Choice() choice {
	return sessionChoice(d.Sessions, d.Chosen, d.MustSignOut, d.Free(), d.Now)
}

func (h *Handler) chooserPage(c *gin.Context) {
	token, err := c.Cookie(h.cookies.Pending())
	if err != nil || token == "" {
		c.Redirect(http.StatusSeeOther, "/login")
		return
	}
	held, err := h.sessions.Held(c.Request.Context(), token)
	if errors.Is(err, models.ErrPendingLoginInvalid) {
		h.clearPending(c)
		h.renderLogin(c, http.StatusOK, prefilledLogin(c, ""), expiredChoice)
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	d := limitData{
		Device: held.Device.Name, Limit: held.Limit.Max, MustSignOut: held.MustSignOut, Sessions: held.Sessions,
		MinutesLeft: minutesLeft(held.ExpiresAt, h.now()), Now: h.now(),
	}
	var n *notice
	if c.Query("retry") == "choose" && !d.Free() {
		n = &notice{Kind: "error", Text: "Choose a device to sign out."}
		if d.Several() {
			n.Text = fmt.Sprintf("Choose %d devices to sign out.", d.MustSignOut)
		}
	}
	h.render(c, http.StatusOK, "limit", pageData{Notice: n, Data: d})
}

func minutesLeft(until, now time.Time) int { return max(1, int(until.Sub(now).Minutes()+0.5)) }

var expiredChoice = &notice{Kind: "warn", Title: "That sign-in has expired", Text: "Sign in again to continue."}

func (h *Handler) chooserSubmit(c *gin.Context) {
	token, err := c.Cookie(h.cookies.Pending())
	if err != nil || token == "" {
		c.Redirect(http.StatusSeeOther, "/login")
		return
	}
	// No choice is fine when a device signed out meanwhile; otherwise the limit asks again.
	chosen := c.PostFormArray("replace_session_id")
	res, err := h.sessions.Resume(c.Request.Context(), token, chosen, h.cookies.PresentedDeviceKey(c, ""))
	var (
		limit   *models.DeviceLimitError
		invalid *models.ValidationError
	)
	switch {
	case err == nil:
		h.cookies.SignIn(c, res)
		h.clearPending(c)
		to := "/devices"
		switch n := len(res.Evicted); {
		case n == 1:
			to += "?done=replaced"
		case n > 1:
			to += "?done=replaced&n=" + strconv.Itoa(n)
		}
		c.Redirect(http.StatusSeeOther, to)
	case errors.As(err, &limit) && len(chosen) > 0:
		// Too few, or some of them were gone: ask again, with what is true now and the
		// choice still checked.
		h.render(c, http.StatusConflict, "limit", pageData{Notice: tooFew(limit, chosen), Data: limitData{
			Device: limit.Device.Name, Limit: limit.Limit, MustSignOut: limit.MustSignOut, Sessions: limit.Sessions,
			Chosen: stillListed(limit.Sessions, chosen), MinutesLeft: minutesLeft(limit.PendingExpiresAt, h.now()), Now: h.now(),
		}})
	case errors.As(err, &limit), errors.As(err, &invalid):
		c.Redirect(http.StatusSeeOther, "/devices/limit?retry=choose")
	case errors.Is(err, models.ErrPendingLoginInvalid):
		h.clearPending(c)
		h.renderLogin(c, http.StatusOK, prefilledLogin(c, ""), expiredChoice)
	default:
		h.fail(c, err)
	}
}

// stillListed returns which of the chosen ids are among the sessions.
func stillListed(sessions []models.Session, chosen []string) map[string]bool {
	listed := map[string]bool{}
	for _, s := range sessions {
		if slices.Contains(chosen, s.ID) {
			listed[s.ID] = true
		}
	}
	return listed
}

// tooFew says why a choice did not make room: the devices it named that are gone (signed out
// meanwhile), and how many must go against how many of the chosen are still signed in.
func tooFew(limit *models.DeviceLimitError, chosen []string) *notice {
	kept := len(stillListed(limit.Sessions, chosen))
	named := map[string]bool{}
	for _, id := range chosen {
		named[id] = true
	}
	text := ""
	switch gone := len(named) - kept; {
	case gone == 1:
		text = "A device you chose is no longer signed in. "
	case gone > 1:
		text = fmt.Sprintf("%d devices you chose are no longer signed in. ", gone)
	}
	must := limit.MustSignOut
	if kept == 0 {
		what := "a device"
		if must > 1 {
			what = fmt.Sprintf("%d devices", must)
		}
		text += fmt.Sprintf("To sign in on %s, choose %s to sign out.", limit.Device.Name, what)
	} else {
		text += fmt.Sprintf("To sign in on %s, %d %s must be signed out and you chose %d: choose %d more.",
			limit.Device.Name, must, plural(must, "device", "devices"), kept, must-kept)
	}
	return &notice{Kind: "error", Text: text}
}

// chooserCancel abandons the held sign-in: the browser forgets it and so does the store.
func (h *Handler) chooserCancel(c *gin.Context) {
	if token, err := c.Cookie(h.cookies.Pending()); err == nil && token != "" {
		if err := h.sessions.Cancel(c.Request.Context(), token); err != nil {
			h.fail(c, err)
			return
		}
	}
	h.clearPending(c)
	c.Redirect(http.StatusSeeOther, "/login")
}
