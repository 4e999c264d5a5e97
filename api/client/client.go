// Package client lets another Go service check sessiond sessions without touching sessiond's
// database: Client.Introspect asks POST /v1/introspect with a service client's credentials,
// and Middleware guards Gin routes with it (RequireSession, RequirePlan, RequireRole), caching
// answers for a bounded time.
//
// The revocation delay a service sees equals the cache TTL (default 5 s): a session signed out
// in sessiond is refused by the service at the latest TTL later. Set WithTTL(0) for none (every
// request asks sessiond).
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Errors of Introspect. A token that is not usable is not an error: Session.Active is false.
var (
	// ErrInvalidClient: sessiond refused the client id or secret (401 invalid_client).
	ErrInvalidClient = errors.New("sessiond: invalid service client credentials")
	// ErrUnavailable: sessiond could not be reached or could not check (5xx, timeout); nothing
	// is known about the token, so fail closed.
	ErrUnavailable = errors.New("sessiond: unavailable")
)

// Session is sessiond's answer about a token.
type Session struct {
	Active    bool      `json:"active"`
	UserID    string    `json:"sub"`
	SessionID string    `json:"sid"`
	Plan      string    `json:"plan"`
	Role      string    `json:"role"`
	Device    Device    `json:"device"`
	ExpiresAt time.Time `json:"-"` // absolute expiry
	IdleUntil time.Time `json:"-"` // idles out then unless used
	SignedIn  time.Time `json:"-"`
}

// Device is the device a session belongs to.
type Device struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// Client asks sessiond about tokens. It is safe for concurrent use.
type Client struct {
	base     string // without a trailing slash
	endpoint string
	id       string
	secret   string
	http     *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient uses hc (its transport, its timeout) for every call.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithTimeout bounds every call (default 2 s); the context may bound it further.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) {
		hc := *c.http
		hc.Timeout = d
		c.http = &hc
	}
}

// New returns a client of the sessiond at baseURL (e.g. "https://sessiond.internal"),
// authenticating as the service client clientID with secret.
func New(baseURL, clientID, secret string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("sessiond client: base URL %q must be http(s)://host", baseURL)
	}
	if clientID == "" || secret == "" {
		return nil, errors.New("sessiond client: client id and secret are required")
	}
	c := &Client{
		base:     strings.TrimSuffix(baseURL, "/"),
		endpoint: strings.TrimSuffix(baseURL, "/") + "/v1/introspect",
		id:       clientID, secret: secret,
		http: &http.Client{Timeout: 2 * time.Second},
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// callTimeout bounds one introspection when the HTTP client does not.
func (c *Client) callTimeout() time.Duration {
	if c.http.Timeout > 0 {
		return c.http.Timeout
	}
	return 2 * time.Second
}

// wire is the JSON of /v1/introspect.
type wire struct {
	Session
	Exp     int64 `json:"exp"`
	IdleExp int64 `json:"idle_exp"`
	Iat     int64 `json:"iat"`
}

// Introspect asks sessiond whether token is usable now. An unusable token is a Session with
// Active false and a nil error; errors are ErrInvalidClient, ErrUnavailable, or ctx's.
func (c *Client) Introspect(ctx context.Context, token string) (Session, error) {
	body, _ := json.Marshal(map[string]string{"token": token})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return Session{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(c.id, c.secret)
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return Session{}, ctx.Err()
		}
		return Session{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return Session{}, ErrInvalidClient
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusRequestEntityTooLarge:
		return Session{}, nil // the token itself was refused: not a usable one
	case resp.StatusCode != http.StatusOK:
		return Session{}, fmt.Errorf("%w: introspection answered %d", ErrUnavailable, resp.StatusCode)
	}
	var w wire
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&w); err != nil {
		return Session{}, fmt.Errorf("%w: unreadable answer: %v", ErrUnavailable, err)
	}
	s := w.Session
	if !s.Active {
		return Session{}, nil
	}
	s.ExpiresAt, s.SignedIn = time.Unix(w.Exp, 0), time.Unix(w.Iat, 0)
	s.IdleUntil = s.ExpiresAt
	if w.IdleExp > 0 {
		s.IdleUntil = time.Unix(w.IdleExp, 0)
	}
	return s, nil
}
