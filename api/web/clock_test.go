package web_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

// The pages read an injected clock (web.Deps.Now; apitest passes the services' clock), so a
// test that moves time sees the pages move with it.

// TestPagesAdminStreamsClock: the admin's view of a user's streams reads the pages' clock, the
// services' one: a lease whose player stopped heartbeating is shown expired as soon as that
// clock passes its end, before the purge marks it, and "last active … ago" reads it too. (With
// time.Now() the pinned clock's lapse went unseen and the row still offered End.)
func TestPagesAdminStreamsClock(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{})
	email, admin := s.Register(t), s.Register(t)
	s.MakeAdmin(t, admin)
	tv, a := apitest.NewBrowser(s), apitest.NewBrowser(s)
	apitest.WantRedirect(t, "TV signs in", tv.SignIn(email, password, "Living room TV"), "/devices")
	apitest.WantRedirect(t, "admin signs in", a.SignIn(admin, password, "Desk"), "/devices")
	apitest.WantRedirect(t, "the TV plays", tv.Post("/streams/play", url.Values{"content_id": {"drama-7"}}), "/devices?done=playing")
	var st models.Stream
	if err := s.Store.DB.Take(&st, "device_name = ?", "Living room TV").Error; err != nil {
		t.Fatal(err)
	}
	var u models.User
	if err := s.Store.DB.Take(&u, "email = ?", email).Error; err != nil {
		t.Fatal(err)
	}
	end := `action="/admin/users/` + u.ID + `/streams/` + st.ID + `/end"`
	apitest.WantPage(t, "the user's page while the lease runs", a.Get("/admin/users/"+u.ID), 200,
		"playing · lease until "+st.ExpiresAt.UTC().Format("15:04:05 UTC"), end)
	s.Clock.Advance(st.ExpiresAt.Sub(s.Clock.Now()) + time.Second)
	r := a.Get("/admin/users/" + u.ID)
	// "last active … ago" reads the same clock: the TV was last seen when it started playing.
	idle := int(s.Clock.Now().Sub(st.StartedAt) / time.Minute)
	apitest.WantPage(t, "the user's page after the lease", r, 200, "expired: no heartbeat · "+st.ExpiresAt.UTC().Format("2 Jan 15:04 UTC"),
		fmt.Sprintf("last active %d minutes ago", idle))
	if strings.Contains(r.Body.String(), end) {
		t.Fatalf("the user's page offers End for a lapsed lease (clock %s, lease until %s)", s.Clock.Now(), st.ExpiresAt)
	}
}

// TestPagesChooserClock: the sign-in chooser reads the pages' clock too: how long ago a device
// was active, and how long the choice stays open.
func TestPagesChooserClock(t *testing.T) {
	s := apitest.NewServer(t, servicetest.SQLite(t), apitest.Options{})
	email := s.Register(t)
	s.SetLimit(t, email, models.Limit{Max: 1, Policy: models.PolicyReject})
	s.MustLogin(t, email, "Living room TV")
	s.Clock.Advance(30 * time.Minute) // within apitest's 1 h idle timeout
	b := apitest.NewBrowser(s)
	apitest.WantRedirect(t, "sign in at the limit", b.SignIn(email, password, "Laptop"), "/devices/limit")
	s.Clock.Advance(4 * time.Minute)
	apitest.WantPage(t, "the chooser 4 minutes later", b.Get("/devices/limit"), 200, "last active 34 minutes ago", "stays open for 6 more minutes")
}
