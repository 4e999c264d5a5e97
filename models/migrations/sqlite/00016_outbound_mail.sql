-- +goose Up
-- The transactional outbox of mail: a use case that mails inserts its row in its own
-- transaction, so a mail exists exactly when the change it tells of was committed. The body is
-- rendered at enqueue time (the row is what is sent, whatever the templates become). A sender
-- claims due rows (FOR UPDATE SKIP LOCKED), sends, and sets sent_at; on error it counts the
-- attempt, keeps last_error and pushes next_attempt_at back, until failed_at ends the retries.
CREATE TABLE outbound_mail (
    id              text PRIMARY KEY,
    kind            text NOT NULL,
    to_addr         text NOT NULL,
    subject         text NOT NULL,
    text_body       text NOT NULL,
    html_body       text NOT NULL DEFAULT '',
    created_at      datetime NOT NULL,
    next_attempt_at datetime NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    sent_at         datetime,
    failed_at       datetime,
    last_error      text NOT NULL DEFAULT ''
);
-- The sender's one query: pending rows in due order. Sent and failed rows leave the index.
CREATE INDEX outbound_mail_due_idx ON outbound_mail (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
-- The purge of old sent and failed rows.
CREATE INDEX outbound_mail_created_at_idx ON outbound_mail (created_at);

-- +goose Down
DROP TABLE outbound_mail;
