-- +goose Up
-- Device keys (OWASP "device cookies"): a credential of one device for one account, issued at
-- every successful sign-in and presented with later ones. Only the SHA-256 of the secret is kept.
-- A login presenting a valid key is throttled by the key's own failure count (failures,
-- failed_at, blocked_until: what login_throttle keeps for an account), so that failures from
-- elsewhere never delay or lock it out. last_session_id is the session the key last signed in:
-- the presenting device's key, which a password change keeps. Unused for expires_at: purged.
CREATE TABLE device_keys (
    id              text PRIMARY KEY,
    user_id         text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_hash     blob NOT NULL,
    last_session_id text,
    created_at      datetime NOT NULL,
    last_used_at    datetime NOT NULL,
    expires_at      datetime NOT NULL,
    failures        integer NOT NULL DEFAULT 0,
    failed_at       datetime,
    blocked_until   datetime
);
CREATE INDEX device_keys_user_id_idx ON device_keys (user_id, last_used_at);
CREATE INDEX device_keys_expires_at_idx ON device_keys (expires_at);

-- +goose Down
DROP TABLE device_keys;
