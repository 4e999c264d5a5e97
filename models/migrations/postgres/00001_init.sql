-- +goose Up
CREATE TABLE plans (
    id                       uuid PRIMARY KEY,
    name                     text NOT NULL UNIQUE,
    max_sessions             integer NOT NULL CHECK (max_sessions BETWEEN 1 AND 1000),
    limit_policy             text NOT NULL CHECK (limit_policy IN ('evict_oldest', 'evict_least_recent', 'reject')),
    idle_timeout_seconds     bigint CHECK (idle_timeout_seconds > 0),
    absolute_timeout_seconds bigint CHECK (absolute_timeout_seconds > 0),
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL
);

INSERT INTO plans (id, name, max_sessions, limit_policy, created_at, updated_at) VALUES
    ('0190a000-0000-7000-8000-000000000001', 'basic',    1, 'reject',       now(), now()),
    ('0190a000-0000-7000-8000-000000000002', 'standard', 2, 'evict_oldest', now(), now()),
    ('0190a000-0000-7000-8000-000000000004', 'premium',  4, 'evict_oldest', now(), now());

CREATE TABLE users (
    id                          uuid PRIMARY KEY,
    email                       text NOT NULL UNIQUE,
    password_hash               text NOT NULL,
    display_name                text NOT NULL DEFAULT '',
    role                        text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    plan_id                     uuid NOT NULL REFERENCES plans (id),
    max_sessions_override       integer CHECK (max_sessions_override BETWEEN 1 AND 1000),
    max_sessions_override_until timestamptz,
    limit_policy_override       text CHECK (limit_policy_override IN ('evict_oldest', 'evict_least_recent', 'reject')),
    disabled_at                 timestamptz,
    created_at                  timestamptz NOT NULL,
    updated_at                  timestamptz NOT NULL
);
CREATE INDEX users_plan_id_idx ON users (plan_id);

CREATE TABLE sessions (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_hash     bytea NOT NULL,
    device_id       text NOT NULL DEFAULT '',
    device_name     text NOT NULL,
    device_type     text NOT NULL,
    ip              text NOT NULL DEFAULT '',
    user_agent      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    idle_expires_at timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoke_reason   text CHECK (revoke_reason IN ('logout', 'evicted', 'replaced', 'revoked_by_user',
                                                  'revoked_by_admin', 'password_changed', 'user_disabled')),
    revoked_by      text,
    CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
);
-- A user's live sessions: read under the user lock at every login.
CREATE INDEX sessions_user_active_idx ON sessions (user_id, created_at) WHERE revoked_at IS NULL;
-- Every session of a user (admin views, cascade deletes).
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
-- The purge: live sessions past their idle deadline (never later than expires_at) ...
CREATE INDEX sessions_idle_expires_at_idx ON sessions (idle_expires_at) WHERE revoked_at IS NULL;
-- ... and revoked sessions past the retention.
CREATE INDEX sessions_revoked_at_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE session_events (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id  uuid,
    type        text NOT NULL,
    device_id   text NOT NULL DEFAULT '',
    device_name text NOT NULL DEFAULT '',
    device_type text NOT NULL DEFAULT '',
    ip          text NOT NULL DEFAULT '',
    actor_kind  text NOT NULL,
    actor_id    text NOT NULL DEFAULT '',
    at          timestamptz NOT NULL,
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX session_events_user_at_idx ON session_events (user_id, at DESC, id DESC);
CREATE INDEX session_events_at_idx ON session_events (at);

-- +goose Down
DROP TABLE session_events;
DROP TABLE sessions;
DROP TABLE users;
DROP TABLE plans;
