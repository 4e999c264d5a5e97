-- +goose Up
-- Consecutive failed logins per account, keyed by the SHA-256 of the normalised email (unknown
-- emails are throttled exactly like known ones, so throttling reveals no account). A login is
-- counted before its password is checked and the count reset when it succeeds.
CREATE TABLE login_throttle (
    key           text PRIMARY KEY,
    failures      integer NOT NULL,
    blocked_until datetime,
    updated_at    datetime NOT NULL
);
CREATE INDEX login_throttle_updated_at_idx ON login_throttle (updated_at);

-- Per-client-address rate limits: the GCRA state of github.com/throttled/throttled, shared by
-- every process. A row past expires_at is as good as absent.
CREATE TABLE rate_limits (
    key        text PRIMARY KEY,
    value      bigint NOT NULL,
    expires_at datetime NOT NULL
);
CREATE INDEX rate_limits_expires_at_idx ON rate_limits (expires_at);

-- +goose Down
DROP TABLE rate_limits;
DROP TABLE login_throttle;
