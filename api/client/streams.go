package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Streams (API.md "Streams"): what a player, or a service acting for one, calls to play under
// the account's stream limit. Each call presents the viewer's session token; the client's
// service credentials are not sent.

// Stream is one stream lease as sessiond answers it.
type Stream struct {
	ID              string     `json:"id"`
	SessionID       string     `json:"session_id"`
	Device          Device     `json:"device"`
	ContentID       string     `json:"content_id"`
	Class           string     `json:"class"`
	StartedAt       time.Time  `json:"started_at"`
	LastHeartbeatAt time.Time  `json:"last_heartbeat_at"`
	ExpiresAt       time.Time  `json:"expires_at"`
	Current         bool       `json:"current"`
	EndedAt         *time.Time `json:"ended_at,omitempty"`
	EndReason       string     `json:"end_reason,omitempty"`
}

// StreamStart is what to play. All fields are optional: ReplaceStreamID takes over one of the
// streams a StreamLimitError listed.
type StreamStart struct {
	ContentID       string `json:"content_id,omitempty"`
	Class           string `json:"class,omitempty"`
	ReplaceStreamID string `json:"replace_stream_id,omitempty"`
}

// Started is the answer to StartStream: the lease, how often to heartbeat it, and the streams
// that ended to make room (the session's own previous stream, or the oldest under the
// takeover_oldest policy).
type Started struct {
	Stream            Stream
	HeartbeatInterval time.Duration
	Ended             []Stream
}

// StreamLimitError is sessiond's 409 stream_limit_reached: the account plays Limit streams
// (of Class, when a class limit was reached) and its plan rejects another. Streams lists them,
// so that a person can choose one to take over (StreamStart.ReplaceStreamID).
type StreamLimitError struct {
	Limit   int      `json:"limit"`
	Class   string   `json:"class"`
	Streams []Stream `json:"streams"`
}

func (e *StreamLimitError) Error() string {
	if e.Class != "" {
		return fmt.Sprintf("sessiond: the %s stream limit (%d) is reached", e.Class, e.Limit)
	}
	return fmt.Sprintf("sessiond: the stream limit (%d) is reached", e.Limit)
}

// StreamEndedError is sessiond's 410 stream_ended: the lease is over. Reason is one of
// taken_over, replaced, stopped, expired, session_ended, limit_lowered, revoked_by_admin;
// ByDeviceName names the device that took the stream over, when one did.
type StreamEndedError struct {
	Reason       string `json:"reason"`
	ByDeviceName string `json:"by_device_name"`
}

func (e *StreamEndedError) Error() string {
	if e.ByDeviceName != "" {
		return fmt.Sprintf("sessiond: the stream ended (%s by %s)", e.Reason, e.ByDeviceName)
	}
	return "sessiond: the stream ended (" + e.Reason + ")"
}

// SessionEndedError is a 401 for the presented session token: it is unknown, expired, signed
// out or evicted. Code is sessiond's (session_revoked, session_evicted, …); Reason is
// details.reason when sessiond gave one.
type SessionEndedError struct {
	Code   string
	Reason string
}

func (e *SessionEndedError) Error() string { return "sessiond: the session ended (" + e.Code + ")" }

// Errors of the stream calls besides the typed ones above.
var (
	// ErrStreamNotFound: no such stream of this account (404): never one, or long purged.
	ErrStreamNotFound = errors.New("sessiond: no such stream")
	// ErrRejected: sessiond refused the request itself (4xx other than the above, e.g. an
	// unknown class or an oversized content id); Code and Message say why.
	ErrRejected = errors.New("sessiond: request refused")
)

// apiError is sessiond's error envelope.
type apiError struct {
	Error struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Details json.RawMessage `json:"details"`
	} `json:"error"`
}

// StartStream starts a stream of the session token presents. Errors: *StreamLimitError
// (409), *SessionEndedError (401), ErrRejected, ErrUnavailable, or ctx's.
func (c *Client) StartStream(ctx context.Context, token string, s StreamStart) (Started, error) {
	var out struct {
		Stream            Stream   `json:"stream"`
		HeartbeatInterval int      `json:"heartbeat_interval"`
		Ended             []Stream `json:"ended"`
	}
	if err := c.call(ctx, http.MethodPost, "/v1/streams", token, s, http.StatusCreated, &out); err != nil {
		return Started{}, fmt.Errorf("start stream: %w", err)
	}
	return Started{Stream: out.Stream, HeartbeatInterval: time.Duration(out.HeartbeatInterval) * time.Second, Ended: out.Ended}, nil
}

// Heartbeat renews the stream's lease. Errors: *StreamEndedError (410) when it is over (and
// why), *SessionEndedError (401), ErrStreamNotFound, ErrUnavailable, or ctx's.
func (c *Client) Heartbeat(ctx context.Context, token, streamID string) (Stream, error) {
	var out struct {
		Stream Stream `json:"stream"`
	}
	path := "/v1/streams/" + url.PathEscape(streamID) + "/heartbeat"
	if err := c.call(ctx, http.MethodPost, path, token, nil, http.StatusOK, &out); err != nil {
		return Stream{}, fmt.Errorf("heartbeat stream %s: %w", streamID, err)
	}
	return out.Stream, nil
}

// StopStream ends the stream (reason stopped), freeing its slot at once. Errors as Heartbeat's.
func (c *Client) StopStream(ctx context.Context, token, streamID string) error {
	if err := c.call(ctx, http.MethodDelete, "/v1/streams/"+url.PathEscape(streamID), token, nil, http.StatusNoContent, nil); err != nil {
		return fmt.Errorf("stop stream %s: %w", streamID, err)
	}
	return nil
}

// call sends one stream request with the session token and decodes a want answer into out.
func (c *Client) call(ctx context.Context, method, path, token string, in any, want int, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if resp.StatusCode == want {
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%w: unreadable answer: %v", ErrUnavailable, err)
		}
		return nil
	}
	return answerError(resp.StatusCode, raw)
}

// answerError turns a refusal into the call's error.
func answerError(status int, raw []byte) error {
	var e apiError
	_ = json.Unmarshal(raw, &e)
	switch {
	case status == http.StatusConflict && e.Error.Code == "stream_limit_reached":
		limit := &StreamLimitError{}
		_ = json.Unmarshal(e.Error.Details, limit)
		return limit
	case status == http.StatusGone:
		ended := &StreamEndedError{}
		_ = json.Unmarshal(e.Error.Details, ended)
		if ended.Reason == "" {
			ended.Reason = e.Error.Code
		}
		return ended
	case status == http.StatusUnauthorized:
		var d struct {
			Reason string `json:"reason"`
		}
		_ = json.Unmarshal(e.Error.Details, &d)
		return &SessionEndedError{Code: e.Error.Code, Reason: d.Reason}
	case status == http.StatusNotFound:
		return ErrStreamNotFound
	case status == http.StatusTooManyRequests || status >= 500:
		return fmt.Errorf("%w: sessiond answered %d %s", ErrUnavailable, status, e.Error.Code)
	}
	return fmt.Errorf("%w: %d %s: %s", ErrRejected, status, e.Error.Code, e.Error.Message)
}
