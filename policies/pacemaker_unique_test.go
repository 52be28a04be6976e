package policies

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/host/config"
)

// Globally-unique clones, checked against crm_simulate like every
// scenario, with instance numbers: Pacemaker's graph names a unique
// clone's instances (child:0, child:1, ...), and compareWithPacemaker
// compares them by number. Each reproduces the case of Pacemaker's
// regression suite (cts/scheduler) it is named after, as a Tandem cluster
// file. Tandem refuses a clone-max above what the nodes can run
// (clone-node-max each) and a clone-node-max above the number of nodes;
// where a case has them (inc0 to inc3: clone-max 5 with 2 per node on 2
// nodes), the scenario uses the most the nodes can run, which places the
// same instances (Pacemaker leaves the fifth stopped).

// uniqueCluster is a cluster of nodes node1..nodeN (a witness for two).
func uniqueCluster(n int) string {
	var b strings.Builder
	b.WriteString("[cluster]\nname = \"pm\"\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "[[node]]\nname = \"node%d\"\naddress = \"198.18.0.%d\"\n", i, 40+i)
	}
	if n == 2 {
		b.WriteString("[witness]\nname = \"director\"\naddress = \"198.18.0.30\"\n")
	}
	return b.String()
}

// uniqueClone is a globally-unique clone of primitive id with its clone
// id, clone-max, clone-node-max and extra clone lines.
func uniqueClone(id, cloneID string, most, perNode int, meta, extra string) string {
	return fmt.Sprintf("[[resource]]\nid = %q\nagent = \"systemd:%s\"\n%s[resource.clone]\nid = %q\nglobally-unique = true\nclone-max = %d\nclone-node-max = %d\n%s",
		id, id, meta, cloneID, most, perNode, extra)
}

// instancesOn lists instances first..last of rsc on node.
func instancesOn(rsc, node string, first, last int) []InstanceState {
	var out []InstanceState
	for i := first; i <= last; i++ {
		out = append(out, InstanceState{Resource: rsc, Instance: i, Node: node})
	}
	return out
}

func uniqueCloneScenarios() []pmScenario {
	sticky1 := "[resource.meta]\nresource-stickiness = 1\n"
	prim := func(id string) string { return fmt.Sprintf("[[resource]]\nid = %q\nagent = \"systemd:%s\"\n", id, id) }
	optional := func(first, then string) string {
		return fmt.Sprintf("[[order]]\nfirst = %q\nthen = %q\nkind = \"Optional\"\n", first, then)
	}
	return []pmScenario{
		{name: "inc0", about: "cts inc0: 4 instances, 2 per node, start alternating between the nodes (:0 node1, :1 node2, ...)",
			config: uniqueCluster(2) + uniqueClone("child_rsc1", "rsc1", 4, 2, sticky1, ""),
			state:  State{Nodes: online("node1", "node2")}},
		{name: "inc1", about: "cts inc1: rsc1 starts first on node1, so the clone's :0 goes to node2; optional orders",
			config: uniqueCluster(2) + prim("rsc1") + uniqueClone("child_rsc2", "rsc2", 4, 2, sticky1, "") + prim("rsc3") +
				optional("rsc1", "rsc2") + optional("rsc2", "rsc3"),
			state: State{Nodes: online("node1", "node2")}},
		{name: "inc2", about: "cts inc2: five instances on node1, four allowed (2 per node): :2 and :3 move to node2, :4 (beyond clone-max) stops",
			config: uniqueCluster(2) + uniqueClone("child_rsc1", "rsc1", 4, 2, sticky1, ""),
			state:  State{Nodes: online("node1", "node2"), Instances: instancesOn("child_rsc1", "node1", 0, 4)}},
		{name: "inc3", about: "cts inc3: two unique clones crowded on one node each spread out, the same instances move",
			config: uniqueCluster(2) + uniqueClone("child_rsc1", "rsc1", 4, 2, "", "") + uniqueClone("child_rsc2", "rsc2", 4, 2, sticky1, "") +
				optional("rsc1", "rsc2"),
			state: State{Nodes: online("node1", "node2"),
				Instances: append(instancesOn("child_rsc1", "node1", 0, 3), instancesOn("child_rsc2", "node2", 0, 3)...)}},
		{name: "inc7", about: "cts inc7: 3 nodes, two interleaved unique clones of 5 (2 per node), rsc1 INFINITY with rsc2, optional order",
			config: uniqueCluster(3) + prim("rsc0") + uniqueClone("child_rsc1", "rsc1", 5, 2, sticky1, "interleave = true\n") +
				uniqueClone("child_rsc2", "rsc2", 5, 2, sticky1, "interleave = true\n") + optional("rsc1", "rsc2") +
				"[[colocation]]\nrsc = \"rsc1\"\nwith = \"rsc2\"\nscore = \"INFINITY\"\n",
			state: State{Nodes: online("node1", "node2", "node3")},
			// Deliberate difference 2 (interleave removes the clone-level
			// wait): each rsc2 instance waits only for rsc1's on its node.
			differs: interleaveWaits("child_rsc1", []string{"node1", "node2", "node3", "node1", "node2"},
				"child_rsc2", []string{"node2", "node3", "node1", "node2", "node3"})},
		{name: "inc8", about: "cts inc8: rsc1 -INFINITY with rsc2, both one per node: rsc2 takes both nodes, rsc1 runs nowhere",
			config: uniqueCluster(2) + prim("rsc0") + uniqueClone("child_rsc1", "rsc1", 2, 1, sticky1, "") +
				uniqueClone("child_rsc2", "rsc2", 2, 1, sticky1, "") +
				"[[colocation]]\nrsc = \"rsc1\"\nwith = \"rsc2\"\nscore = \"-INFINITY\"\n",
			state: State{Nodes: online("node1", "node2")}},
		{name: "rebalance-unique-clones", about: "cts rebalance-unique-clones: P:0 and P:1 both on node1, stickiness 0, both nodes scored 100: P:1 moves to node2",
			config: uniqueCluster(2) + uniqueClone("P", "C", 2, 2, "[resource.meta]\nresource-stickiness = 0\n", "") +
				"[[location]]\nrsc = \"C\"\nnode = \"node1\"\nscore = 100\n[[location]]\nrsc = \"C\"\nnode = \"node2\"\nscore = 100\n",
			state: State{Nodes: online("node1", "node2"), Instances: instancesOn("P", "node1", 0, 1)}},
		{name: "unique-clone-recover", about: "a failed instance of a unique clone (:1 on node2) is recovered in place, the others untouched",
			config: uniqueCluster(3) + uniqueClone("ip", "ip-clone", 4, 2, "", ""),
			state: State{Nodes: online("node1", "node2", "node3"), Instances: []InstanceState{
				{Resource: "ip", Instance: 0, Node: "node1"}, {Resource: "ip", Instance: 1, Node: "node2", Failed: true},
				{Resource: "ip", Instance: 2, Node: "node3"}, {Resource: "ip", Instance: 3, Node: "node1"}}}},
		{name: "unique-clone-standby", about: "node2 goes standby: its two instances (:1, :3) move to the other nodes, keeping their numbers",
			config: uniqueCluster(3) + uniqueClone("ip", "ip-clone", 4, 2, "", ""),
			state: State{Nodes: []NodeState{{"node1", Online}, {"node2", Standby}, {"node3", Online}}, Instances: []InstanceState{
				{Resource: "ip", Instance: 0, Node: "node1"}, {Resource: "ip", Instance: 1, Node: "node2"},
				{Resource: "ip", Instance: 2, Node: "node3"}, {Resource: "ip", Instance: 3, Node: "node2"}}}},
		{name: "unique-clone-max-lowered", about: "clone-max lowered to 2 with :0 to :3 running: :2 and :3 are no longer instances and stop",
			config: uniqueCluster(2) + uniqueClone("ip", "ip-clone", 2, 2, "", ""),
			state: State{Nodes: online("node1", "node2"), Instances: append(instancesOn("ip", "node1", 0, 0),
				append(instancesOn("ip", "node2", 1, 2), InstanceState{Resource: "ip", Instance: 3, Node: "node1"})...)}},
		{name: "unique-clone-node-lost", about: "node3 (with :2 and :3) is lost: both start on the others, keeping their numbers",
			config: uniqueCluster(3) + uniqueClone("ip", "ip-clone", 4, 2, "", ""),
			state: State{Nodes: online("node1", "node2"), Instances: []InstanceState{
				{Resource: "ip", Instance: 0, Node: "node1"}, {Resource: "ip", Instance: 1, Node: "node2"},
				{Resource: "ip", Instance: 2, Node: "node3"}, {Resource: "ip", Instance: 3, Node: "node3"}}}},
		{name: "unique-clone-ordered", about: "a primitive then a unique clone (Mandatory) then a primitive INFINITY with it: the clone's starts wait for db, web for the clone",
			config: uniqueCluster(3) + prim("db") + uniqueClone("ip", "ip-clone", 3, 1, "", "") + prim("web") +
				"[[order]]\nfirst = \"db\"\nthen = \"ip-clone\"\n[[order]]\nfirst = \"ip-clone\"\nthen = \"web\"\n" +
				"[[colocation]]\nrsc = \"web\"\nwith = \"ip-clone\"\nscore = \"INFINITY\"\n",
			state: State{Nodes: online("node1", "node2", "node3")}},
		{name: "unique-clone-stopped", about: "a unique clone set target-role=Stopped: every instance stops",
			config: uniqueCluster(2) + uniqueClone("ip", "ip-clone", 2, 1, "[resource.meta]\ntarget-role = \"Stopped\"\n", ""),
			state:  State{Nodes: online("node1", "node2"), Instances: append(instancesOn("ip", "node1", 0, 0), instancesOn("ip", "node2", 1, 1)...)}},
		{name: "unique-clone-location", about: "a unique clone (3, 2 per node) preferring node3 (location 50) fills it first, the third instance goes elsewhere",
			config: uniqueCluster(3) + uniqueClone("ip", "ip-clone", 3, 2, "", "") +
				"[[location]]\nrsc = \"ip-clone\"\nnode = \"node3\"\nscore = 50\n",
			state: State{Nodes: online("node1", "node2", "node3")}},
	}
}

// interleaveWaits lists, as compareWithPacemaker reports them, the waits
// Pacemaker adds between two unique clones starting together although
// then is interleaved: every start of then after every start of first on
// another node (first[i] and then[i] are the nodes of instance i).
func interleaveWaits(first string, firstOn []string, then string, thenOn []string) []string {
	var out []string
	for i, tn := range thenOn {
		for j, fn := range firstOn {
			if fn != tn {
				out = append(out, fmt.Sprintf("pacemaker orders start %s:%d@%s after start %s:%d@%s; tandem does not", then, i, tn, first, j, fn))
			}
		}
	}
	sort.Strings(out)
	return out
}

// The same instance of a globally-unique clone reported on two nodes is
// not renumbered into two instances (an anonymous clone's duplicates are:
// its numbers are labels): the copy the placement does not keep stops, and
// a start on that node is another instance, after the stop.
func TestUniqueInstanceActiveTwice(t *testing.T) {
	src := uniqueCluster(2) + uniqueClone("ip", "ip-clone", 2, 1, "", "")
	f, err := config.Parse("twice.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	st := State{Nodes: online("node1", "node2"), Instances: []InstanceState{{Resource: "ip", Instance: 1, Node: "node1"}, {Resource: "ip", Instance: 1, Node: "node2"}}}
	res, err := Schedule(Input{CIB: f.CIB, State: st, Now: pmNow})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range res.Placement {
		got = append(got, a.Name()+"@"+a.Node)
	}
	sort.Strings(got)
	if strings.Join(got, " ") != "ip#0@node2 ip#1@node1" {
		t.Errorf("placement %v, want ip#0@node2 ip#1@node1", got)
	}
	if d := describe(&res.Transition); d != "  stop/ip#1@node2 after []\n  start/ip#0@node2 after [stop/ip#1@node2]\n" {
		t.Errorf("transition:\n%s", d)
	}
	// An anonymous clone's duplicate is renumbered and kept.
	f.CIB.Resources[0].Clone.GloballyUnique = false
	res, err = Schedule(Input{CIB: f.CIB, State: st, Now: pmNow})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Transition.Actions) != 0 {
		t.Errorf("anonymous clone: %s", describe(&res.Transition))
	}
}

// Failures of one instance of a globally-unique clone ("ip:0", Pacemaker's
// fail-count-ip:0) keep that instance, and no other, off the node at
// migration-threshold: it moves to a node with a free slot, or stays
// stopped when there is none, while the node's other instances stay; the
// resource's own failures ("ip") keep every instance off, as do an
// instance's of a clone that is not unique.
func TestUniqueInstanceFailures(t *testing.T) {
	meta := "[resource.meta]\nmigration-threshold = 1\n"
	var reasons []string // of the stops
	run := func(src string, st State) (string, string) {
		t.Helper()
		f, err := config.Parse("fail.toml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		res, err := Schedule(Input{CIB: f.CIB, State: st, Now: pmNow})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range res.Placement {
			got = append(got, a.Name()+"@"+a.Node)
		}
		sort.Strings(got)
		for _, a := range res.Transition.Actions {
			if a.Op == OpStop {
				reasons = append(reasons, a.Reason)
			}
		}
		return strings.Join(got, " "), describe(&res.Transition)
	}
	fail := func(rsc, node string) []Failure {
		return []Failure{{Resource: rsc, Node: node, Count: 1, Last: pmNow}}
	}
	three := uniqueCluster(2) + uniqueClone("ip", "ip-clone", 3, 2, meta, "")
	running := []InstanceState{{Resource: "ip", Instance: 0, Node: "node1", Failed: true}, {Resource: "ip", Instance: 2, Node: "node1"},
		{Resource: "ip", Instance: 1, Node: "node2"}}
	cases := []struct {
		name, src      string
		st             State
		place, actions string
	}{
		{"moves to a free slot", three, State{Nodes: online("node1", "node2"), Instances: running, Failures: fail("ip:0", "node1")},
			"ip#0@node2 ip#1@node2 ip#2@node1",
			"  stop/ip#0@node1 after []\n  start/ip#0@node2 after [stop/ip#0@node1]\n"},
		{"stays stopped when no slot is free", uniqueCluster(2) + uniqueClone("ip", "ip-clone", 4, 2, meta, ""),
			State{Nodes: online("node1", "node2"), Instances: append(running, InstanceState{Resource: "ip", Instance: 3, Node: "node2"}),
				Failures: fail("ip:0", "node1")},
			"ip#1@node2 ip#2@node1 ip#3@node2",
			"  stop/ip#0@node1 after []\n"},
		{"another instance's failure", three, State{Nodes: online("node1", "node2"), Instances: running, Failures: fail("ip:1", "node1")},
			"ip#0@node1 ip#1@node2 ip#2@node1",
			"  stop/ip#0@node1 after []\n  start/ip#0@node1 after [stop/ip#0@node1]\n"},
		{"the resource's failures", three, State{Nodes: online("node1", "node2"), Instances: running, Failures: fail("ip", "node1")},
			"ip#0@node2 ip#1@node2",
			"  stop/ip#0@node1 after []\n  stop/ip#2@node1 after []\n  start/ip#0@node2 after [stop/ip#0@node1 stop/ip#2@node1]\n"},
	}
	for _, c := range cases {
		reasons = nil
		place, actions := run(c.src, c.st)
		if c.name == "stays stopped when no slot is free" {
			if want := "cannot run on node1: ip:0 failed 1 times on node1 (migration-threshold 1)"; len(reasons) != 1 || reasons[0] != want {
				t.Errorf("%s: stop reasons %q, want %q", c.name, reasons, want)
			}
		}
		if place != c.place {
			t.Errorf("%s: placement %s, want %s", c.name, place, c.place)
		}
		if actions != c.actions {
			t.Errorf("%s: transition:\n%swant:\n%s", c.name, actions, c.actions)
		}
	}
	// An anonymous clone: an instance's failures are the whole clone's.
	src := uniqueCluster(2) + "[[resource]]\nid = \"ip\"\nagent = \"systemd:ip\"\n" + meta + "[resource.clone]\nid = \"ip-clone\"\n"
	st := State{Nodes: online("node1", "node2"), Instances: []InstanceState{{Resource: "ip", Instance: 0, Node: "node1", Failed: true},
		{Resource: "ip", Instance: 1, Node: "node2"}}, Failures: fail("ip:0", "node1")}
	if place, _ := run(src, st); place != "ip#1@node2" {
		t.Errorf("anonymous clone: placement %s, want ip#1@node2 (node1 banned for the clone)", place)
	}
}

// SplitInstance reads "rsc:N" as Pacemaker names a unique clone's
// instance, and nothing else.
func TestSplitInstance(t *testing.T) {
	for name, want := range map[string]string{"ip:0": "ip 0", "ip:12": "ip 12", "a:b:3": "a:b 3",
		"ip": "-", "ip:": "-", ":3": "-", "ip:01": "-", "ip:-1": "-", "ip:x": "-"} {
		got := "-"
		if id, n, ok := SplitInstance(name); ok {
			got = fmt.Sprintf("%s %d", id, n)
		}
		if got != want {
			t.Errorf("SplitInstance(%q) = %s, want %s", name, got, want)
		}
	}
}
