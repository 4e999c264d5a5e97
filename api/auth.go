package api

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

type registerRequest struct {
	Email       string `json:"email"`
	Password    string `json:"password"`
	DisplayName string `json:"display_name"`
}

func (h *handler) register(c *gin.Context) {
	var req registerRequest
	if err := decode(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	u, err := h.users.Register(c.Request.Context(), models.RegisterParams{
		Email: req.Email, Password: req.Password, DisplayName: req.DisplayName, IP: c.ClientIP(),
	})
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"user": toUser(u)})
}

type loginRequest struct {
	Email             string        `json:"email"`
	Password          string        `json:"password"`
	Device            deviceRequest `json:"device"`
	ReplaceSessionID  string        `json:"replace_session_id"`
	ReplaceSessionIDs []string      `json:"replace_session_ids"`
}

// deviceRequest is the device a login names, with the key an earlier sign-in gave it.
type deviceRequest struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
	Key  string `json:"key"`
}

func (d deviceRequest) model() models.Device {
	return models.Device{ID: d.ID, Name: d.Name, Type: models.DeviceType(d.Type)}
}

func (h *handler) login(c *gin.Context) {
	var req loginRequest
	if err := decode(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	res, err := h.sessions.Login(c.Request.Context(), models.LoginParams{
		Email:             req.Email,
		Password:          req.Password,
		Device:            req.Device.model(),
		DeviceKey:         h.cookies.PresentedDeviceKey(c, req.Device.Key),
		ReplaceSessionID:  req.ReplaceSessionID,
		ReplaceSessionIDs: req.ReplaceSessionIDs,
		IP:                c.ClientIP(),
		UserAgent:         c.Request.UserAgent(),
	})
	if err != nil {
		h.fail(c, err)
		return
	}
	h.writeLogin(c, res)
}

// writeLogin answers a successful login: 201 with the token and the device key, and their
// cookies.
func (h *handler) writeLogin(c *gin.Context, res models.LoginResult) {
	h.cookies.SignIn(c, res)
	c.JSON(http.StatusCreated, gin.H{
		"token":      res.Token,
		"session":    toSession(res.Session, res.Session.ID),
		"user":       toUser(res.User),
		"evicted":    toSessions(res.Evicted, ""),
		"device_key": res.DeviceKey,
	})
}

func (h *handler) logout(c *gin.Context) {
	p := Principal(c)
	if err := h.sessions.Logout(c.Request.Context(), p.User.ID, p.Session.ID); err != nil {
		h.fail(c, err)
		return
	}
	h.cookies.SignOut(c)
	c.Status(http.StatusNoContent)
}

// whoamiJSON is GET /v1/auth/session's answer: a struct, not a map, because this is the
// per-request check other clients poll (encoding a map sorts its keys and boxes its values).
type whoamiJSON struct {
	Session    sessionJSON             `json:"session"`
	User       userJSON                `json:"user"`
	Plan       planJSON                `json:"plan"`
	Identities []models.LinkedIdentity `json:"identities"`
}

// whoami is the session check, which clients make on every request. It checks the token
// itself rather than behind authenticate, and builds its answer in pooled memory: keeping the
// principal in Gin's per-request keys (a map allocated per request) and boxing the answer for
// the encoder were two thirds of what a cached check allocated beyond a no-op route, and
// about 5 % of its throughput (scripts/bench.sh, which logs at warn). With the access log on
// (info, the default) the keys are still filled, next to the cost of a log line.
func (h *handler) whoami(c *gin.Context) {
	p, ok := h.checkToken(c)
	if !ok {
		return
	}
	if h.log.Enabled(c.Request.Context(), slog.LevelInfo) {
		c.Set(principalKey, p) // for the access log's user_id
	}
	hb := newHotBuffer()
	defer hb.release()
	hb.who = whoamiJSON{
		Session: toSession(p.Session, p.Session.ID), User: toUser(p.User), Plan: toPlan(p.Plan),
		Identities: p.Identities,
	}
	if hb.who.Identities == nil {
		hb.who.Identities = []models.LinkedIdentity{}
	}
	hotJSON(c, hb, &hb.who)
}
