package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessiond/sessiond/services/servicetest"
)

// binary is the sessiond executable built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sessiond-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "sessiond")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := servicetest.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// logLines collects a process's JSON log lines and reports the address it listens on.
type logLines struct {
	mu    sync.Mutex
	lines []string
	addr  chan string
}

func newLogLines() *logLines { return &logLines{addr: make(chan string, 1)} }

func (l *logLines) consume(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		l.mu.Lock()
		l.lines = append(l.lines, line)
		l.mu.Unlock()
		var rec struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
			l.addr <- rec.Addr
		}
	}
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// waitAddr returns the base URL once the process logs that it listens, or fails the test.
func (l *logLines) waitAddr(t *testing.T, exited <-chan struct{}) string {
	t.Helper()
	select {
	case addr := <-l.addr:
		return "http://" + addr
	case <-exited:
		t.Fatalf("sessiond exited before listening:\n%s", l)
	case <-time.After(30 * time.Second):
		t.Fatalf("sessiond did not listen within 30s:\n%s", l)
	}
	return ""
}

// proc is a running sessiond binary.
type proc struct {
	url    string
	cmd    *exec.Cmd
	logs   *logLines
	exited chan struct{} // closed once it exited; err is then its exit error
	err    error
	killed bool // by the test, with SIGKILL: its exit status means nothing
}

// startBinary runs the built sessiond with env on a free port and stops it (SIGTERM, then
// waits for exit 0) when the test ends. It returns the base URL.
func startBinary(t *testing.T, env ...string) string { return startProc(t, env...).url }

// startProc is startBinary, returning the process.
func startProc(t *testing.T, env ...string) *proc {
	t.Helper()
	p := launch(t, env...)
	p.url = p.logs.waitAddr(t, p.exited)
	return p
}

// startPair starts two binaries with env at once (they migrate concurrently) and returns
// their base URLs.
func startPair(t *testing.T, env ...string) [2]string {
	t.Helper()
	a, b := launch(t, env...), launch(t, env...)
	return [2]string{a.logs.waitAddr(t, a.exited), b.logs.waitAddr(t, b.exited)}
}

// launch starts the binary and arranges its stop; it does not wait for it to listen.
func launch(t *testing.T, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, "serve")
	// Tests that are not about throttling log in many times from one address.
	cmd.Env = append(os.Environ(), append([]string{"SESSIOND_ADDR=127.0.0.1:0", "SESSIOND_COOKIE_SECURE=false", "SESSIOND_LOGIN_RATE_PER_IP=0"}, env...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: newLogLines(), exited: make(chan struct{})}
	go func() {
		p.logs.consume(stderr)
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
			if p.err != nil && !p.killed {
				t.Errorf("sessiond exited with %v after SIGTERM:\n%s", p.err, p.logs)
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("sessiond did not stop within 20s of SIGTERM")
		}
	})
	return p
}

// kill ends the process with SIGKILL, as a crash would, and waits for it.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	p.killed = true
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.exited
}

// runCmd runs sessiond's run in-process and returns exit code, stdout and stderr.
func runCmd(ctx context.Context, env map[string]string, stdin string, args ...string) (int, string, string) {
	var stdout, stderr strings.Builder
	code := run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func postJSON(t *testing.T, url string, body any) (*http.Response, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}
