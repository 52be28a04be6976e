package daemon_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
)

const promotableScenario = `
[[resource]]
id = "db"
agent = "example:process"
params = { command = "/bin/sleep", args = "3600", state_dir = "STATE/{node}", promotion_score = "10" }
[[resource.op]]
name = "monitor"
interval = "500ms"
[resource.clone]
promotable = true
`

// roleEvent is one change of a node's promoted instances, as the checker
// saw it.
type roleEvent struct {
	at       time.Time
	node     string
	promoted bool
}

// roleChecker is the safety checker of the promoted role: it follows the
// example agent's role files (<state>/<node>/<resource>:<i>.promoted,
// written by promote, removed by demote and stop) of every node through
// one inotify instance, whose events the kernel queues in the order the
// files changed, across directories. So it sees every promote and demote
// in order, not samples of them, and counts an overlap of more promoted
// instances than promoted-max however short it is.
type roleChecker struct {
	max  int
	file *os.File
	done chan struct{}

	mu       sync.Mutex
	wds      map[int32]string // watch -> node
	promoted map[string]bool  // "node/file"
	events   []roleEvent
	overlaps []string
}

func newRoleChecker(t *testing.T, state string, max int, nodes ...string) *roleChecker {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	c := &roleChecker{max: max, file: os.NewFile(uintptr(fd), "inotify"), done: make(chan struct{}),
		wds: map[int32]string{}, promoted: map[string]bool{}}
	for _, n := range nodes {
		dir := filepath.Join(state, n)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		wd, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_DELETE|unix.IN_MOVED_FROM|unix.IN_MOVED_TO)
		if err != nil {
			t.Fatal(err)
		}
		c.wds[int32(wd)] = n
	}
	go c.read()
	t.Cleanup(func() {
		c.file.Close()
		<-c.done
	})
	return c
}

func (c *roleChecker) read() {
	defer close(c.done)
	buf := make([]byte, 64<<10)
	for {
		n, err := c.file.Read(buf)
		if err != nil {
			return
		}
		at := time.Now()
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			var ev unix.InotifyEvent
			_ = binary.Read(bytes.NewReader(buf[off:off+unix.SizeofInotifyEvent]), binary.NativeEndian, &ev)
			name := string(bytes.TrimRight(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)], "\x00"))
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if !strings.HasSuffix(name, ".promoted") {
				continue
			}
			c.mu.Lock()
			node := c.wds[ev.Wd]
			on := ev.Mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0
			k := node + "/" + name
			if c.promoted[k] != on {
				c.promoted[k] = on
				c.events = append(c.events, roleEvent{at: at, node: node, promoted: on})
				if on && c.countLocked() > c.max {
					c.overlaps = append(c.overlaps, fmt.Sprintf("%s: %s promoted while %v already were (promoted-max %d)",
						at.Format(time.StampMicro), k, c.promotedLocked(k), c.max))
				}
			}
			c.mu.Unlock()
		}
	}
}

func (c *roleChecker) countLocked() int {
	n := 0
	for _, on := range c.promoted {
		if on {
			n++
		}
	}
	return n
}

func (c *roleChecker) promotedLocked(except string) []string {
	var out []string
	for k, on := range c.promoted {
		if on && k != except {
			out = append(out, k)
		}
	}
	return out
}

// on lists the nodes with a promoted instance now.
func (c *roleChecker) on() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for k, on := range c.promoted {
		if on {
			n, _, _ := strings.Cut(k, "/")
			out = append(out, n)
		}
	}
	return out
}

// last is when node was last promoted (promoted true) or demoted.
func (c *roleChecker) last(node string, promoted bool) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.events) - 1; i >= 0; i-- {
		if e := c.events[i]; e.node == node && e.promoted == promoted {
			return e.at
		}
	}
	return time.Time{}
}

func (c *roleChecker) check(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range c.overlaps {
		t.Error("two primaries: " + o)
	}
}

func otherNode(n string) string {
	if n == "holly" {
		return "benji"
	}
	return "holly"
}

// The promoted instance's node is cut off from the bus: it demotes its
// instance by itself when its promoted slot lease runs out, before the
// other node's promote can have the slot; the checker sees every role
// change and never two primaries. The cut node rejoins unpromoted, and
// when the new primary's node leaves cleanly its stop releases the slot:
// the role moves back without waiting for a lease to expire.
func TestPromotedRoleFencedWhenCutOff(t *testing.T) {
	tc := daemontest.New(t, promotableScenario)
	chk := newRoleChecker(t, tc.State, 1, "holly", "benji")
	tc.StartAll()
	c := tc.Connect()
	var primary string
	poll.Until(t, 60*time.Second, 50*time.Millisecond, func() error {
		if w := tc.Where("db"); len(w) != 2 {
			return fmt.Errorf("db runs on %v", w)
		}
		on := chk.on()
		if len(on) != 1 {
			return fmt.Errorf("promoted on %v", on)
		}
		primary = on[0]
		return daemontest.Reported(c, map[string]string{"holly/db": bus.StateStarted, "benji/db": bus.StateStarted})
	})
	survivor := otherNode(primary)
	t.Logf("promoted on %s", primary)

	cut := time.Now()
	tc.CutOff(primary)
	poll.Until(t, 60*time.Second, 20*time.Millisecond, func() error {
		if on := chk.on(); len(on) != 1 || on[0] != survivor {
			return fmt.Errorf("promoted on %v, want %s", on, survivor)
		}
		return nil
	})
	demoted, promoted := chk.last(primary, false), chk.last(survivor, true)
	if demoted.IsZero() || !demoted.Before(promoted) {
		t.Fatalf("%s demoted at %v, %s promoted at %v: want the demote first", primary, demoted.Format(time.StampMicro), survivor, promoted.Format(time.StampMicro))
	}
	t.Logf("cut %s off: demoted there after %s, promoted on %s after %s (%s after the demote)", primary,
		demoted.Sub(cut).Round(time.Millisecond), survivor, promoted.Sub(cut).Round(time.Millisecond), promoted.Sub(demoted).Round(time.Millisecond))
	if w := tc.Where("db"); len(w) != 2 {
		t.Errorf("db runs on %v after the cut, want both nodes (the cut one demoted, not stopped)", w)
	}

	// The cut node comes back (its daemon restarted on a working bus): it
	// rejoins unpromoted, and the survivor stays the primary.
	tc.Stop(primary)
	tc.Start(primary)
	poll.Until(t, 60*time.Second, 50*time.Millisecond, func() error {
		if w := tc.Where("db"); len(w) != 2 {
			return fmt.Errorf("db runs on %v", w)
		}
		if on := chk.on(); len(on) != 1 || on[0] != survivor {
			return fmt.Errorf("promoted on %v, want %s", on, survivor)
		}
		return daemontest.Reported(c, map[string]string{"holly/db": bus.StateStarted, "benji/db": bus.StateStarted})
	})

	// The primary's node leaves cleanly: its stop releases the slot, and
	// the other node's promote takes it without waiting for it to expire.
	left := time.Now()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tc.Stop(survivor)
	}()
	poll.Until(t, 60*time.Second, 20*time.Millisecond, func() error {
		if on := chk.on(); len(on) != 1 || on[0] != primary {
			return fmt.Errorf("promoted on %v, want %s", on, primary)
		}
		return nil
	})
	<-stopped
	gone, back := chk.last(survivor, false), chk.last(primary, true)
	t.Logf("%s left: its instance stopped after %s, promoted on %s after %s (%s after the stop)", survivor,
		gone.Sub(left).Round(time.Millisecond), primary, back.Sub(left).Round(time.Millisecond), back.Sub(gone).Round(time.Millisecond))
	chk.check(t)
	chk.mu.Lock()
	defer chk.mu.Unlock()
	if len(chk.events) < 4 {
		t.Errorf("the checker saw %d role changes, want at least 4 (promote, demote, promote, stop, promote)", len(chk.events))
	}
}

// The promoted instance's host is frozen as a whole (SIGSTOP of its tandem
// process; its plugin, a process of its own, runs on): the host can demote
// nothing, so the plugin does, when the promoted hold the host gave it
// lapses at the slot lease's fence deadline, before the other node can
// take the slot. The checker sees every role change and never two
// primaries. After the thaw the node takes the role back (a location
// prefers it promoted there): a demote that releases the slot, then its
// promote.
func TestPromotedRoleFencedWhenHostFrozen(t *testing.T) {
	bin := daemontest.BuildTandem(t)
	tc := daemontest.New(t, promotableScenario+`
[[location]]
rsc = "db-clone"
node = "holly"
score = "100"
role = "Promoted"
`)
	chk := newRoleChecker(t, tc.State, 1, "holly", "benji")
	tc.StartProcess("holly", bin)
	tc.Start("benji")
	tc.Start("director")
	c := tc.Connect()
	settled := func(primary string) {
		t.Helper()
		poll.Until(t, 90*time.Second, 50*time.Millisecond, func() error {
			if w := tc.Where("db"); len(w) != 2 {
				return fmt.Errorf("db runs on %v", w)
			}
			if on := chk.on(); len(on) != 1 || on[0] != primary {
				return fmt.Errorf("promoted on %v, want %s", on, primary)
			}
			return daemontest.Reported(c, map[string]string{"holly/db": bus.StateStarted, "benji/db": bus.StateStarted})
		})
	}
	settled("holly")

	frozen := time.Now()
	tc.Signal("holly", syscall.SIGSTOP)
	poll.Until(t, 60*time.Second, 20*time.Millisecond, func() error {
		if on := chk.on(); len(on) != 1 || on[0] != "benji" {
			return fmt.Errorf("promoted on %v, want benji", on)
		}
		return nil
	})
	demoted, promoted := chk.last("holly", false), chk.last("benji", true)
	if demoted.IsZero() || !demoted.Before(promoted) {
		t.Fatalf("holly demoted at %v, benji promoted at %v: want the demote first", demoted.Format(time.StampMicro), promoted.Format(time.StampMicro))
	}
	t.Logf("holly's host frozen: demoted there (by its plugin) after %s, promoted on benji after %s (%s after the demote)",
		demoted.Sub(frozen).Round(time.Millisecond), promoted.Sub(frozen).Round(time.Millisecond), promoted.Sub(demoted).Round(time.Millisecond))

	thawed := time.Now()
	tc.Signal("holly", syscall.SIGCONT)
	settled("holly")
	t.Logf("thawed: promoted on holly again after %s (benji demoted %s before)", chk.last("holly", true).Sub(thawed).Round(time.Millisecond),
		chk.last("holly", true).Sub(chk.last("benji", false)).Round(time.Millisecond))
	chk.check(t)
}
