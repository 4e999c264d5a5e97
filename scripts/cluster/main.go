// Command cluster drives the scenarios of scripts/cluster.sh against a running cluster: three
// sessiond hosts behind HAProxy, a Postgres primary with a synchronous standby. It addresses
// HAProxy (-lb) and each host (-hosts), reads Postgres (-database-url) to count, and changes
// the cluster through the script's callbacks (-ctl: `cluster.sh ctl VERB N`). It prints a
// table and writes cluster-results.json (-json).
//
// It exits 1 on a correctness failure (a limit violation, a login acknowledged and then lost,
// an error other than 503, a revocation that never arrives); a latency or recovery-time
// target that is missed is reported (within_target: false) and does not fail it. Every
// request loop is bounded in count and in time. Run scripts/cluster.sh, not this.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Figure is one measured number of a scenario, against its target when it has one.
type Figure struct {
	Scenario string  `json:"scenario"`
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	// Target is the bound the value should stay within (≤), nil when the figure is context.
	Target *float64 `json:"target,omitempty"`
	// Within reports Value ≤ Target; nil without a target.
	Within *bool `json:"within_target,omitempty"`
	// Correctness: missing the target is a failure of sessiond, not a slow machine.
	Correctness bool `json:"correctness,omitempty"`
}

// Results is cluster-results.json.
type Results struct {
	StartedAt time.Time `json:"started_at"`
	Seconds   float64   `json:"seconds"`
	Settings  Settings  `json:"settings"`
	Figures   []Figure  `json:"figures"`
	Failures  []string  `json:"failures"` // correctness failures: any makes the run fail
	Missed    []string  `json:"missed"`   // latency targets missed: reported, not failed
}

// Settings are the counts a run used.
type Settings struct {
	Logins      int `json:"logins"`
	Concurrency int `json:"concurrency"`
	Revocations int `json:"revocations"`
	LoadSeconds int `json:"load_seconds"`
}

type cluster struct {
	lb    string
	hosts []string
	dbURL string
	ctl   string
	set   Settings
	res   *Results
}

func main() {
	var c cluster
	var hosts, jsonPath, only string
	flag.StringVar(&c.lb, "lb", "", "HAProxy's base URL")
	flag.StringVar(&hosts, "hosts", "", "the sessiond hosts' base URLs, comma-separated (three)")
	flag.StringVar(&c.dbURL, "database-url", "", "Postgres URL (multi-host, read-write) to count in")
	flag.StringVar(&c.ctl, "ctl", "", "cluster.sh, called as `cluster.sh ctl VERB N`")
	flag.StringVar(&jsonPath, "json", "cluster-results.json", "where to write the results")
	flag.IntVar(&c.set.Logins, "logins", 1000, "racing logins per plan")
	flag.IntVar(&c.set.Concurrency, "concurrency", 50, "concurrent racing logins")
	flag.IntVar(&c.set.Revocations, "revocations", 200, "revocations to time")
	flag.IntVar(&c.set.LoadSeconds, "load-seconds", 4, "seconds of steady load around each host's restart and the cut")
	flag.StringVar(&only, "only", "", "run only these scenarios, comma-separated: race, revocation, restart, cut, failover")
	flag.Parse()
	c.hosts = strings.Split(hosts, ",")
	if c.lb == "" || len(c.hosts) != 3 || c.dbURL == "" || c.ctl == "" {
		fmt.Fprintln(os.Stderr, "cluster: need -lb, three -hosts, -database-url and -ctl")
		os.Exit(2)
	}
	c.res = &Results{StartedAt: time.Now().UTC(), Settings: c.set, Failures: []string{}, Missed: []string{}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute) // bounded, whatever happens
	defer cancel()
	scenarios := []struct {
		key, name string
		run       func(context.Context) error
	}{
		{"race", "racing logins (evict)", func(ctx context.Context) error { return c.race(ctx, "evict") }},
		{"race", "racing logins (reject)", func(ctx context.Context) error { return c.race(ctx, "reject") }},
		{"revocation", "revocation everywhere", c.revocation},
		{"restart", "rolling restart", c.rollingRestart},
		{"cut", "host cut off from the database", c.cutOff},
		{"failover", "failover", c.failover}, // last: the cluster has no standby afterwards
	}
	for _, s := range scenarios {
		if only != "" && !slices.Contains(strings.Split(only, ","), s.key) {
			continue
		}
		fmt.Fprintf(os.Stderr, "==> cluster: scenario %s\n", s.name)
		if err := s.run(ctx); err != nil {
			c.fail("%s: %v", s.name, err)
		}
	}
	c.res.Seconds = time.Since(c.res.StartedAt).Seconds()
	c.print()
	if err := c.write(jsonPath); err != nil {
		c.fail("write %s: %v", jsonPath, err)
	}
	if len(c.res.Failures) > 0 {
		fmt.Fprintf(os.Stderr, "cluster: FAIL: %s\n", strings.Join(c.res.Failures, "; "))
		os.Exit(1)
	}
	if len(c.res.Missed) > 0 {
		fmt.Fprintf(os.Stderr, "cluster: targets missed (reported, not failed): %s\n", strings.Join(c.res.Missed, "; "))
	}
}

// figure records a measured value; target < 0 means none.
func (c *cluster) figure(scenario, name string, value float64, unit string, target float64, correctness bool) {
	f := Figure{Scenario: scenario, Name: name, Value: value, Unit: unit, Correctness: correctness}
	if target >= 0 {
		within := value <= target
		f.Target, f.Within = &target, &within
		if !within {
			msg := fmt.Sprintf("%s: %s = %g %s, target ≤ %g", scenario, name, value, unit, target)
			if correctness {
				c.res.Failures = append(c.res.Failures, msg)
			} else {
				c.res.Missed = append(c.res.Missed, msg)
			}
		}
	}
	c.res.Figures = append(c.res.Figures, f)
}

func (c *cluster) fail(format string, args ...any) {
	c.res.Failures = append(c.res.Failures, fmt.Sprintf(format, args...))
}

func (c *cluster) print() {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SCENARIO\tFIGURE\tVALUE\tTARGET\tVERDICT")
	for _, f := range c.res.Figures {
		target, verdict := "", ""
		if f.Target != nil {
			target = fmt.Sprintf("≤ %g %s", *f.Target, f.Unit)
			verdict = "ok"
			if !*f.Within {
				verdict = "MISSED"
				if f.Correctness {
					verdict = "FAILED"
				}
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%g %s\t%s\t%s\n", f.Scenario, f.Name, f.Value, f.Unit, target, verdict)
	}
	_ = w.Flush()
	for _, f := range c.res.Failures {
		fmt.Printf("FAILURE: %s\n", f)
	}
}

func (c *cluster) write(path string) error {
	b, err := json.MarshalIndent(c.res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// do runs `cluster.sh ctl verb args…`.
func (c *cluster) do(ctx context.Context, verb string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{c.ctl, "ctl", verb}, args...)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cluster.sh ctl %s %s: %w", verb, strings.Join(args, " "), err)
	}
	return nil
}

var errTimeout = errors.New("timed out")
