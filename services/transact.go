package services

import (
	"context"
	"encoding/json"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/store"
)

// Helpers in this file take the transaction first and never begin one: use cases compose them.

// actor names who caused an event.
type actor struct {
	kind models.ActorKind
	id   string
}

func actorSelf(userID string) actor { return actor{models.ActorUser, userID} }

// reasonEvent is the event each revocation reason is recorded as.
var reasonEvent = map[models.RevokeReason]models.EventType{
	models.ReasonLogout:   models.EventLogout,
	models.ReasonEvicted:  models.EventEvicted,
	models.ReasonReplaced: models.EventReplaced,
}

// transact runs fn in one transaction and, once it has committed, tells obs which sessions it
// ended.
func transact(ctx context.Context, db *gorm.DB, obs Observer, fn func(tx *gorm.DB, out *ended) error) error {
	var out ended
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		out = ended{} // a retried closure starts afresh
		if err := fn(tx, &out); err != nil {
			return err
		}
		return notify(tx, &out)
	})
	if err != nil {
		return err
	}
	out.report(obs)
	return nil
}

// notify tells every process listening on Postgres what the transaction changed, so each
// drops it from its session cache. NOTIFY is transactional: it is delivered when, and only
// if, the transaction commits.
func notify(tx *gorm.DB, out *ended) error {
	if out.empty() {
		return nil
	}
	var sessions []string
	for _, r := range out.order {
		sessions = append(sessions, out.ids[r]...)
	}
	return store.Notify(tx, sessions, out.users, out.plans)
}

// revoke ends the given sessions with reason, records by as the cause (a session or a person)
// and writes one event per session, noting them in out. Their streams end with them. The caller holds the user's lock, so
// every session given is still live.
func revoke(tx *gorm.DB, out *ended, ss []models.Session, reason models.RevokeReason, by string, a actor, now time.Time) error {
	if len(ss) == 0 {
		return nil
	}
	ev, ok := reasonEvent[reason]
	if !ok {
		ev = models.EventRevoked
	}
	ids := make([]string, len(ss))
	events := make([]models.SessionEvent, len(ss))
	for i, s := range ss {
		ids[i] = s.ID
		events[i] = sessionEvent(s, ev, a, now, map[string]any{"reason": reason})
	}
	err := tx.Model(&models.Session{}).Where("id IN ? AND revoked_at IS NULL", ids).
		Updates(map[string]any{"revoked_at": now, "revoke_reason": reason, "revoked_by": by}).Error
	if err != nil {
		return storeError(err)
	}
	out.add(reason, ids)
	if err := insertEvents(tx, events...); err != nil {
		return err
	}
	return endSessionStreams(tx, ids, by, a, now) // a session's stream ends with it (issue 22)
}

// sessionEvent describes something that happened to session s.
func sessionEvent(s models.Session, t models.EventType, a actor, now time.Time, details map[string]any) models.SessionEvent {
	d := jsonObject(details)
	id := s.ID
	return models.SessionEvent{
		ID: newID(), UserID: s.UserID, SessionID: &id, Type: t,
		DeviceID: s.DeviceID, DeviceName: s.DeviceName, DeviceType: s.DeviceType, IP: s.IP,
		ActorKind: a.kind, ActorID: a.id, At: now, Details: d,
	}
}

// jsonObject renders details (strings, numbers, booleans) as a JSON object; nil is "{}".
func jsonObject(details map[string]any) string {
	if len(details) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(details) // maps of plain values always marshal
	return string(b)
}

func insertEvents(tx *gorm.DB, events ...models.SessionEvent) error {
	if len(events) == 0 {
		return nil
	}
	return storeError(tx.Create(&events).Error)
}

// storeError is the classification every store error of a use case goes through (see
// store.Translate): a missing row is models.ErrNotFound, a unique violation
// models.ErrConflict, an unreachable store models.ErrUnavailable.
func storeError(err error) error { return store.Translate(err) }

// unavailable marks err as models.ErrUnavailable: for waits whose only failure is "not now".
func unavailable(err error) error { return store.Unavailable(err) }
