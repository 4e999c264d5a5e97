package services_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
	"github.com/sessiond/sessiond/services/store"
)

// TestListenerNoticesASilentServer: a server that stops answering without closing anything
// (frozen with SIGSTOP: the kernel still acknowledges, so TCP keepalives see nothing wrong)
// is found by the listener's probe within about a second; the cache goes off, and comes back
// (flushed) once the server answers again. Without the probe, WaitForNotification waits on
// the frozen server for ever and the cache keeps serving what it may no longer trust: this
// test then fails at its first wait (checked by hand, with the bounded wait made unbounded).
func TestListenerNoticesASilentServer(t *testing.T) {
	cluster := servicetest.NewCluster(t)
	cache := store.NewSessionCache(100, time.Minute)
	t.Cleanup(cache.Close)
	l := store.NewListener(cluster.URL, cache, time.Second, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitListening(t, l)

	p := &models.Principal{Session: models.Session{ID: "cached-session"}}
	cache.Put(p, cache.Generation())
	if _, _, ok := cache.Lookup(p.Session.ID); !ok {
		t.Fatal("Lookup() after Put() on a listening cache = miss, want a hit")
	}
	cluster.Freeze(t)
	frozen := time.Now()
	for {
		if _, _, ok := cache.Lookup(p.Session.ID); !ok {
			break
		}
		if time.Since(frozen) > 5*time.Second { // the probe's bound is ~1 s; 5 for a busy machine
			t.Fatalf("the cache still serves %s after the server was silent for 5 s, want it off within ~%s", time.Since(frozen).Round(time.Millisecond), 2*store.ProbeInterval)
		}
		time.Sleep(10 * time.Millisecond) // polling a flag another goroutine sets; no event to wait on
	}
	t.Logf("cache off %s after the server froze", time.Since(frozen).Round(time.Millisecond))
	cache.Put(p, cache.Generation())
	if _, _, ok := cache.Lookup(p.Session.ID); ok {
		t.Fatal("Lookup() while the listener is cut off = hit, want the cache bypassed")
	}

	cluster.Thaw(t)
	waitListening(t, l)
	if cache.Len() != 0 {
		t.Fatalf("cache holds %d entries after the listener came back, want it flushed", cache.Len())
	}
}

func waitListening(t *testing.T, l *store.Listener) {
	t.Helper()
	select {
	case <-l.Listening():
	case <-time.After(30 * time.Second):
		t.Fatal("the listener did not listen within 30 s")
	}
}
