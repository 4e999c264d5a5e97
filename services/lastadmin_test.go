package services_test

import (
	"context"
	"errors"
	"testing"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

var cli = models.Admin{Operator: true}

// TestLastAdminStays: demoting or disabling the last enabled admin is ErrLastAdmin, for an
// admin and for the command line, and leaves everything as it was (no session signed out); a
// disabled admin does not count as one, and changes that take no enabled admin away pass.
// Each store is a database of the test's own: other tests' admins would count.
func TestLastAdminStays(t *testing.T) {
	for _, store := range servicetest.FreshStores(t) {
		t.Run(store.Name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, store)
			role := func(r models.Role) models.UserPatch { return models.UserPatch{Role: &r} }
			disabled := func(d bool) models.UserPatch { return models.UserPatch{Disabled: &d} }
			both := models.UserPatch{Role: ptr(models.RoleAdmin), Disabled: ptr(true)}
			a, b, c, u := e.register(t, nil), e.register(t, nil), e.register(t, nil), e.register(t, nil)
			session := e.login(t, a, "Admin's laptop")
			steps := []struct {
				name string
				by   models.Admin
				who  models.User
				p    models.UserPatch
				want error
			}{
				{"promote a, the first admin", cli, a, role(models.RoleAdmin), nil},
				{"a demotes itself", models.Admin{ID: a.ID}, a, role(models.RoleUser), models.ErrLastAdmin},
				{"a disables itself", models.Admin{ID: a.ID}, a, disabled(true), models.ErrLastAdmin},
				{"role admin and disabled at once", models.Admin{ID: a.ID}, a, both, models.ErrLastAdmin},
				{"the command line demotes a", cli, a, role(models.RoleUser), models.ErrLastAdmin},
				{"the command line disables a", cli, a, disabled(true), models.ErrLastAdmin},
				{"a disables a user", models.Admin{ID: a.ID}, u, disabled(true), nil},
				{"and enables it again", models.Admin{ID: a.ID}, u, disabled(false), nil},
				{"a demotes a user, already one", models.Admin{ID: a.ID}, u, role(models.RoleUser), nil},
				{"a makes c an admin", models.Admin{ID: a.ID}, c, role(models.RoleAdmin), nil},
				{"and disables it", models.Admin{ID: a.ID}, c, disabled(true), nil},
				{"a disabled admin does not count: a stays", models.Admin{ID: a.ID}, a, role(models.RoleUser), models.ErrLastAdmin},
				{"a disabled admin can be demoted", models.Admin{ID: a.ID}, c, role(models.RoleUser), nil},
				{"a makes b an admin", models.Admin{ID: a.ID}, b, role(models.RoleAdmin), nil},
				{"now a may step down", models.Admin{ID: a.ID}, a, role(models.RoleUser), nil},
				{"and b is the last", models.Admin{ID: b.ID}, b, disabled(true), models.ErrLastAdmin},
			}
			for _, s := range steps {
				if _, err := e.users.Update(ctx, s.by, s.who.ID, s.p); !errors.Is(err, s.want) || (s.want == nil && err != nil) {
					t.Fatalf("%s: Update() = %v, want %v", s.name, err, s.want)
				}
				if s.want != nil && s.who.ID == a.ID {
					if _, err := e.sessions.Authenticate(ctx, session.Token); err != nil {
						t.Fatalf("%s: the refused change signed a's session out: Authenticate() = %v", s.name, err)
					}
				}
			}
			if n := enabledAdmins(t, store.DB); n != 1 {
				t.Errorf("enabled admins at the end = %d, want 1 (b)", n)
			}
		})
	}
}

// TestLastAdminRace: two admins, on two connection pools (two processes), each demote or
// disable the other at the same moment, round after round. Exactly one wins each round and
// exactly one enabled admin remains. Without keepAnAdmin's lock (its FOR NO KEY UPDATE on
// every enabled admin), Postgres let both win and left none, in the first rounds (checked by
// hand); on SQLite the immediate transaction serialises them anyway.
func TestLastAdminRace(t *testing.T) {
	for _, store := range servicetest.FreshStores(t) {
		t.Run(store.Name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, store)
			a, b := e.register(t, nil), e.register(t, nil)
			one := services.NewUsers(store.Open(t), servicetest.FastHasher(), services.UsersConfig{DefaultPlan: "standard"})
			two := services.NewUsers(store.Open(t), servicetest.FastHasher(), services.UsersConfig{DefaultPlan: "standard"})
			for round := range 20 {
				err := store.DB.Model(&models.User{}).Where("id IN ?", []string{a.ID, b.ID}).
					Updates(map[string]any{"role": models.RoleAdmin, "disabled_at": nil}).Error
				if err != nil {
					t.Fatal(err)
				}
				start := make(chan struct{})
				errs := make(chan error, 2)
				go func() {
					<-start
					_, err := one.Update(ctx, models.Admin{ID: a.ID}, b.ID, models.UserPatch{Role: ptr(models.RoleUser)})
					errs <- err
				}()
				go func() {
					<-start
					_, err := two.Update(ctx, models.Admin{ID: b.ID}, a.ID, models.UserPatch{Disabled: ptr(round%2 == 0), Role: ptr(models.RoleUser)})
					errs <- err
				}()
				close(start)
				var won, refused int
				for range 2 {
					switch err := <-errs; {
					case err == nil:
						won++
					case errors.Is(err, models.ErrLastAdmin):
						refused++
					default:
						t.Fatalf("round %d: Update() = %v", round, err)
					}
				}
				if n := enabledAdmins(t, store.DB); won != 1 || refused != 1 || n != 1 {
					t.Fatalf("round %d: %d won, %d refused, %d enabled admins left; want 1, 1, 1", round, won, refused, n)
				}
			}
		})
	}
}

func enabledAdmins(tb testing.TB, db *gorm.DB) int64 {
	tb.Helper()
	var n int64
	if err := db.Model(&models.User{}).Where("role = ? AND disabled_at IS NULL", models.RoleAdmin).Count(&n).Error; err != nil {
		tb.Fatal(err)
	}
	return n
}
