package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

// OIDCService is what the handlers need of sign-ins through external identity providers.
type OIDCService interface {
	Providers() []models.Provider
	Start(ctx context.Context, provider string, p models.OIDCStart) (models.OIDCRedirect, error)
	Callback(ctx context.Context, provider string, cb models.OIDCCallback) (models.LoginResult, string, error)
	LoginWithIDToken(ctx context.Context, provider string, p models.IDTokenLogin) (models.LoginResult, error)
	Identities(ctx context.Context, userID string) ([]models.Identity, error)
}

// oidcStart sends the browser to the provider. Device name and type come as query parameters
// (the sign-in page's buttons prefill them from the browser); return_to must be one of our paths.
func (h *handler) oidcStart(c *gin.Context) {
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
func (h *handler) oidcCallback(c *gin.Context) {
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
func (h *handler) oidcFail(c *gin.Context, err error) {
	e := Classify(err)
	text, ok := oidcTexts[e.Code]
	if !ok {
		h.pageFail(c, err)
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

type idTokenRequest struct {
	IDToken           string        `json:"id_token"`
	Nonce             string        `json:"nonce"`
	Device            deviceRequest `json:"device"`
	ReplaceSessionID  string        `json:"replace_session_id"`
	ReplaceSessionIDs []string      `json:"replace_session_ids"`
}

// oidcToken signs a native client's device in with an ID token it holds: the answers of
// POST /v1/auth/login.
func (h *handler) oidcToken(c *gin.Context) {
	var req idTokenRequest
	if err := decode(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	if h.oidc == nil {
		h.fail(c, models.ErrUnknownProvider)
		return
	}
	res, err := h.oidc.LoginWithIDToken(c.Request.Context(), c.Param("provider"), models.IDTokenLogin{
		IDToken: req.IDToken, Nonce: req.Nonce,
		Device:           req.Device.model(),
		DeviceKey:        h.cookies.PresentedDeviceKey(c, req.Device.Key),
		ReplaceSessionID: req.ReplaceSessionID, ReplaceSessionIDs: req.ReplaceSessionIDs,
		IP: c.ClientIP(), UserAgent: c.Request.UserAgent(),
	})
	if err != nil {
		h.fail(c, err)
		return
	}
	h.writeLogin(c, res)
}
