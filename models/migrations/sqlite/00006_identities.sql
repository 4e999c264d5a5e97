-- +goose Up
-- People at external OpenID Connect providers, (issuer, subject), linked to users.
CREATE TABLE identities (
    id           text PRIMARY KEY,
    user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider     text NOT NULL,
    issuer       text NOT NULL,
    subject      text NOT NULL,
    email        text NOT NULL DEFAULT '',
    created_at   datetime NOT NULL,
    last_used_at datetime NOT NULL,
    UNIQUE (issuer, subject)
);
CREATE INDEX identities_user_id_idx ON identities (user_id);

-- Browser sign-ins sent to a provider and not back yet: the SHA-256 of the state, of the value
-- binding it to the browser, the nonce and PKCE verifier, the device, where to return. Spent
-- (deleted) by the callback; expired ones are purged.
CREATE TABLE oidc_states (
    state_hash   blob PRIMARY KEY,
    browser_hash blob NOT NULL,
    provider     text NOT NULL,
    nonce        text NOT NULL,
    verifier     text NOT NULL,
    device_id    text NOT NULL DEFAULT '',
    device_name  text NOT NULL,
    device_type  text NOT NULL,
    return_to    text NOT NULL,
    created_at   datetime NOT NULL,
    expires_at   datetime NOT NULL
);
CREATE INDEX oidc_states_expires_at_idx ON oidc_states (expires_at);

-- ID tokens native clients signed in with, refused a second time until they expire.
CREATE TABLE oidc_used_tokens (
    token_hash blob PRIMARY KEY,
    expires_at datetime NOT NULL
);
CREATE INDEX oidc_used_tokens_expires_at_idx ON oidc_used_tokens (expires_at);

-- +goose Down
DROP TABLE oidc_used_tokens;
DROP TABLE oidc_states;
DROP TABLE identities;
