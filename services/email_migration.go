package services

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"
	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
)

// Emails stored before NormalizeEmail (trimmed and lower-cased only) are rewritten once, by a
// versioned migration, in the one spelling it gives. Two accounts that turn out to be one
// address are both kept, never merged or dropped: the older one takes the spelling, unless an
// account already holds it, and the other keeps its old spelling and is reported, in the log and
// by `sessiond users collisions`, for an operator to settle.

// emailMigrationVersion is the goose version of the migration, beside the SQL files.
const emailMigrationVersion = 9

// emailScanBatch is how many accounts are read at a time.
const emailScanBatch = 1000

// emailMigration returns migration 9 for the store db. It runs in goose's transaction, with
// the version record; it has no down step (the old spellings are in the audit log).
func emailMigration(db *gorm.DB, log *slog.Logger) *goose.Migration {
	return goose.NewGoMigration(emailMigrationVersion, &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
		gtx := db.Session(&gorm.Session{NewDB: true, Context: ctx})
		gtx.Statement.ConnPool = tx // GORM over goose's transaction, as db.Begin would set it
		return normalizeStoredEmails(ctx, gtx, log, clock(nil))
	}}, nil)
}

// normalizeStoredEmails rewrites every stored email that is not in its normal spelling, oldest
// account first, and records each change in the audit log (actor system, old and new spelling).
func normalizeStoredEmails(ctx context.Context, tx *gorm.DB, log *slog.Logger, now time.Time) error {
	rows, err := unnormalized(tx)
	if err != nil {
		return err
	}
	taken, err := holders(tx, rows)
	if err != nil {
		return err
	}
	changed := 0
	for _, r := range rows {
		switch other, ok := taken[r.normal]; {
		case r.normal == "":
			log.WarnContext(ctx, "stored email refused by the normalisation, kept as it is", "user_id", r.user.ID, "problem", r.problem)
		case ok:
			log.WarnContext(ctx, "stored email collides with another account's, both kept", "user_id", r.user.ID, "other_user_id", other.ID)
		default:
			if err := tx.Model(&models.User{}).Where("id = ?", r.user.ID).Update("email", r.normal).Error; err != nil {
				return fmt.Errorf("normalise email of user %s: %w", r.user.ID, storeError(err))
			}
			ev := models.AuditEvent{
				ID: newID(), ActorKind: models.ActorSystem, Action: "user.email_normalized", TargetType: "user", TargetID: r.user.ID,
				At: now, Details: jsonObject(map[string]any{"from": r.user.Email, "to": r.normal}),
			}
			if err := storeError(tx.Create(&ev).Error); err != nil {
				return err
			}
			taken[r.normal] = r.user
			changed++
		}
	}
	log.InfoContext(ctx, "stored emails normalised", "changed", changed, "kept", len(rows)-changed)
	if changed < len(rows) {
		log.WarnContext(ctx, "accounts left in another spelling cannot sign in by email until settled: run `sessiond users collisions`", "accounts", len(rows)-changed)
	}
	return nil
}

// EmailCollisions lists the accounts whose stored emails are one address in different
// spellings, or are refused by NormalizeEmail (`sessiond users collisions`). It reads every
// account, in batches, and holds only those in memory.
func (u *Users) EmailCollisions(ctx context.Context) ([]models.EmailCollision, error) {
	db := u.db.WithContext(ctx)
	rows, err := unnormalized(db)
	if err != nil {
		return nil, fmt.Errorf("email collisions: %w", err)
	}
	taken, err := holders(db, rows)
	if err != nil {
		return nil, fmt.Errorf("email collisions: %w", err)
	}
	var out []models.EmailCollision
	groups := map[string]int{} // normal spelling → index in out
	for _, r := range rows {
		if r.normal == "" {
			out = append(out, models.EmailCollision{Problem: r.problem, Users: []models.User{r.user}})
			continue
		}
		i, ok := groups[r.normal]
		if !ok {
			i, groups[r.normal] = len(out), len(out)
			out = append(out, models.EmailCollision{Email: r.normal})
			if holder, ok := taken[r.normal]; ok {
				out[i].Users = append(out[i].Users, holder)
			}
		}
		out[i].Users = append(out[i].Users, r.user)
	}
	for i := range out {
		slices.SortFunc(out[i].Users, olderFirst)
	}
	slices.SortFunc(out, func(a, b models.EmailCollision) int {
		return cmp.Or(strings.Compare(a.Email, b.Email), olderFirst(a.Users[0], b.Users[0]))
	})
	return out, nil
}

// storedEmail is an account whose stored email is not in its normal spelling.
type storedEmail struct {
	user    models.User // ID, Email and CreatedAt only
	normal  string      // "" when NormalizeEmail refuses the stored email
	problem string      // why it refuses it
}

func olderFirst(a, b models.User) int {
	return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
}

// unnormalized reads every account, in batches by id, and returns those whose stored email is
// not in the spelling NormalizeEmail gives it, oldest first.
func unnormalized(db *gorm.DB) ([]storedEmail, error) {
	var out []storedEmail
	after := uuid.Nil.String() // below every id, and a valid uuid for Postgres
	for {
		var batch []models.User
		err := db.Select("id", "email", "created_at").Where("id > ?", after).Order("id").Limit(emailScanBatch).Find(&batch).Error
		if err != nil {
			return nil, storeError(err)
		}
		for _, u := range batch {
			normal, err := NormalizeEmail(u.Email)
			var invalid *models.ValidationError
			switch {
			case errors.As(err, &invalid):
				out = append(out, storedEmail{user: u, problem: "email " + invalid.Fields["email"]})
			case err != nil:
				return nil, err
			case normal != u.Email:
				out = append(out, storedEmail{user: u, normal: normal})
			}
		}
		if len(batch) < emailScanBatch {
			break
		}
		after = batch[len(batch)-1].ID
	}
	slices.SortFunc(out, func(a, b storedEmail) int { return olderFirst(a.user, b.user) })
	return out, nil
}

// holders returns, by spelling, the accounts that already hold the normal spellings of rows.
func holders(db *gorm.DB, rows []storedEmail) (map[string]models.User, error) {
	var spellings []string
	for _, r := range rows {
		if r.normal != "" {
			spellings = append(spellings, r.normal)
		}
	}
	taken := map[string]models.User{}
	for chunk := range slices.Chunk(spellings, emailScanBatch) {
		var us []models.User
		if err := db.Select("id", "email", "created_at").Where("email IN ?", chunk).Find(&us).Error; err != nil {
			return nil, storeError(err)
		}
		for _, u := range us {
			taken[u.Email] = u
		}
	}
	return taken, nil
}
