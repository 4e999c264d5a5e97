-- +goose Up
-- A session expires once: its 'expired' event is written by whichever notices first
-- (a check of the token, or the purge), and only once.
CREATE UNIQUE INDEX session_events_expired_once_idx ON session_events (session_id) WHERE type = 'expired';

-- +goose Down
DROP INDEX session_events_expired_once_idx;
