package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/models"
	"github.com/sessiond/sessiond/services/servicetest"
	"github.com/sessiond/sessiond/services/store"
)

// outageClient bounds every call of the outage tests: a hung sessiond fails the test instead
// of hanging it.
var outageClient = &http.Client{Timeout: 15 * time.Second}

// answer is one HTTP answer of an outage test.
type answer struct {
	status int
	code   string // error.code, if any
	retry  string // Retry-After
	body   map[string]any
	took   time.Duration
	err    error // transport error: no answer at all
}

// send makes one request with an optional bearer token and JSON body.
func send(method, url, token string, body any) answer {
	var r *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	} else {
		r = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return answer{err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := outageClient.Do(req)
	if err != nil {
		return answer{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, retry: resp.Header.Get("Retry-After")}
	_ = json.NewDecoder(resp.Body).Decode(&a.body)
	a.took = time.Since(start)
	if e, ok := a.body["error"].(map[string]any); ok {
		a.code, _ = e["code"].(string)
	}
	return a
}

func (a answer) String() string {
	if a.err != nil {
		return a.err.Error()
	}
	return fmt.Sprintf("%d %s (Retry-After %q) after %s", a.status, a.code, a.retry, a.took.Round(time.Millisecond))
}

// waitListening waits until p's session cache listens (and so serves checks from memory).
func waitListening(t *testing.T, p *proc) {
	t.Helper()
	waitFor(t, "the cache listener", func() bool { return strings.Contains(p.logs.String(), `"msg":"cache listener listening"`) })
}

// TestFrozenStoreAnswers503 freezes the Postgres of a running sessiond with SIGSTOP (every
// process of the cluster: connections stay open and nothing answers, like a hung server) and
// calls every use case that writes: logout, revoke one, revoke all, login, password change and
// an admin PATCH. The tokens were checked before the freeze, so their checks come from the
// session cache and each request reaches its own transaction. Each must answer 503 unavailable
// with Retry-After within the request deadline (1 s, plus a margin for a busy machine), and
// after the thaw nothing it refused may have happened. Before transact classified GORM's
// Begin and Commit errors, logout, revoke one and the PATCH answered 500 here (checked by hand).
func TestFrozenStoreAnswers503(t *testing.T) {
	const (
		deadline = time.Second
		margin   = 2 * time.Second // the answer must come within deadline+margin: bounded, not hung
		pw       = "frozen in time"
		adminPW  = "admin in the cold"
	)
	cluster := servicetest.NewCluster(t)
	p := startProc(t, "SESSIOND_DATABASE_URL="+cluster.URL, "SESSIOND_REQUEST_TIMEOUT="+deadline.String(),
		"SESSIOND_DB_CONNECT_TIMEOUT=1s",
		"SESSIOND_BOOTSTRAP_ADMIN_EMAIL=frozen-admin@example.com", "SESSIOND_BOOTSTRAP_ADMIN_PASSWORD="+adminPW)
	waitListening(t, p)
	email := "frozen@example.com"
	if a := send("POST", p.url+"/v1/auth/register", "", map[string]any{"email": email, "password": pw}); a.status != 201 {
		t.Fatalf("register = %v", a)
	}
	admin := send("POST", p.url+"/v1/auth/login", "", loginBody("frozen-admin@example.com", adminPW, "Desk"))
	if admin.status != 201 {
		t.Fatalf("admin login = %v", admin)
	}
	adminToken := admin.body["token"].(string)
	login := send("POST", p.url+"/v1/auth/login", "", loginBody(email, pw, "Device 0"))
	if login.status != 201 {
		t.Fatalf("login = %v", login)
	}
	userID := login.body["user"].(map[string]any)["id"].(string)
	if a := send("PATCH", p.url+"/v1/admin/users/"+userID, adminToken, map[string]any{"max_sessions_override": 6}); a.status != 200 {
		t.Fatalf("PATCH user = %v", a)
	}
	tokens, ids := []string{login.body["token"].(string)}, []string{login.body["session"].(map[string]any)["id"].(string)}
	for i := 1; i < 5; i++ {
		a := send("POST", p.url+"/v1/auth/login", "", loginBody(email, pw, fmt.Sprintf("Device %d", i)))
		if a.status != 201 {
			t.Fatalf("login %d = %v", i, a)
		}
		tokens = append(tokens, a.body["token"].(string))
		ids = append(ids, a.body["session"].(map[string]any)["id"].(string))
	}
	for _, tok := range append([]string{adminToken}, tokens...) { // into the cache
		if a := send("GET", p.url+"/v1/auth/session", tok, nil); a.status != 200 {
			t.Fatalf("check before the freeze = %v", a)
		}
	}

	cluster.Freeze(t)
	calls := []struct {
		name         string
		method, path string
		token        string
		body         any
	}{
		{"logout", "POST", "/v1/auth/logout", tokens[0], nil},
		{"revoke one", "DELETE", "/v1/sessions/" + ids[2], tokens[1], nil},
		{"revoke all", "POST", "/v1/sessions/revoke", tokens[3], map[string]any{"scope": "others", "password": pw}},
		{"login", "POST", "/v1/auth/login", "", loginBody(email, pw, "Device 5")},
		{"password change", "POST", "/v1/auth/password", tokens[4], map[string]any{"current_password": pw, "new_password": "thawed out at last"}},
		{"admin PATCH", "PATCH", "/v1/admin/users/" + userID, adminToken, map[string]any{"max_sessions_override": 1}},
	}
	answers := make([]answer, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Go(func() { answers[i] = send(c.method, p.url+c.path, c.token, c.body) })
	}
	wg.Wait()
	for i, c := range calls {
		a := answers[i]
		t.Logf("%s with Postgres frozen: %v", c.name, a)
		if a.status != 503 || a.code != "unavailable" || a.retry == "" {
			t.Errorf("%s with Postgres frozen = %v, want 503 unavailable with Retry-After", c.name, a)
		}
		if a.took > deadline+margin {
			t.Errorf("%s with Postgres frozen answered after %s, want within the %s deadline (+%s)", c.name, a.took, deadline, margin)
		}
	}

	cluster.Thaw(t)
	waitFor(t, "sessiond to reach Postgres again", func() bool {
		return send("GET", p.url+"/readyz", "", nil).status == 200
	})
	// Nothing that answered 503 happened: every device is still signed in, the override and
	// the password are unchanged.
	list := send("GET", p.url+"/v1/admin/users/"+userID+"/sessions", adminToken, nil)
	if list.status != 200 {
		t.Fatalf("sessions after the thaw = %v", list)
	}
	active := 0
	for _, s := range list.body["sessions"].([]any) {
		if s.(map[string]any)["revoked_at"] == nil {
			active++
		}
	}
	if active != len(tokens) {
		t.Errorf("after the thaw the user has %d active sessions, want the %d from before the freeze", active, len(tokens))
	}
	user := send("GET", p.url+"/v1/admin/users/"+userID, adminToken, nil)
	if o := user.body["max_sessions_override"]; o != float64(6) {
		t.Errorf("after the thaw max_sessions_override = %v, want 6 (the refused PATCH not applied)", o)
	}
	if a := send("POST", p.url+"/v1/auth/login", "", loginBody(email, pw, "After the thaw")); a.status != 201 {
		t.Errorf("login with the old password after the thaw = %v, want 201", a)
	}
}

// tally counts answers by kind ("login 201", "check 503 unavailable") and remembers what the
// load needs: the sessions logins created, tokens to check, and when successes came.
type tally struct {
	mu        sync.Mutex
	counts    map[string]int
	created   []string    // session ids of every 201
	tokens    []string    // tokens of recent 201s, for the checkers
	successes []time.Time // when each 201 or 200 arrived
	errors    []string    // transport errors: sessiond itself failed
	first     sync.Once
	ready     chan struct{} // closed at the first 201: the checkers have a token
}

func (t *tally) add(kind string, a answer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if a.err != nil {
		t.errors = append(t.errors, a.err.Error())
		return
	}
	t.counts[fmt.Sprintf("%s %d %s", kind, a.status, a.code)]++
	if a.status == 200 || a.status == 201 {
		t.successes = append(t.successes, time.Now())
	}
	if kind == "login" && a.status == 201 {
		t.created = append(t.created, a.body["session"].(map[string]any)["id"].(string))
		t.tokens = append(t.tokens, a.body["token"].(string))
		if len(t.tokens) > 64 {
			t.tokens = t.tokens[1:]
		}
		t.first.Do(func() { close(t.ready) })
	}
}

// token returns one of the recent tokens; call it once ready is closed.
func (t *tally) token(i int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tokens[i%len(t.tokens)]
}

// TestImmediateStopUnderLoad runs logins (six users at limit 2, half rejecting, half evicting
// the oldest; a refused login retries naming a device to sign out) and session checks against
// the binary for 10 s, and in the middle stops its Postgres with `pg_ctl stop -m immediate`
// (every connection cut, no checkpoint) and starts it again 2 s later. No answer may be a 500
// or anything else unexpected; afterwards every login that answered 201 has its session and
// its login event in the database, and no user holds more sessions than the limit. The first
// success must come within 2 s of the restart: the pool drops dead connections as they fail
// instead of waiting on them.
func TestImmediateStopUnderLoad(t *testing.T) {
	const (
		pw     = "survives the crash"
		limit  = 2
		users  = 6
		runFor = 10 * time.Second
		stopAt = 3 * time.Second
		outage = 2 * time.Second // how long Postgres stays down: part of the scenario
	)
	cluster := servicetest.NewCluster(t)
	p := startProc(t, "SESSIOND_DATABASE_URL="+cluster.URL, "SESSIOND_REQUEST_TIMEOUT=3s", "SESSIOND_DB_CONNECT_TIMEOUT=1s",
		"SESSIOND_LOGIN_FREE_FAILURES=1000", "SESSIOND_LOGIN_LOCK_AFTER=2000")
	db, err := store.Open("postgres", cluster.URL, store.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	var emails []string
	for i := range users {
		email := fmt.Sprintf("load%d@example.com", i)
		emails = append(emails, email)
		if a := send("POST", p.url+"/v1/auth/register", "", map[string]any{"email": email, "password": pw}); a.status != 201 {
			t.Fatalf("register = %v", a)
		}
		policy := []models.LimitPolicy{models.PolicyReject, models.PolicyEvictOldest}[i%2]
		if err := db.Model(&models.User{}).Where("email = ?", email).
			Updates(map[string]any{"max_sessions_override": limit, "limit_policy_override": policy}).Error; err != nil {
			t.Fatal(err)
		}
	}
	closeStore(db, slog.New(slog.DiscardHandler)) // its connections would die with the stop

	tl := &tally{counts: map[string]int{}, ready: make(chan struct{})}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	pause := func(a answer) {
		if a.err != nil || a.status == 503 {
			time.Sleep(25 * time.Millisecond) // a client backing off, not synchronisation
		}
	}
	for w := range 6 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := loginBody(emails[(w+i)%users], pw, fmt.Sprintf("device %d-%d", w, i))
				a := send("POST", p.url+"/v1/auth/login", "", body)
				tl.add("login", a)
				if a.status == 409 { // the chooser: sign the oldest listed device out and retry
					details := a.body["error"].(map[string]any)["details"].(map[string]any)
					sessions := details["sessions"].([]any)
					body["replace_session_id"] = sessions[len(sessions)-1].(map[string]any)["id"]
					a = send("POST", p.url+"/v1/auth/login", "", body)
					tl.add("login", a)
				}
				pause(a)
			}
		})
	}
	for w := range 3 {
		wg.Go(func() {
			select {
			case <-tl.ready:
			case <-stop:
				return
			}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				a := send("GET", p.url+"/v1/auth/session", tl.token(w+i), nil)
				tl.add("check", a)
				pause(a)
			}
		})
	}
	started := time.Now()
	time.Sleep(stopAt) // the load runs: the scenario's timeline, not synchronisation
	cluster.Stop(t)
	stopped := time.Now()
	time.Sleep(outage)
	cluster.Start(t)
	restarted := time.Now()
	time.Sleep(time.Until(started.Add(runFor)))
	close(stop)
	wg.Wait()

	var firstAfter time.Duration = -1
	for _, at := range tl.successes {
		if at.After(restarted) && (firstAfter < 0 || at.Sub(restarted) < firstAfter) {
			firstAfter = at.Sub(restarted)
		}
	}
	t.Logf("stopped %s after the start, down %s; answers: %v", stopped.Sub(started).Round(time.Millisecond),
		restarted.Sub(stopped).Round(time.Millisecond), tl.counts)
	t.Logf("first success %s after the restart returned", firstAfter.Round(time.Millisecond))
	if len(tl.errors) > 0 {
		t.Errorf("%d requests got no answer at all, e.g. %s", len(tl.errors), tl.errors[0])
	}
	allowed := map[string]bool{
		"login 201 ": true, "login 409 device_limit_reached": true, "login 503 unavailable": true,
		"check 200 ": true, "check 401 session_evicted": true, "check 503 unavailable": true,
	}
	for kind, n := range tl.counts {
		if !allowed[kind] {
			t.Errorf("%d answers %q, want only %v", n, kind, allowed)
		}
	}
	if tl.counts["login 503 unavailable"] == 0 || tl.counts["login 201 "] == 0 {
		t.Errorf("the load saw no outage or no success: %v", tl.counts)
	}
	if firstAfter < 0 || firstAfter > 2*time.Second {
		t.Errorf("first success %s after the restart, want within 2s", firstAfter)
	}

	db, err = store.Open("postgres", cluster.URL, store.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore(db, slog.New(slog.DiscardHandler))
	var stored, withEvent int64
	if err := db.Model(&models.Session{}).Where("id IN ?", tl.created).Count(&stored).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Model(&models.SessionEvent{}).Where("type = 'login' AND session_id IN ?", tl.created).Count(&withEvent).Error; err != nil {
		t.Fatal(err)
	}
	if int(stored) != len(tl.created) || int(withEvent) != len(tl.created) {
		t.Errorf("of %d logins answered 201, %d sessions and %d login events are in the database, want all", len(tl.created), stored, withEvent)
	}
	var over int64
	err = db.Raw(`SELECT count(*) FROM (SELECT user_id FROM sessions WHERE revoked_at IS NULL AND expires_at > now()
		AND idle_expires_at > now() GROUP BY user_id HAVING count(*) > ?) AS over`, limit).Scan(&over).Error
	if err != nil {
		t.Fatal(err)
	}
	if over != 0 {
		t.Errorf("%d users hold more than %d active sessions after the outage", over, limit)
	}
}
