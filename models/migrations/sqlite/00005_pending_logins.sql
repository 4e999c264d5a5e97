-- +goose Up
-- Logins whose credentials were proved but which the reject policy held at the device limit,
-- waiting (minutes) for the person to choose a device to sign out. The client holds the token;
-- only the SHA-256 of its secret is kept. Completing one deletes it in the login's transaction.
CREATE TABLE pending_logins (
    id          text PRIMARY KEY,
    secret_hash blob NOT NULL,
    user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_id   text NOT NULL DEFAULT '',
    device_name text NOT NULL,
    device_type text NOT NULL,
    ip          text NOT NULL DEFAULT '',
    user_agent  text NOT NULL DEFAULT '',
    created_at  datetime NOT NULL,
    expires_at  datetime NOT NULL
);
CREATE INDEX pending_logins_user_id_idx ON pending_logins (user_id);
CREATE INDEX pending_logins_expires_at_idx ON pending_logins (expires_at);

-- +goose Down
DROP TABLE pending_logins;
