package services

import (
	"context"
	"encoding/json"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
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

// notify tells every process listening on Postgres what the transaction changed. NOTIFY is
// transactional: it is delivered when, and only if, the transaction commits.
func notify(tx *gorm.DB, out *ended) error {
	if out.empty() || Dialect(tx) != "postgres" {
		return nil
	}
	for _, p := range out.notifyPayloads() {
		if err := tx.Exec("SELECT pg_notify(?, ?)", notifyChannel, p).Error; err != nil {
			return storeError(err)
		}
	}
	return nil
}

// revoke ends the given sessions with reason, records by as the cause (a session or a person)
// and writes one event per session, noting them in out. The caller holds the user's lock, so
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
	return insertEvents(tx, events...)
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

// principalRow is one row of the session ⋈ user ⋈ plan lookup.
type principalRow struct {
	models.Session `gorm:"embedded"`
	User           models.User `gorm:"embedded;embeddedPrefix:u_"`
	Plan           models.Plan `gorm:"embedded;embeddedPrefix:p_"`
}

// principalQuery reads a session with its user and plan in one round trip.
const principalQuery = `SELECT s.*,
  u.id AS u_id, u.email AS u_email, u.password_hash AS u_password_hash, u.display_name AS u_display_name,
  u.role AS u_role, u.plan_id AS u_plan_id, u.max_sessions_override AS u_max_sessions_override,
  u.max_sessions_override_until AS u_max_sessions_override_until,
  u.limit_policy_override AS u_limit_policy_override, u.disabled_at AS u_disabled_at,
  u.created_at AS u_created_at, u.updated_at AS u_updated_at,
  p.id AS p_id, p.name AS p_name, p.max_sessions AS p_max_sessions, p.limit_policy AS p_limit_policy,
  p.idle_timeout_seconds AS p_idle_timeout_seconds, p.absolute_timeout_seconds AS p_absolute_timeout_seconds,
  p.created_at AS p_created_at, p.updated_at AS p_updated_at
FROM sessions s JOIN users u ON u.id = s.user_id JOIN plans p ON p.id = u.plan_id
WHERE s.id = ?`

// loadPrincipal returns the session id with its user and plan, or models.ErrNotFound.
func loadPrincipal(db *gorm.DB, id string) (models.Principal, error) {
	var rows []principalRow
	if err := db.Raw(principalQuery, id).Scan(&rows).Error; err != nil {
		return models.Principal{}, storeError(err)
	}
	if len(rows) == 0 {
		return models.Principal{}, models.ErrNotFound
	}
	r := rows[0]
	return models.Principal{Session: r.Session, User: r.User, Plan: r.Plan}, nil
}
