package main

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/api/client"
)

// Playing under the account's stream limit (sessiond's "screens"): the catalog starts a stream
// in sessiond with the viewer's own session token, the player heartbeats it through the
// catalog and stops it when done. At the limit the viewer sees who watches what and may take
// one over (replace_stream_id). A player written in Go would call client.KeepPlaying itself.

type player struct {
	guard    *client.Middleware
	sessiond *client.Client
}

// play starts title :id: 201 {stream_id, heartbeat_interval, playing, on, ended}; 403
// plan_required for a premium title on another plan; 409 stream_limit_reached with the
// streams to choose from.
func (p player) play(c *gin.Context) {
	var t *title
	for i := range titles {
		if titles[i].ID == c.Param("id") {
			t = &titles[i]
		}
	}
	if t == nil {
		refuse(c, http.StatusNotFound, "not_found", fmt.Sprintf("no title %q", c.Param("id")))
		return
	}
	s, ok := session(p.guard, c)
	if !ok {
		return
	}
	if t.Premium && s.Plan != "premium" {
		refuse(c, http.StatusForbidden, "plan_required", "Your plan does not include this.")
		return
	}
	var body struct {
		ReplaceStreamID string `json:"replace_stream_id"`
	}
	if c.Request.ContentLength != 0 {
		if err := c.ShouldBindJSON(&body); err != nil {
			refuse(c, http.StatusBadRequest, "invalid_request", "The body must be {\"replace_stream_id\": \"…\"} or empty.")
			return
		}
	}
	start := client.StreamStart{ContentID: t.ID, ReplaceStreamID: body.ReplaceStreamID}
	if t.Live {
		start.Class = "live"
	}
	started, err := p.sessiond.StartStream(c.Request.Context(), p.guard.Token(c), start)
	if err != nil {
		p.fail(c, err)
		return
	}
	endedOn := []string{}
	for _, e := range started.Ended {
		endedOn = append(endedOn, e.Device.Name)
	}
	c.JSON(http.StatusCreated, gin.H{"stream_id": started.Stream.ID, "heartbeat_interval": int(started.HeartbeatInterval.Seconds()),
		"playing": t.Name, "on": s.Device.Name, "ended_on": endedOn})
}

// heartbeat renews the lease: 200 {expires_at}, or 410 stream_ended with why and who took it.
func (p player) heartbeat(c *gin.Context) {
	st, err := p.sessiond.Heartbeat(c.Request.Context(), p.guard.Token(c), c.Param("sid"))
	if err != nil {
		p.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"stream_id": st.ID, "expires_at": st.ExpiresAt})
}

// stop ends the stream: 204.
func (p player) stop(c *gin.Context) {
	if err := p.sessiond.StopStream(c.Request.Context(), p.guard.Token(c), c.Param("sid")); err != nil {
		p.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// fail answers a stream call's error in the catalog's own words.
func (p player) fail(c *gin.Context, err error) {
	var (
		limit *client.StreamLimitError
		ended *client.StreamEndedError
		gone  *client.SessionEndedError
	)
	switch {
	case errors.As(err, &limit):
		watching := make([]gin.H, 0, len(limit.Streams))
		for _, s := range limit.Streams {
			watching = append(watching, gin.H{"stream_id": s.ID, "device": s.Device.Name, "content_id": s.ContentID, "since": s.StartedAt})
		}
		c.AbortWithStatusJSON(http.StatusConflict, gin.H{"error": gin.H{"code": "stream_limit_reached",
			"message": "Too many screens are playing on this account. Stop one, or take one over with replace_stream_id.",
			"details": gin.H{"limit": limit.Limit, "class": limit.Class, "streams": watching}}})
	case errors.As(err, &ended):
		c.AbortWithStatusJSON(http.StatusGone, gin.H{"error": gin.H{"code": "stream_ended", "message": ended.Error(),
			"details": gin.H{"reason": ended.Reason, "by_device_name": ended.ByDeviceName}}})
	case errors.As(err, &gone):
		refuse(c, http.StatusUnauthorized, "unauthenticated", "Sign in again.")
	case errors.Is(err, client.ErrStreamNotFound):
		refuse(c, http.StatusNotFound, "not_found", "No such stream.")
	case errors.Is(err, client.ErrRejected):
		refuse(c, http.StatusBadRequest, "invalid_request", err.Error())
	default:
		c.Header("Retry-After", "1")
		refuse(c, http.StatusServiceUnavailable, "unavailable", "Playback cannot be checked right now; try again shortly.")
	}
}

func refuse(c *gin.Context, status int, code, message string) {
	c.AbortWithStatusJSON(status, gin.H{"error": gin.H{"code": code, "message": message}})
}
