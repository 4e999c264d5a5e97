-- +goose Up
CREATE TABLE service_clients (
    id          text PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    secret_hash blob NOT NULL,
    created_at  datetime NOT NULL,
    disabled_at datetime
);

-- What admins (and operators on the command line) did: one row per action.
CREATE TABLE audit_events (
    id          text PRIMARY KEY,
    actor_kind  text NOT NULL,
    actor_id    text NOT NULL DEFAULT '',
    action      text NOT NULL,
    target_type text NOT NULL,
    target_id   text NOT NULL,
    at          datetime NOT NULL,
    details     text NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at_idx ON audit_events (at);
CREATE INDEX audit_events_target_idx ON audit_events (target_type, target_id, at);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE service_clients;
