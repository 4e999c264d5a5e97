package store_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/store"
)

// principal is a cache entry as a check of a browser session puts it: the fields a real
// session has, a typical user agent, and a plan shared by everyone (as LoadPrincipal's are not:
// each entry has its own copy, counted here too).
func principal(i int) *models.Principal {
	now := time.Now().UTC()
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	idle := int64(336 * 3600)
	return &models.Principal{
		Session: models.Session{
			ID: uuid.NewString(), UserID: uuid.NewString(), SecretHash: make([]byte, 32),
			DeviceID: fmt.Sprintf("device-%d", i), DeviceName: "Living room TV " + fmt.Sprint(i), DeviceType: "tv",
			IP: "203.0.113.17", UserAgent: strings.Clone(ua), CreatedAt: now, LastSeenAt: now,
			ExpiresAt: now.Add(720 * time.Hour), IdleExpiresAt: now.Add(336 * time.Hour),
		},
		User: models.User{ID: uuid.NewString(), Email: fmt.Sprintf("viewer%d@example.com", i), DisplayName: "Viewer",
			Role: models.RoleUser, PlanID: uuid.NewString(), CreatedAt: now, UpdatedAt: now},
		Plan: models.Plan{ID: uuid.NewString(), Name: "standard", MaxSessions: 2, LimitPolicy: models.PolicyEvictOldest,
			IdleTimeoutSeconds: &idle, CreatedAt: now, UpdatedAt: now},
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestCacheBytesPerEntry measures what one cached session costs, entry and index included,
// so that SESSIOND_CACHE_SIZE can be sized from memory (README, "Scale model"). It fails if
// an entry grows past 2 KiB (the default size is chosen for about 1.2 KiB each).
func TestCacheBytesPerEntry(t *testing.T) {
	const n = 50_000
	c := store.NewSessionCache(n, time.Hour)
	defer c.Close()
	ps := make([]*models.Principal, n)
	before := heapInUse()
	for i := range ps {
		ps[i] = principal(i)
		c.Put(ps[i], c.Generation())
	}
	after := heapInUse()
	per := float64(after-before) / n
	t.Logf("%.0f bytes per cached session (%d sessions, %d in the cache)", per, n, c.Len())
	if per > 2048 {
		t.Errorf("a cached session costs %.0f bytes, want at most 2048", per)
	}
	runtime.KeepAlive(ps)
}
