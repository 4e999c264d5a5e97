package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

// The /tv page behaves like a TV signing in with a code (RFC 8628), in a browser and without
// script: it asks for a code, shows it large with a QR code of the verification link, and
// polls by reloading itself every interval (a meta refresh). The device code lives in an
// HttpOnly cookie of the code's lifetime; once approved, the page signs this browser in.

const tvClientID = "sessiond-tv-page"

// tvData is the TV page: a start button, the code to enter, or the outcome.
type tvData struct {
	State      string // start, waiting, signed_in, denied, expired
	UserCode   string
	Verify     string // the verification URI
	Complete   string // the verification URI with the code
	QR         any    // template.HTML of the QR code
	Refresh    int    // seconds between polls
	DeviceName string
	Email      string
}

func (h *Handler) tvCookie() string { return h.cookies.Session() + "-tv" }

// tvPage shows the TV: a new code, or the code waiting, or the outcome of one poll.
func (h *Handler) tvPage(c *gin.Context) {
	raw, err := c.Cookie(h.tvCookie())
	if err != nil || raw == "" {
		h.render(c, http.StatusOK, "tv", pageData{Data: tvData{State: "start", DeviceName: "Living room TV"}})
		return
	}
	v, err := url.ParseQuery(raw)
	if err != nil || v.Get("dc") == "" {
		h.cookies.Delete(c, h.tvCookie())
		h.render(c, http.StatusOK, "tv", pageData{Data: tvData{State: "start", DeviceName: "Living room TV"}})
		return
	}
	d := tvData{UserCode: v.Get("uc"), Verify: v.Get("v"), Complete: v.Get("vc"), DeviceName: v.Get("n")}
	d.Refresh, _ = strconv.Atoi(v.Get("i"))
	res, err := h.grant.Token(c.Request.Context(), v.Get("dc"))
	var slow *models.SlowDownError
	switch {
	case err == nil:
		h.cookies.Delete(c, h.tvCookie())
		h.cookies.SignIn(c, res)
		d.State, d.Email, d.DeviceName = "signed_in", res.User.Email, res.Session.DeviceName
	case errors.As(err, &slow):
		d.Refresh = int(slow.Interval / time.Second)
		v.Set("i", strconv.Itoa(d.Refresh))
		h.cookies.Put(c, h.tvCookie(), v.Encode(), 3600)
		d.State = "waiting"
	case errors.Is(err, models.ErrAuthorizationPending):
		d.State = "waiting"
	case errors.Is(err, models.ErrAccessDenied):
		h.cookies.Delete(c, h.tvCookie())
		d.State = "denied"
	case errors.Is(err, models.ErrExpiredToken), errors.Is(err, models.ErrInvalidGrant):
		h.cookies.Delete(c, h.tvCookie())
		d.State = "expired"
	default:
		h.fail(c, err)
		return
	}
	if d.State == "waiting" {
		if d.QR, err = qrSVG(d.Complete, "QR code of "+d.Complete); err != nil {
			h.fail(c, err)
			return
		}
	}
	h.render(c, http.StatusOK, "tv", pageData{Data: d})
}

// tvStart asks for a code for this browser-TV and shows it (POST, then redirect, then GET).
func (h *Handler) tvStart(c *gin.Context) {
	name := c.PostForm("device_name")
	dc, err := h.grant.Start(c.Request.Context(), models.DeviceCodeRequest{
		ClientID: tvClientID, Device: models.Device{Name: name, Type: "tv"}, IP: c.ClientIP(), UserAgent: c.Request.UserAgent(),
	})
	if err != nil {
		status, n := failureNotice(err)
		h.render(c, status, "tv", pageData{Notice: n, Data: tvData{State: "start", DeviceName: name}})
		return
	}
	if name == "" {
		name = "TV"
	}
	v := url.Values{"dc": {dc.DeviceCode}, "uc": {dc.UserCode}, "v": {dc.VerificationURI}, "vc": {dc.VerificationURIComplete},
		"i": {strconv.Itoa(int(dc.Interval / time.Second))}, "n": {name}}
	h.cookies.Put(c, h.tvCookie(), v.Encode(), int(dc.ExpiresIn/time.Second))
	c.Redirect(http.StatusSeeOther, "/tv")
}
