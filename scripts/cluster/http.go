package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

const password = "a cluster of three"

var client = &http.Client{
	Timeout:   20 * time.Second, // a host's requests time out after 10 s (SESSIOND_REQUEST_TIMEOUT)
	Transport: &http.Transport{MaxIdleConnsPerHost: 200, IdleConnTimeout: 30 * time.Second},
}

// call sends body as JSON (when not nil) with auth as the Authorization header (when not "").
// Status 0 is a transport error (no answer).
func call(ctx context.Context, method, url, auth string, body any) (int, map[string]any) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, nil
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		out = nil
	}
	return resp.StatusCode, out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// register creates n accounts named prefix-i-<random>@example.com and returns their emails.
func register(ctx context.Context, base, prefix string, n int) ([]string, error) {
	run := randomHex(4)
	emails := make([]string, n)
	for i := range emails {
		emails[i] = fmt.Sprintf("%s-%d-%s@example.com", prefix, i, run)
		var body map[string]any
		register := func() (s int) {
			s, body = call(ctx, "POST", base+"/v1/auth/register", "", map[string]any{"email": emails[i], "password": password})
			return s
		}
		if status := retry503(register); status != http.StatusCreated {
			return nil, fmt.Errorf("register %s = %d %v", emails[i], status, body)
		}
	}
	return emails, nil
}

// login signs email in on base with a device of its own; it returns the status, and on 201
// the bearer token and the session id.
func login(ctx context.Context, base, email string) (status int, auth, id string) {
	status, body := loginBody(ctx, base, email)
	if status != http.StatusCreated {
		return status, "", ""
	}
	tok, _ := body["token"].(string)
	sess, _ := body["session"].(map[string]any)
	id, _ = sess["id"].(string)
	return status, "Bearer " + tok, id
}

// loginBody signs email in on base with a device of its own and returns the answer.
func loginBody(ctx context.Context, base, email string) (int, map[string]any) {
	return call(ctx, "POST", base+"/v1/auth/login", "", map[string]any{
		"email": email, "password": password,
		"device": map[string]any{"id": randomHex(8), "name": "Cluster TV", "type": "tv"},
	})
}

// problem is the message of an error answer ("" for none).
func problem(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

// tally counts answers by status, safely from many goroutines.
type tally struct {
	mu     sync.Mutex
	counts map[int]int
}

func (t *tally) add(status int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.counts == nil {
		t.counts = map[int]int{}
	}
	t.counts[status]++
}

// count is the number of answers whose status ok accepts.
func (t *tally) count(ok func(int) bool) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for s, c := range t.counts {
		if ok(s) {
			n += c
		}
	}
	return n
}

func (t *tally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := make([]int, 0, len(t.counts))
	for k := range t.counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s := ""
	for _, k := range keys {
		s += fmt.Sprintf(" %d×%d", k, t.counts[k])
	}
	return s
}

// percentile of sorted durations, in milliseconds.
func percentile(sorted []time.Duration, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := min(len(sorted)*p/100, len(sorted)-1)
	return float64(sorted[i].Microseconds()) / 1000
}
