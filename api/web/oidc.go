package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/models"
)

// The browser's side of a sign-in through an identity provider (the authorization-code flow):
// the start, and the callback that ends in the one login core like every other way in.

// oidcStart sends the browser to the provider. Device name and type come as query parameters
// (the sign-in page's buttons prefill them from the browser); return_to must be one of our paths.
func (h *Handler) oidcStart(c *gin.Context) {
	if h.oidc == nil {
		h.oidcFail(c, models.ErrUnknownProvider)
		return
	}
	to, err := h.oidc.Start(c.Request.Context(), c.Param("provider"), models.OIDCStart{
		Device: models.Device{
			ID: h.browserID(c), Name: c.Query("device_name"), Type: models.DeviceType(c.Query("device_type")),
		},
		ReturnTo: safeNext(c.Query("return_to")),
		IP:       c.ClientIP(),
	})
	if err != nil {
		h.oidcFail(c, err)
		return
	}
	h.cookies.Put(c, h.cookies.OIDC(to.State), to.Browser, int((10*time.Minute)/time.Second))
	c.Redirect(http.StatusSeeOther, to.URL)
}

// oidcCallback is where the provider sends the browser back: sign the device in and go on, to
// the chooser when a reject plan holds the sign-in at the limit, or explain what failed.
func (h *Handler) oidcCallback(c *gin.Context) {
	if h.oidc == nil {
		h.oidcFail(c, models.ErrUnknownProvider)
		return
	}
	state := c.Query("state")
	browser, _ := c.Cookie(h.cookies.OIDC(state))
	h.cookies.Delete(c, h.cookies.OIDC(state))
	if e := c.Query("error"); e != "" {
		// The provider's own refusal (the person cancelled, or it refused us): nothing to spend.
		text := "The sign-in was cancelled or refused at the provider. Nothing changed here: sign in again when you are ready."
		h.render(c, http.StatusUnauthorized, "error", pageData{Data: map[string]string{"Title": "Sign-in not completed", "Text": text}})
		return
	}
	res, returnTo, err := h.oidc.Callback(c.Request.Context(), c.Param("provider"), models.OIDCCallback{
		State: state, Code: c.Query("code"), Browser: browser, IP: c.ClientIP(), UserAgent: c.Request.UserAgent(),
		DeviceKey: h.cookies.PresentedDeviceKey(c, ""),
	})
	var limit *models.DeviceLimitError
	switch {
	case err == nil:
		h.cookies.SignIn(c, res)
		h.clearPending(c)
		c.Redirect(http.StatusSeeOther, returnTo)
	case errors.As(err, &limit) && limit.Pending != "":
		h.setPending(c, limit.Pending, limit.PendingExpiresAt)
		c.Redirect(http.StatusSeeOther, "/devices/limit")
	default:
		h.oidcFail(c, err)
	}
}

// oidcFail explains a failed browser sign-in on a page, with the API's status and code.
func (h *Handler) oidcFail(c *gin.Context, err error) {
	e := api.Classify(err)
	text, ok := oidcTexts[e.Code]
	if !ok {
		h.fail(c, err)
		return
	}
	if e.RetryAfter != "" {
		c.Header("Retry-After", e.RetryAfter)
	}
	c.Header("X-Error-Code", e.Code)
	h.render(c, e.Status, "error", pageData{Data: map[string]string{"Title": "Sign-in not completed", "Text": text}})
}

var oidcTexts = map[string]string{
	"not_found":            "There is no such sign-in provider here.",
	"invalid_state":        "This sign-in link has expired, was already used, or was started in another browser. Start again from the sign-in page.",
	"invalid_id_token":     "The provider's answer could not be accepted. Start again from the sign-in page.",
	"email_not_verified":   "The provider did not confirm your email address, so it cannot sign you in here.",
	"identity_not_linked":  "An account with your email already exists here. Sign in with its password instead.",
	"registration_closed":  "There is no account for you here, and new accounts cannot be created at the moment.",
	"invalid_credentials":  "This account cannot sign in.",
	"provider_unavailable": "The sign-in provider could not be reached. Try again in a moment.",
	"unavailable":          "sessiond cannot reach its store right now. Try again in a moment.",
	"invalid_request":      "The device name or type is not valid. Start again from the sign-in page.",
	"rate_limited":         "Too many attempts. Wait a moment, then try again.",
}
