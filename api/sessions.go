package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

func (h *handler) listSessions(c *gin.Context) {
	p := Principal(c)
	list, err := h.sessions.List(c.Request.Context(), p.User.ID)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{
		"sessions": toSessions(list.Sessions, p.Session.ID),
		"limit":    list.Limit.Max,
		"policy":   list.Limit.Policy,
	})
}

// revokeSessionRequest is the optional body of DELETE /v1/sessions/{id}: the password, which
// a session younger than the fresh-session age needs to sign out an older one.
type revokeSessionRequest struct {
	Password string `json:"password"`
}

func (h *handler) revokeSession(c *gin.Context) {
	var req revokeSessionRequest
	if err := decodeOptional(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	p := Principal(c)
	if err := h.sessions.Revoke(c.Request.Context(), p.User.ID, p.Session.ID, c.Param("id"), req.Password); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type revokeRequest struct {
	Scope    string `json:"scope"`
	Password string `json:"password"`
}

func (h *handler) revokeSessions(c *gin.Context) {
	var req revokeRequest
	if err := decode(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	p := Principal(c)
	scope := models.RevokeScope(req.Scope)
	n, err := h.sessions.RevokeAll(c.Request.Context(), p.User.ID, p.Session.ID, req.Password, scope)
	if err != nil {
		h.fail(c, err)
		return
	}
	if scope == models.ScopeAll {
		h.cookies.SignOut(c)
	}
	c.JSON(http.StatusOK, gin.H{"revoked": n})
}

type passwordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
	SignOutOthers   *bool  `json:"sign_out_others"`
}

func (h *handler) changePassword(c *gin.Context) {
	var req passwordRequest
	if err := decode(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	p := Principal(c)
	signOut := req.SignOutOthers == nil || *req.SignOutOthers // default: sign the others out
	err := h.users.ChangePassword(c.Request.Context(), p.User.ID, p.Session.ID, req.CurrentPassword, req.NewPassword, signOut)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type eventJSON struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	SessionID *string         `json:"session_id"`
	Device    deviceJSON      `json:"device"`
	IP        string          `json:"ip"`
	Actor     actorJSON       `json:"actor"`
	At        time.Time       `json:"at"`
	Details   json.RawMessage `json:"details"`
}

type actorJSON struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
}

func toEvent(e models.SessionEvent) eventJSON {
	out := eventJSON{
		ID: e.ID, Type: string(e.Type), SessionID: e.SessionID,
		Device: deviceJSON{Name: e.DeviceName, Type: string(e.DeviceType)},
		IP:     e.IP, Actor: actorJSON{Type: string(e.ActorKind), ID: e.ActorID},
		At: e.At.UTC(), Details: json.RawMessage(e.Details),
	}
	if e.DeviceID != "" {
		out.Device.ID = &e.DeviceID
	}
	if !json.Valid(out.Details) {
		out.Details = json.RawMessage("{}")
	}
	return out
}

func (h *handler) myHistory(c *gin.Context) { h.history(c, Principal(c).User.ID) }

// history writes a page of userID's session events.
func (h *handler) history(c *gin.Context, userID string) {
	limit, err := pageLimit(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	evs, next, err := h.sessions.History(c.Request.Context(), userID, limit, c.Query("before"))
	if err != nil {
		h.fail(c, err)
		return
	}
	writePage(c, "events", mapAll(evs, toEvent), next)
}

// pageLimit reads ?limit=; absent is 0 (the service's default).
func pageLimit(c *gin.Context) (int, error) {
	s := c.Query("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, models.Invalid("limit", "must be a positive integer")
	}
	return n, nil
}
