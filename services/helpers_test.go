package services_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services"
	"github.com/sessiond/sessiond/services/servicetest"
)

const testPassword = "correct horse battery"

// fakeClock is an injectable clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is one store with the use cases wired over it.
type env struct {
	store    servicetest.Store
	users    *services.Users
	sessions *services.Sessions
	clients  *services.Clients
	clock    *fakeClock
}

var defaultTimeouts = models.Timeouts{Idle: 336 * time.Hour, Absolute: 720 * time.Hour}

func newEnv(tb testing.TB, store servicetest.Store) *env {
	return newEnvOn(tb, store, store.DB, newFakeClock())
}

// newEnvOn wires the use cases over db (one of possibly several pools on store).
func newEnvOn(tb testing.TB, store servicetest.Store, db *gorm.DB, clock *fakeClock) *env {
	tb.Helper()
	h := servicetest.FastHasher()
	return &env{
		store: store,
		clock: clock,
		users: services.NewUsers(db, h, services.UsersConfig{DefaultPlan: "standard", RegistrationOpen: true, Now: clock.Now}),
		sessions: services.NewSessions(db, h, services.SessionsConfig{
			Defaults: defaultTimeouts, TouchInterval: time.Minute, Now: clock.Now,
		}),
		clients: services.NewClients(db, services.ClientsConfig{Now: clock.Now}),
	}
}

// register creates a user, optionally with a device limit override.
func (e *env) register(tb testing.TB, limit *models.Limit) models.User {
	tb.Helper()
	u, err := e.users.Register(context.Background(), models.RegisterParams{Email: servicetest.Email(tb), Password: testPassword})
	if err != nil {
		tb.Fatalf("Register() = %v", err)
	}
	if limit != nil {
		setLimit(tb, e.store.DB, u.ID, *limit)
	}
	return u
}

func setLimit(tb testing.TB, db *gorm.DB, userID string, l models.Limit) {
	tb.Helper()
	err := db.Model(&models.User{}).Where("id = ?", userID).
		Updates(map[string]any{"max_sessions_override": l.Max, "limit_policy_override": l.Policy}).Error
	if err != nil {
		tb.Fatalf("set limit: %v", err)
	}
}

func (e *env) login(tb testing.TB, u models.User, deviceName string) models.LoginResult {
	tb.Helper()
	res, err := e.sessions.Login(context.Background(), loginParams(u, deviceName))
	if err != nil {
		tb.Fatalf("Login(%s) = %v", deviceName, err)
	}
	return res
}

func loginParams(u models.User, deviceName string) models.LoginParams {
	return models.LoginParams{
		Email: u.Email, Password: testPassword,
		Device: models.Device{Name: deviceName, Type: "tv"}, IP: "192.0.2.1", UserAgent: "test",
	}
}

// activeCount counts the user's active sessions straight from the store.
func activeCount(tb testing.TB, db *gorm.DB, userID string, now time.Time) int64 {
	tb.Helper()
	var n int64
	err := db.Model(&models.Session{}).
		Where("user_id = ? AND revoked_at IS NULL AND expires_at > ? AND idle_expires_at > ?", userID, now, now).
		Count(&n).Error
	if err != nil {
		tb.Fatalf("count active sessions: %v", err)
	}
	return n
}

func eventTypes(tb testing.TB, db *gorm.DB, userID string) map[models.EventType]int {
	tb.Helper()
	var evs []models.SessionEvent
	if err := db.Where("user_id = ?", userID).Find(&evs).Error; err != nil {
		tb.Fatalf("read events: %v", err)
	}
	m := map[models.EventType]int{}
	for _, e := range evs {
		m[e.Type]++
	}
	return m
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// markVerified marks the user's email verified in the store, as opening the mailed link does
// (TestVerifyEmail tests that link): what linking by email needs of an account.
func markVerified(tb testing.TB, db *gorm.DB, u models.User) models.User {
	tb.Helper()
	if err := db.Model(&models.User{}).Where("id = ?", u.ID).Update("email_verified", true).Error; err != nil {
		tb.Fatalf("mark verified: %v", err)
	}
	u.EmailVerified = true
	return u
}
