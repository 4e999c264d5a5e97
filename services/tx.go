package services

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
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

// principalQuery reads a session with its user and plan in one round trip. Not the password
// hash: a check never needs it, and what it returns may sit in the session cache. It is the hot path
// of every uncached check, so it is scanned by hand through database/sql (pgx prepares and
// caches it per connection), without GORM's reflection.
const principalColumns = `SELECT s.id, s.user_id, s.secret_hash, s.device_id, s.device_name, s.device_type, s.ip,
  s.user_agent, s.created_at, s.last_seen_at, s.expires_at, s.idle_expires_at, s.revoked_at, s.revoke_reason,
  s.revoked_by,
  u.id, u.email, u.display_name, u.role, u.plan_id, u.max_sessions_override,
  u.max_sessions_override_until, u.limit_policy_override, u.disabled_at, u.created_at, u.updated_at,
  p.id, p.name, p.max_sessions, p.limit_policy, p.idle_timeout_seconds, p.absolute_timeout_seconds,
  p.created_at, p.updated_at,
`

// The principal in one round trip: session, user, plan, and the user's linked identities as a
// JSON array, read only for users that have some (users.has_identities: probing the empty
// identities of everyone else cost about 15 % of the query). Go puts them in the order they
// were linked: an ORDER BY inside the aggregate starts a sort on every check, which made the
// whole query 2.5 times as costly for Postgres (pgbench, 1M sessions). PrincipalQueryPostgres
// is exported for scripts/bench/rawpgx, the floor the benchmark holds the uncached check against.
const (
	PrincipalQueryPostgres = principalColumns + `  CASE WHEN u.has_identities THEN (SELECT json_agg(json_build_object('provider', i.provider, 'issuer', i.issuer,
    'subject', i.subject, 'email', i.email, 'linked', extract(epoch FROM i.created_at))) FROM identities i WHERE i.user_id = u.id)::text END
FROM sessions s JOIN users u ON u.id = s.user_id JOIN plans p ON p.id = u.plan_id
WHERE s.id = $1`
	principalQuerySQLite = principalColumns + `  CASE WHEN u.has_identities THEN (SELECT json_group_array(json_object('provider', provider, 'issuer', issuer,
    'subject', subject, 'email', email, 'linked', julianday(created_at))) FROM identities i WHERE i.user_id = u.id) END
FROM sessions s JOIN users u ON u.id = s.user_id JOIN plans p ON p.id = u.plan_id
WHERE s.id = ?`
)

// loadPrincipal reads session id with its user and plan into p, or returns
// models.ErrNotFound. (Into the caller's p: the scan moves it to the heap, and returning a
// copy allocated a second one.)
func loadPrincipal(ctx context.Context, db *gorm.DB, id string, p *models.Principal) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	if Dialect(db) == "postgres" {
		err = loadPrincipalPgx(ctx, sqlDB, id, p)
	} else {
		err = loadPrincipalSQL(ctx, sqlDB, id, p)
	}
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) {
		return models.ErrNotFound
	}
	return storeError(err)
}

// loadPrincipalPgx runs the lookup on the pgx connection under database/sql.
func loadPrincipalPgx(ctx context.Context, sqlDB *sql.DB, id string, p *models.Principal) error {
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		return ScanPrincipal(driverConn.(*stdlib.Conn).Conn().QueryRow(ctx, PrincipalQueryPostgres, id), p)
	})
}

// ScanPrincipal reads the row of PrincipalQueryPostgres straight into p (pgx maps NULL to nil
// pointers itself).
func ScanPrincipal(row pgx.Row, p *models.Principal) error {
	s, u, pl := &p.Session, &p.User, &p.Plan
	var (
		deviceID   *string
		identities []byte
	)
	err := row.Scan(
		&s.ID, &s.UserID, &s.SecretHash, &deviceID, &s.DeviceName, &s.DeviceType, &s.IP,
		&s.UserAgent, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt, &s.IdleExpiresAt, &s.RevokedAt, &s.RevokeReason,
		&s.RevokedBy,
		&u.ID, &u.Email, &u.DisplayName, &u.Role, &u.PlanID, &u.MaxSessionsOverride,
		&u.MaxSessionsOverrideUntil, &u.LimitPolicyOverride, &u.DisabledAt, &u.CreatedAt, &u.UpdatedAt,
		&pl.ID, &pl.Name, &pl.MaxSessions, &pl.LimitPolicy, &pl.IdleTimeoutSeconds, &pl.AbsoluteTimeoutSeconds,
		&pl.CreatedAt, &pl.UpdatedAt, &identities)
	if err != nil {
		return err
	}
	if deviceID != nil {
		s.DeviceID = *deviceID
	}
	return scanIdentities(identities, p)
}

// linkedRow is an identity in the principal query's array. Linked is when it was linked, as a
// number that orders in time whatever the session's time zone (Postgres: seconds since the
// epoch; SQLite: the Julian day).
type linkedRow struct {
	models.LinkedIdentity
	Linked float64 `json:"linked"`
}

// scanIdentities reads the principal's identities from their JSON array.
func scanIdentities(b []byte, p *models.Principal) error {
	if len(b) == 0 || string(b) == "[]" {
		return nil
	}
	var linked []linkedRow
	if err := json.Unmarshal(b, &linked); err != nil {
		return fmt.Errorf("read linked identities: %w", err)
	}
	slices.SortStableFunc(linked, func(a, b linkedRow) int { return cmp.Compare(a.Linked, b.Linked) })
	p.Identities = make([]models.LinkedIdentity, len(linked))
	for i, l := range linked {
		p.Identities[i] = l.LinkedIdentity
	}
	return nil
}

// loadPrincipalSQL is the lookup through database/sql (SQLite).
func loadPrincipalSQL(ctx context.Context, sqlDB *sql.DB, id string, p *models.Principal) error {
	var (
		s, u, pl                               = &p.Session, &p.User, &p.Plan
		deviceID, reason, revokedBy, policy    sql.NullString
		revokedAt, overrideUntil, disabledAt   sql.NullTime
		override, idleSeconds, absoluteSeconds sql.NullInt64
		identities                             []byte
	)
	err := sqlDB.QueryRowContext(ctx, principalQuerySQLite, id).Scan(
		&s.ID, &s.UserID, &s.SecretHash, &deviceID, &s.DeviceName, &s.DeviceType, &s.IP,
		&s.UserAgent, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt, &s.IdleExpiresAt, &revokedAt, &reason,
		&revokedBy,
		&u.ID, &u.Email, &u.DisplayName, &u.Role, &u.PlanID, &override,
		&overrideUntil, &policy, &disabledAt, &u.CreatedAt, &u.UpdatedAt,
		&pl.ID, &pl.Name, &pl.MaxSessions, &pl.LimitPolicy, &idleSeconds, &absoluteSeconds,
		&pl.CreatedAt, &pl.UpdatedAt, &identities)
	if err != nil {
		return err
	}
	if err := scanIdentities(identities, p); err != nil {
		return err
	}
	s.DeviceID = deviceID.String
	s.RevokedAt = ptrIf(revokedAt.Time, revokedAt.Valid)
	s.RevokeReason = ptrIf(models.RevokeReason(reason.String), reason.Valid)
	s.RevokedBy = ptrIf(revokedBy.String, revokedBy.Valid)
	u.MaxSessionsOverride = ptrIf(int(override.Int64), override.Valid)
	u.MaxSessionsOverrideUntil = ptrIf(overrideUntil.Time, overrideUntil.Valid)
	u.LimitPolicyOverride = ptrIf(models.LimitPolicy(policy.String), policy.Valid)
	u.DisabledAt = ptrIf(disabledAt.Time, disabledAt.Valid)
	pl.IdleTimeoutSeconds = ptrIf(idleSeconds.Int64, idleSeconds.Valid)
	pl.AbsoluteTimeoutSeconds = ptrIf(absoluteSeconds.Int64, absoluteSeconds.Valid)
	return nil
}

func ptrIf[T any](v T, ok bool) *T {
	if !ok {
		return nil
	}
	return &v
}
