package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
	"github.com/tandem-ha/tandem/host/status"
	"github.com/tandem-ha/tandem/plugins/sdk/sdktest"
)

// withHangPlugin installs the test agent hang:file (testdata) beside the
// example plugin.
func withHangPlugin(t *testing.T) func(*daemontest.Cluster) {
	return func(c *daemontest.Cluster) {
		bin := sdktest.Build(t, "./testdata/tandem-plugin-hang")
		data, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(c.Plugins, "tandem-plugin-hang"), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// hangWhere lists the nodes whose hang:file file of resource id exists.
func hangWhere(dir, id string) []string {
	var nodes []string
	for _, n := range []string{"benji", "holly"} {
		if _, err := os.Stat(filepath.Join(dir, n+"-"+id)); err == nil {
			nodes = append(nodes, n)
		}
	}
	return nodes
}

// Deleting a resource whose agent hangs in monitor does not wait for the
// monitor's timeout: the stop cancels the monitor and runs at once. (The
// monitor's timeout here is 120 s, the stop's 5 s, and delete waits 30 s
// for the stop.)
func TestDeleteDoesNotWaitForAHungMonitor(t *testing.T) {
	lc := newLiveClusterWith(t, withHangPlugin(t))
	dir := t.TempDir()
	lc.must("resource", "create", "stuck", "hang:file", "dir="+dir, "op", "monitor", "interval=1s", "timeout=120s", "stop", "timeout=5s")
	var node string
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		if l := lc.must("resource", "list"); !strings.Contains(l, "stuck\t(hang:file):\t Started") {
			return fmt.Errorf("not started:\n%s", l)
		}
		if w := hangWhere(dir, "stuck"); len(w) == 1 {
			node = w[0]
			return nil
		}
		return fmt.Errorf("files on %v", hangWhere(dir, "stuck"))
	})
	if err := os.WriteFile(filepath.Join(dir, node+"-stuck"), []byte("hang"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Let a monitor get stuck: the next one starts within its 1 s interval.
	poll.Until(t, 10*time.Second, 50*time.Millisecond, func() error {
		_, err := os.Stat(filepath.Join(dir, node+"-stuck.hung"))
		return err
	})
	begin := time.Now()
	// --wait 30s: well past the stop's timeout, well short of the
	// monitor's.
	out := lc.must("resource", "delete", "stuck", "--wait", "30s")
	t.Logf("delete took %s: %q", time.Since(begin).Round(time.Millisecond), out)
	if out != "Attempting to stop: stuck...Stopped\n" {
		t.Errorf("delete printed %q", out)
	}
}

// A resource created without op monitor is monitored at the interval its
// agent's meta-data advertises (1 s), repeatedly. Then a monitor that
// times out is a failure like any other: each one counts toward
// migration-threshold, and at the threshold the resource moves to the
// other node instead of being restarted in place for ever (the issue's
// "fail-count 9 and rising"). The agent's monitor hangs on one node for
// good (its marker file outlives restarts of the resource).
func TestMonitorTimeoutCountsAsFailure(t *testing.T) {
	lc := newLiveClusterWith(t, withHangPlugin(t))
	dir := t.TempDir()
	out := lc.must("resource", "create", "slow", "hang:file", "dir="+dir, "meta", "migration-threshold=2")
	if want := "Added default operation of slow: monitor interval=1s timeout=1s (from the meta-data of hang:file)"; !strings.Contains(out, want) {
		t.Errorf("create printed %q, want %q", out, want)
	}
	var node string
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		if l := lc.must("resource", "list"); !strings.Contains(l, "slow\t(hang:file):\t Started") {
			return fmt.Errorf("not started:\n%s", l)
		}
		if w := hangWhere(dir, "slow"); len(w) == 1 {
			node = w[0]
			return nil
		}
		return fmt.Errorf("files on %v", hangWhere(dir, "slow"))
	})
	// Monitored at the advertised interval: 8 monitors in a row, spaced
	// by 1 s give or take the monitors' jitter and a loaded machine (not
	// by a default of its own, nor only once).
	var gaps []time.Duration
	poll.Until(t, 60*time.Second, 200*time.Millisecond, func() error {
		b, err := os.ReadFile(filepath.Join(dir, node+"-slow.monitors"))
		if err != nil {
			return err
		}
		var at []int64
		for _, f := range strings.Fields(string(b)) {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return fmt.Errorf("monitors file: %v", err)
			}
			at = append(at, n)
		}
		if len(at) < 8 {
			return fmt.Errorf("%d monitors of slow on %s so far, want 8", len(at), node)
		}
		gaps = gaps[:0]
		for i := 1; i < len(at); i++ {
			gaps = append(gaps, time.Duration(at[i]-at[i-1]))
		}
		return nil
	})
	slices.Sort(gaps)
	median := gaps[len(gaps)/2]
	t.Logf("monitors of slow on %s: median gap %s (advertised interval 1s), gaps %v", node, median, gaps)
	if median < 500*time.Millisecond || median > 3*time.Second {
		t.Errorf("slow is monitored every %s (median of %v), not at the advertised 1s", median, gaps)
	}

	other := "holly"
	if node == "holly" {
		other = "benji"
	}
	if err := os.WriteFile(filepath.Join(dir, node+".hang"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 90*time.Second, 100*time.Millisecond, func() error {
		l := lc.must("resource", "list")
		if !strings.Contains(l, "slow\t(hang:file):\t Started "+other) {
			return fmt.Errorf("slow has not moved to %s (its monitor hangs on %s):\n%s", other, node, l)
		}
		if w := hangWhere(dir, "slow"); len(w) != 1 || w[0] != other {
			return fmt.Errorf("slow's files on %v", w)
		}
		return nil
	})
	var got []status.Failure
	for _, f := range lc.statusReport().Failures {
		if f.Resource == "slow" {
			got = append(got, f)
		}
	}
	if len(got) != 1 || got[0].Node != node || got[0].Count != 2 || got[0].Op != "monitor" || !strings.Contains(got[0].Message, "timed out") {
		t.Fatalf("slow's failures: %+v; want one record on %s: 2 monitor timeouts (migration-threshold)", got, node)
	}
}
