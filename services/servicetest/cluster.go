package servicetest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Cluster is a throwaway Postgres cluster that one test owns and may stop and start again:
// a database outage, for real. It is made with initdb and pg_ctl from PATH or from
// /usr/lib/postgresql/*/bin, run as the postgres user when the test runs as root (they
// refuse root). Without those binaries the test fails under CI=true and is skipped elsewhere.
type Cluster struct {
	URL  string // of the postgres database, trust auth, role postgres
	bin  string
	dir  string
	port int
	as   []string // the command prefix that runs a server binary as its owner
}

// NewCluster creates and starts a cluster; it is stopped and removed when the test ends.
func NewCluster(tb testing.TB) *Cluster {
	tb.Helper()
	bin, err := pgBin()
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("a throwaway Postgres cluster is required under CI=true: %v", err)
		}
		tb.Skipf("SKIP: no throwaway Postgres cluster: %v", err)
	}
	dir, err := os.MkdirTemp("", "sessiond-cluster-")
	if err != nil {
		tb.Fatal(err)
	}
	c := &Cluster{bin: bin, dir: dir}
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			tb.Fatalf("running as root, initdb needs the postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			tb.Fatal(err)
		}
		c.as = []string{"runuser", "-u", "postgres", "--"}
	}
	tb.Cleanup(func() {
		_ = c.run("pg_ctl", "-D", c.data(), "-m", "immediate", "stop")
		os.RemoveAll(dir)
	})
	if err := c.run("initdb", "-D", c.data(), "-U", "postgres", "-A", "trust"); err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	c.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
	c.Start(tb)
	return c
}

// Start starts the cluster and returns once it accepts connections.
func (c *Cluster) Start(tb testing.TB) {
	tb.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", c.port, c.dir)
	if err := c.run("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "log"), "-w", "-o", opts, "start"); err != nil {
		tb.Fatal(err)
	}
}

// Stop stops the cluster the hard way (immediate: no checkpoint, every connection cut).
func (c *Cluster) Stop(tb testing.TB) {
	tb.Helper()
	if err := c.run("pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop"); err != nil {
		tb.Fatal(err)
	}
}

// Freeze stops every process of the cluster with SIGSTOP, as a server that hangs (a stalled
// disk, a paused VM) would look from outside: connections stay open and connects are accepted
// by the kernel, but nothing answers. The postmaster goes first, so it forks nothing new, then
// each of its children (Postgres puts every child in a process group of its own, so one signal
// to the postmaster's group would miss them). Thaw undoes it; a frozen cluster is thawed when
// the test ends, before it is stopped.
func (c *Cluster) Freeze(tb testing.TB) {
	tb.Helper()
	c.signalAll(tb, syscall.SIGSTOP)
	tb.Cleanup(func() { c.signalAll(tb, syscall.SIGCONT) })
}

// Thaw resumes every process of a frozen cluster with SIGCONT.
func (c *Cluster) Thaw(tb testing.TB) {
	tb.Helper()
	c.signalAll(tb, syscall.SIGCONT)
}

// signalAll sends sig to the postmaster, waits until a SIGSTOP took effect (so it cannot fork
// any more), then to each of its children.
func (c *Cluster) signalAll(tb testing.TB, sig syscall.Signal) {
	tb.Helper()
	pid, err := c.postmaster()
	if err != nil {
		tb.Fatal(err)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		tb.Fatalf("signal %v to the postmaster %d: %v", sig, pid, err)
	}
	if sig == syscall.SIGSTOP {
		// The kernel stops it within a scheduling round; there is nothing to wait on but its state.
		for deadline := time.Now().Add(5 * time.Second); procState(pid) != 'T'; {
			if time.Now().After(deadline) {
				tb.Fatalf("the postmaster %d did not stop (state %q)", pid, procState(pid))
			}
			runtime.Gosched()
		}
	}
	children, err := childrenOf(pid)
	if err != nil {
		tb.Fatal(err)
	}
	for _, child := range children {
		if err := syscall.Kill(child, sig); err != nil && err != syscall.ESRCH {
			tb.Fatalf("signal %v to postgres process %d: %v", sig, child, err)
		}
	}
}

// postmaster returns the pid of the running cluster's postmaster, from postmaster.pid.
func (c *Cluster) postmaster() (int, error) {
	b, err := os.ReadFile(filepath.Join(c.data(), "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("the cluster is not running: %w", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return 0, fmt.Errorf("postmaster.pid: %w", err)
	}
	return pid, nil
}

// childrenOf lists the processes whose parent is pid, from /proc.
func childrenOf(pid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := procParent(child); ok && ppid == pid {
			out = append(out, child)
		}
	}
	return out, nil
}

// procStat returns the fields of /proc/PID/stat after the command (which may hold spaces and
// parentheses): state, ppid, …; nil when the process is gone.
func procStat(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

func procState(pid int) byte {
	if f := procStat(pid); len(f) > 0 && f[0] != "" {
		return f[0][0]
	}
	return 0
}

func procParent(pid int) (int, bool) {
	f := procStat(pid)
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) run(tool string, args ...string) error {
	argv := append(append(append([]string{}, c.as...), filepath.Join(c.bin, tool)), args...)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %w\n%s", tool, args, err, out)
	}
	return nil
}

// pgBin finds the directory of initdb and pg_ctl.
func pgBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs))) // the newest major first (good enough up to 99)
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("initdb is neither on PATH nor in /usr/lib/postgresql/*/bin")
}
