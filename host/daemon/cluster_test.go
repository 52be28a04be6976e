package daemon_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
	"github.com/tandem-ha/tandem/host/failures"
)

const scenario = `
[[resource]]
id = "sleeper"
agent = "example:process"
params = { command = "/bin/sleep", args = "3600", state_dir = "STATE/{node}" }
meta = { migration-threshold = "2" }
[[resource.op]]
name = "monitor"
interval = "500ms"
[[resource.op]]
name = "stop"
timeout = "10s"

[[resource]]
id = "worker"
agent = "example:process"
params = { command = "/bin/sleep", args = "3600", state_dir = "STATE/{node}" }
[[resource.op]]
name = "monitor"
interval = "500ms"
[resource.clone]

[[order]]
first = "worker-clone"
then = "sleeper"

[[colocation]]
rsc = "sleeper"
with = "worker-clone"
score = "INFINITY"
`

// The cluster converges from cold, restarts a resource killed behind its
// back (counting the failure), moves the singleton once it failed
// migration-threshold times, and moves it when its node leaves.
func TestClusterRunsAndRecoversResources(t *testing.T) {
	tc := daemontest.New(t, scenario)
	tc.StartAll()
	c := tc.Connect()
	converged := func(within time.Duration) string {
		t.Helper()
		var holder string
		poll.Until(t, within, 50*time.Millisecond, func() error {
			w, s := tc.Where("worker"), tc.Where("sleeper")
			if len(w) != 2 || len(s) != 1 {
				return fmt.Errorf("worker on %v, sleeper on %v", w, s)
			}
			holder = s[0]
			// ... and the nodes say so (the start is over).
			return daemontest.Reported(c, map[string]string{holder + "/sleeper": bus.StateStarted,
				"holly/worker": bus.StateStarted, "benji/worker": bus.StateStarted})
		})
		return holder
	}
	begin := time.Now()
	holder := converged(60 * time.Second)
	t.Logf("cold start to every resource running: %s (sleeper on %s)", time.Since(begin).Round(time.Millisecond), holder)

	// Killed behind the cluster's back: the monitor notices, the failure
	// is counted, and it is started again where it was (1 < threshold 2).
	pid := tc.Pids(holder)[holder+"/sleeper"]
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		p, ok := tc.Pids(holder)[holder+"/sleeper"]
		if !ok || p == pid {
			return fmt.Errorf("sleeper not restarted on %s (processes %v)", holder, tc.Pids(""))
		}
		return nil
	})
	t.Logf("killed -> running again on the same node: %s", time.Since(killed).Round(time.Millisecond))
	store, err := failures.Open(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, 50*time.Millisecond, func() error {
		recs, err := store.List(context.Background())
		if err != nil || len(recs) != 1 || recs[0].Resource != "sleeper" || recs[0].Node != holder || recs[0].Count != 1 {
			return fmt.Errorf("fail-counts after one failure: %+v, %v", recs, err)
		}
		return nil
	})

	// A second failure reaches migration-threshold: it moves.
	poll.Until(t, 10*time.Second, 50*time.Millisecond, func() error {
		return daemontest.Reported(c, map[string]string{holder + "/sleeper": bus.StateStarted})
	})
	pid = tc.Pids(holder)[holder+"/sleeper"]
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	other := "benji"
	if holder == "benji" {
		other = "holly"
	}
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		if s := tc.Where("sleeper"); len(s) != 1 || s[0] != other {
			return fmt.Errorf("sleeper on %v, want %s", s, other)
		}
		return nil
	})
	if _, err := store.Clear(context.Background(), "sleeper", ""); err != nil {
		t.Fatal(err)
	}

	// The holder leaves cleanly: its resources stop, the singleton comes
	// back on the remaining node.
	tc.Stop(other)
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		if s := tc.Where("sleeper"); len(s) != 1 || s[0] != holder {
			return fmt.Errorf("sleeper on %v, want %s", s, holder)
		}
		if w := tc.Where("worker"); len(w) != 1 || w[0] != holder {
			return fmt.Errorf("worker on %v, want only %s", w, holder)
		}
		return nil
	})
	if n := len(tc.Pids(other)); n != 0 {
		t.Errorf("%s left but still runs %d resources", other, n)
	}
}
