package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/models"
)

// The /activate page is the person's side of the TV sign-in with a code: enter (or confirm
// the prefilled) code, see what asks to be signed in, with the warning RFC 8628 §5.4 asks for
// (remote phishing), and approve or deny. On a reject plan at the limit it shows the chooser.

// activateData is the activate page: the code form, the waiting device, the chooser, or the
// outcome.
type activateData struct {
	State       string // enter, confirm, limit, approved, denied
	Code        string
	Device      models.DeviceAuthorization
	Limit       int
	MustSignOut int
	Sessions    []models.Session
	DeviceName  string
	Now         time.Time // the pages' clock, for "last active … ago"
}

// Several reports whether more than one device must be signed out.
func (d activateData) Several() bool { return d.MustSignOut > 1 }

// Choice is the chooser's list at the limit.
func (d activateData) Choice() choice {
	return sessionChoice(d.Sessions, nil, d.MustSignOut, false, d.Now)
}

func (h *Handler) activatePage(c *gin.Context) {
	code := c.Query("code")
	if code == "" {
		h.render(c, http.StatusOK, "activate", pageData{Data: activateData{State: "enter"}})
		return
	}
	p := api.Principal(c)
	a, err := h.grant.Waiting(c.Request.Context(), p.User.ID, c.ClientIP(), code)
	if err != nil {
		h.activateFailed(c, code, err)
		return
	}
	h.render(c, http.StatusOK, "activate", pageData{Data: activateData{State: "confirm", Code: models.FormatUserCode(a.UserCode), Device: a}})
}

// activateFailed shows the code form again, saying why the code did not work.
func (h *Handler) activateFailed(c *gin.Context, code string, err error) {
	status, n := failureNotice(err)
	var v *models.ValidationError
	switch {
	case errors.Is(err, models.ErrNotFound):
		n = &notice{Kind: "error", Title: "That code did not work", Text: "It is unknown, expired or already used. Check the code on the TV, or ask it for a new one."}
	case errors.As(err, &v):
		n = &notice{Kind: "error", Title: "That is not a TV code", Text: "A code is 8 letters, like BDWP-HQPK."}
	}
	h.render(c, status, "activate", pageData{Notice: n, Data: activateData{State: "enter", Code: code}})
}

func (h *Handler) activateApprove(c *gin.Context) {
	p := api.Principal(c)
	code := c.PostForm("user_code")
	res, err := h.grant.Approve(c.Request.Context(), models.DeviceApproval{
		UserID: p.User.ID, SessionID: p.Session.ID, UserCode: code, IP: c.ClientIP(),
		ReplaceSessionIDs: c.PostFormArray("replace_session_id"),
	})
	var limit *models.DeviceLimitError
	switch {
	case errors.As(err, &limit):
		var n *notice
		if len(c.PostFormArray("replace_session_id")) > 0 {
			n = &notice{Kind: "error", Text: "Choose more devices to sign out."}
		}
		h.render(c, http.StatusConflict, "activate", pageData{Notice: n, Data: activateData{
			State: "limit", Code: code, DeviceName: limit.Device.Name, Limit: limit.Limit, MustSignOut: limit.MustSignOut, Sessions: limit.Sessions, Now: h.now(),
		}})
	case err != nil:
		h.activateFailed(c, code, err)
	default:
		h.render(c, http.StatusOK, "activate", pageData{Notice: &notice{Kind: "ok", Text: res.Session.DeviceName + " is signed in."},
			Data: activateData{State: "approved", DeviceName: res.Session.DeviceName}})
	}
}

func (h *Handler) activateDeny(c *gin.Context) {
	p := api.Principal(c)
	code := c.PostForm("user_code")
	err := h.grant.Deny(c.Request.Context(), models.DeviceApproval{UserID: p.User.ID, SessionID: p.Session.ID, UserCode: code, IP: c.ClientIP()})
	if err != nil {
		h.activateFailed(c, code, err)
		return
	}
	h.render(c, http.StatusOK, "activate", pageData{Notice: &notice{Kind: "ok", Text: "The TV was not signed in."},
		Data: activateData{State: "denied"}})
}
