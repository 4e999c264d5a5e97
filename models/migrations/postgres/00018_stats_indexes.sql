-- +goose NO TRANSACTION
-- +goose Up
-- Indexes for GET /v1/admin/stats (services/stats.go), built without blocking sign-ins.
-- The day counts read a window of one event type at a time, and the evictions per plan need
-- each event's user: an index-only scan of (type, at) carrying user_id.
CREATE INDEX CONCURRENTLY IF NOT EXISTS session_events_type_at_idx ON session_events (type, at) INCLUDE (user_id);
-- Live sessions per user with their deadlines: counted without visiting the table.
CREATE INDEX CONCURRENTLY IF NOT EXISTS sessions_live_user_idx ON sessions (user_id) INCLUDE (expires_at, idle_expires_at)
    WHERE revoked_at IS NULL;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS sessions_live_user_idx;
DROP INDEX CONCURRENTLY IF EXISTS session_events_type_at_idx;
