package services_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

// BenchmarkAuthenticate checks one of 1,000 sessions per iteration, on each store, with the
// session cache off (one query per check) and on (no query on a hit). Compare the variants
// of one run: the ratio is the figure, not the absolute time.
func BenchmarkAuthenticate(b *testing.B) {
	for _, store := range servicetest.Stores(b) {
		for _, withCache := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/cache=%v", store.Name, withCache), func(b *testing.B) {
				var cache *services.SessionCache
				if withCache {
					cache = services.NewSessionCache(10_000, time.Minute)
					defer cache.Close()
				}
				h := servicetest.FastHasher()
				users := services.NewUsers(store.DB, h, services.UsersConfig{DefaultPlan: "standard", RegistrationOpen: true})
				sessions := services.NewSessions(store.DB, h, services.SessionsConfig{
					Defaults: defaultTimeouts, TouchInterval: time.Hour, Cache: cache,
				})
				var tokens []string
				for range 100 {
					u, err := users.Register(context.Background(), models.RegisterParams{Email: servicetest.Email(b) + randomSuffix(), Password: testPassword})
					if err != nil {
						b.Fatal(err)
					}
					setLimit(b, store.DB, u.ID, models.Limit{Max: 10, Policy: models.PolicyReject})
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
// of a user with room (no eviction).
func BenchmarkLogin(b *testing.B) {
	store := servicetest.Postgres(b)
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
	b.Run("login", func(b *testing.B) {
		users := services.NewUsers(store.DB, h, services.UsersConfig{DefaultPlan: "standard", RegistrationOpen: true})
		sessions := services.NewSessions(store.DB, h, services.SessionsConfig{Defaults: defaultTimeouts, TouchInterval: time.Minute})
		// Enough users that none reaches its limit of 100 (registering hashes too: untimed).
		var pool []models.User
		for range b.N/50 + 2 {
			u, err := users.Register(context.Background(), models.RegisterParams{Email: servicetest.Email(b) + randomSuffix(), Password: testPassword})
			if err != nil {
				b.Fatal(err)
			}
			setLimit(b, store.DB, u.ID, models.Limit{Max: 100, Policy: models.PolicyReject})
			pool = append(pool, u)
		}
		var next atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				u := pool[int(next.Add(1))%len(pool)]
				if _, err := sessions.Login(context.Background(), loginParams(u, "bench device")); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
