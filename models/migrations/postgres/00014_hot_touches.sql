-- +goose Up
-- A touch (last_seen_at and idle_expires_at, written at most once per touch interval by every
-- session in use) must be a HOT update: no index may hold the columns it writes, and the new
-- row version needs room on its page. The purge finds idle sessions through idle_recheck_at
-- instead: never later than idle_expires_at, written at sign-in and by the purge (when it finds
-- a session it was due to look at still in use, it moves idle_recheck_at up to the session's
-- idle deadline), so about once per idle timeout per session in use, not once per touch.
ALTER TABLE sessions ADD COLUMN idle_recheck_at timestamptz NOT NULL DEFAULT '1970-01-01 00:00:00+00';
UPDATE sessions SET idle_recheck_at = idle_expires_at;
DROP INDEX sessions_idle_expires_at_idx;
CREATE INDEX sessions_idle_recheck_at_idx ON sessions (idle_recheck_at) WHERE revoked_at IS NULL;
ALTER TABLE sessions SET (fillfactor = 80);

-- +goose Down
ALTER TABLE sessions RESET (fillfactor);
DROP INDEX sessions_idle_recheck_at_idx;
CREATE INDEX sessions_idle_expires_at_idx ON sessions (idle_expires_at) WHERE revoked_at IS NULL;
ALTER TABLE sessions DROP COLUMN idle_recheck_at;
