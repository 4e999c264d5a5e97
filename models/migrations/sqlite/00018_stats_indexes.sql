-- +goose Up
-- Indexes for GET /v1/admin/stats (services/stats.go): the day counts read a window of one
-- event type at a time, with each event's user; live sessions per user with their deadlines.
CREATE INDEX IF NOT EXISTS session_events_type_at_idx ON session_events (type, at, user_id);
CREATE INDEX IF NOT EXISTS sessions_live_user_idx ON sessions (user_id, expires_at, idle_expires_at)
    WHERE revoked_at IS NULL;

-- +goose Down
DROP INDEX IF EXISTS sessions_live_user_idx;
DROP INDEX IF EXISTS session_events_type_at_idx;
