package cli

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"
)

// Utilization through the commands, on a real cluster: each node has room
// for one resource of cpu=1, so with placement-strategy=utilization two
// such resources run on different nodes and a third stays stopped until
// its utilization is removed; the values show in the listings and bad
// ones are refused.
func TestLiveUtilization(t *testing.T) {
	lc := newLiveCluster(t)
	lc.must("node", "utilization", "holly", "cpu=1", "memory=1024")
	lc.must("node", "utilization", "benji", "cpu=1", "memory=1024")
	lc.must("property", "set", "placement-strategy=utilization")
	for _, id := range []string{"a", "b"} {
		lc.must(append(append([]string{"resource", "create", id, "example:process"}, lc.params()...), "op", "monitor", "interval=500ms")...)
		lc.must("resource", "utilization", id, "cpu=1")
	}
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		a, b := lc.Where("a"), lc.Where("b")
		if len(a) != 1 || len(b) != 1 || a[0] == b[0] {
			return fmt.Errorf("a on %v, b on %v: want one on each node", a, b)
		}
		return nil
	})
	// Created stopped, so that it gets its utilization before the
	// scheduler first places it, then enabled.
	lc.must(append(append([]string{"resource", "create", "c", "example:process"}, lc.params()...), "op", "monitor", "interval=500ms", "--disabled")...)
	lc.must("resource", "utilization", "c", "cpu=1")
	lc.must("resource", "enable", "c")
	if out := lc.must("simulate", "--live"); !strings.Contains(out, "not enough free capacity") {
		t.Errorf("simulate --live does not say why c stays stopped:\n%s", out)
	}
	// Watched for 3 s (several plans and monitor periods): c never runs.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if got := lc.Where("c"); len(got) != 0 {
			t.Fatalf("c runs on %v beyond the nodes' capacity", got)
		}
	}
	if out := lc.must("node", "utilization"); out != "Node Utilization:\n holly: cpu=1 memory=1024\n benji: cpu=1 memory=1024\n" {
		t.Errorf("node utilization: %q", out)
	}
	if out := lc.must("resource", "utilization", "c"); out != "Resource Utilization:\n c: cpu=1\n" {
		t.Errorf("resource utilization c: %q", out)
	}
	if out := lc.must("resource", "config", "a"); !strings.Contains(out, "  Utilization: cpu=1\n") {
		t.Errorf("resource config a:\n%s", out)
	}
	if out := lc.must("property"); !strings.Contains(out, "placement-strategy: utilization\n") {
		t.Errorf("property:\n%s", out)
	}
	if out := lc.must("config", "show"); !strings.Contains(out, "Node Utilization:\n holly: cpu=1 memory=1024\n") {
		t.Errorf("config show:\n%s", out)
	}
	lc.refuse("want an integer from 0", "node", "utilization", "holly", "cpu=-1")
	lc.refuse("want default, utilization, balanced, minimal (did you mean \"balanced\"?)", "property", "set", "placement-strategy=balance")
	lc.refuse("is not NAME=VALUE", "resource", "utilization", "c", "cpu")
	if cur := lc.live(); cur.Format != 7 {
		t.Errorf("live configuration format %d, want 7", cur.Format)
	}

	// Without its utilization, c fits anywhere.
	lc.must("resource", "utilization", "c", "cpu=")
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		if got := lc.Where("c"); len(got) != 1 {
			return fmt.Errorf("c on %v, want one node", got)
		}
		return nil
	})
}
