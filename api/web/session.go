package web

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/models"
)

// Page auth: the session cookie, and what a browser whose session ended is told.

// requireSession lets through the holder of a valid session cookie (bearer tokens are for the
// API) and keeps the principal for api.Principal. Without one the browser goes to the sign-in
// page, which tells a device that was signed out why.
func (h *Handler) requireSession(c *gin.Context) {
	token, err := c.Cookie(h.cookies.Session())
	if err != nil || token == "" {
		h.toLogin(c)
		return
	}
	p, err := h.sessions.Authenticate(c.Request.Context(), token)
	if err != nil {
		if why := signedOutBecause(err); why != nil {
			// The session cookie only: the note set here must reach the sign-in page.
			h.cookies.Delete(c, h.cookies.Session())
			h.setSignedOut(c, *why)
			h.toLogin(c)
			return
		}
		h.fail(c, err)
		return
	}
	api.SetPrincipal(c, p)
	c.Next()
}

// toLogin sends the browser to the sign-in page, to come back here afterwards if here is a
// page (a form's target is not).
func (h *Handler) toLogin(c *gin.Context) {
	to := "/login"
	if c.Request.Method == http.MethodGet {
		to += "?next=" + url.QueryEscape(c.Request.URL.RequestURI())
	}
	c.Redirect(http.StatusSeeOther, to)
	c.Abort()
}

// signedOut is why a browser's session ended, carried to the sign-in page in a cookie of a
// minute (set by us only, so a link cannot make the page say anything).
type signedOut struct {
	Kind   string              `json:"k"` // evicted, revoked, expired, invalid
	By     string              `json:"b,omitempty"`
	Limit  int                 `json:"l,omitempty"`
	Reason models.RevokeReason `json:"r,omitempty"`
}

// signedOutBecause says why a session cookie stopped working, or nil when the error is not
// about the session (the store is down, say).
func signedOutBecause(err error) *signedOut {
	var (
		evicted *models.SessionEvictedError
		revoked *models.SessionRevokedError
	)
	switch {
	case errors.As(err, &evicted):
		return &signedOut{Kind: "evicted", By: evicted.ByDeviceName, Limit: evicted.Limit}
	case errors.As(err, &revoked):
		return &signedOut{Kind: "revoked", Reason: revoked.Reason}
	case errors.Is(err, models.ErrSessionExpired):
		return &signedOut{Kind: "expired"}
	case errors.Is(err, models.ErrSessionInvalid):
		return &signedOut{Kind: "invalid"}
	}
	return nil
}

func (h *Handler) setSignedOut(c *gin.Context, why signedOut) {
	b, _ := json.Marshal(why)
	h.cookies.Put(c, h.cookies.SignedOut(), base64.RawURLEncoding.EncodeToString(b), 60)
}

// takeSignedOut reads and clears the reason the last session ended, as a notice, if any.
func (h *Handler) takeSignedOut(c *gin.Context) *notice {
	v, err := c.Cookie(h.cookies.SignedOut())
	if err != nil {
		return nil
	}
	h.cookies.Delete(c, h.cookies.SignedOut())
	var why signedOut
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || json.Unmarshal(b, &why) != nil {
		return nil
	}
	return why.notice()
}

func (w signedOut) notice() *notice {
	const title = "This device was signed out"
	switch w.Kind {
	case "evicted":
		who := "Another device"
		if w.By != "" {
			who = w.By
		}
		text := who + " signed in and your plan's device limit was reached."
		if w.Limit > 0 {
			text = fmt.Sprintf("%s signed in and your plan allows %d %s.", who, w.Limit, plural(w.Limit, "device", "devices"))
		}
		return &notice{Kind: "warn", Title: title, Text: text + " Sign in again to use it here; another device will be signed out."}
	case "revoked":
		if text, ok := revokeReasonText[w.Reason]; ok {
			return &notice{Kind: "warn", Title: title, Text: text}
		}
		return &notice{Kind: "warn", Title: title}
	case "expired":
		return &notice{Kind: "warn", Title: "Your session expired", Text: "Sign in again to continue."}
	case "invalid":
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
	models.ReasonPasswordReset:   "Your password was reset through a mailed link, which signs out every device.",
}
