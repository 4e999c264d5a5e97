package models

import "time"

// EventType names a change in a session's life.
type EventType string

// The event types sessiond records.
const (
	EventLogin           EventType = "login"
	EventLogout          EventType = "logout"
	EventEvicted         EventType = "evicted"
	EventReplaced        EventType = "replaced"
	EventRevoked         EventType = "revoked"
	EventExpired         EventType = "expired"
	EventLimitRejected   EventType = "limit_rejected"
	EventPasswordChanged EventType = "password_changed"

	// Streams (issue 22): one row per start, refusal, takeover and end, never per heartbeat.
	EventStreamStarted   EventType = "stream_started"
	EventStreamRejected  EventType = "stream_rejected"
	EventStreamTakenOver EventType = "stream_taken_over"
	EventStreamEnded     EventType = "stream_ended"
)

// ActorKind says who caused an event.
type ActorKind string

// The kinds of actor an event may name.
const (
	ActorUser   ActorKind = "user"
	ActorAdmin  ActorKind = "admin"
	ActorSystem ActorKind = "system"
)

// SessionEvent is one line of a user's append-only session history. Details is a JSON object.
type SessionEvent struct {
	ID         string `gorm:"primaryKey"`
	UserID     string
	SessionID  *string
	Type       EventType
	DeviceID   string
	DeviceName string
	DeviceType DeviceType
	IP         string
	ActorKind  ActorKind
	ActorID    string
	At         time.Time
	Details    string
}
