package web

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

// Sign-up in the browser (/register): the same use case as POST /v1/auth/register, then the
// one sign-in of this browser through the login core, so the new account lands on its devices.

// registerForm is the sign-up form as shown, and as posted back.
type registerForm struct {
	Closed      bool // SESSIOND_REGISTRATION=closed: no form
	Email       string
	DisplayName string
	DeviceName  string
	DeviceType  string
	Fields      map[string]string // field → problem
}

func (h *Handler) registerPage(c *gin.Context) {
	name, typ := devicePrefill(c.Request.UserAgent())
	status := http.StatusOK
	if h.closed {
		status = http.StatusForbidden // as the API answers registration_closed
	}
	h.render(c, status, "register", pageData{Data: registerForm{Closed: h.closed, DeviceName: name, DeviceType: string(typ)}})
}

func (h *Handler) registerSubmit(c *gin.Context) {
	f := registerForm{Email: c.PostForm("email"), DisplayName: c.PostForm("display_name"),
		DeviceName: c.PostForm("device_name"), DeviceType: c.PostForm("device_type")}
	password := c.PostForm("password")
	_, err := h.users.Register(c.Request.Context(), models.RegisterParams{
		Email: f.Email, Password: password, DisplayName: f.DisplayName, IP: c.ClientIP(),
	})
	var weak *models.WeakPasswordError
	switch {
	case err == nil:
	case errors.Is(err, models.ErrRegistrationClosed):
		f.Closed = true
		h.render(c, http.StatusForbidden, "register", pageData{Data: f})
		return
	case errors.As(err, &weak):
		f.Fields = map[string]string{"password": "The " + weak.Reason + "."}
		h.render(c, http.StatusBadRequest, "register", pageData{Notice: &notice{Kind: "error", Title: "Choose another password",
			Text: "The " + weak.Reason + "."}, Data: f})
		return
	case errors.Is(err, models.ErrConflict):
		h.render(c, http.StatusConflict, "register", pageData{Notice: &notice{Kind: "error", Title: "That email has an account",
			Text: "Sign in instead, or use “Forgot your password” if you have one."}, Data: f})
		return
	default:
		status, n := failureNotice(err)
		f.Fields = fieldErrors(err, map[string]string{"email": "email", "display_name": "display_name"})
		if status >= http.StatusInternalServerError {
			h.fail(c, err)
			return
		}
		h.render(c, status, "register", pageData{Notice: n, Data: f})
		return
	}
	// Signed in at once, through the one login core, as this browser.
	res, err := h.sessions.Login(c.Request.Context(), models.LoginParams{
		Email: f.Email, Password: password,
		Device:    models.Device{ID: h.browserID(c), Name: f.DeviceName, Type: models.DeviceType(f.DeviceType)},
		DeviceKey: h.cookies.PresentedDeviceKey(c, ""), IP: c.ClientIP(), UserAgent: c.Request.UserAgent(), KeepPending: true,
	})
	h.finishLogin(c, res, err, loginForm{Email: f.Email, DeviceName: f.DeviceName, DeviceType: f.DeviceType, Next: "/devices"})
}
