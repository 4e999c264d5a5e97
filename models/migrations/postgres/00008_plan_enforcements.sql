-- +goose Up
-- A plan's limit applied at once (PATCH …?enforce=now), recorded in the transaction that
-- changes the plan so that it always finishes: the request works through the plan's users in
-- id order, each in a transaction of its own that also advances last_user_id and the counts,
-- and whoever finds it unfinished with its claim lapsed (the purge job's next pass, on any
-- process) carries on from there. claimed_by/claimed_until is the lease of the run working on
-- it, renewed with every user. A newer enforcement of the plan finishes an older one
-- (superseded_by). Kept once finished, like the audit rows that name it.
CREATE TABLE plan_enforcements (
    id                uuid PRIMARY KEY,
    plan_id           uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    requested_at      timestamptz NOT NULL,
    requested_by_kind text NOT NULL,
    requested_by      text NOT NULL DEFAULT '',
    last_user_id      uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    users             integer NOT NULL DEFAULT 0,
    sessions_evicted  integer NOT NULL DEFAULT 0,
    claimed_by        uuid,
    claimed_until     timestamptz,
    finished_at       timestamptz,
    superseded_by     uuid
);
CREATE INDEX plan_enforcements_unfinished_idx ON plan_enforcements (requested_at) WHERE finished_at IS NULL;
CREATE INDEX plan_enforcements_plan_id_idx ON plan_enforcements (plan_id);

-- +goose Down
DROP TABLE plan_enforcements;
