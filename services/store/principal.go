package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

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
  p.created_at, p.updated_at, p.max_streams, p.stream_policy, CAST(p.stream_class_limits AS text),
  u.max_streams_override,
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

// LoadPrincipal reads session id with its user and plan into p, or returns
// models.ErrNotFound. (Into the caller's p: the scan moves it to the heap, and returning a
// copy allocated a second one.)
func LoadPrincipal(ctx context.Context, db *gorm.DB, id string, p *models.Principal) error {
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
	return Translate(err)
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
		&pl.CreatedAt, &pl.UpdatedAt, &pl.MaxStreams, &pl.StreamPolicy, &pl.StreamClassLimits,
		&u.MaxStreamsOverride, &identities)
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
		maxStreams                             sql.NullInt64
	)
	err := sqlDB.QueryRowContext(ctx, principalQuerySQLite, id).Scan(
		&s.ID, &s.UserID, &s.SecretHash, &deviceID, &s.DeviceName, &s.DeviceType, &s.IP,
		&s.UserAgent, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt, &s.IdleExpiresAt, &revokedAt, &reason,
		&revokedBy,
		&u.ID, &u.Email, &u.DisplayName, &u.Role, &u.PlanID, &override,
		&overrideUntil, &policy, &disabledAt, &u.CreatedAt, &u.UpdatedAt,
		&pl.ID, &pl.Name, &pl.MaxSessions, &pl.LimitPolicy, &idleSeconds, &absoluteSeconds,
		&pl.CreatedAt, &pl.UpdatedAt, &pl.MaxStreams, &pl.StreamPolicy, &pl.StreamClassLimits,
		&maxStreams, &identities)
	if err != nil {
		return err
	}
	u.MaxStreamsOverride = ptrIf(int(maxStreams.Int64), maxStreams.Valid)
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
