package api_test

import (
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/api"
	"github.com/sessiond/sessiond/api/web"
	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
	"github.com/sessiond/sessiond/services/store"
)

// BenchmarkCheck serves a cached session check (GET /v1/auth/session) and the no-op route
// (GET /healthz) through the whole router (the API and the pages, as the binary has it), in
// process: what a cached check adds per request,
// in time and allocations, to the middleware every route has. scripts/bench.sh measures the
// same over loopback, in one run, as a ratio.
func BenchmarkCheck(b *testing.B) {
	st := servicetest.SQLite(b)
	log := slog.New(slog.DiscardHandler)
	hasher := servicetest.FastHasher()
	users := services.NewUsers(st.DB, hasher, services.UsersConfig{DefaultPlan: "standard", RegistrationOpen: true})
	sess := services.NewSessions(st.DB, hasher, services.SessionsConfig{
		Defaults: models.Timeouts{Idle: time.Hour, Absolute: 24 * time.Hour}, TouchInterval: time.Hour, Log: log,
		Cache: store.NewSessionCache(1000, time.Minute),
	})
	plans := services.NewPlans(st.DB, time.Now, nil, nil)
	pages, err := web.New(web.Deps{Sessions: sess, Plans: plans, Admin: users, Log: log})
	if err != nil {
		b.Fatal(err)
	}
	h, err := api.NewHandler(api.Deps{Sessions: sess, Users: users, Admin: users, Plans: plans, Pages: pages,
		Store: services.NewHealth(st.DB), Log: log, MaxBodyBytes: 64 << 10, RequestTimeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	do := func(method, path, body, auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	do("POST", "/v1/auth/register", `{"email":"a@example.com","password":"correct horse battery"}`, "")
	rec := do("POST", "/v1/auth/login", `{"email":"a@example.com","password":"correct horse battery","device":{"name":"TV","type":"tv"}}`, "")
	var out struct{ Token string }
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Token == "" {
		b.Fatalf("login = %d %s", rec.Code, rec.Body)
	}
	for name, path := range map[string]string{"no-op": "/healthz", "cached": "/v1/auth/session"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if rec := do("GET", path, "", out.Token); rec.Code != 200 {
					b.Fatal(rec.Code, rec.Body)
				}
			}
		})
	}
}
