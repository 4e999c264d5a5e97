-- +goose Up
-- Streams (issue 22): see the Postgres migration for the reasoning (HOT heartbeats there;
-- SQLite has no fillfactor, the indexes are the same).
ALTER TABLE plans ADD COLUMN max_streams integer NOT NULL DEFAULT 2 CHECK (max_streams BETWEEN 1 AND 1000);
ALTER TABLE plans ADD COLUMN stream_policy text NOT NULL DEFAULT 'reject' CHECK (stream_policy IN ('reject', 'takeover_oldest'));
ALTER TABLE plans ADD COLUMN stream_class_limits text NOT NULL DEFAULT '{}' CHECK (json_type(stream_class_limits) = 'object');
UPDATE plans SET max_streams = 1 WHERE id = '0190a000-0000-7000-8000-000000000001';
UPDATE plans SET max_streams = 2 WHERE id = '0190a000-0000-7000-8000-000000000002';
UPDATE plans SET max_streams = 4 WHERE id = '0190a000-0000-7000-8000-000000000004';

ALTER TABLE users ADD COLUMN max_streams_override integer CHECK (max_streams_override BETWEEN 1 AND 1000);

CREATE TABLE streams (
    id                   text PRIMARY KEY,
    user_id              text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id           text NOT NULL,
    device_id            text NOT NULL DEFAULT '',
    device_name          text NOT NULL DEFAULT '',
    device_type          text NOT NULL DEFAULT '',
    content_id           text NOT NULL DEFAULT '' CHECK (length(content_id) <= 256),
    class                text NOT NULL CHECK (length(class) BETWEEN 1 AND 32),
    started_at           datetime NOT NULL,
    last_heartbeat_at    datetime NOT NULL,
    expires_at           datetime NOT NULL,
    ended_at             datetime,
    end_reason           text CHECK (end_reason IN ('taken_over', 'replaced', 'stopped', 'expired',
                                                    'session_ended', 'limit_lowered', 'revoked_by_admin')),
    ended_by             text,
    ended_by_device_name text,
    CHECK ((ended_at IS NULL) = (end_reason IS NULL))
);
CREATE INDEX streams_user_active_idx ON streams (user_id, started_at) WHERE ended_at IS NULL;
CREATE INDEX streams_user_id_idx ON streams (user_id);
CREATE UNIQUE INDEX streams_session_active_key ON streams (session_id) WHERE ended_at IS NULL;
CREATE INDEX streams_ended_at_idx ON streams (ended_at) WHERE ended_at IS NOT NULL;

-- +goose Down
DROP TABLE streams;
ALTER TABLE users DROP COLUMN max_streams_override;
ALTER TABLE plans DROP COLUMN stream_class_limits;
ALTER TABLE plans DROP COLUMN stream_policy;
ALTER TABLE plans DROP COLUMN max_streams;
