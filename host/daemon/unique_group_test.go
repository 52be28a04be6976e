package daemon_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
)

const uniqueGroupScenario = `
[[resource]]
id = "a"
agent = "example:process"
params = { command = "/bin/sleep", args = "3600", state_dir = "STATE/{node}" }
[[resource.op]]
name = "monitor"
interval = "500ms"

[[resource]]
id = "b"
agent = "example:process"
params = { command = "/bin/sleep", args = "3600", state_dir = "STATE/{node}" }
[[resource.op]]
name = "monitor"
interval = "500ms"

[[group]]
id = "g"
resources = ["a", "b"]
[group.clone]
globally-unique = true
clone-max = 4
clone-node-max = 2
`

// copyPids lists the live processes of the members a and b of the unique
// cloned group g, by "<node>/<member>:N".
func copyPids(tc *daemontest.Cluster) map[string]int { return instancePids(tc, "a", "b") }

// copiesSettled waits until g's member instances run as want says
// ("<node>/<member>:N" -> pid, 0 for any pid) and no others: each a live
// process of its own, reported started by its node, no node busy.
func copiesSettled(t *testing.T, tc *daemontest.Cluster, c *bus.Conn, want map[string]int, what string) map[string]int {
	t.Helper()
	var pids map[string]int
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
		pids = copyPids(tc)
		if got, want := slices.Sorted(maps.Keys(pids)), slices.Sorted(maps.Keys(want)); !slices.Equal(got, want) {
			return fmt.Errorf("%s: processes of %v, want %v", what, got, want)
		}
		for k, pid := range want {
			if pid != 0 && pids[k] != pid {
				return fmt.Errorf("%s: %s runs as pid %d, want %d (not restarted)", what, k, pids[k], pid)
			}
		}
		reported := map[string]string{}
		var problem error
		err := bus.Gather(c, bus.SubjectStateRequest, nil, 2, 2*time.Second, func(data []byte) bool {
			r, _, err := bus.Decode[bus.NodeResources](data)
			if err != nil {
				return false
			}
			if len(r.Busy) > 0 {
				problem = fmt.Errorf("%s busy: %v", r.Node, r.Busy)
			}
			for _, rs := range r.Resources {
				if (rs.Resource == "a" || rs.Resource == "b") && rs.State != bus.StateStopped {
					reported[fmt.Sprintf("%s/%s:%d", r.Node, rs.Resource, rs.Instance)] = rs.State
				}
			}
			return true
		})
		if err != nil {
			return err
		}
		if problem != nil {
			return problem
		}
		if len(reported) != len(want) {
			return fmt.Errorf("%s: reported %v, want %v started", what, reported, slices.Sorted(maps.Keys(want)))
		}
		for k := range want {
			if reported[k] != bus.StateStarted {
				return fmt.Errorf("%s: %s is %q (reports %v)", what, k, reported[k], reported)
			}
		}
		return nil
	})
	return pids
}

// A globally-unique cloned group of two members, four copies, two per node
// (clone-node-max 2), on a live cluster: copy N is a:N and b:N, each a
// process of its own, both on the same node; a killed b:N restarts alone;
// a killed a:N restarts with b:N after it (the group's order, within that
// copy only), and every other copy keeps its processes.
func TestUniqueClonedGroupSeveralCopiesPerNode(t *testing.T) {
	tc := daemontest.New(t, uniqueGroupScenario)
	tc.StartAll()
	c := tc.Connect()

	var all map[string]int
	poll.Until(t, 90*time.Second, 100*time.Millisecond, func() error {
		if all = copyPids(tc); len(all) != 8 {
			return fmt.Errorf("member instances running: %v, want 8", all)
		}
		return nil
	})
	want := map[string]int{}
	for k := range all {
		want[k] = 0
	}
	all = copiesSettled(t, tc, c, want, "started")
	where := map[string]string{} // "a:N" -> node
	perNode := map[string]int{}
	seen := map[int]string{}
	for k, pid := range all {
		node, inst, _ := strings.Cut(k, "/")
		where[inst] = node
		if strings.HasPrefix(inst, "a:") {
			perNode[node]++
		}
		if other, dup := seen[pid]; dup {
			t.Fatalf("%s and %s are the same process %d", k, other, pid)
		}
		seen[pid] = k
	}
	if perNode["holly"] != 2 || perNode["benji"] != 2 {
		t.Fatalf("copies by node %v (%v), want two on each", perNode, all)
	}
	for n := range 4 {
		a, b := fmt.Sprintf("a:%d", n), fmt.Sprintf("b:%d", n)
		if where[a] == "" || where[a] != where[b] {
			t.Fatalf("copy %d: %s on %q, %s on %q; want both on one node (%v)", n, a, where[a], b, where[b], all)
		}
	}

	// b:N killed: it restarts alone.
	node := where["b:1"]
	victim := node + "/b:1"
	if err := syscall.Kill(all[victim], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 60*time.Second, 50*time.Millisecond, func() error {
		if pid := copyPids(tc)[victim]; pid == all[victim] {
			return fmt.Errorf("%s still runs as the killed pid %d", victim, pid)
		}
		return nil
	})
	want = maps.Clone(all)
	want[victim] = 0
	after := copiesSettled(t, tc, c, want, "after the kill of "+victim)
	if after[victim] == all[victim] {
		t.Fatalf("%s still runs as the killed pid %d", victim, all[victim])
	}
	all = after

	// a:N killed: a:N and b:N (after it in the group) restart, on that
	// node; the other copies keep their processes.
	node = where["a:2"]
	victimA, victimB := node+"/a:2", node+"/b:2"
	if err := syscall.Kill(all[victimA], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	want = maps.Clone(all)
	want[victimA], want[victimB] = 0, 0
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
		p := copyPids(tc)
		if p[victimB] == all[victimB] || p[victimA] == all[victimA] {
			return fmt.Errorf("%s runs as %d (was %d), %s as %d (was %d): want both restarted", victimA, p[victimA], all[victimA], victimB, p[victimB], all[victimB])
		}
		return nil
	})
	copiesSettled(t, tc, c, want, "after the kill of "+victimA)
}
