package services

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/google/uuid"
	"github.com/throttled/throttled/v2"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/sessiond/sessiond/models"
)

// TV sign-in with a code (RFC 8628): the device's side (Start, Token) and the person's
// (Waiting, Approve, Deny). Approval runs the one login core (Sessions.SignIn) for the
// approver's account, so the device limit, events and eviction notices are a password login's.

// DeviceGrantConfig configures the device grant.
type DeviceGrantConfig struct {
	PublicURL *url.URL      // where people open the verification page (<PublicURL>/activate)
	Lifetime  time.Duration // how long a code can be approved; 0: 10 minutes
	Interval  time.Duration // the polling interval given out (whole seconds, at least 1); 0: 5 s
	// Code requests per minute (with a burst) per client address; 0: 10/min, burst 5.
	StartRate, StartBurst int
	// Wrong user codes per minute (with a burst), per approving user and per address; 0: 5/min,
	// burst 4 (five wrong codes at once, then one every 12 s).
	GuessRate, GuessBurst int
	Observer              DeviceGrantObserver // hears of starts, approvals, denials, expiries; nil: nobody
	Now                   func() time.Time
	Log                   *slog.Logger
}

// DeviceGrantObserver hears what the device grant did, once committed (metrics).
type DeviceGrantObserver interface {
	// DeviceGrant reports one of "started", "approved", "denied", "expired".
	DeviceGrant(event string)
}

type noGrantObserver struct{}

func (noGrantObserver) DeviceGrant(string) {}

// DeviceGrant is the device authorization grant's use cases.
type DeviceGrant struct {
	db       *gorm.DB
	sessions *Sessions
	cfg      DeviceGrantConfig
	starts   *throttled.GCRARateLimiterCtx
	guesses  *throttled.GCRARateLimiterCtx
}

// NewDeviceGrant returns the device grant over db, signing devices in through sessions.
func NewDeviceGrant(db *gorm.DB, sessions *Sessions, cfg DeviceGrantConfig) (*DeviceGrant, error) {
	if cfg.PublicURL == nil {
		return nil, errors.New("device grant: no public URL")
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = 10 * time.Minute
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	cfg.Interval = max(cfg.Interval.Truncate(time.Second), time.Second) // OAuth counts whole seconds
	if cfg.StartRate <= 0 {
		cfg.StartRate, cfg.StartBurst = 10, 5
	}
	if cfg.GuessRate <= 0 {
		cfg.GuessRate, cfg.GuessBurst = 5, 4
	}
	if cfg.Observer == nil {
		cfg.Observer = noGrantObserver{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	g := &DeviceGrant{db: db, sessions: sessions, cfg: cfg}
	store := &rateStore{db: db, now: g.now}
	var err error
	if g.starts, err = throttled.NewGCRARateLimiterCtx(store, throttled.RateQuota{MaxRate: throttled.PerMin(cfg.StartRate), MaxBurst: cfg.StartBurst}); err != nil {
		return nil, fmt.Errorf("device grant: %w", err)
	}
	if g.guesses, err = throttled.NewGCRARateLimiterCtx(store, throttled.RateQuota{MaxRate: throttled.PerMin(cfg.GuessRate), MaxBurst: cfg.GuessBurst}); err != nil {
		return nil, fmt.Errorf("device grant: %w", err)
	}
	return g, nil
}

func (g *DeviceGrant) now() time.Time { return clock(g.cfg.Now) }

// lockForUpdate locks the rows read until the transaction ends (dropped on SQLite, where the
// immediate transaction holds the database's write lock).
var lockForUpdate = clause.Locking{Strength: "UPDATE"}

// Bounds of what a device sends.
const (
	MaxClientIDLen = 128
	deviceCodeLen  = 43 // base64url of 32 bytes: 256 bits
)

// Start registers a device asking to be signed in and returns its codes (RFC 8628 §3.2). The
// device code is stored as its SHA-256. Errors: *models.ValidationError for a bad device or
// client id, *models.RateLimitedError past the per-address rate.
func (g *DeviceGrant) Start(ctx context.Context, req models.DeviceCodeRequest) (models.DeviceCode, error) {
	clientID, err := cleanText("client_id", req.ClientID, MaxClientIDLen)
	if err != nil {
		return models.DeviceCode{}, err
	}
	d := req.Device
	if d.Type == "" {
		d.Type = "tv"
	}
	if d.Name == "" {
		d.Name = defaultDeviceName(clientID, req.UserAgent)
	}
	if d, err = validateDevice(d); err != nil {
		return models.DeviceCode{}, err
	}
	if err := g.limit(ctx, g.starts, "device-code:"+addressKey(req.IP), 1); err != nil {
		return models.DeviceCode{}, err
	}
	now := g.now()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return models.DeviceCode{}, fmt.Errorf("new device code: %w", err)
	}
	deviceCode := b64.EncodeToString(raw)
	token, key := grantSecrets(raw)
	tokenHash, keyHash := sha256.Sum256(token), sha256.Sum256(key)
	codeHash := sha256.Sum256(raw)
	a := models.DeviceAuthorization{
		ID: newID(), DeviceCodeHash: codeHash[:], TokenSecretHash: tokenHash[:], DeviceKeySecretHash: keyHash[:],
		ClientID: clientID, DeviceID: d.ID, DeviceName: d.Name, DeviceType: d.Type,
		IP: cleanHeader(req.IP, 64), UserAgent: cleanHeader(req.UserAgent, maxUserAgentLen),
		CreatedAt: now, ExpiresAt: now.Add(g.cfg.Lifetime), IntervalSeconds: int(g.cfg.Interval / time.Second),
	}
	// A user code taken by another row (1 in 2^34.6 per row) is drawn again.
	for attempt := 0; ; attempt++ {
		if a.UserCode, err = newUserCode(); err != nil {
			return models.DeviceCode{}, fmt.Errorf("new user code: %w", err)
		}
		err = storeError(g.db.WithContext(ctx).Create(&a).Error)
		if !errors.Is(err, models.ErrConflict) || attempt == 3 {
			break
		}
	}
	if err != nil {
		return models.DeviceCode{}, fmt.Errorf("start device grant: %w", err)
	}
	g.cfg.Observer.DeviceGrant("started")
	verify := g.cfg.PublicURL.JoinPath("activate")
	complete := *verify
	complete.RawQuery = url.Values{"code": {a.UserCode}}.Encode()
	return models.DeviceCode{
		DeviceCode: deviceCode, UserCode: models.FormatUserCode(a.UserCode),
		VerificationURI: verify.String(), VerificationURIComplete: complete.String(),
		ExpiresIn: g.cfg.Lifetime, Interval: g.cfg.Interval,
	}, nil
}

// grantSecrets derives from a device code the secrets of the session token and the device key
// the device will receive: whoever approves stores their hashes, only the device can spell them.
func grantSecrets(deviceCode []byte) (token, key []byte) {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, deviceCode)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	return derive("sessiond device grant: session token"), derive("sessiond device grant: device key")
}

// newUserCode draws 8 letters of models.UserCodeAlphabet uniformly (rejection sampling).
func newUserCode() (string, error) {
	const n = len(models.UserCodeAlphabet)
	out := make([]byte, 0, models.UserCodeLen)
	buf := make([]byte, 16)
	for len(out) < models.UserCodeLen {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if int(b) < 256/n*n && len(out) < models.UserCodeLen {
				out = append(out, models.UserCodeAlphabet[int(b)%n])
			}
		}
	}
	return string(out), nil
}

// defaultDeviceName names a device that gave no name: its app, and what its User-Agent says.
func defaultDeviceName(clientID, userAgent string) string {
	ua := cleanHeader(userAgent, 40)
	switch {
	case clientID != "" && ua != "":
		return clientID + " (" + ua + ")"
	case clientID != "":
		return clientID
	case ua != "":
		return ua
	}
	return "TV"
}

// limit counts n against key's rate (rateLimit).
func (g *DeviceGrant) limit(ctx context.Context, l *throttled.GCRARateLimiterCtx, key string, n int) error {
	return rateLimit(ctx, l, key, n)
}

// rateLimit counts n against key's rate (n = 0 only asks), returning
// *models.RateLimitedError when the key is over it.
func rateLimit(ctx context.Context, l *throttled.GCRARateLimiterCtx, key string, n int) error {
	limited, res, err := l.RateLimitCtx(ctx, key, n)
	if n == 0 { // asking only: throttled reports a would-be refusal by its RetryAfter alone
		limited = res.RetryAfter > 0
	}
	var failed *rateStoreError
	switch {
	case errors.As(err, &failed):
		return failed.err
	case err != nil:
		return &models.RateLimitedError{RetryAfter: time.Second}
	case limited:
		return &models.RateLimitedError{RetryAfter: max(res.RetryAfter, time.Second)}
	}
	return nil
}

// addressKey is the key an address is limited under: IPv6 per /64, the block one host holds.
func addressKey(ip string) string {
	if addr := net.ParseIP(ip); addr != nil && addr.To4() == nil {
		return addr.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip
}

// Token answers one poll of the device holding deviceCode (RFC 8628 §3.4): the session, with
// its token and device key, exactly once after approval. Errors: models.ErrAuthorizationPending,
// *models.SlowDownError, models.ErrAccessDenied, models.ErrExpiredToken (expired, or already
// handed out), models.ErrInvalidGrant (no such device code).
//
// Concurrency: the row is locked for the poll, and handing out is a compare-and-set on
// issued_at, so of any number of racing polls one gets the session.
func (g *DeviceGrant) Token(ctx context.Context, deviceCode string) (models.LoginResult, error) {
	raw, err := b64.DecodeString(deviceCode)
	if len(deviceCode) != deviceCodeLen || err != nil || len(raw) != 32 {
		return models.LoginResult{}, models.ErrInvalidGrant
	}
	codeHash := sha256.Sum256(raw)
	now := g.now()
	var (
		res     models.LoginResult
		outcome error
		expired bool
	)
	err = g.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var a models.DeviceAuthorization
		err := storeError(tx.Clauses(lockForUpdate).Where("device_code_hash = ?", codeHash[:]).Take(&a).Error)
		if errors.Is(err, models.ErrNotFound) {
			outcome = models.ErrInvalidGrant
			return nil
		}
		if err != nil {
			return err
		}
		var upd map[string]any
		switch models.DecidePoll(a, now) {
		case models.PollPending:
			outcome = models.ErrAuthorizationPending
			upd = map[string]any{"last_polled_at": now, "resent": false}
		case models.PollResent:
			outcome = models.ErrAuthorizationPending
			upd = map[string]any{"resent": true}
		case models.PollSlowDown:
			a.IntervalSeconds += int(models.SlowDownStep / time.Second)
			outcome = &models.SlowDownError{Interval: a.Interval()}
			upd = map[string]any{"interval_seconds": a.IntervalSeconds, "last_polled_at": now, "resent": true}
		case models.PollDenied:
			outcome = models.ErrAccessDenied
			upd = map[string]any{"last_polled_at": now}
		case models.PollExpired:
			outcome = models.ErrExpiredToken
			// The first poll past the end of a code nobody answered counts it as expired.
			expired = a.IssuedAt == nil && a.ApprovedAt == nil && (a.LastPolledAt == nil || a.LastPolledAt.Before(a.ExpiresAt))
			upd = map[string]any{"last_polled_at": now}
		case models.PollIssue:
			upd = map[string]any{"last_polled_at": now, "issued_at": now}
			if res, err = issued(tx, a, raw); err != nil {
				return err
			}
		}
		// issued_at IS NULL: the compare-and-set that hands the session out once, whatever the
		// lock (a no-op on SQLite, whose immediate transaction serialises anyway).
		w := tx.Model(&models.DeviceAuthorization{}).Where("id = ? AND issued_at IS NULL", a.ID).Updates(upd)
		if err := storeError(w.Error); err != nil {
			return err
		}
		if w.RowsAffected == 0 && outcome == nil {
			outcome, res = models.ErrExpiredToken, models.LoginResult{} // another poll took it first
		}
		return nil
	})
	if err != nil {
		return models.LoginResult{}, fmt.Errorf("poll device grant: %w", err)
	}
	if expired {
		g.cfg.Observer.DeviceGrant("expired")
	}
	return res, outcome
}

// issued is the approved session of a, as the device receives it: the token and device key
// spelled with the secrets only the device code derives, the approver, and who was evicted.
func issued(tx *gorm.DB, a models.DeviceAuthorization, deviceCode []byte) (models.LoginResult, error) {
	var res models.LoginResult
	if err := storeError(tx.Where("id = ?", *a.SessionID).Take(&res.Session).Error); err != nil {
		return res, err
	}
	if err := storeError(tx.Where("id = ?", res.Session.UserID).Take(&res.User).Error); err != nil {
		return res, err
	}
	err := tx.Where("revoked_by = ? AND revoke_reason = ?", res.Session.ID, models.ReasonEvicted).
		Order("created_at, id").Find(&res.Evicted).Error
	if err := storeError(err); err != nil {
		return res, err
	}
	token, key := grantSecrets(deviceCode)
	res.Token = spellToken(res.Session.ID, token)
	if a.DeviceKeyID != nil {
		res.DeviceKey = spellToken(*a.DeviceKeyID, key)
		var k models.DeviceKey
		if err := storeError(tx.Where("id = ?", *a.DeviceKeyID).Take(&k).Error); err == nil {
			res.DeviceKeyExpiresAt = k.ExpiresAt
		}
	}
	return res, nil
}

// spellToken writes a token or device key as clients hold it: base64url(id) "." base64url(secret).
func spellToken(id string, secret []byte) string {
	u, err := uuid.Parse(id)
	if err != nil {
		return ""
	}
	return b64.EncodeToString(u[:]) + "." + b64.EncodeToString(secret)
}
