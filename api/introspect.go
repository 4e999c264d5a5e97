package api

import (
	"errors"
	"mime"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

type introspectRequest struct {
	Token         string `json:"token"`
	TokenTypeHint string `json:"token_type_hint"` // RFC 7662 allows it; there is one kind of token
}

// introspectResponse is RFC 7662's answer; an inactive token gets {"active": false} only.
type introspectResponse struct {
	Active  bool        `json:"active"`
	Sub     string      `json:"sub,omitempty"`
	Sid     string      `json:"sid,omitempty"`
	Exp     int64       `json:"exp,omitempty"`
	Iat     int64       `json:"iat,omitempty"`
	Plan    string      `json:"plan,omitempty"`
	Role    string      `json:"role,omitempty"`
	Device  *deviceJSON `json:"device,omitempty"`
	IdleExp int64       `json:"idle_exp,omitempty"` // extension: when the session idles out unless used
}

// introspect answers a service client (HTTP Basic) about a token sent as JSON or, as RFC 7662
// has it, form-encoded.
func (h *handler) introspect(c *gin.Context) {
	id, secret, ok := c.Request.BasicAuth()
	if !ok {
		h.failClient(c)
		return
	}
	var req introspectRequest
	if mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type")); mt == "application/x-www-form-urlencoded" {
		if err := c.Request.ParseForm(); err != nil {
			h.fail(c, formError(err))
			return
		}
		req.Token = c.Request.PostForm.Get("token")
	} else if err := decode(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	if req.Token == "" {
		h.fail(c, models.Invalid("token", "is required"))
		return
	}
	res, err := h.sessions.Introspect(c.Request.Context(), id, secret, req.Token)
	if errors.Is(err, models.ErrInvalidClient) {
		h.failClient(c)
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	hb := newHotBuffer()
	defer hb.release()
	if !res.Active {
		hotJSON(c, hb, &hb.intro)
		return
	}
	s, u, p := res.Principal.Session, res.Principal.User, res.Principal.Plan
	d := toSession(s, "").Device
	hb.intro = introspectResponse{
		Active: true, Sub: u.ID, Sid: s.ID, Exp: s.ExpiresAt.Unix(), Iat: s.CreatedAt.Unix(),
		Plan: p.Name, Role: string(u.Role), Device: &d, IdleExp: s.IdleExpiresAt.Unix(),
	}
	hotJSON(c, hb, &hb.intro)
}

// failClient refuses bad client credentials the RFC 6749 way.
func (h *handler) failClient(c *gin.Context) {
	c.Header("WWW-Authenticate", `Basic realm="sessiond introspection"`)
	h.fail(c, models.ErrInvalidClient)
}

func formError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errTooLarge
	}
	return models.Invalid("body", "is not a valid form")
}
