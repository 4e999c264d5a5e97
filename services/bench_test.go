package services_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
	"github.com/sessiond/sessiond/services/store"
)

// BenchmarkAuthenticate checks one of 1,000 sessions per iteration, on each store, with the
// session cache off (one query per check) and on (no query on a hit). Compare the variants
// of one run: the ratio is the figure, not the absolute time.
func BenchmarkAuthenticate(b *testing.B) {
	for _, st := range servicetest.Stores(b) {
		for _, withCache := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/cache=%v", st.Name, withCache), func(b *testing.B) {
				var cache *store.SessionCache
				if withCache {
					cache = store.NewSessionCache(10_000, time.Minute)
					defer cache.Close()
				}
				h := servicetest.FastHasher()
				users := services.NewUsers(st.DB, h, services.UsersConfig{DefaultPlan: "standard", RegistrationOpen: true})
				sessions := services.NewSessions(st.DB, h, services.SessionsConfig{
					Defaults: defaultTimeouts, TouchInterval: time.Hour, Cache: cache,
				})
				var tokens []string
				for range 100 {
					u, err := users.Register(context.Background(), models.RegisterParams{Email: servicetest.Email(b) + randomSuffix(), Password: testPassword})
					if err != nil {
						b.Fatal(err)
					}
					setLimit(b, st.DB, u.ID, models.Limit{Max: 10, Policy: models.PolicyReject})
					for d := range 10 {
						res, err := sessions.Login(context.Background(), loginParams(u, fmt.Sprint("device ", d)))
						if err != nil {
							b.Fatal(err)
						}
						tokens = append(tokens, res.Token)
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						if _, err := sessions.Authenticate(context.Background(), tokens[i%len(tokens)]); err != nil {
							b.Error(err)
							return
						}
						i += 7
					}
				})
			})
		}
	}
}

// BenchmarkLogin signs devices in with production argon2id parameters, against argon2id
// verification alone (Argon2 sub-benchmark): login's ceiling. Each login has a fresh device
// of a user with room (no eviction). "throttled" counts each login in the login throttle
// (production's, without the address limit: one address here) and clears it; "with device
// key" presents the key of the user's first login (counted under the key, slid, given back).
func BenchmarkLogin(b *testing.B) {
	st := servicetest.Postgres(b)
	// A slot per core, and room for every parallel caller to wait (b.RunParallel: GOMAXPROCS
	// goroutines, or more with -cpu).
	h := services.NewHasher(services.DefaultArgon2, services.HasherConfig{Queue: 1 << 10})
	hash, err := h.Hash(context.Background(), testPassword)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("argon2id", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if ok, err := h.Verify(context.Background(), testPassword, hash); !ok || err != nil {
					b.Error("verify failed")
					return
				}
			}
		})
	})
	for _, c := range []struct {
		name               string
		throttled, withKey bool
	}{{"login", false, false}, {"login throttled", true, false}, {"login throttled with device key", true, true}} {
		withKey := c.withKey
		b.Run(c.name, func(b *testing.B) {
			users := services.NewUsers(st.DB, h, services.UsersConfig{DefaultPlan: "standard", RegistrationOpen: true})
			cfg := services.SessionsConfig{Defaults: defaultTimeouts, TouchInterval: time.Minute}
			if c.throttled {
				cfg.Throttle = benchThrottle(b, st)
			}
			sessions := services.NewSessions(st.DB, h, cfg)
			// Enough users that none reaches its limit of 100 (registering hashes too: untimed),
			// each with the key of a first login when the logins present one.
			var pool []models.LoginParams
			for range b.N/50 + 2 {
				u, err := users.Register(context.Background(), models.RegisterParams{Email: servicetest.Email(b) + randomSuffix(), Password: testPassword})
				if err != nil {
					b.Fatal(err)
				}
				setLimit(b, st.DB, u.ID, models.Limit{Max: 100, Policy: models.PolicyReject})
				p := loginParams(u, "bench device")
				if withKey {
					res, err := sessions.Login(context.Background(), p)
					if err != nil {
						b.Fatal(err)
					}
					p.DeviceKey = res.DeviceKey
				}
				pool = append(pool, p)
			}
			var next atomic.Int64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p := pool[int(next.Add(1))%len(pool)]
					if _, err := sessions.Login(context.Background(), p); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// benchThrottle is the production throttle without the address limit (every login comes from
// one address here): each login is counted, under its key or its account, and cleared.
func benchThrottle(b *testing.B, st servicetest.Store) *services.Throttle {
	cfg := servicetest.Throttle()
	cfg.IPRate = 0
	t, err := services.NewThrottle(st.DB, cfg)
	if err != nil {
		b.Fatal(err)
	}
	return t
}

// BenchmarkEnforce brings b.N users of a plan from 4 sessions to 1 with enforce now: one
// transaction per user that also advances the enforcement's durable record. Its baseline is
// an admin signing as many users out (Users.RevokeSessions): one transaction per user under
// the same lock that revokes 4 sessions, with no record to keep. The two alternate over five
// rounds of b.N/5 users each (the machine is noisy); reported are the medians of µs/user and
// of the per-round ratio enforce/revoke.
func BenchmarkEnforce(b *testing.B) {
	const rounds = 5
	for _, st := range servicetest.Stores(b) {
		b.Run(st.Name, func(b *testing.B) {
			ctx := context.Background()
			clock := newFakeClock()
			plans := services.NewPlans(st.DB, clock.Now, nil, nil)
			users := services.NewUsers(st.DB, servicetest.FastHasher(), services.UsersConfig{DefaultPlan: "standard", Now: clock.Now})
			per := max(b.N/rounds, 1)
			var enforce, revoke, ratio []float64
			for round := range rounds {
				enforced, _ := planOfUsers(b, st.DB, plans, clock.Now(), per, 4)
				_, revoked := planOfUsers(b, st.DB, plans, clock.Now(), per, 4)
				runRevoke := func() time.Duration {
					start := time.Now()
					for userID := range revoked {
						if _, err := users.RevokeSessions(ctx, admin, userID); err != nil {
							b.Fatal(err)
						}
					}
					return time.Since(start)
				}
				runEnforce := func() time.Duration {
					start := time.Now()
					if _, res, err := plans.Update(ctx, admin, enforced.ID, models.PlanInput{MaxSessions: ptr(1)}, true); err != nil || res.Users != per {
						b.Fatalf("Update(enforce now) = %+v, %v", res, err)
					}
					return time.Since(start)
				}
				var e, r time.Duration
				if round%2 == 0 {
					e, r = runEnforce(), runRevoke()
				} else {
					r, e = runRevoke(), runEnforce()
				}
				enforce = append(enforce, float64(e.Microseconds())/float64(per))
				revoke = append(revoke, float64(r.Microseconds())/float64(per))
				ratio = append(ratio, e.Seconds()/r.Seconds())
			}
			b.ReportMetric(median(revoke), "revoke-µs/user")
			b.ReportMetric(median(enforce), "enforce-µs/user")
			b.ReportMetric(median(ratio), "enforce/revoke")
		})
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
