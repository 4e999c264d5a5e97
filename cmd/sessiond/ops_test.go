package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// call sends one request (body as JSON when not nil) and returns the status, the headers and
// the decoded JSON body.
func call(t *testing.T, method, url string, body any, headers ...string) (int, http.Header, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, resp.Header, out
}

func loginBody(email, password, device string, extra ...any) map[string]any {
	b := map[string]any{"email": email, "password": password, "device": map[string]any{"name": device, "type": "tv"}}
	for i := 0; i+1 < len(extra); i += 2 {
		b[extra[i].(string)] = extra[i+1]
	}
	return b
}

// TestRequestIDs: a request id from a trusted proxy is kept, one from anyone else replaced;
// either way it is returned and appears in the access log line.
func TestRequestIDs(t *testing.T) {
	p := startProc(t, "SESSIOND_DATABASE_URL=sqlite://"+filepath.Join(t.TempDir(), "s.db"))
	trusted := startProc(t, "SESSIOND_DATABASE_URL=sqlite://"+filepath.Join(t.TempDir(), "s.db"), "SESSIOND_TRUSTED_PROXIES=127.0.0.0/8")
	_, h, _ := call(t, "GET", p.url+"/healthz", nil, "X-Request-ID", "from-anyone-1")
	if id := h.Get("X-Request-ID"); id == "" || id == "from-anyone-1" {
		t.Errorf("untrusted X-Request-ID came back as %q, want a new id", id)
	}
	_, h, _ = call(t, "GET", trusted.url+"/healthz", nil, "X-Request-ID", "from-the-proxy-1")
	if id := h.Get("X-Request-ID"); id != "from-the-proxy-1" {
		t.Errorf("trusted X-Request-ID came back as %q, want it kept", id)
	}
	_, h, _ = call(t, "GET", trusted.url+"/healthz", nil, "X-Request-ID", "bad id\twith spaces")
	if id := h.Get("X-Request-ID"); id == "" || strings.ContainsAny(id, " \t") {
		t.Errorf("malformed X-Request-ID came back as %q, want a new id", id)
	}
	logged := func() bool { return strings.Contains(trusted.logs.String(), `"request_id":"from-the-proxy-1"`) }
	deadline := time.Now().Add(5 * time.Second)
	for !logged() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // waiting for another process's log line to arrive
	}
	if !logged() {
		t.Errorf("the access log has no request_id from-the-proxy-1:\n%s", trusted.logs)
	}
}
