-- +goose Up
-- TV sign-in with a code (RFC 8628's device authorization grant). The device code is kept as
-- its SHA-256; so are the secrets of the session and device key the device receives once
-- approved (derived from the device code: only its holder can spell them). user_code is the
-- normalised 8 letters, unique until the row is purged. last_polled_at and resent pace the polls.
-- An approval stores the session (session_id) in the login's transaction; issued_at marks it
-- handed out, once. Rows past expires_at are purged.
CREATE TABLE device_authorizations (
    id                     text PRIMARY KEY,
    device_code_hash       blob NOT NULL UNIQUE,
    token_secret_hash      blob NOT NULL,
    device_key_secret_hash blob NOT NULL,
    user_code              text NOT NULL UNIQUE,
    client_id              text NOT NULL DEFAULT '',
    device_id              text NOT NULL DEFAULT '',
    device_name            text NOT NULL,
    device_type            text NOT NULL,
    ip                     text NOT NULL DEFAULT '',
    user_agent             text NOT NULL DEFAULT '',
    created_at             datetime NOT NULL,
    expires_at             datetime NOT NULL,
    last_polled_at         datetime,
    resent                 boolean NOT NULL DEFAULT false,
    interval_seconds       integer NOT NULL,
    approved_by_user_id    text REFERENCES users (id) ON DELETE CASCADE,
    approved_at            datetime,
    denied_at              datetime,
    session_id             text,
    device_key_id          text,
    issued_at              datetime
);
CREATE INDEX device_authorizations_expires_at_idx ON device_authorizations (expires_at);

-- +goose Down
DROP TABLE device_authorizations;
