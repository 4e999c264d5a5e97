package services_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestEmailMigration writes accounts as version 8 stored them (trimmed and lower-cased only),
// in creation order, with random ids (so id order is not creation order), then migrates: rows
// are rewritten in their one spelling, oldest first, unless an account already holds it; the
// others are kept as they were, logged, and listed by EmailCollisions. It runs once: a row
// written later in an old spelling (an old process in a rolling upgrade) stays, and is listed.
func TestEmailMigration(t *testing.T) {
	rows := []struct{ name, stored, want string }{
		{"fullwidth, older than the plain one", "ａnn@example.com", "ａnn@example.com"},
		{"plain, holds its spelling", "ann@example.com", "ann@example.com"},
		{"Kelvin sign, first to need k", "\u212Ann@example.com", "knn@example.com"},
		{"fullwidth k, second", "ｋnn@example.com", "ｋnn@example.com"},
		{"Unicode domain", "bob@exämple.de", "bob@xn--exmple-cua.de"},
		{"Cyrillic a among Latin", "\u0430nn@example.com", "\u0430nn@example.com"},
		{"zero-width space", "ann@example.com\u200b", "ann@example.com\u200b"},
		{"NFD, older than the NFC one", "a\u0301nn@example.com", "a\u0301nn@example.com"},
		{"NFC, holds its spelling", "\u00e1nn@example.com", "\u00e1nn@example.com"},
		{"plain, alone", "bobby@example.com", "bobby@example.com"},
	}
	for _, store := range servicetest.EmptyStores(t) {
		t.Run(store.Name, func(t *testing.T) {
			ctx := context.Background()
			var logs strings.Builder
			log := slog.New(slog.NewTextHandler(&logs, nil))
			if err := services.MigrateTo(ctx, store.DB, log, 8); err != nil {
				t.Fatalf("MigrateTo(8) = %v", err)
			}
			ids := make([]string, len(rows))
			base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			for i, r := range rows {
				ids[i] = insertOldUser(t, store, r.stored, base.Add(time.Duration(i)*time.Hour))
			}
			if err := services.Migrate(ctx, store.DB, log); err != nil {
				t.Fatalf("Migrate() = %v", err)
			}
			for i, r := range rows {
				if got := storedEmail(t, store, ids[i]); got != r.want {
					t.Errorf("%s: %+q after the migration = %+q, want %+q", r.name, r.stored, got, r.want)
				}
			}
			var changes []models.AuditEvent
			if err := store.DB.Where("action = ?", "user.email_normalized").Order("target_id").Find(&changes).Error; err != nil {
				t.Fatal(err)
			}
			rewrites := map[string]string{} // old spelling → new
			for _, ev := range changes {
				var d struct{ From, To string }
				if err := json.Unmarshal([]byte(ev.Details), &d); err != nil || ev.ActorKind != models.ActorSystem {
					t.Errorf("audit event %+v: %v, want one by the system with from and to", ev, err)
				}
				rewrites[d.From] = d.To
			}
			if len(rewrites) != 2 || rewrites[rows[2].stored] != rows[2].want || rewrites[rows[4].stored] != rows[4].want {
				t.Errorf("audit events of the rewrite = %v, want the two rewrites with their old spellings", rewrites)
			}
			for what, n := range map[string]int{"collides with another account": 3, "refused by the normalisation": 2, "changed=2 kept=5": 1} {
				if got := strings.Count(logs.String(), what); got != n {
					t.Errorf("log lines with %q = %d, want %d:\n%s", what, got, n, logs.String())
				}
			}

			// Run once: a later row in an old spelling is not rewritten, but it is reported.
			late := insertOldUser(t, store, "ｃarl@example.com", base.Add(24*time.Hour))
			if err := services.Migrate(ctx, store.DB, log); err != nil {
				t.Fatalf("Migrate() again = %v", err)
			}
			if got := storedEmail(t, store, late); got != "ｃarl@example.com" {
				t.Errorf("a row written after the migration = %+q after migrating again, want it untouched", got)
			}
			users := services.NewUsers(store.DB, servicetest.FastHasher(), services.UsersConfig{DefaultPlan: "standard"})
			report, err := users.EmailCollisions(ctx)
			if err != nil {
				t.Fatalf("EmailCollisions() = %v", err)
			}
			type group struct {
				email, problem string
				ids            []string
			}
			want := []group{
				{"", "email mixes letters of different scripts", []string{ids[5]}},
				{"", "email contains an invisible or control character (U+200B)", []string{ids[6]}},
				{"ann@example.com", "", []string{ids[0], ids[1]}},
				{"carl@example.com", "", []string{late}},
				{"knn@example.com", "", []string{ids[2], ids[3]}},
				{"\u00e1nn@example.com", "", []string{ids[7], ids[8]}},
			}
			var got []group
			for _, g := range report {
				var gids []string
				for _, u := range g.Users {
					gids = append(gids, u.ID)
				}
				got = append(got, group{g.Email, g.Problem, gids})
			}
			if len(got) != len(want) {
				t.Fatalf("EmailCollisions() = %+v, want %+v", got, want)
			}
			for i := range want {
				if got[i].email != want[i].email || !strings.HasPrefix(got[i].problem, want[i].problem) || strings.Join(got[i].ids, " ") != strings.Join(want[i].ids, " ") {
					t.Errorf("EmailCollisions()[%d] = %+v, want %+v", i, got[i], want[i])
				}
			}
		})
	}
}

// insertOldUser writes an account as an older version did, with a random (not time-ordered) id.
func insertOldUser(tb testing.TB, store servicetest.Store, email string, created time.Time) string {
	tb.Helper()
	var planID string
	if err := store.DB.Raw(`SELECT id FROM plans WHERE name = 'standard'`).Scan(&planID).Error; err != nil || planID == "" {
		tb.Fatalf("standard plan: %q, %v", planID, err)
	}
	id := uuid.NewString()
	err := store.DB.Exec(`INSERT INTO users (id, email, password_hash, display_name, role, plan_id, created_at, updated_at)
VALUES (?, ?, '', '', 'user', ?, ?, ?)`, id, email, planID, created, created).Error
	if err != nil {
		tb.Fatalf("insert user %+q: %v", email, err)
	}
	return id
}

func storedEmail(tb testing.TB, store servicetest.Store, id string) string {
	tb.Helper()
	var email string
	if err := store.DB.Raw(`SELECT email FROM users WHERE id = ?`, id).Scan(&email).Error; err != nil {
		tb.Fatal(err)
	}
	return email
}
