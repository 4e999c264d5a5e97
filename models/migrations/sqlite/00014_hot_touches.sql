-- +goose Up
-- As on Postgres: the purge finds idle sessions through idle_recheck_at (never later than
-- idle_expires_at, written at sign-in and by the purge), so touches write no indexed column.
ALTER TABLE sessions ADD COLUMN idle_recheck_at datetime NOT NULL DEFAULT '1970-01-01 00:00:00+00:00';
UPDATE sessions SET idle_recheck_at = idle_expires_at;
DROP INDEX sessions_idle_expires_at_idx;
CREATE INDEX sessions_idle_recheck_at_idx ON sessions (idle_recheck_at) WHERE revoked_at IS NULL;

-- +goose Down
DROP INDEX sessions_idle_recheck_at_idx;
CREATE INDEX sessions_idle_expires_at_idx ON sessions (idle_expires_at) WHERE revoked_at IS NULL;
ALTER TABLE sessions DROP COLUMN idle_recheck_at;
