package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

var stderr = os.Stderr

// cutOff takes host 3's link to the database down under steady load through HAProxy. The
// host must answer only 503 (after the grace its cache listener needs to notice, up to
// about a second, in which cached checks still pass), HAProxy must take it out, and the
// others serve: no error other than 503 through HAProxy. Then the link comes back.
func (c *cluster) cutOff(ctx context.Context) error {
	const scenario, grace = "host cut off from the database", 2 * time.Second
	t, stopLoad, err := c.load(ctx, "cut")
	if err != nil {
		return err
	}
	defer stopLoad()
	emails, err := register(ctx, c.hosts[2], "cut-direct", 1)
	if err != nil {
		return err
	}
	var tok string
	if status := retry503(func() (s int) { s, tok, _ = login(ctx, c.hosts[2], emails[0]); return s }); status != http.StatusCreated {
		return fmt.Errorf("login on host 3 = %d", status)
	}
	time.Sleep(time.Second)
	if err := c.do(ctx, "cut-host", "3"); err != nil {
		return err
	}
	cut := time.Now()
	var direct tally // host 3's answers after the grace
	var readyDown time.Duration
	for time.Since(cut) < time.Duration(c.set.LoadSeconds)*time.Second+grace {
		if readyDown == 0 {
			if s, _ := call(ctx, "GET", c.hosts[2]+"/readyz", "", nil); s == http.StatusServiceUnavailable {
				readyDown = time.Since(cut)
			}
		}
		s, _ := call(ctx, "GET", c.hosts[2]+"/v1/auth/session", tok, nil)
		if time.Since(cut) > grace {
			direct.add(s)
		}
		time.Sleep(20 * time.Millisecond) // a probe, not load
	}
	if err := c.do(ctx, "heal-host", "3"); err != nil {
		return err
	}
	back := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if s, _ := call(ctx, "GET", c.hosts[2]+"/readyz", "", nil); s == http.StatusOK {
			back = true
			break
		}
	}
	stopLoad()
	fmt.Fprintf(stderr, "    through HAProxy:%s; host 3 directly after %s:%s\n", t.String(), grace, direct.String())
	c.figure(scenario, "errors other than 503 through HAProxy", float64(t.count(non503)), "requests", 0, true)
	c.figure(scenario, "503 through HAProxy (before it took the host out)", float64(t.count(func(s int) bool { return s == 503 })), "requests", -1, false)
	c.figure(scenario, "cut host's answers other than 503", float64(direct.count(func(s int) bool { return s != 503 })), "requests", 0, true)
	c.figure(scenario, "seconds until the cut host's /readyz said 503", readyDown.Seconds(), "s", -1, false)
	if !back {
		c.fail("%s: host 3 was not ready again within 30 s of its link coming back", scenario)
	}
	return nil
}

// failover kills the primary (kill -9, postmaster and backends) during logins through
// HAProxy, promotes the standby a second later, and counts the logins acknowledged with 201
// that the new primary does not have. Then it shows the cache listeners on the new primary
// and a revocation reaching every host.
func (c *cluster) failover(ctx context.Context) error {
	const scenario = "failover"
	emails, err := register(ctx, c.lb, "failover", 8)
	if err != nil {
		return err
	}
	var (
		mu    sync.Mutex
		acked []string
		times []time.Time
		t     tally
		wg    sync.WaitGroup
	)
	stop := make(chan struct{})
	for w := range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				status, _, id := login(ctx, c.lb, emails[w])
				t.add(status)
				switch status {
				case http.StatusCreated:
					mu.Lock()
					acked, times = append(acked, id), append(times, time.Now())
					mu.Unlock()
				case http.StatusServiceUnavailable:
					time.Sleep(50 * time.Millisecond) // a client backs off (Retry-After), if briefly
				}
			}
		})
	}
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopLoad()
	time.Sleep(1500 * time.Millisecond)
	if err := c.do(ctx, "kill-primary"); err != nil {
		return err
	}
	time.Sleep(time.Second) // the operator's (or a failover manager's) decision
	if err := c.do(ctx, "promote-standby"); err != nil {
		return err
	}
	promoted := time.Now()
	var first time.Duration
	for deadline := promoted.Add(30 * time.Second); first == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		for _, at := range times {
			if at.After(promoted) {
				first = at.Sub(promoted)
				break
			}
		}
		mu.Unlock()
	}
	time.Sleep(time.Second)
	stopLoad()
	fmt.Fprintf(stderr, "    answers:%s\n", t.String())
	if first == 0 {
		c.fail("%s: no login succeeded within 30 s of the promotion", scenario)
	}
	found, err := c.sql(ctx, `SELECT count(*) FROM sessions WHERE id = ANY($1::uuid[])`, acked)
	if err != nil {
		return err
	}
	c.figure(scenario, "logins acknowledged (201)", float64(len(acked)), "logins", -1, false)
	c.figure(scenario, "acknowledged logins missing afterwards", float64(int64(len(acked))-found), "logins", 0, true)
	c.figure(scenario, "seconds from promotion to the first login", float64(first.Milliseconds())/1000, "s", 5, false)
	c.figure(scenario, "errors other than 503", float64(t.count(non503)), "requests", 0, true)

	// Every host's cache listener finds the new primary by itself (target_session_attrs).
	var listeners int64
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if listeners, err = c.sql(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sessiond-listener'`); err == nil && listeners >= 3 {
			break
		}
	}
	c.figure(scenario, "cache listeners on the new primary", float64(listeners), "hosts", -1, false)
	if listeners < 3 {
		c.fail("%s: %d cache listeners on the new primary, want 3", scenario, listeners)
	}
	delays, err := c.revokeEverywhere(ctx, "after-failover", 10)
	if err != nil {
		return fmt.Errorf("revocation after failover: %w", err)
	}
	c.figure(scenario, "revocation delay p99 after failover", percentile(delays, 99), "ms", -1, false)
	return nil
}

// sql runs a statement returning one count (or none) on the read-write server.
func (c *cluster) sql(ctx context.Context, query string, args ...any) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.dbURL)
	if err != nil {
		return 0, fmt.Errorf("connect to Postgres: %w", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", query, err)
	}
	defer rows.Close()
	var n int64
	if rows.Next() && len(rows.FieldDescriptions()) == 1 {
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
	}
	rows.Close()
	return n, rows.Err()
}
