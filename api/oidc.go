package api

import (
	"context"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

// OIDCService is what the handlers need of sign-ins through external identity providers: a
// native client's ID token, and the identities an admin sees. (The browser's flow is the
// pages': package web.)
type OIDCService interface {
	LoginWithIDToken(ctx context.Context, provider string, p models.IDTokenLogin) (models.LoginResult, error)
	Identities(ctx context.Context, userID string) ([]models.Identity, error)
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
