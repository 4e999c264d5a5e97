-- +goose Up
-- Streams (issue 22): how many devices may play at once, beside how many may be signed in.
ALTER TABLE plans
    ADD COLUMN max_streams         integer NOT NULL DEFAULT 2 CHECK (max_streams BETWEEN 1 AND 1000),
    ADD COLUMN stream_policy       text NOT NULL DEFAULT 'reject' CHECK (stream_policy IN ('reject', 'takeover_oldest')),
    ADD COLUMN stream_class_limits jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(stream_class_limits) = 'object');
UPDATE plans SET max_streams = 1 WHERE id = '0190a000-0000-7000-8000-000000000001';
UPDATE plans SET max_streams = 2 WHERE id = '0190a000-0000-7000-8000-000000000002';
UPDATE plans SET max_streams = 4 WHERE id = '0190a000-0000-7000-8000-000000000004';

ALTER TABLE users
    ADD COLUMN max_streams_override integer CHECK (max_streams_override BETWEEN 1 AND 1000);

-- One row per stream lease. A heartbeat is the hot path: one UPDATE by primary key that moves
-- last_heartbeat_at and expires_at only. Neither column is in any index (nor in a partial
-- index's predicate), and fillfactor leaves a third of each page free, so the new row version
-- fits on its page: heartbeats are HOT updates that write no index entry. That is also why
-- there is no index on expires_at: the purge finds lapsed leases by scanning the live ones
-- (streams_user_active_idx bounds them), every few minutes, instead of every heartbeat
-- paying for an index it never reads. The device is copied from the session at start, and
-- ended_by_device_name at the end, so that the heartbeat's RETURNING answers "ended, why and
-- by whom" from this row alone.
CREATE TABLE streams (
    id                   uuid PRIMARY KEY,
    user_id              uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id           uuid NOT NULL,
    device_id            text NOT NULL DEFAULT '',
    device_name          text NOT NULL DEFAULT '',
    device_type          text NOT NULL DEFAULT '',
    content_id           text NOT NULL DEFAULT '' CHECK (length(content_id) <= 256),
    class                text NOT NULL CHECK (length(class) BETWEEN 1 AND 32),
    started_at           timestamptz NOT NULL,
    last_heartbeat_at    timestamptz NOT NULL,
    expires_at           timestamptz NOT NULL,
    ended_at             timestamptz,
    end_reason           text CHECK (end_reason IN ('taken_over', 'replaced', 'stopped', 'expired',
                                                    'session_ended', 'limit_lowered', 'revoked_by_admin')),
    ended_by             text,
    ended_by_device_name text,
    CHECK ((ended_at IS NULL) = (end_reason IS NULL))
) WITH (fillfactor = 70);
-- A user's live leases: read under the user lock at every start.
CREATE INDEX streams_user_active_idx ON streams (user_id, started_at) WHERE ended_at IS NULL;
-- Every lease of a user (admin views, cascade deletes).
CREATE INDEX streams_user_id_idx ON streams (user_id);
-- A session holds at most one live stream; ending a session finds it here.
CREATE UNIQUE INDEX streams_session_active_key ON streams (session_id) WHERE ended_at IS NULL;
-- The purge: ended leases past the retention.
CREATE INDEX streams_ended_at_idx ON streams (ended_at) WHERE ended_at IS NOT NULL;

-- +goose Down
DROP TABLE streams;
ALTER TABLE users DROP COLUMN max_streams_override;
ALTER TABLE plans DROP COLUMN stream_class_limits, DROP COLUMN stream_policy, DROP COLUMN max_streams;
