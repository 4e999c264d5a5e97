package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestShutdownDrainsInFlightLogin holds a user's row lock so that a login waits inside its
// transaction, sends SIGTERM, sees /readyz answer 503 while serving continues, waits until the
// listener is closed, then releases the lock: the login still completes with 201, and the
// process exits 0.
func TestShutdownDrainsInFlightLogin(t *testing.T) {
	pg := freshPostgres(t) // the test watches pg_stat_activity of its database
	p := startProc(t, "SESSIOND_DATABASE_URL="+pg.DSN, "SESSIOND_SHUTDOWN_DELAY=1s")
	const pw = "drain me gently"
	email := servicetest.Email(t)
	if status, _, body := call(t, "POST", p.url+"/v1/auth/register", map[string]any{"email": email, "password": pw}); status != 201 {
		t.Fatalf("register = %d %v", status, body)
	}
	tx := pg.DB.Begin()
	defer tx.Rollback()
	var u models.User
	if err := tx.Raw(`SELECT * FROM users WHERE email = ? FOR UPDATE`, email).Scan(&u).Error; err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() {
		status, _, _ := call(t, "POST", p.url+"/v1/auth/login", loginBody(email, pw, "TV"))
		done <- status
	}()
	waitFor(t, "the login to wait on the user lock", func() bool {
		var n int64
		pg.DB.Raw(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		return n == 1
	})
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "/readyz to answer 503", func() bool {
		resp, err := http.Get(p.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	addr := strings.TrimPrefix(p.url, "http://")
	waitFor(t, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	tx.Rollback()
	select {
	case status := <-done:
		if status != http.StatusCreated {
			t.Fatalf("the in-flight login answered %d, want 201", status)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the in-flight login did not complete")
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Fatalf("sessiond exited with %v, want 0:\n%s", p.err, p.logs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sessiond did not exit after draining")
	}
}

// freshPostgres returns a Postgres database of the test's own.
func freshPostgres(t *testing.T) servicetest.Store {
	t.Helper()
	for _, s := range servicetest.FreshStores(t) {
		if s.Dialect == "postgres" {
			return s
		}
	}
	t.Skip("SKIP: needs Postgres")
	return servicetest.Store{}
}

// waitFor polls cond (another process's state) until it holds, or fails after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling another process, not synchronising goroutines
	}
}

// TestCrashLeavesNoHalfWrittenState races logins of several users (limit 2, evicting and
// rejecting) against one binary, kills it with SIGKILL mid-race, restarts it on the same
// database and checks: no user over the limit, every session with its login event and every
// login event with its session, every revoked session with its event; and logins work again.
func TestCrashLeavesNoHalfWrittenState(t *testing.T) {
	pg := freshPostgres(t) // the checks read the whole database: nothing else may write there
	env := []string{"SESSIOND_DATABASE_URL=" + pg.DSN, "SESSIOND_LOGIN_FREE_FAILURES=1000", "SESSIOND_LOGIN_LOCK_AFTER=2000"}
	p := startProc(t, env...)
	const pw = "crash test dummy"
	var emails []string
	for i := range 4 {
		email := servicetest.Email(t) + strconv.Itoa(i)
		emails = append(emails, email)
		if status, _, body := call(t, "POST", p.url+"/v1/auth/register", map[string]any{"email": email, "password": pw}); status != 201 {
			t.Fatalf("register = %d %v", status, body)
		}
		policy := []models.LimitPolicy{models.PolicyEvictOldest, models.PolicyReject}[i%2]
		if err := pg.DB.Model(&models.User{}).Where("email = ?", email).
			Updates(map[string]any{"max_sessions_override": 2, "limit_policy_override": policy}).Error; err != nil {
			t.Fatal(err)
		}
	}
	var (
		wg       sync.WaitGroup
		answered = make(chan struct{}, 1000)
		client   = &http.Client{Timeout: 10 * time.Second}
	)
	for w := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				b, _ := json.Marshal(loginBody(emails[(w+i)%len(emails)], pw, fmt.Sprintf("device %d-%d", w, i)))
				resp, err := client.Post(p.url+"/v1/auth/login", "application/json", bytes.NewReader(b))
				if err != nil {
					return // the process is gone
				}
				resp.Body.Close()
				answered <- struct{}{}
			}
		})
	}
	for range 100 { // mid-race: a hundred logins answered, many more in flight
		<-answered
	}
	p.kill(t)
	wg.Wait()

	restarted := startProc(t, env...)
	for _, check := range []struct{ what, sql string }{
		{"users over the limit", `SELECT count(*) FROM (SELECT user_id FROM sessions WHERE revoked_at IS NULL
			GROUP BY user_id HAVING count(*) > 2) AS over`},
		{"sessions without their login event", `SELECT count(*) FROM sessions s WHERE NOT EXISTS
			(SELECT 1 FROM session_events e WHERE e.session_id = s.id AND e.type = 'login')`},
		{"login events without their session", `SELECT count(*) FROM session_events e WHERE e.type = 'login'
			AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = e.session_id)`},
		{"revoked sessions without their event", `SELECT count(*) FROM sessions s WHERE s.revoked_at IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM session_events e WHERE e.session_id = s.id AND e.type IN ('evicted', 'replaced', 'revoked', 'logout'))`},
	} {
		var n int64
		if err := pg.DB.Raw(check.sql).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("after the crash: %d %s", n, check.what)
		}
	}
	var sessions int64
	pg.DB.Model(&models.Session{}).Count(&sessions)
	t.Logf("killed after 100 answered logins; %d sessions were written", sessions)
	if status, _, body := call(t, "POST", restarted.url+"/v1/auth/login", loginBody(emails[0], pw, "After the crash")); status != 201 {
		t.Fatalf("login after the restart = %d %v", status, body)
	}
}
