package api_test

import (
	"net/url"
	"testing"

	"github.com/sessiond/sessiond/services/servicetest"
)

// TestLastAdmin: through the API, PATCH that would leave no enabled admin is 409 last_admin
// (demote, disable, both); through the admin pages the same change shows a notice, 409, and
// changes nothing; once there is a second admin both pass. A database of the test's own: other
// tests' admins would count.
func TestLastAdmin(t *testing.T) {
	for _, store := range servicetest.FreshStores(t) {
		t.Run(store.Name, func(t *testing.T) {
			s := newServer(t, store, options{})
			email, other := s.register(t), s.register(t)
			s.makeAdmin(t, email)
			adm := bearer(s.mustLogin(t, email, "Console"))
			who := s.json("GET", "/v1/auth/session", nil, adm...)
			id := who.body["user"].(map[string]any)["id"].(string)
			for _, patch := range []map[string]any{{"role": "user"}, {"disabled": true}, {"role": "admin", "disabled": true}} {
				r := s.json("PATCH", "/v1/admin/users/"+id, patch, adm...)
				if r.Code != 409 || r.errorCode() != "last_admin" {
					t.Errorf("PATCH %v of the last admin = %d %s, want 409 last_admin", patch, r.Code, r.Body)
				}
			}

			b := newBrowser(s)
			wantRedirect(t, "admin sign-in", b.signIn(email, password, "Desk"), "/devices")
			wantPage(t, "the admin's own page", b.get("/admin/users/"+id), 200, "Make user", "Disable account")
			for _, form := range []url.Values{{"role": {"user"}}, {"disabled": {"true"}}} {
				wantPage(t, "page: "+form.Encode(), b.post("/admin/users/"+id, form), 409,
					"Not changed: this is the last enabled admin", "Make another account admin first")
			}
			if r := s.json("GET", "/v1/admin/users/"+id, nil, adm...); r.Code != 200 || r.body["role"] != "admin" || r.body["disabled"] != false {
				t.Errorf("GET the last admin after the refusals = %d %s, want an enabled admin", r.Code, r.Body)
			}

			var otherID string
			for _, u := range s.json("GET", "/v1/admin/users?email="+url.QueryEscape(other), nil, adm...).body["users"].([]any) {
				otherID = u.(map[string]any)["id"].(string)
			}
			wantRedirect(t, "page: make the other an admin", b.post("/admin/users/"+otherID, url.Values{"role": {"admin"}}), "/admin/users/"+otherID+"?done=role")
			wantRedirect(t, "page: step down", b.post("/admin/users/"+id, url.Values{"role": {"user"}}), "/admin/users/"+id+"?done=role")
			if r := s.json("PATCH", "/v1/admin/users/"+otherID, map[string]any{"disabled": true}, bearer(s.mustLogin(t, other, "Console"))...); r.Code != 409 || r.errorCode() != "last_admin" {
				t.Errorf("PATCH disable of the new last admin = %d %s, want 409 last_admin", r.Code, r.Body)
			}
		})
	}
}
