package models

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// StreamPolicy says what happens when a stream would exceed a user's stream limit.
type StreamPolicy string

// The stream policies a plan may carry.
const (
	StreamReject         StreamPolicy = "reject"          // refuse with *StreamLimitError; the person chooses
	StreamTakeoverOldest StreamPolicy = "takeover_oldest" // end the stream started first
)

// Valid reports whether p is one of the known stream policies.
func (p StreamPolicy) Valid() bool { return p == StreamReject || p == StreamTakeoverOldest }

// StreamClass is the kind of playback a stream is: some kinds (live sport) have a lower limit
// of their own than the plan's.
type StreamClass string

// The stream classes sessiond knows. A stream started without a class is ClassVOD.
const (
	ClassVOD   StreamClass = "vod"   // on-demand video, the default
	ClassLive  StreamClass = "live"  // live events and channels
	ClassAudio StreamClass = "audio" // music, podcasts
)

// StreamClasses lists every accepted class, in the order the API documents them.
var StreamClasses = []StreamClass{ClassVOD, ClassLive, ClassAudio}

// Valid reports whether c is one of StreamClasses.
func (c StreamClass) Valid() bool { return slices.Contains(StreamClasses, c) }

// MaxContentIDLen bounds a stream's content id (bytes), as the schema does.
const MaxContentIDLen = 256

// StreamClassLimits caps some classes below the plan's max_streams: {"live": 1}. A class not
// named is bounded by max_streams alone. Stored as a JSON object.
type StreamClassLimits map[StreamClass]int

// Value stores the limits as a JSON object, "{}" when there are none (never JSON null).
func (l StreamClassLimits) Value() (driver.Value, error) {
	if len(l) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(map[StreamClass]int(l))
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// Scan reads the limits from the store's JSON text (or bytes).
func (l *StreamClassLimits) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*l = nil
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("scan stream class limits: unsupported type %T", src)
	}
	var m map[StreamClass]int
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("scan stream class limits: %w", err)
	}
	*l = m
	return nil
}

// StreamEndReason records why a stream lease ended.
type StreamEndReason string

// The reasons a stream can end.
const (
	StreamTakenOver      StreamEndReason = "taken_over"       // another device took its place at the limit
	StreamReplaced       StreamEndReason = "replaced"         // its own session started another stream
	StreamStopped        StreamEndReason = "stopped"          // the person stopped it
	StreamExpired        StreamEndReason = "expired"          // no heartbeat within the lease TTL
	StreamSessionEnded   StreamEndReason = "session_ended"    // its session ended (any reason)
	StreamLimitLowered   StreamEndReason = "limit_lowered"    // max_streams lowered with enforce=now
	StreamRevokedByAdmin StreamEndReason = "revoked_by_admin" // an admin ended it
)

// Stream is one device playing: a lease its session renews by heartbeat until ExpiresAt. The
// device is copied from the session at start, so that a heartbeat answers from this row
// alone. EndedBy names what ended it (the stream or admin that took over, or the session);
// EndedByDeviceName the device that took its place, when one did.
type Stream struct {
	ID                string `gorm:"primaryKey"`
	UserID            string
	SessionID         string
	DeviceID          string
	DeviceName        string
	DeviceType        DeviceType
	ContentID         string
	Class             StreamClass
	StartedAt         time.Time
	LastHeartbeatAt   time.Time
	ExpiresAt         time.Time
	EndedAt           *time.Time
	EndReason         *StreamEndReason
	EndedBy           *string
	EndedByDeviceName *string
}

// Device returns the device the stream plays on.
func (s Stream) Device() Device {
	return Device{ID: s.DeviceID, Name: s.DeviceName, Type: s.DeviceType}
}

// Ended reports whether the lease was ended (by anyone, the purge included).
func (s Stream) Ended() bool { return s.EndedAt != nil }

// Active reports whether the lease holds its slot at now: not ended and not lapsed. A lapsed
// lease frees its slot at once, before the purge marks it expired.
func (s Stream) Active(now time.Time) bool { return s.EndedAt == nil && now.Before(s.ExpiresAt) }

// StreamLimit is the effective stream limit of one user.
type StreamLimit struct {
	Max     int
	Policy  StreamPolicy
	Classes StreamClassLimits
}

// EffectiveStreamLimit returns the user's stream limit: the user's override of the count where
// set, else the plan's; the policy and class limits are the plan's.
func (u User) EffectiveStreamLimit(p Plan) StreamLimit {
	l := StreamLimit{Max: p.MaxStreams, Policy: p.StreamPolicy, Classes: p.StreamClassLimits}
	if u.MaxStreamsOverride != nil {
		l.Max = *u.MaxStreamsOverride
	}
	return l
}

// StreamAdmission is what must happen to a user's active streams so that one more may start.
type StreamAdmission struct {
	Replaced  []Stream // the starting session's own stream: a session holds one
	TakenOver []Stream // ended to make room: the one the person chose, then the policy's picks
}

// StreamLimitError is returned by a stream start that the reject policy refuses. Class is set
// when the class's own limit refused it (Limit is then the class's); Streams are the ones that
// could make room, newest first.
type StreamLimitError struct {
	Limit   int
	Class   StreamClass // "" when the plan's max_streams refused it
	Streams []Stream
}

func (e *StreamLimitError) Error() string {
	if e.Class != "" {
		return fmt.Sprintf("stream limit of %d %s streams reached", e.Limit, e.Class)
	}
	return fmt.Sprintf("stream limit of %d reached", e.Limit)
}

// StreamEndedError is the answer to a heartbeat (or any use) of a stream that has ended: why,
// when, and the device that took its place when one did.
type StreamEndedError struct {
	Reason       StreamEndReason
	EndedAt      time.Time
	ByDeviceName string
}

func (e *StreamEndedError) Error() string { return "stream ended: " + string(e.Reason) }

// EndedError returns the stream's end as a *StreamEndedError: its recorded end, or "expired"
// at ExpiresAt when the lease lapsed unmarked. Nil while the lease is active at now.
func (s Stream) EndedError(now time.Time) *StreamEndedError {
	switch {
	case s.EndedAt != nil && s.EndReason != nil:
		e := &StreamEndedError{Reason: *s.EndReason, EndedAt: *s.EndedAt}
		if s.EndedByDeviceName != nil {
			e.ByDeviceName = *s.EndedByDeviceName
		}
		return e
	case !now.Before(s.ExpiresAt):
		return &StreamEndedError{Reason: StreamExpired, EndedAt: s.ExpiresAt}
	}
	return nil
}

// StreamParams is a stream start: what plays (optional), its class ("" is ClassVOD), and the
// stream to take over when the person chose one at the limit.
type StreamParams struct {
	ContentID       string
	Class           StreamClass
	ReplaceStreamID string
}

// StreamStart is a started stream: the lease, how often to renew it, and the streams that
// ended to make room (the session's own, and any taken over).
type StreamStart struct {
	Stream            Stream
	HeartbeatInterval time.Duration
	Ended             []Stream
}

// StreamList is a user's streams playing now, newest first, with the limit they count against.
type StreamList struct {
	Streams []Stream
	Limit   StreamLimit
}
