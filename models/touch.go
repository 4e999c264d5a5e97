package models

import "time"

// The bounds of the derived touch interval: under a minute the writes buy precision nobody
// needs; over an hour "last seen" in the device list stops meaning anything.
const (
	MinTouchInterval = time.Minute
	MaxTouchInterval = time.Hour
)

// TouchInterval is how often a session in use has its last_seen_at (and with it its idle
// deadline) written when no interval is configured: 1 % of the idle timeout, at least
// MinTouchInterval and at most MaxTouchInterval (1 h for the 14-day default). A session's
// idle expiry is then exact to within this much, and the writes per session in use are at
// most one per interval, whatever the request rate. A configured interval (override > 0)
// wins. Either way it is at most half the idle timeout, so a session in use never idles out
// between two touches.
func TouchInterval(idle, override time.Duration) time.Duration {
	d := override
	if d <= 0 {
		d = min(max(idle/100, MinTouchInterval), MaxTouchInterval)
	}
	return min(d, idle/2)
}
