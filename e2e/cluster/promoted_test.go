package cluster_test

import (
	"context"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/lab"
	"github.com/tandem-ha/tandem/e2e/labtest"
	"github.com/tandem-ha/tandem/e2e/poll"
)

// The promoted role of a promotable clone in the lab (prefix tdprom; labs
// run one at a time, so it shares TestActiveActive's subnet): a
// primary/replica pair run by the SDK's example plugin (each node runs
// /bin/sleep; promote writes a role file beside its pid file, demote
// removes it), promoted-max 1. A checker samples both nodes' role files
// through each node's own mount namespace every 5 ms and counts a node as
// primary while its role file exists and the process its pid file names
// runs there: never two primaries, across a hard kill and a cut-off of the
// primary's node; and a new primary appears on the other node.
func promotedOpts() lab.Options {
	prefix, subnet := devLab("tdprom", "198.18.0.160/27")
	return lab.Options{Prefix: prefix, Subnet: subnet, Relocate: true, StartTandem: true}
}

// exampleStateDir is the example agent's default state_dir: a tmpfs in the
// node, so a killed node's role file goes with it, as a primary's state
// does with its machine.
const exampleStateDir = "/run/tandem-example"

func TestPromotedRoleInLab(t *testing.T) {
	// The example plugin is not in the Debian package: this lab runs the
	// build directory with it added, bind-mounted, even where make test
	// installs the package in its other labs.
	t.Setenv(lab.EnvDeb, "")
	opts := promotedOpts()
	opts.BinDir = binDirWithExample(t)
	opts.Config = promotableConfig(t)
	l := labtest.Start(t, opts)
	nodes := []string{"holly", "benji"}
	ck := watchPrimaries(l, nodes)
	defer func() {
		if err := ck.stop(); err != nil {
			t.Error(err)
		}
		t.Logf("primaries checker: %d samples, longest gap %s", ck.count(), ck.maxGap().Round(time.Millisecond))
	}()
	settled := func(what string) string {
		t.Helper()
		var primary string
		poll.Until(t, 90*time.Second, 100*time.Millisecond, poll.About(what, func() error {
			s := ck.last()
			if len(s.primaries) != 1 {
				return fmt.Errorf("primaries %v, want one", s.primaries)
			}
			if !slices.Equal(s.running, nodes) {
				return fmt.Errorf("instances running on %v, want %v", s.running, nodes)
			}
			primary = s.primaries[0]
			return nil
		}))
		return primary
	}
	other := func(n string) string {
		if n == nodes[0] {
			return nodes[1]
		}
		return nodes[0]
	}
	primary := settled("one primary and a replica")
	t.Logf("primary on %s", primary)

	// failover runs fault against the primary's node and waits for the
	// other node's instance to be promoted; it returns when the fault was
	// made and when the old primary was last and the new one first seen.
	failover := func(name string, fault func(string) error) (old, now string) {
		t.Helper()
		old, now = primary, other(primary)
		at := time.Now()
		if err := fault(old); err != nil {
			t.Fatalf("%s %s: %v", name, old, err)
		}
		var promotedAt time.Time
		poll.Until(t, 60*time.Second, 20*time.Millisecond, poll.About(now+" promoted", func() error {
			var ok bool
			if promotedAt, ok = ck.firstPrimary(now, at); !ok {
				return fmt.Errorf("primaries %v", ck.last().primaries)
			}
			return nil
		}))
		lastOld, _ := ck.lastPrimary(old, at)
		gone := "killed with its node"
		if !lastOld.IsZero() {
			gone = fmt.Sprintf("last seen primary %s after the fault", lastOld.Sub(at).Round(time.Millisecond))
		}
		t.Logf("%s of the primary %s: %s promoted %s after the fault; %s (%s before the promotion)",
			name, old, now, promotedAt.Sub(at).Round(time.Millisecond), gone, promotedAt.Sub(maxTime(lastOld, at)).Round(time.Millisecond))
		return old, now
	}

	old, now := failover("hard kill", l.Kill)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := l.Restart(ctx, old); err != nil {
		t.Fatal(err)
	}
	if p := settled(old + " back as a replica"); p != now {
		t.Errorf("after %s came back the primary is on %s, want it to stay on %s", old, p, now)
	}
	primary = now

	old, _ = failover("cut-off", l.Cut)
	if err := l.Heal(old); err != nil {
		t.Fatal(err)
	}
	settled(old + " healed")
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// promotableConfig is e2e/cluster.toml's cluster (its nodes, witness and
// bus) with one resource: db, the example plugin's process agent as a
// promotable clone, the same promotion score on both nodes.
func promotableConfig(t *testing.T) string {
	t.Helper()
	ref, err := os.ReadFile(filepath.Join("..", "cluster.toml"))
	if err != nil {
		t.Fatal(err)
	}
	head, _, ok := strings.Cut(string(ref), "[defaults]")
	if !ok {
		t.Fatal("../cluster.toml has no [defaults]")
	}
	conf := head + `[defaults]
resource-stickiness = 100

[[resource]]
id = "db"
agent = "example:process"
params = { command = "/bin/sleep", args = "infinity", promotion_score = "5" }
[[resource.op]]
name = "monitor"
interval = "1s"
[resource.clone]
promotable = true
`
	path := filepath.Join(t.TempDir(), "cluster.toml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// binDirWithExample is a copy of the lab's binary directory (tandem and
// its plugin links) with the SDK's example plugin built into it: a
// third-party plugin, installed beside the first-party ones.
func binDirWithExample(t *testing.T) string {
	t.Helper()
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	src := os.Getenv(lab.EnvBin)
	if src == "" {
		src = filepath.Join(repo, "bin")
	}
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatalf("the lab's binaries: %v (run make build, or set %s)", err, lab.EnvBin)
	}
	for _, e := range entries {
		from, to := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		if e.Type()&os.ModeSymlink != 0 {
			target, err := os.Readlink(from)
			if err == nil {
				err = os.Symlink(target, to)
			}
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := copyFile(from, to); err != nil {
			t.Fatal(err)
		}
	}
	cmd := osexec.Command("go", "build", "-o", filepath.Join(dst, "tandem-plugin-example"), "./plugins/sdk/example/cmd/tandem-plugin-example")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the example plugin: %v\n%s", err, out)
	}
	return dst
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// primariesChecker samples which nodes run a promotable clone's instance,
// and which of them in the promoted role, with probe, every 5 ms. More than
// one primary at a sample is a violation.
type primariesChecker struct {
	nodes []string
	probe rolesProbe
	done  chan struct{}
	wg    sync.WaitGroup

	mu         sync.Mutex
	samples    []primarySample // transitions only, and the latest sample
	n          int
	gap        time.Duration
	violations []string
}

// rolesProbe says whether node runs the clone's instance now, and whether
// as the primary.
type rolesProbe func(node string) (running, primary bool)

type primarySample struct {
	at        time.Time
	primaries []string
	running   []string
}

// watchPrimaries checks the example agent's instances (exampleRoles).
func watchPrimaries(l *lab.Lab, nodes []string) *primariesChecker {
	return watchRoles(nodes, exampleRoles(l))
}

func watchRoles(nodes []string, probe rolesProbe) *primariesChecker {
	c := &primariesChecker{nodes: nodes, probe: probe, done: make(chan struct{})}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		prev := time.Now()
		for {
			select {
			case <-c.done:
				return
			case <-tick.C:
			}
			s := c.sample()
			c.mu.Lock()
			c.n++
			c.gap = max(c.gap, s.at.Sub(prev))
			prev = s.at
			if k := len(c.samples); k == 0 || !slices.Equal(c.samples[k-1].primaries, s.primaries) || !slices.Equal(c.samples[k-1].running, s.running) {
				c.samples = append(c.samples, s)
			} else {
				c.samples[k-1].at = s.at
			}
			if len(s.primaries) > 1 && len(c.violations) < 10 {
				c.violations = append(c.violations, fmt.Sprintf("%s: primaries on %v", s.at.Format("15:04:05.000"), s.primaries))
			}
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *primariesChecker) sample() primarySample {
	s := primarySample{}
	for _, n := range c.nodes {
		running, primary := c.probe(n)
		if running {
			s.running = append(s.running, n)
		}
		if primary {
			s.primaries = append(s.primaries, n)
		}
	}
	s.at = time.Now()
	return s
}

// exampleRoles reads the example agent's state through each node's own
// mount namespace (lab.LivePath): a node's instance runs while the pid its
// pid file names is a live process in that node, and is the primary while
// its role file exists too.
func exampleRoles(l *lab.Lab) rolesProbe {
	return func(n string) (running, primary bool) {
		dir, err := l.LivePath(n, exampleStateDir)
		if err != nil {
			return false, false
		}
		pids, _ := filepath.Glob(filepath.Join(dir, "*.pid"))
		for _, pf := range pids {
			b, err := os.ReadFile(pf)
			var pid int
			if err != nil || len(b) == 0 {
				continue
			}
			if _, err := fmt.Sscanf(string(b), "%d", &pid); err != nil || pid <= 0 {
				continue
			}
			procDir, err := l.LivePath(n, fmt.Sprintf("/proc/%d", pid))
			if err != nil {
				continue
			}
			if _, err := os.Stat(procDir); err != nil {
				continue
			}
			running = true
			if _, err := os.Stat(strings.TrimSuffix(pf, ".pid") + ".promoted"); err == nil {
				primary = true
			}
		}
		return running, primary
	}
}

func (c *primariesChecker) last() primarySample {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.samples) == 0 {
		return primarySample{}
	}
	return c.samples[len(c.samples)-1]
}

// firstPrimary is when node was first seen primary after since.
func (c *primariesChecker) firstPrimary(node string, since time.Time) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.samples {
		if s.at.After(since) && slices.Contains(s.primaries, node) {
			return s.at, true
		}
	}
	return time.Time{}, false
}

// lastPrimary is when node was last seen primary after since (zero if
// never).
func (c *primariesChecker) lastPrimary(node string, since time.Time) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var last time.Time
	for _, s := range c.samples {
		if s.at.After(since) && slices.Contains(s.primaries, node) {
			last = s.at
		}
	}
	return last, !last.IsZero()
}

func (c *primariesChecker) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *primariesChecker) maxGap() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gap
}

// stop ends the sampling and says whether two primaries were ever seen.
func (c *primariesChecker) stop() error {
	close(c.done)
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		return fmt.Errorf("the primaries checker took no sample")
	}
	if len(c.violations) > 0 {
		return fmt.Errorf("more than promoted-max (1) primaries:\n%s", strings.Join(c.violations, "\n"))
	}
	return nil
}
