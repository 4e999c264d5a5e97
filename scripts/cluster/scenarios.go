package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// race signs 10 accounts in Logins times through HAProxy, Concurrency at once, each login a
// new device, and counts in SQL the accounts left with more active sessions than their limit.
// kind "evict": the standard plan (2, evict_oldest); "reject": basic (1, reject: 409).
func (c *cluster) race(ctx context.Context, kind string) error {
	scenario := "racing logins (" + kind + ")"
	emails, err := register(ctx, c.lb, "race-"+kind, 10)
	if err != nil {
		return err
	}
	if kind == "reject" {
		if _, err := c.sql(ctx, `UPDATE users SET plan_id = (SELECT id FROM plans WHERE name = 'basic') WHERE email = ANY($1)`, emails); err != nil {
			return err
		}
	}
	var t tally
	var whyMu sync.Mutex
	why := map[string]int{} // what the 503s said
	jobs := make(chan string)
	var wg sync.WaitGroup
	start := time.Now()
	for range c.set.Concurrency {
		wg.Go(func() {
			for email := range jobs {
				status, body := loginBody(ctx, c.lb, email)
				t.add(status)
				if status == http.StatusServiceUnavailable {
					whyMu.Lock()
					why[problem(body)]++
					whyMu.Unlock()
				}
			}
		})
	}
	for i := range c.set.Logins {
		jobs <- emails[i%len(emails)]
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	violations, err := c.sql(ctx, `
		SELECT count(*) FROM users u JOIN plans p ON p.id = u.plan_id
		WHERE u.email = ANY($1) AND (SELECT count(*) FROM sessions s
			WHERE s.user_id = u.id AND s.revoked_at IS NULL AND s.expires_at > now()) > COALESCE(u.max_sessions_override, p.max_sessions)`, emails)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "    answers:%s; the 503s said: %v\n", t.String(), why)
	c.figure(scenario, "limit violations (SQL)", float64(violations), "accounts", 0, true)
	// 409: the reject plan's refusal at the limit. 429: the account throttle, which counts an
	// attempt before its password is checked, so that five logins of one account in flight at
	// once look like five failures until they succeed (DESIGN.md). 503: a deadline passed.
	c.figure(scenario, "errors other than 201/409/429/503", float64(t.count(func(s int) bool { return s != 201 && s != 409 && s != 429 && s != 503 })), "requests", 0, true)
	c.figure(scenario, "429 answers (account throttle)", float64(t.count(func(s int) bool { return s == 429 })), "requests", -1, false)
	c.figure(scenario, "503 answers", float64(t.count(func(s int) bool { return s == 503 })), "requests", -1, false)
	c.figure(scenario, "logins per second", float64(int(float64(c.set.Logins)/elapsed.Seconds()*10))/10, "/s", -1, false)
	return nil
}

// revocation: a session checked (and so cached) on every host is revoked on host A; B and C
// are asked directly in tight loops until both answer 401.
func (c *cluster) revocation(ctx context.Context) error {
	delays, err := c.revokeEverywhere(ctx, "revocation", c.set.Revocations)
	if err != nil {
		return err
	}
	c.figure("revocation everywhere", "delay p50", percentile(delays, 50), "ms", -1, false)
	c.figure("revocation everywhere", "delay p99", percentile(delays, 99), "ms", 50, false)
	c.figure("revocation everywhere", "delay max", percentile(delays, 100), "ms", -1, false)
	return nil
}

// revokeEverywhere times n revocations made on host A until hosts B and C both refuse; the
// delays (one per host and revocation) come back sorted. A revocation that does not reach a
// host within 5 s is an error.
func (c *cluster) revokeEverywhere(ctx context.Context, prefix string, n int) ([]time.Duration, error) {
	A, B, C := c.hosts[0], c.hosts[1], c.hosts[2]
	emails, err := register(ctx, A, prefix, 1)
	if err != nil {
		return nil, err
	}
	var keeper string
	status := retry503(func() (s int) { s, keeper, _ = login(ctx, A, emails[0]); return s }) // older than every victim: may sign them out
	if status != http.StatusCreated {
		return nil, fmt.Errorf("keeper login = %d", status)
	}
	var delays []time.Duration
	for range n {
		var tok, id string
		if status := retry503(func() (s int) { s, tok, id = login(ctx, A, emails[0]); return s }); status != http.StatusCreated {
			return nil, fmt.Errorf("victim login = %d", status)
		}
		for _, base := range []string{A, B, B, C, C} { // the second check on B and C: a cache hit
			if status := retry503(func() int { s, _ := call(ctx, "GET", base+"/v1/auth/session", tok, nil); return s }); status != http.StatusOK {
				return nil, fmt.Errorf("check on %s = %d, want 200", base, status)
			}
		}
		if status := retry503(func() int { s, _ := call(ctx, "DELETE", A+"/v1/sessions/"+id, keeper, nil); return s }); status != http.StatusNoContent {
			return nil, fmt.Errorf("revoke on A = %d, want 204", status)
		}
		revoked := time.Now()
		got := make(chan error, 2)
		var mu sync.Mutex
		for _, base := range []string{B, C} {
			go func() {
				for {
					if status, _ := call(ctx, "GET", base+"/v1/auth/session", tok, nil); status == http.StatusUnauthorized {
						mu.Lock()
						delays = append(delays, time.Since(revoked))
						mu.Unlock()
						got <- nil
						return
					}
					if time.Since(revoked) > 5*time.Second {
						got <- fmt.Errorf("%s still accepts a session revoked 5 s ago on A", base)
						return
					}
				}
			}()
		}
		for range 2 {
			if err := <-got; err != nil {
				return nil, err
			}
		}
	}
	slices.Sort(delays)
	return delays, nil
}

// retry503 calls f again, up to 10 times, while it answers 503: on these shared cores a
// request may miss its deadline, and a 503 is an allowed answer (a write that answered 503 did
// not happen), while the measure needs the request done.
func retry503(f func() int) int {
	s := f()
	for i := 0; i < 10 && s == http.StatusServiceUnavailable; i++ {
		time.Sleep(100 * time.Millisecond) // Retry-After is 1 s; a tenth of it is enough here
		s = f()
	}
	return s
}

// load starts steady traffic through HAProxy: 8 workers, each request a check of a long-lived
// session or, one in five, a login (evicting on accounts of their own). The traffic runs
// until stop is called (any number of times), which waits for the workers.
func (c *cluster) load(ctx context.Context, prefix string) (t *tally, stop func(), err error) {
	checkers, err := register(ctx, c.lb, prefix+"-check", 8)
	if err != nil {
		return nil, nil, err
	}
	loginers, err := register(ctx, c.lb, prefix+"-login", 8)
	if err != nil {
		return nil, nil, err
	}
	tokens := make([]string, len(checkers))
	for i, e := range checkers {
		if status := retry503(func() (s int) { s, tokens[i], _ = login(ctx, c.lb, e); return s }); status != http.StatusCreated {
			return nil, nil, fmt.Errorf("login = %d", status)
		}
	}
	t = &tally{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				case <-ctx.Done():
					return
				default:
				}
				if i%5 == 4 {
					status, _, _ := login(ctx, c.lb, loginers[w])
					t.add(status)
				} else {
					status, _ := call(ctx, "GET", c.lb+"/v1/auth/session", tokens[w], nil)
					t.add(status)
				}
			}
		})
	}
	return t, sync.OnceFunc(func() { close(done); wg.Wait() }), nil
}

func failed(s int) bool { return s != http.StatusOK && s != http.StatusCreated }
func non503(s int) bool { return failed(s) && s != http.StatusServiceUnavailable }

// rollingRestart restarts the three hosts one after another (SIGTERM: /readyz turns 503 for
// SESSIOND_SHUTDOWN_DELAY, HAProxy takes the host out, it drains and exits; then it starts
// again) under steady load through HAProxy.
func (c *cluster) rollingRestart(ctx context.Context) error {
	t, stopLoad, err := c.load(ctx, "restart")
	if err != nil {
		return err
	}
	defer stopLoad()
	time.Sleep(time.Second) // load before the first restart
	for i := 1; i <= 3; i++ {
		if err := c.do(ctx, "restart-host", strconv.Itoa(i)); err != nil {
			return err
		}
		time.Sleep(time.Second) // HAProxy's checks (rise 2 × 250 ms) bring it back
	}
	stopLoad()
	fmt.Fprintf(stderr, "    answers:%s\n", t.String())
	c.figure("rolling restart", "requests", float64(t.count(func(int) bool { return true })), "requests", -1, false)
	c.figure("rolling restart", "failed requests", float64(t.count(failed)), "requests", 0, false)
	c.figure("rolling restart", "errors other than 503", float64(t.count(non503)), "requests", 0, true)
	return nil
}
