-- +goose Up
-- Account recovery and verified email. users.email_verified: the owner of the address opened a
-- link mailed to it (or an identity provider vouched for it when it made the account).
ALTER TABLE users ADD COLUMN email_verified boolean NOT NULL DEFAULT false;

-- A reset of the password ends every session with its own reason. SQLite cannot alter a CHECK;
-- widening one changes no stored row, so the table's definition is edited in place, the way
-- SQLite's documentation gives for changes that leave the file's content as it is (ALTER TABLE,
-- "making other kinds of table schema changes"). RESET makes this connection read the new
-- definition; the CREATE TABLE below changes the schema cookie, so every other one does too.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, '''password_changed'', ''user_disabled'')',
    '''password_changed'', ''user_disabled'', ''password_reset'')')
WHERE type = 'table' AND name = 'sessions';
PRAGMA writable_schema = RESET;
PRAGMA writable_schema = OFF;

-- The links mailed for a password reset or an address to verify: a 256-bit secret of which
-- only the SHA-256 is kept, bound to the account (and, for verify, to the address it was sent
-- to: a link for an old address verifies nothing), single use (used_at) until expires_at.
CREATE TABLE mail_tokens (
    id          text PRIMARY KEY,
    token_hash  blob NOT NULL UNIQUE,
    purpose     text NOT NULL CHECK (purpose IN ('reset', 'verify')),
    user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email       text NOT NULL,
    created_at  datetime NOT NULL,
    expires_at  datetime NOT NULL,
    used_at     datetime
);
CREATE INDEX mail_tokens_user_id_idx ON mail_tokens (user_id, purpose);
CREATE INDEX mail_tokens_expires_at_idx ON mail_tokens (expires_at);

-- +goose Down
DROP TABLE mail_tokens;
UPDATE sessions SET revoke_reason = 'password_changed' WHERE revoke_reason = 'password_reset';
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, '''password_changed'', ''user_disabled'', ''password_reset'')',
    '''password_changed'', ''user_disabled'')')
WHERE type = 'table' AND name = 'sessions';
PRAGMA writable_schema = RESET;
PRAGMA writable_schema = OFF;
ALTER TABLE users DROP COLUMN email_verified;
