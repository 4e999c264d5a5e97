package api

import (
	"context"
	"errors"
	"math"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

// DeviceGrantService is what the handlers need of the TV sign-in with a code (RFC 8628).
type DeviceGrantService interface {
	Start(ctx context.Context, req models.DeviceCodeRequest) (models.DeviceCode, error)
	Token(ctx context.Context, deviceCode string) (models.LoginResult, error)
	Waiting(ctx context.Context, userID, ip, userCode string) (models.DeviceAuthorization, error)
	Approve(ctx context.Context, p models.DeviceApproval) (models.LoginResult, error)
	Deny(ctx context.Context, p models.DeviceApproval) error
}

// deviceGrantType is RFC 8628's grant_type of the token request.
const deviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"

var errUnsupportedGrant = errors.New("unsupported grant type")

type deviceCodeRequest struct {
	ClientID string        `json:"client_id"`
	Scope    string        `json:"scope"` // RFC 8628 allows it; sessiond has no scopes
	Device   deviceRequest `json:"device"`
}

type deviceTokenRequest struct {
	GrantType  string `json:"grant_type"`
	DeviceCode string `json:"device_code"`
	ClientID   string `json:"client_id"`
}

// deviceCode starts a device's sign-in with a code: RFC 8628's form or the API's JSON.
func (h *handler) deviceCode(c *gin.Context) {
	var req deviceCodeRequest
	form, err := oauthForm(c, "client_id", "scope", "device_id", "device_name", "device_type")
	switch {
	case err != nil:
		h.fail(c, err)
		return
	case form != nil:
		req = deviceCodeRequest{ClientID: form.Get("client_id"), Scope: form.Get("scope"), Device: deviceRequest{
			ID: form.Get("device_id"), Name: form.Get("device_name"), Type: form.Get("device_type")}}
	default:
		if err := decode(c, &req); err != nil {
			h.fail(c, err)
			return
		}
	}
	if req.Device.Key != "" {
		h.fail(c, models.Invalid("device.key", "is not taken here: a device signed in with a code gets a new key"))
		return
	}
	dc, err := h.grant.Start(c.Request.Context(), models.DeviceCodeRequest{
		ClientID: req.ClientID, Device: req.Device.model(), IP: c.ClientIP(), UserAgent: c.Request.UserAgent(),
	})
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{
		"device_code": dc.DeviceCode, "user_code": dc.UserCode,
		"verification_uri": dc.VerificationURI, "verification_uri_complete": dc.VerificationURIComplete,
		"expires_in": int(dc.ExpiresIn / time.Second), "interval": int(dc.Interval / time.Second),
	})
}

// deviceToken answers a device's poll, in OAuth's shapes (RFC 6749 §5.1 and §5.2).
func (h *handler) deviceToken(c *gin.Context) {
	var req deviceTokenRequest
	form, err := oauthForm(c, "grant_type", "device_code", "client_id")
	switch {
	case err != nil:
		h.failOAuth(c, err)
		return
	case form != nil:
		req = deviceTokenRequest{GrantType: form.Get("grant_type"), DeviceCode: form.Get("device_code"), ClientID: form.Get("client_id")}
	default:
		if err := decode(c, &req); err != nil {
			h.failOAuth(c, err)
			return
		}
	}
	switch {
	case req.GrantType == "":
		h.failOAuth(c, models.Invalid("grant_type", "is required"))
		return
	case req.GrantType != deviceGrantType:
		h.failOAuth(c, errUnsupportedGrant)
		return
	case req.DeviceCode == "":
		h.failOAuth(c, models.Invalid("device_code", "is required"))
		return
	}
	res, err := h.grant.Token(c.Request.Context(), req.DeviceCode)
	if err != nil {
		h.failOAuth(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{
		"access_token": res.Token, "token_type": "Bearer",
		"expires_in": max(int(math.Floor(res.Session.ExpiresAt.Sub(time.Now()).Seconds())), 0),
		"session":    toSession(res.Session, res.Session.ID), "user": toUser(res.User),
		"evicted": toSessions(res.Evicted, ""), "device_key": res.DeviceKey,
	})
}

// oauthForm reads an RFC 6749 form-encoded body (nil, nil when the body is not a form): a
// parameter given twice is refused (§3.1); parameters it does not know are ignored, as the
// RFC asks of servers. names are the parameters read.
func oauthForm(c *gin.Context, names ...string) (url.Values, error) {
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return nil, nil
	}
	if err := c.Request.ParseForm(); err != nil {
		return nil, formError(err)
	}
	for _, n := range names {
		if len(c.Request.PostForm[n]) > 1 {
			return nil, models.Invalid(n, "is given more than once")
		}
	}
	return c.Request.PostForm, nil
}

// failOAuth writes the token endpoint's errors in OAuth's shape, {"error", "error_description"}
// (RFC 6749 §5.2, RFC 8628 §3.5). What is not the grant's (a body too large, the wrong media
// type, the store down) keeps the API's shape and status.
func (h *handler) failOAuth(c *gin.Context, err error) {
	var (
		slow       *models.SlowDownError
		validation *models.ValidationError
	)
	body := gin.H{}
	switch {
	case errors.As(err, &slow):
		body["error"], body["error_description"] = "slow_down", "Polled too often: wait the interval, now longer, between polls."
		body["interval"] = int(slow.Interval / time.Second)
	case errors.Is(err, models.ErrAuthorizationPending):
		body["error"], body["error_description"] = "authorization_pending", "Waiting for the person to approve the code."
	case errors.Is(err, models.ErrAccessDenied):
		body["error"], body["error_description"] = "access_denied", "The person denied the sign-in."
	case errors.Is(err, models.ErrExpiredToken):
		body["error"], body["error_description"] = "expired_token", "The code expired or was used: ask for a new one."
	case errors.Is(err, models.ErrInvalidGrant):
		body["error"], body["error_description"] = "invalid_grant", "Unknown device code."
	case errors.Is(err, errUnsupportedGrant):
		body["error"], body["error_description"] = "unsupported_grant_type", "grant_type must be "+deviceGrantType+"."
	case errors.As(err, &validation):
		body["error"], body["error_description"] = "invalid_request", validation.Error()
	default:
		h.fail(c, err)
		return
	}
	c.AbortWithStatusJSON(http.StatusBadRequest, body)
}

type deviceAnswerRequest struct {
	UserCode          string   `json:"user_code"`
	ReplaceSessionIDs []string `json:"replace_session_ids"`
}

// deviceWaiting shows the signed-in person what asks to be signed in under a user code.
func (h *handler) deviceWaiting(c *gin.Context) {
	p := Principal(c)
	codes := c.Request.URL.Query()["user_code"]
	if len(codes) != 1 {
		h.fail(c, models.Invalid("user_code", "is required, once"))
		return
	}
	a, err := h.grant.Waiting(c.Request.Context(), p.User.ID, c.ClientIP(), codes[0])
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{
		"user_code": models.FormatUserCode(a.UserCode),
		"device":    toSession(models.Session{DeviceID: a.DeviceID, DeviceName: a.DeviceName, DeviceType: a.DeviceType}, "").Device,
		"client_id": a.ClientID, "ip": a.IP, "user_agent": a.UserAgent,
		"created_at": a.CreatedAt.UTC(), "expires_at": a.ExpiresAt.UTC(),
	})
}

// deviceApprove signs the waiting device in to the approver's account, under its device limit.
func (h *handler) deviceApprove(c *gin.Context) {
	p, req, ok := h.deviceAnswer(c)
	if !ok {
		return
	}
	if _, err := h.grant.Approve(c.Request.Context(), models.DeviceApproval{
		UserID: p.User.ID, SessionID: p.Session.ID, UserCode: req.UserCode, IP: c.ClientIP(), ReplaceSessionIDs: req.ReplaceSessionIDs,
	}); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// deviceDeny refuses the waiting device: its next poll is access_denied.
func (h *handler) deviceDeny(c *gin.Context) {
	p, req, ok := h.deviceAnswer(c)
	if !ok {
		return
	}
	if len(req.ReplaceSessionIDs) > 0 {
		h.fail(c, models.Invalid("replace_session_ids", "is for approving"))
		return
	}
	if err := h.grant.Deny(c.Request.Context(), models.DeviceApproval{
		UserID: p.User.ID, SessionID: p.Session.ID, UserCode: req.UserCode, IP: c.ClientIP(),
	}); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *handler) deviceAnswer(c *gin.Context) (models.Principal, deviceAnswerRequest, bool) {
	var req deviceAnswerRequest
	if err := decode(c, &req); err != nil {
		h.fail(c, err)
		return models.Principal{}, req, false
	}
	if req.UserCode == "" {
		h.fail(c, models.Invalid("user_code", "is required"))
		return models.Principal{}, req, false
	}
	return Principal(c), req, true
}
