package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

// Account recovery in the browser: /forgot asks for the link, /reset sets the new password
// with it, /verify confirms an address, /verify/resend mails a new verification link to a
// person whose login was refused for want of one.

// RecoveryService is what the pages need of account recovery and verified email.
type RecoveryService interface {
	Forgot(ctx context.Context, email, ip string) error
	Reset(ctx context.Context, token, newPassword string) error
	VerifyEmail(ctx context.Context, token string) error
	ResendVerificationTo(ctx context.Context, email, ip string) error
}

// recoveryForm is the data of /forgot, /reset and /verify.
type recoveryForm struct {
	Email  string
	Token  string
	Sent   bool              // /forgot: the mail is on its way
	Done   bool              // /reset, /verify: it worked
	Fields map[string]string // field → problem
}

func (h *Handler) forgotPage(c *gin.Context) {
	h.render(c, http.StatusOK, "forgot", pageData{Data: recoveryForm{Email: c.Query("email")}})
}

// forgotSubmit answers the same for every address (the service does the same work for each).
func (h *Handler) forgotSubmit(c *gin.Context) {
	f := recoveryForm{Email: c.PostForm("email")}
	if err := h.recovery.Forgot(c.Request.Context(), f.Email, c.ClientIP()); err != nil {
		status, n := failureNotice(err)
		f.Fields = fieldErrors(err, map[string]string{"email": "email"})
		h.render(c, status, "forgot", pageData{Notice: n, Data: f})
		return
	}
	f.Sent = true
	h.render(c, http.StatusOK, "forgot", pageData{Data: f, Notice: &notice{Kind: "ok", Title: "Check your mail",
		Text: "If an account has this address, a link to choose a new password is on its way. It works once, for 30 minutes."}})
}

func (h *Handler) resetPage(c *gin.Context) {
	h.render(c, http.StatusOK, "reset", pageData{Data: recoveryForm{Token: c.Query("token")}})
}

func (h *Handler) resetSubmit(c *gin.Context) {
	f := recoveryForm{Token: c.PostForm("token")}
	err := h.recovery.Reset(c.Request.Context(), f.Token, c.PostForm("new_password"))
	if err != nil {
		status, n := failureNotice(err)
		if errors.Is(err, models.ErrTokenInvalid) {
			f.Token = "" // nothing more to do with it: the page offers a new link
		}
		h.render(c, status, "reset", pageData{Notice: n, Data: f})
		return
	}
	h.cookies.SignOut(c) // this browser's session, if any, ended with the others
	f.Done = true
	h.render(c, http.StatusOK, "reset", pageData{Data: f, Notice: &notice{Kind: "ok", Title: "Your password is changed",
		Text: "Every device on your account is signed out. Sign in with the new password."}})
}

// verifyPage asks before it verifies: opening the link (a mail scanner may open it too)
// changes nothing; the button posts the token.
func (h *Handler) verifyPage(c *gin.Context) {
	h.render(c, http.StatusOK, "verify", pageData{Data: recoveryForm{Token: c.Query("token")}})
}

func (h *Handler) verifySubmit(c *gin.Context) {
	f := recoveryForm{Token: c.PostForm("token")}
	if err := h.recovery.VerifyEmail(c.Request.Context(), f.Token); err != nil {
		status, n := failureNotice(err)
		f.Token = ""
		h.render(c, status, "verify", pageData{Notice: n, Data: f})
		return
	}
	f.Done = true
	h.render(c, http.StatusOK, "verify", pageData{Data: f, Notice: &notice{Kind: "ok", Title: "Your address is verified",
		Text: "Thank you. You can sign in now."}})
}

// resendSubmit mails a new verification link to the address a refused login named; the same
// answer whether or not an account has it.
func (h *Handler) resendSubmit(c *gin.Context) {
	f := recoveryForm{Email: c.PostForm("email")}
	if err := h.recovery.ResendVerificationTo(c.Request.Context(), f.Email, c.ClientIP()); err != nil {
		status, n := failureNotice(err)
		h.render(c, status, "verify", pageData{Notice: n, Data: f})
		return
	}
	f.Sent = true
	h.render(c, http.StatusOK, "verify", pageData{Data: f, Notice: &notice{Kind: "ok", Title: "Check your mail",
		Text: "If this address has an account waiting to be verified, a new link is on its way."}})
}
