package main

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestTwoProcessesKeepTheLimit starts the built binary twice on one Postgres database and
// races 50 logins of one user through HTTP, alternating between the two processes. The limit
// (2) must hold exactly: with evict_oldest all 50 succeed and 2 sessions stay active; with
// reject exactly 2 succeed and 48 get 409 device_limit_reached.
func TestTwoProcessesKeepTheLimit(t *testing.T) {
	store := servicetest.Postgres(t)
	env := "SESSIOND_DATABASE_URL=" + store.DSN
	var urls [2]string
	var wg sync.WaitGroup
	for i := range urls { // both start (and migrate) at once
		wg.Go(func() { urls[i] = startBinary(t, env) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

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
