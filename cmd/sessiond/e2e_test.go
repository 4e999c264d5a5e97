package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestTwoProcessesKeepTheLimit starts the built binary twice on one Postgres database and
// races 50 logins of one user through HTTP, alternating between the two processes. The limit
// (2) must hold exactly: with evict_oldest all 50 succeed and 2 sessions stay active; with
// reject exactly 2 succeed and 48 get 409 device_limit_reached.
func TestTwoProcessesKeepTheLimit(t *testing.T) {
	store := servicetest.Postgres(t)
	// The login throttle counts every attempt before checking its password, so 50 at once
	// for one account would mostly be refused with 429: this test is about the limit.
	env := []string{"SESSIOND_DATABASE_URL=" + store.DSN, "SESSIOND_LOGIN_FREE_FAILURES=1000", "SESSIOND_LOGIN_LOCK_AFTER=2000"}
	urls := startPair(t, env...) // both start (and migrate) at once

	const logins, limit = 50, 2
	for _, policy := range []models.LimitPolicy{models.PolicyEvictOldest, models.PolicyReject} {
		t.Run(string(policy), func(t *testing.T) {
			email := servicetest.Email(t)
			if resp, body := postJSON(t, urls[0]+"/v1/auth/register", map[string]any{"email": email, "password": "two processes"}); resp.StatusCode != 201 {
				t.Fatalf("register = %d %v", resp.StatusCode, body)
			}
			err := store.DB.Model(&models.User{}).Where("email = ?", email).
				Updates(map[string]any{"max_sessions_override": limit, "limit_policy_override": policy}).Error
			if err != nil {
				t.Fatal(err)
			}

			start := make(chan struct{})
			statuses := make([]int, logins)
			var wg sync.WaitGroup
			for i := range logins {
				wg.Go(func() {
					<-start
					resp, _ := postJSON(t, urls[i%2]+"/v1/auth/login", map[string]any{
						"email": email, "password": "two processes",
						"device": map[string]any{"name": fmt.Sprintf("device %d", i), "type": "mobile"},
					})
					statuses[i] = resp.StatusCode
				})
			}
			close(start)
			wg.Wait()

			count := map[int]int{}
			for _, s := range statuses {
				count[s]++
			}
			want := map[int]int{http.StatusCreated: logins}
			if policy == models.PolicyReject {
				want = map[int]int{http.StatusCreated: limit, http.StatusConflict: logins - limit}
			}
			if fmt.Sprint(count) != fmt.Sprint(want) {
				t.Errorf("statuses of %d racing logins = %v, want %v", logins, count, want)
			}
			var active int64
			err = store.DB.Model(&models.Session{}).
				Joins("JOIN users ON users.id = sessions.user_id").
				Where("users.email = ? AND sessions.revoked_at IS NULL", email).Count(&active).Error
			if err != nil || active != limit {
				t.Errorf("active sessions after the race = %d (%v), want exactly %d", active, err, limit)
			}
		})
	}
}

// TestScheduledPurgeRunsInServe starts the binary with a one-second purge schedule and waits
// for an expired session and an old event, written straight into the store, to disappear,
// while a live session stays.
func TestScheduledPurgeRunsInServe(t *testing.T) {
	store := servicetest.Postgres(t)
	base := startBinary(t, "SESSIOND_DATABASE_URL="+store.DSN, "SESSIOND_PURGE_SCHEDULE=@every 1s")
	email := servicetest.Email(t)
	if resp, body := postJSON(t, base+"/v1/auth/register", map[string]any{"email": email, "password": "purge me please"}); resp.StatusCode != 201 {
		t.Fatalf("register = %d %v", resp.StatusCode, body)
	}
	resp, body := postJSON(t, base+"/v1/auth/login", map[string]any{"email": email, "password": "purge me please"})
	if resp.StatusCode != 201 {
		t.Fatalf("login = %d %v", resp.StatusCode, body)
	}
	live := body["session"].(map[string]any)["id"].(string)
	userID := body["user"].(map[string]any)["id"].(string)
	past := time.Now().Add(-time.Hour).UTC()
	expired := models.Session{ID: uuid.NewString(), UserID: userID, SecretHash: []byte("h"), DeviceName: "old", DeviceType: "tv",
		CreatedAt: past, LastSeenAt: past, ExpiresAt: past, IdleExpiresAt: past}
	oldEvent := models.SessionEvent{ID: uuid.NewString(), UserID: userID, Type: models.EventLogin, ActorKind: models.ActorUser,
		At: time.Now().Add(-100 * 24 * time.Hour).UTC(), Details: "{}"}
	if err := store.DB.Create(&expired).Error; err != nil {
		t.Fatal(err)
	}
	if err := store.DB.Create(&oldEvent).Error; err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var sessions, events int64
		store.DB.Model(&models.Session{}).Where("id = ?", expired.ID).Count(&sessions)
		store.DB.Model(&models.SessionEvent{}).Where("id = ?", oldEvent.ID).Count(&events)
		if sessions == 0 && events == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20s the scheduled purge left the expired session (%d) and old event (%d)", sessions, events)
		}
		time.Sleep(100 * time.Millisecond) // polling an outside process's effect, not synchronising goroutines
	}
	var kept int64
	store.DB.Model(&models.Session{}).Where("id = ? AND revoked_at IS NULL", live).Count(&kept)
	if kept != 1 {
		t.Errorf("the live session was purged too")
	}
	// The run that deleted them reports when it ends, a moment after its last batch.
	var m map[string]float64
	purgeCounted := func() bool {
		m = scrape(t, base)
		return m[`sessiond_purge_deleted_total{kind="expired"}`] >= 1
	}
	for deadline := time.Now().Add(10 * time.Second); !purgeCounted() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond) // polling another process
	}
	if m[`sessiond_purge_runs_total{result="ok"}`] < 1 || m[`sessiond_purge_deleted_total{kind="expired"}`] < 1 ||
		m[`sessiond_purge_deleted_total{kind="events"}`] < 1 || m[`sessiond_purge_duration_seconds_count`] < 1 {
		t.Errorf("purge metrics after the purge: runs %v, expired %v, events %v, durations %v; want each at least 1",
			m[`sessiond_purge_runs_total{result="ok"}`], m[`sessiond_purge_deleted_total{kind="expired"}`],
			m[`sessiond_purge_deleted_total{kind="events"}`], m[`sessiond_purge_duration_seconds_count`])
	}
}

// TestThrottleHoldsAcrossProcesses runs two binaries on one Postgres, behind a trusted proxy
// (the test, on 127.0.0.1, sets X-Forwarded-For), and alternates attempts between them. Per
// account: five wrong passwords from five addresses answer 401, the sixth, on the other
// process, 429 with Retry-After. Per address: its burst of three attempts, for three
// accounts, then 429, whichever process is asked.
func TestThrottleHoldsAcrossProcesses(t *testing.T) {
	store := servicetest.Postgres(t)
	env := []string{"SESSIOND_DATABASE_URL=" + store.DSN, "SESSIOND_TRUSTED_PROXIES=127.0.0.1",
		"SESSIOND_LOGIN_RATE_PER_IP=6", "SESSIOND_LOGIN_BURST_PER_IP=2"}
	urls := startPair(t, env...) // both start (and migrate) at once
	login := func(i int, email, from string) (int, string, map[string]any) {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"email": email, "password": "not the password"})
		req, _ := http.NewRequest(http.MethodPost, urls[i%2]+"/v1/auth/login", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", from)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, resp.Header.Get("Retry-After"), body
	}

	email := servicetest.Email(t) // no account needed: unknown emails are throttled alike
	for i := range 5 {
		if status, _, body := login(i, email, fmt.Sprintf("198.51.100.%d", i+1)); status != http.StatusUnauthorized {
			t.Fatalf("failure %d = %d %v, want 401", i+1, status, body)
		}
	}
	status, retry, body := login(5, email, "198.51.100.6")
	if status != http.StatusTooManyRequests || retry != "1" || body["error"].(map[string]any)["code"] != "rate_limited" {
		t.Fatalf("sixth attempt = %d Retry-After %q %v, want 429 rate_limited with Retry-After 1", status, retry, body)
	}

	for i := range 3 {
		if status, _, body := login(i, servicetest.Email(t), "203.0.113.7"); status != http.StatusUnauthorized {
			t.Fatalf("attempt %d from one address = %d %v, want 401", i+1, status, body)
		}
	}
	status, retry, _ = login(3, servicetest.Email(t), "203.0.113.7")
	if status != http.StatusTooManyRequests || retry == "" {
		t.Fatalf("fourth attempt from one address = %d Retry-After %q, want 429 with Retry-After", status, retry)
	}
}
