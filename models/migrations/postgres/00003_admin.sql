-- +goose Up
CREATE TABLE service_clients (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    secret_hash bytea NOT NULL,
    created_at  timestamptz NOT NULL,
    disabled_at timestamptz
);

-- What admins (and operators on the command line) did: one row per action.
CREATE TABLE audit_events (
    id          uuid PRIMARY KEY,
    actor_kind  text NOT NULL,
    actor_id    text NOT NULL DEFAULT '',
    action      text NOT NULL,
    target_type text NOT NULL,
    target_id   text NOT NULL,
    at          timestamptz NOT NULL,
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at_idx ON audit_events (at);
CREATE INDEX audit_events_target_idx ON audit_events (target_type, target_id, at);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE service_clients;
