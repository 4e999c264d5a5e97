-- +goose Up
-- Whether a user has linked identities, so that the per-request principal lookup reads the
-- identities only for users that have some. A trigger keeps it, whoever inserts the identity;
-- identities go only with their user.
ALTER TABLE users ADD COLUMN has_identities boolean NOT NULL DEFAULT false;
UPDATE users SET has_identities = true WHERE EXISTS (SELECT 1 FROM identities i WHERE i.user_id = users.id);

-- +goose StatementBegin
CREATE TRIGGER identities_mark_user AFTER INSERT ON identities
BEGIN
    UPDATE users SET has_identities = true WHERE id = NEW.user_id AND NOT has_identities;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER identities_mark_user;
ALTER TABLE users DROP COLUMN has_identities;
