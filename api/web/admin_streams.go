package web

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/models"
)

// The stream limit on the admin pages (issue 22): a plan's max_streams, stream_policy and
// class limits, edited beside its device limit.

var streamPolicies = []option{
	{"reject", "Ask which stream to stop"},
	{"takeover_oldest", "Stop the oldest stream"},
}

// streamForm reads a plan row's stream fields into in; a row without them (an older page)
// leaves the plan's as they are. Class limits are written "live=1, audio=2"; empty clears them.
func streamForm(c *gin.Context, in *models.PlanInput, v *models.ValidationError) {
	if s, ok := c.GetPostForm("max_streams"); ok {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
			in.MaxStreams = &n
		} else {
			v.Fields["max_streams"] = "must be a whole number"
		}
	}
	if s, ok := c.GetPostForm("stream_policy"); ok {
		p := models.StreamPolicy(s)
		in.StreamPolicy = &p
	}
	s, ok := c.GetPostForm("stream_class_limits")
	if !ok {
		return
	}
	limits := models.StreamClassLimits{}
	for pair := range strings.SplitSeq(s, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		class, count, found := strings.Cut(pair, "=")
		n, err := strconv.Atoi(strings.TrimSpace(count))
		if !found || err != nil {
			v.Fields["stream_class_limits"] = `must read like "live=1, audio=2", or be empty`
			return
		}
		limits[models.StreamClass(strings.TrimSpace(class))] = n
	}
	in.StreamClassLimits = &limits
}

// classLimits writes class limits as the form takes them: "live=1, audio=2".
func classLimits(l models.StreamClassLimits) string {
	parts := make([]string, 0, len(l))
	for _, c := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, fmt.Sprintf("%s=%d", c, l[c]))
	}
	return strings.Join(parts, ", ")
}

// streamRow is one of a user's streams on their admin page.
type streamRow struct {
	models.Stream
	What  string
	State string // "playing until …" or why and when it ended
	Live  bool   // still playing: it can be ended
}

var endTexts = map[models.StreamEndReason]string{
	models.StreamTakenOver:      "taken over",
	models.StreamReplaced:       "replaced by another title on the device",
	models.StreamStopped:        "stopped",
	models.StreamExpired:        "expired: no heartbeat",
	models.StreamSessionEnded:   "ended: its device signed out",
	models.StreamLimitLowered:   "ended: the limit was lowered",
	models.StreamRevokedByAdmin: "ended by an admin",
}

// streamRows describes a user's streams, newest first, for their admin page.
func streamRows(ss []models.Stream, now time.Time) []streamRow {
	rows := make([]streamRow, 0, len(ss))
	for _, s := range ss {
		r := streamRow{Stream: s, What: whatPlays(s)}
		if e := s.EndedError(now); e != nil {
			r.State = cmp.Or(endTexts[e.Reason], string(e.Reason))
			if e.ByDeviceName != "" && e.Reason == models.StreamTakenOver {
				r.State += " by " + e.ByDeviceName
			}
			r.State += " · " + e.EndedAt.UTC().Format("2 Jan 15:04 UTC")
		} else {
			r.Live, r.State = true, "playing · lease until "+s.ExpiresAt.UTC().Format("15:04:05 UTC")
		}
		rows = append(rows, r)
	}
	return rows
}

func (h *Handler) adminEndStream(c *gin.Context) {
	done := "stream_ended"
	err := h.streams.EndStream(c.Request.Context(), api.AdminOf(c), c.Param("sid"))
	switch {
	case errors.Is(err, models.ErrNotFound):
		done = "stream_gone"
	case err != nil:
		h.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/users/"+url.PathEscape(c.Param("id"))+"?done="+done)
}

// streamEventText describes a stream event of the history (the user's and the admin's): what
// played, and why it ended. ok is false for other events.
func streamEventText(e models.SessionEvent) (text string, ok bool) {
	var d struct {
		ContentID    string                 `json:"content_id"`
		Reason       models.StreamEndReason `json:"reason"`
		ByDeviceName string                 `json:"by_device_name"`
	}
	_ = json.Unmarshal([]byte(e.Details), &d)
	what := ""
	if d.ContentID != "" {
		what = " " + d.ContentID
	}
	switch e.Type {
	case models.EventStreamStarted:
		return "Started playing" + what, true
	case models.EventStreamRejected:
		return "Not played" + what + ": stream limit reached", true
	case models.EventStreamTakenOver:
		if d.ByDeviceName != "" {
			return "Stream taken over by " + d.ByDeviceName, true
		}
		return "Stream taken over", true
	case models.EventStreamEnded:
		return "Stream " + cmp.Or(endTexts[d.Reason], string(d.Reason)), true
	}
	return "", false
}
