package client

import (
	"context"
	"errors"
	"time"
)

// Ticker is what KeepPlaying waits on between heartbeats: time.Ticker's shape, so that tests
// can tick by hand (WithTicker) instead of waiting.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// PlayOption configures KeepPlaying.
type PlayOption func(*player)

// WithTicker makes KeepPlaying wait on the tickers newTicker returns instead of real ones.
func WithTicker(newTicker func(interval time.Duration) Ticker) PlayOption {
	return func(p *player) { p.newTicker = newTicker }
}

// WithBeats calls f after every heartbeat with its answer: the renewed lease, or the error
// KeepPlaying rode out (sessiond unreachable) or ends with. f runs on KeepPlaying's goroutine.
func WithBeats(f func(Stream, error)) PlayOption { return func(p *player) { p.beat = f } }

// DefaultHeartbeatInterval is KeepPlaying's interval when it is given none (sessiond's default).
const DefaultHeartbeatInterval = 60 * time.Second

type player struct {
	newTicker func(time.Duration) Ticker
	beat      func(Stream, error)
}

type realTicker struct{ *time.Ticker }

func (t realTicker) C() <-chan time.Time { return t.Ticker.C }

// KeepPlaying heartbeats the stream every interval (Started.HeartbeatInterval; 0 means
// DefaultHeartbeatInterval) until ctx ends or sessiond says the stream is over, and returns why:
//   - *StreamEndedError: the lease ended (taken over by another device, stopped from the
//     devices page, expired, its session signed out, …), with the reason and who took over;
//   - *SessionEndedError: the session itself is no longer valid;
//   - ErrStreamNotFound: sessiond does not know the stream (any more);
//   - ErrRejected: sessiond refused the heartbeat itself;
//   - ctx's error: the caller is done. The stream is not stopped: call StopStream to free its
//     slot at once, or let its lease run out.
//
// A heartbeat that fails because sessiond cannot be reached or is overloaded is ridden out and
// the next tick tries again: a player that loses the network for less than the lease TTL (3
// intervals by default) keeps its stream.
func (c *Client) KeepPlaying(ctx context.Context, token, streamID string, interval time.Duration, opts ...PlayOption) error {
	p := player{
		newTicker: func(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} },
		beat:      func(Stream, error) {},
	}
	for _, o := range opts {
		o(&p)
	}
	if interval <= 0 {
		interval = DefaultHeartbeatInterval
	}
	t := p.newTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C():
		}
		s, err := c.Heartbeat(ctx, token, streamID)
		p.beat(s, err)
		switch {
		case err == nil, errors.Is(err, ErrUnavailable):
			continue // renewed, or to be tried again at the next tick
		case ctx.Err() != nil:
			return ctx.Err()
		}
		return err
	}
}
