package api_test

import (
	"net/url"
	"testing"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestLastAdmin: through the API, PATCH that would leave no enabled admin is 409 last_admin
// (demote, disable, both); through the admin pages the same change shows a notice, 409, and
// changes nothing; once there is a second admin both pass. A database of the test's own: other
// tests' admins would count.
func TestLastAdmin(t *testing.T) {
	for _, store := range servicetest.FreshStores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := apitest.NewServer(t, store, apitest.Options{})
			email, other := s.Register(t), s.Register(t)
			s.MakeAdmin(t, email)
			adm := apitest.Bearer(s.MustLogin(t, email, "Console"))
			who := s.JSON("GET", "/v1/auth/session", nil, adm...)
			id := who.JSON["user"].(map[string]any)["id"].(string)
			for _, patch := range []map[string]any{{"role": "user"}, {"disabled": true}, {"role": "admin", "disabled": true}} {
				r := s.JSON("PATCH", "/v1/admin/users/"+id, patch, adm...)
				if r.Code != 409 || r.ErrorCode() != "last_admin" {
					t.Errorf("PATCH %v of the last admin = %d %s, want 409 last_admin", patch, r.Code, r.Body)
				}
			}

			b := apitest.NewBrowser(s)
			apitest.WantRedirect(t, "admin sign-in", b.SignIn(email, password, "Desk"), "/devices")
			apitest.WantPage(t, "the admin's own page", b.Get("/admin/users/"+id), 200, "Make user", "Disable account")
			for _, form := range []url.Values{{"role": {"user"}}, {"disabled": {"true"}}} {
				apitest.WantPage(t, "page: "+form.Encode(), b.Post("/admin/users/"+id, form), 409,
					"Not changed: this is the last enabled admin", "Make another account admin first")
			}
			if r := s.JSON("GET", "/v1/admin/users/"+id, nil, adm...); r.Code != 200 || r.JSON["role"] != "admin" || r.JSON["disabled"] != false {
				t.Errorf("GET the last admin after the refusals = %d %s, want an enabled admin", r.Code, r.Body)
			}

			var otherID string
			for _, u := range s.JSON("GET", "/v1/admin/users?email="+url.QueryEscape(other), nil, adm...).JSON["users"].([]any) {
				otherID = u.(map[string]any)["id"].(string)
			}
			apitest.WantRedirect(t, "page: make the other an admin", b.Post("/admin/users/"+otherID, url.Values{"role": {"admin"}}), "/admin/users/"+otherID+"?done=role")
			apitest.WantRedirect(t, "page: step down", b.Post("/admin/users/"+id, url.Values{"role": {"user"}}), "/admin/users/"+id+"?done=role")
			if r := s.JSON("PATCH", "/v1/admin/users/"+otherID, map[string]any{"disabled": true}, apitest.Bearer(s.MustLogin(t, other, "Console"))...); r.Code != 409 || r.ErrorCode() != "last_admin" {
				t.Errorf("PATCH disable of the new last admin = %d %s, want 409 last_admin", r.Code, r.Body)
			}
		})
	}
}
