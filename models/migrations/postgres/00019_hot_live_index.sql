-- +goose NO TRANSACTION
-- +goose Up
-- Touches must stay HOT updates (issue 21): 00018's index of live sessions per user carried
-- idle_expires_at, which every touch writes, so every touch rewrote the row and all six
-- indexes (0 % HOT measured by scripts/bench.sh scale). It carries idle_recheck_at instead:
-- never later than idle_expires_at, so a session with idle_recheck_at in the future is idle-live
-- without visiting the row, and only the few whose recheck is due are read from the table
-- (services/stats.go). Built before the old one goes, without blocking sign-ins.
CREATE INDEX CONCURRENTLY IF NOT EXISTS sessions_live_user_recheck_idx ON sessions (user_id)
    INCLUDE (expires_at, idle_recheck_at) WHERE revoked_at IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS sessions_live_user_idx;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS sessions_live_user_idx ON sessions (user_id) INCLUDE (expires_at, idle_expires_at)
    WHERE revoked_at IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS sessions_live_user_recheck_idx;
