package services_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

// textCases is what display text may hold: want is the spelling stored and shown; refused, the
// character named in the problem.
var textCases = []struct {
	name, in, want, refused string
}{
	{"plain", "Living room TV", "Living room TV", ""},
	{"trimmed", "  Kitchen  ", "Kitchen", ""},
	{"NFD stored as NFC", "Cafe\u0301 TV", "Caf\u00e9 TV", ""},
	{"other scripts", "テレビ · Küche · עברית", "テレビ · Küche · עברית", ""},
	{"emoji with its variation selector", "\u2764\ufe0f TV", "\u2764\ufe0f TV", ""},
	{"RLO: x\u202egnp.exe is not xexe.png", "x\u202egnp.exe", "", "U+202E"},
	{"LRE", "a\u202ab", "", "U+202A"},
	{"RLE", "a\u202bb", "", "U+202B"},
	{"PDF", "a\u202cb", "", "U+202C"},
	{"LRO", "a\u202db", "", "U+202D"},
	{"LRI", "a\u2066b", "", "U+2066"},
	{"RLI", "a\u2067b", "", "U+2067"},
	{"FSI", "a\u2068b", "", "U+2068"},
	{"PDI", "a\u2069b", "", "U+2069"},
	{"LRM", "a\u200eb", "", "U+200E"},
	{"RLM", "a\u200fb", "", "U+200F"},
	{"Arabic letter mark", "a\u061cb", "", "U+061C"},
	{"zero-width space", "TV\u200b", "", "U+200B"},
	{"zero-width non-joiner", "a\u200cb", "", "U+200C"},
	{"zero-width joiner", "a\u200db", "", "U+200D"},
	{"word joiner", "a\u2060b", "", "U+2060"},
	{"byte order mark", "\ufeffTV", "", "U+FEFF"},
	{"soft hyphen", "T\u00adV", "", "U+00AD"},
	{"tag character", "TV\U000E0041", "", "U+E0041"},
	{"Hangul filler (a blank-looking name)", "\u3164", "", "U+3164"},
	{"line separator", "a\u2028b", "", "U+2028"},
	{"NUL", "TV\x00", "", "U+0000"},
	{"tab", "a\tb", "", "U+0009"},
}

// TestDisplayTextCannotLie runs the table through every field of display text: device names
// (the login, which the web form and OIDC share through validateDevice), display names, plan
// names and service-client names. A header shown to people (the User-Agent) cannot be refused:
// its hidden characters are stored as U+FFFD.
func TestDisplayTextCannotLie(t *testing.T) {
	for _, store := range servicetest.FreshStores(t) { // plan and client names are unique: a database of its own
		t.Run(store.Name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, store)
			plans := services.NewPlans(store.DB, nil, nil, nil)
			u := e.register(t, nil)
			for i, c := range textCases {
				refused := func(field string, err error) bool {
					var invalid *models.ValidationError
					return errors.As(err, &invalid) && strings.Contains(invalid.Fields[field], "("+c.refused+")")
				}
				p := loginParams(u, c.in)
				res, err := e.sessions.Login(ctx, p)
				switch {
				case c.refused != "" && !refused("device.name", err):
					t.Errorf("%s: Login(device name %+q) = %v, want device.name refused naming %s", c.name, c.in, err, c.refused)
				case c.refused == "" && (err != nil || res.Session.DeviceName != c.want):
					t.Errorf("%s: Login(device name %+q) = %+q, %v; want %+q", c.name, c.in, res.Session.DeviceName, err, c.want)
				}
				reg, err := e.users.Register(ctx, models.RegisterParams{Email: servicetest.Email(t), Password: testPassword, DisplayName: c.in})
				switch {
				case c.refused != "" && !refused("display_name", err):
					t.Errorf("%s: Register(display name %+q) = %v, want display_name refused naming %s", c.name, c.in, err, c.refused)
				case c.refused == "" && (err != nil || reg.DisplayName != c.want):
					t.Errorf("%s: Register(display name %+q) = %+q, %v; want %+q", c.name, c.in, reg.DisplayName, err, c.want)
				}
				name := c.in
				plan, err := plans.Create(ctx, admin, models.PlanInput{Name: &name, MaxSessions: ptr(2), LimitPolicy: ptr(models.PolicyReject)})
				switch {
				case c.refused != "" && !refused("name", err):
					t.Errorf("%s: plans.Create(%+q) = %v, want name refused naming %s", c.name, name, err, c.refused)
				case c.refused == "" && (err != nil || plan.Name != c.want):
					t.Errorf("%s: plans.Create(%+q) = %+q, %v; want %+q", c.name, name, plan.Name, err, c.want)
				}
				client, _, err := e.clients.Create(ctx, admin, name)
				switch {
				case c.refused != "" && !refused("name", err):
					t.Errorf("%s: Clients.Create(%+q) = %v, want name refused naming %s", c.name, name, err, c.refused)
				case c.refused == "" && (err != nil || client.Name != c.want):
					t.Errorf("%s: Clients.Create(%+q) = %+q, %v; want %+q", c.name, name, client.Name, err, c.want)
				}
				if i == 0 { // the header: once is enough
					p.UserAgent, p.Device.Name = "Mozilla/5.0 (x\u202egnp.exe\x00)", "TV"
					if res, err := e.sessions.Login(ctx, p); err != nil || res.Session.UserAgent != "Mozilla/5.0 (x\ufffdgnp.exe\ufffd)" {
						t.Errorf("Login(User-Agent with an RLO and a NUL) = %+q, %v; want them as U+FFFD", res.Session.UserAgent, err)
					}
				}
			}
			// A plan is found by any spelling of its name, as it is stored in NFC.
			nfd := "Famille\u0301 " + randomSuffix()
			if _, err := plans.Create(ctx, admin, models.PlanInput{Name: &nfd, MaxSessions: ptr(2), LimitPolicy: ptr(models.PolicyReject)}); err != nil {
				t.Fatal(err)
			}
			if p, err := plans.GetByName(ctx, strings.Replace(nfd, "e\u0301", "\u00e9", 1)); err != nil || p.Name != strings.Replace(nfd, "e\u0301", "\u00e9", 1) {
				t.Errorf("GetByName(the NFC spelling of an NFD name) = %+q, %v; want the plan, stored in NFC", p.Name, err)
			}
		})
	}
}
