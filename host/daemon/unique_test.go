package daemon_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
	"github.com/tandem-ha/tandem/host/failures"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/policies/cib"
)

const uniqueScenario = `
[[resource]]
id = "u"
agent = "example:process"
params = { command = "/bin/sleep", args = "3600", state_dir = "STATE/{node}" }
[[resource.op]]
name = "monitor"
interval = "500ms"
[resource.clone]
globally-unique = true
clone-max = 4
clone-node-max = 2
`

// instancePids lists the live processes of the instances of the example
// resources (u when none is named), by "<node>/<rsc>:N", from the example
// agent's pid files (one per instance: "<rsc>:N.pid").
func instancePids(tc *daemontest.Cluster, resources ...string) map[string]int {
	if len(resources) == 0 {
		resources = []string{"u"}
	}
	out := map[string]int{}
	nodes, _ := os.ReadDir(tc.State)
	for _, n := range nodes {
		for _, rsc := range resources {
			files, _ := filepath.Glob(filepath.Join(tc.State, n.Name(), rsc+":*.pid"))
			for _, f := range files {
				if pid, ok := daemontest.LivePid(f); ok {
					out[n.Name()+"/"+strings.TrimSuffix(filepath.Base(f), ".pid")] = pid
				}
			}
		}
	}
	return out
}

// instanceStates gathers both nodes' reports of u's instances that are not
// stopped, by "<node>/u:N"; an instance reported twice on a node is an
// error, as is a node with operations in flight.
func instanceStates(c *bus.Conn) (map[string]string, error) {
	got := map[string]string{}
	var problem error
	busy := map[string][]string{}
	err := bus.Gather(c, bus.SubjectStateRequest, nil, 2, 2*time.Second, func(data []byte) bool {
		r, _, err := bus.Decode[bus.NodeResources](data)
		if err != nil {
			return false
		}
		for _, rs := range r.Resources {
			if rs.Resource != "u" || rs.State == bus.StateStopped {
				continue
			}
			k := fmt.Sprintf("%s/u:%d", r.Node, rs.Instance)
			if _, dup := got[k]; dup {
				problem = fmt.Errorf("%s reported twice by %s: %+v", k, r.Node, r.Resources)
			}
			got[k] = rs.State
		}
		if len(r.Busy) > 0 {
			busy[r.Node] = r.Busy
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if problem != nil {
		return nil, problem
	}
	if len(busy) > 0 {
		return nil, fmt.Errorf("busy: %v (reports %v)", busy, got)
	}
	return got, nil
}

// settled waits until u's instances run as want says ("<node>/u:N" ->
// pid, 0 for any pid) and no other: each started in its node's report and
// a live process of its own.
func settled(t *testing.T, tc *daemontest.Cluster, c *bus.Conn, want map[string]int, what string) map[string]int {
	t.Helper()
	var pids map[string]int
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
		pids = instancePids(tc)
		if got, want := slices.Sorted(maps.Keys(pids)), slices.Sorted(maps.Keys(want)); !slices.Equal(got, want) {
			return fmt.Errorf("%s: processes of %v, want %v", what, got, want)
		}
		for k, pid := range want {
			if pid != 0 && pids[k] != pid {
				return fmt.Errorf("%s: %s runs as pid %d, want %d (not restarted)", what, k, pids[k], pid)
			}
		}
		states, err := instanceStates(c)
		if err != nil {
			return err
		}
		if len(states) != len(want) {
			return fmt.Errorf("%s: reported %v, want %v started", what, states, slices.Sorted(maps.Keys(want)))
		}
		for k := range want {
			if states[k] != bus.StateStarted {
				return fmt.Errorf("%s: %s is %q (reports %v)", what, k, states[k], states)
			}
		}
		return nil
	})
	return pids
}

// perNode counts the instances by node in keys "<node>/u:N".
func perNode(pids map[string]int) map[string][]string {
	out := map[string][]string{}
	for k := range pids {
		n, in, _ := strings.Cut(k, "/")
		out[n] = append(out[n], in)
	}
	for _, ins := range out {
		sort.Strings(ins)
	}
	return out
}

// A globally-unique clone of four instances, two per node (clone-node-max
// 2), on the two nodes of a live cluster: every instance runs as a
// process of its own, two on each node, each reported apart; a killed
// instance is restarted alone; a node in standby stops its two instances
// and the other node, full, keeps its own two (the other two stay
// stopped, as Pacemaker leaves them); unstandby starts them again; and a
// lower clone-max stops the highest instance, u:3, alone.
func TestUniqueCloneSeveralInstancesPerNode(t *testing.T) {
	tc := daemontest.New(t, uniqueScenario)
	tc.StartAll()
	c := tc.Connect()

	var all map[string]int
	poll.Until(t, 90*time.Second, 100*time.Millisecond, func() error {
		all = instancePids(tc)
		if len(all) != 4 {
			return fmt.Errorf("instances running: %v, want 4", all)
		}
		return nil
	})
	want := map[string]int{}
	for k := range all {
		want[k] = 0
	}
	all = settled(t, tc, c, want, "started")
	byNode := perNode(all)
	if len(byNode["holly"]) != 2 || len(byNode["benji"]) != 2 {
		t.Fatalf("instances by node %v, want two on each", byNode)
	}
	seen := map[int]string{}
	for k, pid := range all {
		if other, dup := seen[pid]; dup {
			t.Fatalf("%s and %s are the same process %d", k, other, pid)
		}
		seen[pid] = k
	}
	var numbers []string
	for _, ins := range byNode {
		numbers = append(numbers, ins...)
	}
	if slices.Sort(numbers); !slices.Equal(numbers, []string{"u:0", "u:1", "u:2", "u:3"}) {
		t.Fatalf("instances %v, want u:0 to u:3", numbers)
	}

	// One instance's process killed: that instance alone restarts, where
	// it ran.
	victim := "holly/" + byNode["holly"][0]
	if err := syscall.Kill(all[victim], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		if pid := instancePids(tc)[victim]; pid == all[victim] {
			return fmt.Errorf("%s still runs as the killed pid %d", victim, pid)
		}
		return nil
	})
	want = maps.Clone(all)
	want[victim] = 0
	after := settled(t, tc, c, want, "after the kill of "+victim)
	if after[victim] == all[victim] {
		t.Fatalf("%s still runs as the killed pid %d", victim, all[victim])
	}
	all = after

	ctx := context.Background()
	store, err := liveconfig.OpenClient(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	update := func(summary string, edit func(m *cib.CIB) error) {
		t.Helper()
		if _, err := store.Update(ctx, "cli@test", func(m *cib.CIB) (string, error) { return summary, edit(m) }); err != nil {
			t.Fatalf("%s: %v", summary, err)
		}
	}

	// holly in standby: its two instances stop; benji, which runs two
	// already (clone-node-max 2), keeps them and takes no more.
	update("node standby holly", func(m *cib.CIB) error { return m.SetStandby("holly", true) })
	want = map[string]int{}
	for _, in := range byNode["benji"] {
		want["benji/"+in] = all["benji/"+in]
	}
	settled(t, tc, c, want, "holly in standby")

	// Back: holly runs two instances again, benji's are untouched.
	update("node unstandby holly", func(m *cib.CIB) error { return m.SetStandby("holly", false) })
	var back map[string]int
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
		back = instancePids(tc)
		if n := len(perNode(back)["holly"]); n != 2 {
			return fmt.Errorf("holly runs %d instances (%v), want 2", n, back)
		}
		return nil
	})
	for k := range back {
		if strings.HasPrefix(k, "holly/") {
			want[k] = 0
		}
	}
	all = settled(t, tc, c, want, "holly back")

	// clone-max 3: u:3 stops, wherever it runs; the others keep running.
	update("resource update u-clone clone-max=3", func(m *cib.CIB) error {
		r, _ := m.Resource("u")
		if r == nil || r.Clone == nil {
			return fmt.Errorf("no clone u in %+v", m.Resources)
		}
		r.Clone.Max = 3
		return nil
	})
	want = maps.Clone(all)
	for k := range want {
		if strings.HasSuffix(k, "/u:3") {
			delete(want, k)
		}
	}
	if len(want) != 3 {
		t.Fatalf("before clone-max 3: %v, want u:3 among them", all)
	}
	settled(t, tc, c, want, "clone-max 3")

	// Back to one instance per node (clone-node-max 1, clone-max 2): u:0
	// and u:1 run, one on each node; u:2 stops.
	update("resource update u-clone clone-max=2 clone-node-max=1", func(m *cib.CIB) error {
		r, _ := m.Resource("u")
		r.Clone.Max, r.Clone.NodeMax = 2, 1
		return nil
	})
	var last map[string]int
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
		last = instancePids(tc)
		byNode := perNode(last)
		if len(last) != 2 || len(byNode["holly"]) != 1 || len(byNode["benji"]) != 1 {
			return fmt.Errorf("clone-node-max 1: instances by node %v, want one on each", byNode)
		}
		ins := slices.Sorted(slices.Values(append(byNode["holly"], byNode["benji"]...)))
		if !slices.Equal(ins, []string{"u:0", "u:1"}) {
			return fmt.Errorf("clone-node-max 1: instances %v, want u:0 and u:1", ins)
		}
		return nil
	})
	for k := range last {
		last[k] = 0
	}
	settled(t, tc, c, last, "clone-node-max 1")
}

// The failures of an instance of a globally-unique clone count for that
// instance alone (Pacemaker's fail-count-u:N): with migration-threshold 1,
// a killed instance is kept off its node, and, the other node being full
// (clone-node-max 2), stays stopped, while its node's other instance and
// the other node's keep running; a cleanup of u clears its count, and it
// starts there again.
func TestUniqueInstanceFailuresCountApart(t *testing.T) {
	tc := daemontest.New(t, strings.Replace(uniqueScenario, "[resource.clone]", "[resource.meta]\nmigration-threshold = 1\n[resource.clone]", 1))
	tc.StartAll()
	c := tc.Connect()
	var all map[string]int
	poll.Until(t, 90*time.Second, 100*time.Millisecond, func() error {
		if all = instancePids(tc); len(all) != 4 {
			return fmt.Errorf("instances running: %v, want 4", all)
		}
		return nil
	})
	want := map[string]int{}
	for k := range all {
		want[k] = 0
	}
	all = settled(t, tc, c, want, "started")
	victim := "holly/" + perNode(all)["holly"][0]
	if err := syscall.Kill(all[victim], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	want = maps.Clone(all)
	delete(want, victim)
	settled(t, tc, c, want, "after the kill of "+victim)

	ctx := context.Background()
	fs, err := failures.Open(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	_, instance, _ := strings.Cut(victim, "/")
	recs, err := fs.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Resource != instance || recs[0].Node != "holly" || recs[0].Count != 1 {
		t.Fatalf("fail-counts %+v, want one of %s on holly", recs, instance)
	}
	if _, err := fs.Clear(ctx, "u", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(bus.Refresh{Reason: "cleanup of u", Resource: "u"}); err != nil {
		t.Fatal(err)
	}
	want[victim] = 0
	settled(t, tc, c, want, "after the cleanup")
}
