package services

import (
	"slices"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/sessiond/sessiond/models"
)

// There is always an admin: no change may leave sessiond with no enabled admin account.

// takesAdminAway reports whether p can take an enabled admin away: a demotion or a disable.
// (No use case deletes users; were one added, it would take this check too.)
func takesAdminAway(p models.UserPatch) bool {
	return p.Role != nil && *p.Role != models.RoleAdmin || p.Disabled != nil && *p.Disabled
}

// keepAnAdmin returns models.ErrLastAdmin when applying p to the user id would leave no enabled
// admin. It first locks, until the transaction ends, the rows of every enabled admin and of the
// user, in id order: of two admins demoting each other at once, the second waits for the first,
// then sees its change (Postgres re-reads a row it waited for) and is refused. One statement
// sorted by id takes the locks in id order, so it cannot deadlock with another such change. On
// SQLite the immediate transaction already serialises every writer.
func keepAnAdmin(tx *gorm.DB, id string, p models.UserPatch) error {
	if !takesAdminAway(p) {
		return nil
	}
	var locked []models.User
	err := tx.Clauses(clause.Locking{Strength: "NO KEY UPDATE"}).Select("id", "role", "disabled_at").
		Where("(role = ? AND disabled_at IS NULL) OR id = ?", models.RoleAdmin, id).Order("id").Find(&locked).Error
	if err != nil {
		return storeError(err)
	}
	enabledAdmin := func(u models.User) bool { return u.Role == models.RoleAdmin && !u.Disabled() }
	if !slices.ContainsFunc(locked, func(u models.User) bool { return u.ID == id && enabledAdmin(u) }) {
		return nil // not an enabled admin (or no such user): the change takes no admin away
	}
	if slices.ContainsFunc(locked, func(u models.User) bool { return u.ID != id && enabledAdmin(u) }) {
		return nil
	}
	return models.ErrLastAdmin
}
