-- +goose Up
-- As on Postgres: the index of live sessions per user carries idle_recheck_at, not
-- idle_expires_at, so a touch writes no indexed column (SQLite has no HOT updates, but each
-- touch then skips an index write).
CREATE INDEX IF NOT EXISTS sessions_live_user_recheck_idx ON sessions (user_id, expires_at, idle_recheck_at)
    WHERE revoked_at IS NULL;
DROP INDEX IF EXISTS sessions_live_user_idx;

-- +goose Down
CREATE INDEX IF NOT EXISTS sessions_live_user_idx ON sessions (user_id, expires_at, idle_expires_at)
    WHERE revoked_at IS NULL;
DROP INDEX IF EXISTS sessions_live_user_recheck_idx;
