package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/models"
)

// StreamService is what the stream handlers need (API.md "Streams").
type StreamService interface {
	StartStream(ctx context.Context, userID, sessionID string, p models.StreamParams) (models.StreamStart, error)
	Heartbeat(ctx context.Context, token, streamID string) (models.Stream, error) // the hot path: checks the token itself
	StopStream(ctx context.Context, userID, sessionID, streamID string) error
	ListStreams(ctx context.Context, userID string) (models.StreamList, error)
	UserStreams(ctx context.Context, userID string) ([]models.Stream, error)
	EndStream(ctx context.Context, by models.Admin, streamID string) error
	StreamState(ctx context.Context, userID, streamID string) (models.Stream, error)
}

type streamJSON struct {
	ID              string     `json:"id"`
	SessionID       string     `json:"session_id"`
	Device          deviceJSON `json:"device"`
	ContentID       string     `json:"content_id"`
	Class           string     `json:"class"`
	StartedAt       time.Time  `json:"started_at"`
	LastHeartbeatAt time.Time  `json:"last_heartbeat_at"`
	ExpiresAt       time.Time  `json:"expires_at"`
	Current         bool       `json:"current"`
	EndedAt         *time.Time `json:"ended_at,omitempty"`
	EndReason       *string    `json:"end_reason,omitempty"`
}

// toStream renders s; current is the presenting session's id, if any.
func toStream(s models.Stream, current string) streamJSON {
	out := streamJSON{
		ID: s.ID, SessionID: s.SessionID,
		Device:    deviceJSON{Name: s.DeviceName, Type: string(s.DeviceType)},
		ContentID: s.ContentID, Class: string(s.Class),
		StartedAt: s.StartedAt.UTC(), LastHeartbeatAt: s.LastHeartbeatAt.UTC(), ExpiresAt: s.ExpiresAt.UTC(),
		Current: current != "" && s.SessionID == current,
	}
	if s.DeviceID != "" {
		id := s.DeviceID
		out.Device.ID = &id
	}
	if s.EndedAt != nil {
		at := s.EndedAt.UTC()
		out.EndedAt = &at
	}
	if s.EndReason != nil {
		r := string(*s.EndReason)
		out.EndReason = &r
	}
	return out
}

func toStreams(ss []models.Stream, current string) []streamJSON {
	out := make([]streamJSON, len(ss))
	for i, s := range ss {
		out[i] = toStream(s, current)
	}
	return out
}

type startStreamRequest struct {
	ContentID       string `json:"content_id"`
	Class           string `json:"class"`
	ReplaceStreamID string `json:"replace_stream_id"`
}

func (h *handler) startStream(c *gin.Context) {
	var req startStreamRequest
	if err := decodeOptional(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	p := Principal(c)
	res, err := h.streams.StartStream(c.Request.Context(), p.User.ID, p.Session.ID, models.StreamParams{
		ContentID: req.ContentID, Class: models.StreamClass(req.Class), ReplaceStreamID: req.ReplaceStreamID,
	})
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{
		"stream":             toStream(res.Stream, p.Session.ID),
		"heartbeat_interval": int(res.HeartbeatInterval / time.Second),
		"ended":              toStreams(res.Ended, p.Session.ID),
	})
}

// heartbeat is outside the authenticated group: the service checks the token itself, so that a
// session that has ended learns that its stream ended with it (410 session_ended).
func (h *handler) heartbeat(c *gin.Context) {
	token, _, err := h.presentedToken(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	st, err := h.streams.Heartbeat(c.Request.Context(), token, c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"stream": toStream(st, st.SessionID)})
}

func (h *handler) stopStream(c *gin.Context) {
	p := Principal(c)
	if err := h.streams.StopStream(c.Request.Context(), p.User.ID, p.Session.ID, c.Param("id")); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *handler) listStreams(c *gin.Context) {
	p := Principal(c)
	list, err := h.streams.ListStreams(c.Request.Context(), p.User.ID)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{
		"streams":      toStreams(list.Streams, p.Session.ID),
		"limit":        list.Limit.Max,
		"policy":       list.Limit.Policy,
		"class_limits": classLimits(list.Limit.Classes),
	})
}

func classLimits(l models.StreamClassLimits) map[models.StreamClass]int {
	if l == nil {
		return map[models.StreamClass]int{}
	}
	return l
}

func (h *handler) userStreams(c *gin.Context) {
	ss, err := h.streams.UserStreams(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"streams": toStreams(ss, "")})
}

func (h *handler) adminEndStream(c *gin.Context) {
	if err := h.streams.EndStream(c.Request.Context(), AdminOf(c), c.Param("id")); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// streamProblem renders the stream errors of API.md.
func streamProblem(limit *models.StreamLimitError, ended *models.StreamEndedError) Problem {
	if limit != nil {
		d := map[string]any{"limit": limit.Limit, "streams": toStreams(limit.Streams, "")}
		msg := "Too many devices are playing on this account: stop one to play here."
		if limit.Class != "" {
			d["class"] = limit.Class
			msg = "Too many devices are playing " + string(limit.Class) + " on this account: stop one to play here."
		}
		return Problem{Status: http.StatusConflict, Code: "stream_limit_reached", Message: msg, Details: d}
	}
	d := map[string]any{"reason": ended.Reason, "ended_at": ended.EndedAt.UTC()}
	if ended.ByDeviceName != "" {
		d["by_device_name"] = ended.ByDeviceName
	}
	return Problem{Status: http.StatusGone, Code: "stream_ended", Message: "This stream has ended.", Details: d}
}
