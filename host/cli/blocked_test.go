package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
)

// transitionLog counts the coordinator's transitions that name a resource.
type transitionLog struct {
	mu   sync.Mutex
	seen []string // "<id>: <actions>"
}

func watchTransitions(t *testing.T, conn *bus.Conn, resource string) *transitionLog {
	t.Helper()
	tl := &transitionLog{}
	sub, err := bus.Subscribe(conn, bus.SubjectTransition, func(ev bus.TransitionEvent, _ bus.Envelope) {
		if strings.Contains(string(ev.Plan), `"resource":"`+resource+`"`) {
			tl.mu.Lock()
			tl.seen = append(tl.seen, ev.ID+": "+string(ev.Plan))
			tl.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return tl
}

func (tl *transitionLog) count() int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return len(tl.seen)
}

// quiet watches for window that at most max more transitions name the
// resource (an observation over a fixed time, not a wait for something).
func (tl *transitionLog) quiet(t *testing.T, window time.Duration, max int, what string) {
	t.Helper()
	from, begin := tl.count(), time.Now()
	poll.Until(t, window+time.Minute, 100*time.Millisecond, func() error {
		if n := tl.count() - from; n > max {
			tl.mu.Lock()
			defer tl.mu.Unlock()
			t.Fatalf("%s: %d transitions name the resource within %s, want at most %d; the last: %s",
				what, n, time.Since(begin).Round(time.Millisecond), max, tl.seen[len(tl.seen)-1])
		}
		if d := time.Since(begin); d < window {
			return fmt.Errorf("observing (%s)", d.Round(time.Second))
		}
		return nil
	})
}

// A stop that keeps failing leaves the resource blocked on its node, in a
// stable state: no transition names it until something changes; disable
// tries the stop once more; delete says at once that it cannot stop it;
// status lists it once under Failed Resource Actions; cleanup after the
// fix probes it again and the cluster goes on from what it finds; delete
// --force removes a blocked resource at once, leaving it alone on its
// node until a cleanup.
func TestBlockedStop(t *testing.T) {
	lc := newLiveCluster(t)
	conn := lc.Connect()
	tl := watchTransitions(t, conn, "stuck")
	lc.must(append(append([]string{"resource", "create", "stuck", "example:process"}, lc.params()...),
		"op", "monitor", "interval=500ms")...)
	lc.must("constraint", "location", "stuck", "prefers", "benji=100")
	lc.expectOn("stuck", "benji")

	// The program dies and its pid file becomes something the agent cannot
	// read or remove (a non-empty directory): the monitor fails, and so
	// does every stop.
	pidFile := filepath.Join(lc.State, "benji", "stuck.pid")
	breakStop := func() {
		t.Helper()
		pid, ok := lc.Pids("benji")["benji/stuck"]
		if !ok {
			t.Fatalf("stuck has no process on benji: %v", lc.Pids(""))
		}
		// Built aside and moved into place, so that no monitor or stop
		// sees the pid file missing (stopped) or the directory empty
		// (removable).
		aside := filepath.Join(t.TempDir(), "stuck.pid")
		if err := os.MkdirAll(filepath.Join(aside, "in-the-way"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(pidFile); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(aside, pidFile); err != nil {
			t.Fatal(err)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	fix := func() {
		t.Helper()
		if err := os.RemoveAll(pidFile); err != nil {
			t.Fatal(err)
		}
	}
	reported := func(state string) {
		t.Helper()
		poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
			return daemontest.Reported(conn, map[string]string{"benji/stuck": state})
		})
	}
	breakStop()
	reported(bus.StateBlocked)
	tl.quiet(t, 5*time.Second, 0, "blocked")
	out := lc.must("status")
	if !strings.Contains(out, "* stuck\t(example:process):\t FAILED (blocked) benji") ||
		strings.Count(out, "is a directory") != 1 || !strings.Contains(out, "(blocked: left alone on benji until tandem resource cleanup stuck)") {
		t.Errorf("status of a blocked resource:\n%s", out)
	}

	// Other edits of the configuration change nothing for it.
	lc.must(append(append([]string{"resource", "create", "bystander", "example:process"}, lc.params()...), "--disabled")...)
	tl.quiet(t, 3*time.Second, 0, "blocked while another resource was created")

	// disable changes its definition: one more stop is tried (and fails),
	// then it is left alone again.
	before := tl.count()
	lc.must("resource", "disable", "stuck")
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		if tl.count() == before {
			return fmt.Errorf("no transition after disable")
		}
		return daemontest.Reported(conn, map[string]string{"benji/stuck": bus.StateBlocked})
	})
	tl.quiet(t, 3*time.Second, 0, "blocked and disabled")
	if n := tl.count() - before; n != 1 {
		t.Errorf("%d transitions after disable, want the one that tried the stop again", n)
	}

	// delete cannot stop it: it says so without waiting for --wait.
	begin := time.Now()
	_, errs, code := lc.run("resource", "delete", "stuck", "--wait", "2m")
	if code == 0 || !strings.Contains(errs, "stuck is blocked on benji") || !strings.Contains(errs, "run tandem resource cleanup stuck") {
		t.Errorf("delete of a blocked resource: exit %d, %q", code, errs)
	}
	t.Logf("delete of a blocked resource answered in %s: %s", time.Since(begin).Round(time.Millisecond), strings.TrimSpace(errs))

	// Fixed, then cleaned up: probed again, found stopped; it is disabled,
	// so it stays stopped, and delete now works.
	fix()
	lc.must("resource", "cleanup", "stuck")
	reported(bus.StateStopped)
	if out := lc.must("resource", "delete", "stuck"); !strings.Contains(out, "Attempting to stop: stuck...Stopped") {
		t.Errorf("delete after cleanup: %q", out)
	}

	// Blocked again, then deleted by force: gone from the configuration
	// at once; its node tries the stop once more (the configuration
	// changed) and then leaves it alone until a cleanup.
	lc.must(append(append([]string{"resource", "create", "stuck", "example:process"}, lc.params()...),
		"op", "monitor", "interval=500ms")...)
	lc.must("constraint", "location", "stuck", "prefers", "benji=100")
	lc.expectOn("stuck", "benji")
	breakStop()
	reported(bus.StateBlocked)
	lc.must("resource", "delete", "stuck", "--force")
	if _, isClone := lc.live().CIB.Resource("stuck"); isClone || lc.live().CIB.Node("benji") == nil {
		t.Fatal("unexpected configuration")
	}
	if r, _ := lc.live().CIB.Resource("stuck"); r != nil {
		t.Fatal("delete --force left stuck in the configuration")
	}
	reported(bus.StateBlocked)
	tl.quiet(t, 3*time.Second, 1, "blocked and deleted")
	fix()
	lc.must("resource", "cleanup")
	reported(bus.StateStopped)
}
