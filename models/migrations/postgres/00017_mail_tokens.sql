-- +goose Up
-- Account recovery and verified email. users.email_verified: the owner of the address opened a
-- link mailed to it (or an identity provider vouched for it when it made the account).
ALTER TABLE users ADD COLUMN email_verified boolean NOT NULL DEFAULT false;

-- A reset of the password ends every session with its own reason.
ALTER TABLE sessions DROP CONSTRAINT sessions_revoke_reason_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_revoke_reason_check CHECK (revoke_reason IN ('logout', 'evicted',
    'replaced', 'revoked_by_user', 'revoked_by_admin', 'password_changed', 'user_disabled', 'password_reset'));

-- The links mailed for a password reset or an address to verify: a 256-bit secret of which
-- only the SHA-256 is kept, bound to the account (and, for verify, to the address it was sent
-- to: a link for an old address verifies nothing), single use (used_at) until expires_at.
CREATE TABLE mail_tokens (
    id          uuid PRIMARY KEY,
    token_hash  bytea NOT NULL UNIQUE,
    purpose     text NOT NULL CHECK (purpose IN ('reset', 'verify')),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email       text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX mail_tokens_user_id_idx ON mail_tokens (user_id, purpose);
CREATE INDEX mail_tokens_expires_at_idx ON mail_tokens (expires_at);

-- +goose Down
DROP TABLE mail_tokens;
UPDATE sessions SET revoke_reason = 'password_changed' WHERE revoke_reason = 'password_reset';
ALTER TABLE sessions DROP CONSTRAINT sessions_revoke_reason_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_revoke_reason_check CHECK (revoke_reason IN ('logout', 'evicted',
    'replaced', 'revoked_by_user', 'revoked_by_admin', 'password_changed', 'user_disabled'));
ALTER TABLE users DROP COLUMN email_verified;
