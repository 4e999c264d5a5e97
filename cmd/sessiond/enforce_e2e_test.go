package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
)

// TestEnforcementSurvivesAKill: an admin lowers a plan of 2,000 users holding 4 sessions each
// to 1 with enforce=now; the process is killed (SIGKILL) while it enforces. A new process,
// with no second command, finishes the enforcement in its purge pass: afterwards every user
// holds exactly their newest session, every other session was evicted exactly once, and the
// enforcement's record counts them all.
func TestEnforcementSurvivesAKill(t *testing.T) {
	const users, perUser = 2000, 4
	store := servicetest.Postgres(t)
	adminEmail, adminPassword := servicetest.Email(t), "kill me mid-way"
	env := []string{"SESSIOND_DATABASE_URL=" + store.DSN,
		"SESSIOND_BOOTSTRAP_ADMIN_EMAIL=" + adminEmail, "SESSIOND_BOOTSTRAP_ADMIN_PASSWORD=" + adminPassword}
	first := startProc(t, append(env, "SESSIOND_PURGE_SCHEDULE=@every 1h")...)
	status, _, body := call(t, "POST", first.url+"/v1/auth/login", loginBody(adminEmail, adminPassword, "admin desk"))
	if status != 201 {
		t.Fatalf("admin login = %d %v", status, body)
	}
	adm := "Bearer " + body["token"].(string)
	name := "kill-" + strings.ToLower(uuid.NewString()[:8])
	status, _, body = call(t, "POST", first.url+"/v1/admin/plans", map[string]any{"name": name, "max_sessions": perUser, "limit_policy": "reject"}, "Authorization", adm)
	if status != 201 {
		t.Fatalf("create plan = %d %v", status, body)
	}
	planID := body["id"].(string)
	newest := seedPlanUsers(t, store.DB, planID, users, perUser)

	// The PATCH runs until the kill cuts it: its answer never comes.
	patched := make(chan struct{})
	go func() {
		defer close(patched)
		req, _ := http.NewRequest("PATCH", fmt.Sprintf("%s/v1/admin/plans/%s?enforce=now", first.url, planID), strings.NewReader(`{"max_sessions":1}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", adm)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	enforcement := func() models.PlanEnforcement {
		var e models.PlanEnforcement
		if err := store.DB.Where("plan_id = ?", planID).Take(&e).Error; err != nil && err != gorm.ErrRecordNotFound {
			t.Fatalf("read the enforcement: %v", err)
		}
		return e
	}
	// Kill it once it has brought a tenth of the users down, observed in the store.
	for deadline := time.Now().Add(60 * time.Second); enforcement().Users < users/10; {
		if time.Now().After(deadline) {
			t.Fatalf("%d users brought down within 60s of the PATCH, want %d:\n%s", enforcement().Users, users/10, first.logs)
		}
		time.Sleep(5 * time.Millisecond) // polling another process's progress
	}
	first.kill(t)
	<-patched
	killed := enforcement()
	if killed.Finished() || killed.Users >= users {
		t.Fatalf("enforcement when killed = %+v, want it unfinished: the test must kill it mid-way", killed)
	}

	// A new process, and nothing but its purge schedule.
	second := startProc(t, append(env, "SESSIOND_PURGE_SCHEDULE=@every 1s")...)
	restarted := time.Now()
	for deadline := time.Now().Add(90 * time.Second); !enforcement().Finished(); {
		if time.Now().After(deadline) {
			t.Fatalf("enforcement 90s after the restart = %+v, want finished:\n%s", enforcement(), second.logs)
		}
		time.Sleep(100 * time.Millisecond) // polling another process's progress
	}

	t.Logf("killed after %d of %d users; finished %.1fs after the restart (the lease lapses first)",
		killed.Users, users, time.Since(restarted).Seconds())
	var over int64
	err := store.DB.Raw(`SELECT count(*) FROM (SELECT s.user_id FROM sessions s JOIN users u ON u.id = s.user_id
WHERE u.plan_id = ? AND s.revoked_at IS NULL GROUP BY s.user_id HAVING count(*) > 1) AS o`, planID).Scan(&over).Error
	if err != nil || over != 0 {
		t.Fatalf("users over the limit after the restart = %d (%v), want 0", over, err)
	}
	var kept []models.Session
	store.DB.Joins("JOIN users ON users.id = sessions.user_id").Where("users.plan_id = ? AND sessions.revoked_at IS NULL", planID).Find(&kept)
	if len(kept) != users {
		t.Fatalf("active sessions = %d, want one per user, %d", len(kept), users)
	}
	for _, s := range kept {
		if newest[s.UserID] != s.ID {
			t.Fatalf("user %s kept %s, want its newest %s", s.UserID, s.ID, newest[s.UserID])
		}
	}
	var evicted int64
	store.DB.Model(&models.SessionEvent{}).Where("type = ? AND user_id IN (?)", models.EventEvicted,
		store.DB.Model(&models.User{}).Select("id").Where("plan_id = ?", planID)).Count(&evicted)
	e := enforcement()
	if evicted != users*(perUser-1) || e.Users != users || e.SessionsEvicted != users*(perUser-1) || e.ClaimedBy != nil {
		t.Errorf("after the restart: %d evicted events, enforcement %+v; want %d events and the same counted, %d users, unclaimed",
			evicted, e, users*(perUser-1), users)
	}
	var rows int64
	store.DB.Model(&models.PlanEnforcement{}).Where("plan_id = ?", planID).Count(&rows)
	if rows != 1 {
		t.Errorf("enforcements of the plan = %d, want the one the PATCH recorded", rows)
	}
}

// seedPlanUsers writes n users of the plan, each with perUser live sessions a minute apart,
// and returns each user's newest session.
func seedPlanUsers(t *testing.T, db *gorm.DB, planID string, n, perUser int) map[string]string {
	t.Helper()
	now := time.Now().UTC()
	var us []models.User
	var ss []models.Session
	newest := map[string]string{}
	for i := range n {
		u := models.User{ID: uuid.NewString(), Email: fmt.Sprintf("kill-%d-%s@example.com", i, uuid.NewString()[:8]), PasswordHash: "x",
			Role: models.RoleUser, PlanID: planID, CreatedAt: now, UpdatedAt: now}
		us = append(us, u)
		for j := range perUser {
			created := now.Add(-time.Duration(perUser-j) * time.Minute)
			s := models.Session{ID: uuid.NewString(), UserID: u.ID, SecretHash: []byte("h"), DeviceName: fmt.Sprint("d", j), DeviceType: "tv",
				CreatedAt: created, LastSeenAt: created, ExpiresAt: now.Add(24 * time.Hour), IdleExpiresAt: now.Add(24 * time.Hour)}
			ss = append(ss, s)
			newest[u.ID] = s.ID
		}
	}
	err := db.Transaction(func(tx *gorm.DB) error {
		if err := tx.CreateInBatches(us, 500).Error; err != nil {
			return err
		}
		return tx.CreateInBatches(ss, 1000).Error
	})
	if err != nil {
		t.Fatal(err)
	}
	return newest
}
