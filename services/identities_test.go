package services_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sessiond/sessiond/services/servicetest"
)

// TestLinkedIdentitiesInPrincipal: identities inserted by anyone (here plain SQL, as a process
// of the previous version would during a rolling upgrade) mark their user, so the principal
// lookup reads them; and they come back in the order they were linked, whatever order the
// store returns them in and whatever the connection's time zone.
func TestLinkedIdentitiesInPrincipal(t *testing.T) {
	for _, store := range servicetest.FreshStores(t) { // its own database: the test sets its time zone
		t.Run(store.Name, func(t *testing.T) {
			e := newEnv(t, store)
			u := e.register(t, nil)
			res := e.login(t, u, "TV")
			ctx := context.Background()
			if p, err := e.sessions.Authenticate(ctx, res.Token); err != nil {
				t.Fatal(err)
			} else if len(p.Identities) != 0 {
				t.Fatalf("before linking: %v; want no identities", p.Identities)
			}
			// Inserted newest first. The first two straddle the hour New York repeats in
			// autumn: rendered in its local time (01:50-04:00, then 01:10:00.5-05:00) they
			// would sort the wrong way round.
			base := time.Date(2026, 11, 1, 6, 10, 0, 500_000_000, time.UTC)
			for i, link := range []struct {
				provider string
				at       time.Time
			}{{"third", base.Add(time.Hour)}, {"second", base}, {"first", base.Add(-20 * time.Minute)}} {
				if err := store.DB.Exec(`INSERT INTO identities (id, user_id, provider, issuer, subject, email, created_at, last_used_at)
VALUES (?, ?, ?, 'https://idp.example', ?, '', ?, ?)`, uuid.NewString(), u.ID, link.provider, link.provider+string(rune('a'+i)), link.at, link.at).Error; err != nil {
					t.Fatal(err)
				}
			}
			db := store.DB
			if store.Name == "postgres" { // ordering must not depend on how the store renders times
				var name string
				if err := store.DB.Raw("SELECT current_database()").Scan(&name).Error; err != nil {
					t.Fatal(err)
				}
				if err := store.DB.Exec(`ALTER DATABASE "` + name + `" SET timezone = 'America/New_York'`).Error; err != nil {
					t.Fatal(err)
				}
				db = store.Open(t) // new connections take the database's zone
				var zone string
				if err := db.Raw("SHOW timezone").Scan(&zone).Error; err != nil || zone != "America/New_York" {
					t.Fatalf("time zone %q, %v", zone, err)
				}
			}
			p, err := newEnvOn(t, store, db, e.clock).sessions.Authenticate(ctx, res.Token)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, id := range p.Identities {
				got = append(got, id.Provider)
			}
			if len(got) != 3 || got[0] != "first" || got[1] != "second" || got[2] != "third" {
				t.Fatalf("identities = %v, want [first second third]: all of them, in the order they were linked", got)
			}
		})
	}
}
