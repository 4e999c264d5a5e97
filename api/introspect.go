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
	StreamID      string `json:"stream_id"`       // also answer this stream lease's state (issue 22)
}

// introspectStream is a stream lease's state, for a licence or playback service.
type introspectStream struct {
	ID     string `json:"id"`
	Active bool   `json:"active"`
	Class  string `json:"class,omitempty"`
}

// introspectResponse is RFC 7662's answer; an inactive token gets {"active": false} only.
type introspectResponse struct {
	Active  bool              `json:"active"`
	Sub     string            `json:"sub,omitempty"`
	Sid     string            `json:"sid,omitempty"`
	Exp     int64             `json:"exp,omitempty"`
	Iat     int64             `json:"iat,omitempty"`
	Plan    string            `json:"plan,omitempty"`
	Role    string            `json:"role,omitempty"`
	Device  *deviceJSON       `json:"device,omitempty"`
	IdleExp int64             `json:"idle_exp,omitempty"` // extension: when the session idles out unless used
	Stream  *introspectStream `json:"stream,omitempty"`
}

// introspect answers a service client (HTTP Basic) about a token sent as JSON or, as RFC 7662
// has it, form-encoded.
func (h *handler) introspect(c *gin.Context) {
	if _, err := authorization(c.Request); err != nil {
		h.fail(c, err)
		return
	}
	id, secret, ok := c.Request.BasicAuth()
	if !ok {
		h.failClient(c)
		return
	}
	var req introspectRequest
	if mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type")); mt == "application/x-www-form-urlencoded" {
		var err error
		if req, err = introspectForm(c.Request); err != nil {
			h.fail(c, err)
			return
		}
	} else if err := decode(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	if req.Token == "" {
		h.fail(c, models.Invalid("token", "is required"))
		return
	}
	err := h.clients.Authenticate(c.Request.Context(), id, secret)
	if errors.Is(err, models.ErrInvalidClient) {
		h.failClient(c)
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	res, err := h.sessions.Introspect(c.Request.Context(), req.Token)
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
	if req.StreamID != "" {
		st, err := h.streams.StreamState(c.Request.Context(), u.ID, req.StreamID)
		if err != nil && !errors.Is(err, models.ErrNotFound) {
			h.fail(c, err)
			return
		}
		hb.intro.Stream = &introspectStream{ID: req.StreamID, Active: err == nil, Class: string(st.Class)}
	}
	hotJSON(c, hb, &hb.intro)
}

// introspectForm reads RFC 7662's form-encoded request. A parameter given twice is refused,
// as RFC 6749 §3.1 has it, for the reason a JSON name given twice is.
func introspectForm(r *http.Request) (introspectRequest, error) {
	if err := r.ParseForm(); err != nil {
		return introspectRequest{}, formError(err)
	}
	for _, name := range []string{"token", "token_type_hint", "stream_id"} {
		if len(r.PostForm[name]) > 1 {
			return introspectRequest{}, models.Invalid(name, "is given more than once")
		}
	}
	return introspectRequest{Token: r.PostForm.Get("token"), TokenTypeHint: r.PostForm.Get("token_type_hint"), StreamID: r.PostForm.Get("stream_id")}, nil
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
