package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
)

// RecoveryService is what the handlers need of account recovery and verified email.
type RecoveryService interface {
	Forgot(ctx context.Context, email, ip string) error
	Reset(ctx context.Context, token, newPassword string) error
	VerifyEmail(ctx context.Context, token string) error
	ResendVerification(ctx context.Context, userID, ip string) error
}

type forgotRequest struct {
	Email string `json:"email"`
}

// forgotPassword answers 202 whether or not the account exists (the service does the same work
// either way).
func (h *handler) forgotPassword(c *gin.Context) {
	var req forgotRequest
	if err := decode(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	if err := h.recovery.Forgot(c.Request.Context(), req.Email, c.ClientIP()); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusAccepted)
}

type resetRequest struct {
	Token       string `json:"token"`
	NewPassword string `json:"new_password"`
}

func (h *handler) resetPassword(c *gin.Context) {
	var req resetRequest
	if err := decode(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	if err := h.recovery.Reset(c.Request.Context(), req.Token, req.NewPassword); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type verifyRequest struct {
	Token string `json:"token"`
}

func (h *handler) verifyEmail(c *gin.Context) {
	var req verifyRequest
	if err := decode(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	if err := h.recovery.VerifyEmail(c.Request.Context(), req.Token); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *handler) resendVerification(c *gin.Context) {
	p := Principal(c)
	if err := h.recovery.ResendVerification(c.Request.Context(), p.User.ID, c.ClientIP()); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusAccepted)
}
