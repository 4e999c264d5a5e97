package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/models"
)

// Streams on the pages (issue 22): what each device plays now, with a stop button; playing on
// this browser, with the chooser at the stream limit (who watches what: stop one and play
// here); and on the admin pages, a user's streams and ending one.

// StreamService is what the pages need of stream leases.
type StreamService interface {
	StartStream(ctx context.Context, userID, sessionID string, p models.StreamParams) (models.StreamStart, error)
	StopStream(ctx context.Context, userID, sessionID, streamID string) error
	ListStreams(ctx context.Context, userID string) (models.StreamList, error)
	UserStreams(ctx context.Context, userID string) ([]models.Stream, error)
	EndStream(ctx context.Context, by models.Admin, streamID string) error
}

var streamClasses = []option{{"vod", "On demand"}, {"live", "Live"}, {"audio", "Audio"}}

// playing is what the devices page shows of the account's streams.
type playing struct {
	Max     int
	Policy  string
	Classes string // the class limits, in words
	Streams []models.Stream
	Options []option // the classes, for "Play here"
	ByID    map[string]models.Stream
}

// withStreams serves f when the pages run with streams; otherwise there is nothing here.
func (h *Handler) withStreams(f gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if h.streams == nil {
			h.fail(c, models.ErrNotFound)
			return
		}
		f(c)
	}
}

// On returns what the session plays now, if anything.
func (p *playing) On(sessionID string) *models.Stream {
	if p == nil {
		return nil
	}
	s, ok := p.ByID[sessionID]
	if !ok {
		return nil
	}
	return &s
}

var streamPolicyTexts = map[models.StreamPolicy]string{
	models.StreamReject:         "at the limit, playing on another device asks you which stream to stop",
	models.StreamTakeoverOldest: "at the limit, playing on another device stops the one that started first",
}

// playingNow returns the account's streams for the devices page; nil when the pages run
// without streams.
func (h *Handler) playingNow(ctx context.Context, userID string) (*playing, error) {
	if h.streams == nil {
		return nil, nil
	}
	list, err := h.streams.ListStreams(ctx, userID)
	if err != nil {
		return nil, err
	}
	p := &playing{Max: list.Limit.Max, Policy: streamPolicyTexts[list.Limit.Policy], Streams: list.Streams,
		Options: streamClasses, ByID: map[string]models.Stream{}}
	if len(list.Limit.Classes) > 0 {
		p.Classes = "at most " + strings.ReplaceAll(classLimits(list.Limit.Classes), "=", " ")
	}
	for _, s := range list.Streams {
		p.ByID[s.SessionID] = s
	}
	return p, nil
}

// whatPlays says what a stream plays: its content id, or that the player named none.
func whatPlays(s models.Stream) string {
	what := s.ContentID
	if what == "" {
		what = "something"
	}
	if s.Class != "" && s.Class != models.ClassVOD {
		what += " (" + strings.ToLower(label(streamClasses, string(s.Class))) + ")"
	}
	return what
}

// streamNotice confirms what a stream form did (doneNotice's stream outcomes).
func streamNotice(done string) *notice {
	switch done {
	case "playing":
		return &notice{Kind: "ok", Title: "Playing here", Text: "This browser holds one of your screens until its lease ends (below). A player in this browser, on this sign-in, keeps it by sending heartbeats; the page itself plays nothing."}
	case "took_over":
		return &notice{Kind: "ok", Title: "Playing here", Text: "The stream you chose was stopped; its device is told that this one took its place."}
	case "stream_stopped":
		return &notice{Kind: "ok", Text: "The stream was stopped. Its device is told why at its next heartbeat."}
	case "stream_gone":
		return &notice{Kind: "ok", Text: "That stream had already ended."}
	}
	return nil
}

// streamLimitData is the chooser at the stream limit: what this device wants to play, and the
// streams one of which must stop for it.
type streamLimitData struct {
	Device    string
	ContentID string
	Class     string
	Limit     int
	LimitOf   string // "" for the plan's limit, else the class whose limit it is
	Streams   []models.Stream
	Now       time.Time // the pages' clock, for "since … ago"
}

// Choice is the chooser's list: one stream to stop.
func (d streamLimitData) Choice() choice {
	c := choice{Legend: "Stop one of these streams", Name: "replace_stream_id", Verb: "Stop", Required: true}
	for _, s := range d.Streams {
		c.Options = append(c.Options, choiceOption{
			ID: s.ID, Name: s.DeviceName, DeviceType: s.DeviceType, Playing: "Playing " + whatPlays(s),
			Meta: label(deviceTypes, string(s.DeviceType)) + " · since " + s.StartedAt.UTC().Format("15:04 UTC") +
				" · " + ago(d.Now.Sub(s.StartedAt), s.StartedAt),
		})
	}
	return c
}

// playHere starts a stream on this browser's session; at the limit under the reject policy it
// shows the chooser (409), whose form comes back here with replace_stream_id.
func (h *Handler) playHere(c *gin.Context) {
	p := api.Principal(c)
	params := models.StreamParams{
		ContentID: strings.TrimSpace(c.PostForm("content_id")), Class: models.StreamClass(c.PostForm("class")),
		ReplaceStreamID: c.PostForm("replace_stream_id"),
	}
	res, err := h.streams.StartStream(c.Request.Context(), p.User.ID, p.Session.ID, params)
	var limit *models.StreamLimitError
	switch {
	case err == nil:
		done := "playing"
		for _, s := range res.Ended {
			if s.EndReason != nil && *s.EndReason == models.StreamTakenOver {
				done = "took_over"
			}
		}
		c.Redirect(http.StatusSeeOther, "/devices?done="+done)
	case errors.As(err, &limit):
		var n *notice
		if params.ReplaceStreamID != "" {
			n = &notice{Kind: "error", Text: "The stream you chose has ended or was stopped meanwhile; these are playing now."}
		}
		d := streamLimitData{Device: p.Session.DeviceName, ContentID: params.ContentID, Class: string(params.Class),
			Limit: limit.Limit, LimitOf: string(limit.Class), Streams: limit.Streams, Now: h.now()}
		h.render(c, http.StatusConflict, "streams_limit", pageData{Nav: "devices", Notice: n, Data: d})
	default:
		var invalid *models.ValidationError
		if errors.As(err, &invalid) {
			status, n := failureNotice(err)
			n.Text = fmt.Sprintf("Nothing was played: %s.", strings.Join(problems(invalid, playFields), "; "))
			h.renderDevices(c, status, n, "")
			return
		}
		h.fail(c, err)
	}
}

var playFields = map[string]string{"content_id": "What to play", "class": "Kind", "replace_stream_id": "The stream to stop"}

// stopStream stops one of the account's streams, this browser's or another device's.
func (h *Handler) stopStream(c *gin.Context) {
	p := api.Principal(c)
	err := h.streams.StopStream(c.Request.Context(), p.User.ID, p.Session.ID, c.Param("id"))
	switch {
	case err == nil:
		c.Redirect(http.StatusSeeOther, "/devices?done=stream_stopped")
	case errors.Is(err, models.ErrNotFound):
		c.Redirect(http.StatusSeeOther, "/devices?done=stream_gone")
	default:
		h.fail(c, err)
	}
}
