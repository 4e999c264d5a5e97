package services

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// heartbeatSQL renews a lease in one statement: no user lock, no read before it. The row is
// matched by primary key and the presenting session; only a live lease moves its two times
// (the CASEs), an ended or lapsed one is returned as it stands, so the same statement also
// answers "ended, why, and by whom". last_heartbeat_at and expires_at are in no index and
// the table leaves room on each page (fillfactor), so the update is HOT on Postgres.
// Parameters are numbered, which both drivers read: now, the new expiry, the stream, the session.
const heartbeatSQL = `UPDATE streams SET
  last_heartbeat_at = CASE WHEN ended_at IS NULL AND expires_at > $1 THEN $1 ELSE last_heartbeat_at END,
  expires_at = CASE WHEN ended_at IS NULL AND expires_at > $1 THEN $2 ELSE expires_at END
WHERE id = $3 AND session_id = $4
RETURNING ` + leaseColumns

const leaseColumns = `id, user_id, session_id, device_id, device_name, device_type, content_id, class, started_at,
  last_heartbeat_at, expires_at, ended_at, end_reason, ended_by, ended_by_device_name`

// renewLease runs the heartbeat's statement and returns the lease as it stands after it, or
// models.ErrNotFound when the session holds no such stream. It is the hot path of every
// player, so it goes through database/sql and is scanned by hand (pgx prepares it once per
// connection): GORM's Raw(…).Scan spent more client CPU than the statement's round trip
// (building it, rendering it with its values for the logger, and scanning by reflection),
// which on a shared machine is CPU taken from Postgres.
func renewLease(ctx context.Context, db *gorm.DB, now, exp time.Time, streamID, sessionID string) (models.Stream, error) {
	sqlDB, err := db.DB()
	if err != nil {
		return models.Stream{}, err
	}
	var st models.Stream
	err = sqlDB.QueryRowContext(ctx, heartbeatSQL, now, exp, streamID, sessionID).Scan(
		&st.ID, &st.UserID, &st.SessionID, &st.DeviceID, &st.DeviceName, &st.DeviceType, &st.ContentID, &st.Class,
		&st.StartedAt, &st.LastHeartbeatAt, &st.ExpiresAt, &st.EndedAt, &st.EndReason, &st.EndedBy, &st.EndedByDeviceName)
	if errors.Is(err, sql.ErrNoRows) {
		return models.Stream{}, models.ErrNotFound
	}
	return st, storeError(err)
}
