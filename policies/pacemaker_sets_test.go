package policies

import (
	"fmt"
	"strings"
)

// Resource sets in orders and colocations, checked against crm_simulate.
// Names that are cases of Pacemaker's regression suite reproduce them.

// setTOML is one [[order.set]] or [[colocation.set]] (table is "order" or
// "colocation") of rscs with extra option lines.
func setTOML(table string, rscs []string, extra string) string {
	quoted := make([]string, len(rscs))
	for i, r := range rscs {
		quoted[i] = fmt.Sprintf("%q", r)
	}
	return fmt.Sprintf("[[%s.set]]\nresources = [%s]\n%s", table, strings.Join(quoted, ", "), extra)
}

func setScenarios() []pmScenario {
	worlds := []string{"world1", "world2", "world3", "world4"}
	six := []string{"rsc1", "rsc2", "rsc3", "rsc4", "rsc5", "rsc6"}
	seq := func(secondSequential string) string {
		return twoNodes + primitives(six...) + "[[colocation]]\n" +
			setTOML("colocation", six[3:], "sequential = true\n") + setTOML("colocation", six[:3], "sequential = true\n") +
			"[[order]]\n" + setTOML("order", six[:3], "sequential = true\n") + setTOML("order", six[3:], secondSequential)
	}
	bcA := func(symmetrical string) string {
		return twoNodes + primitives("A", "B") + "[[resource]]\nid = \"C\"\nagent = \"systemd:c\"\nmeta = { target-role = \"Stopped\" }\n" +
			"[[order]]\n" + symmetrical + setTOML("order", []string{"B", "C"}, "") + setTOML("order", []string{"A"}, "")
	}
	standbyHolly := []NodeState{{"holly", Standby}, {"benji", Online}}
	return []pmScenario{
		{name: "order-sets", about: "cts order-sets: an ordered set and a colocated set of four move off a standby node, in order",
			config: twoNodes + primitives(worlds...) + func() string {
				var b strings.Builder
				for _, w := range worlds {
					fmt.Fprintf(&b, "[[location]]\nrsc = %q\nnode = \"holly\"\nscore = 500\n[[location]]\nrsc = %q\nnode = \"benji\"\nscore = 500\n", w, w)
				}
				return b.String()
			}() + "[[order]]\nid = \"order-1\"\n" + setTOML("order", worlds, "sequential = true\n") +
				"[[colocation]]\nid = \"coloc-1\"\n" + setTOML("colocation", worlds, "sequential = true\n"),
			state: State{Nodes: []NodeState{{"holly", Online}, {"benji", Standby}}, Instances: onNode("benji", worlds...)}},
		{name: "ordered-set-basic-startup", about: "cts ordered-set-basic-startup: sets (B C unordered) (A) (D E unordered) (F), C and D disabled: only B starts",
			config: twoNodes + primitives("A", "B", "E", "F") +
				"[[resource]]\nid = \"C\"\nagent = \"systemd:c\"\nmeta = { target-role = \"Stopped\" }\n" +
				"[[resource]]\nid = \"D\"\nagent = \"systemd:d\"\nmeta = { target-role = \"Stopped\" }\n" +
				"[[order]]\nid = \"order-1\"\n" + setTOML("order", []string{"B", "C"}, "sequential = false\n") + setTOML("order", []string{"A"}, "") +
				setTOML("order", []string{"D", "E"}, "sequential = false\n") + setTOML("order", []string{"F"}, ""),
			state: State{Nodes: []NodeState{{"holly", Online}, {"benji", Offline}}}},
		{name: "rsc-sets-seq-true", about: "cts rsc-sets-seq-true: two sequential sets ordered and colocated move off a standby node",
			config: seq("sequential = true\n"), state: State{Nodes: standbyHolly, Instances: onNode("holly", six...)}},
		{name: "rsc-sets-seq-false", about: "cts rsc-sets-seq-false: same, the second order set unordered",
			config: seq("sequential = false\n"), state: State{Nodes: standbyHolly, Instances: onNode("holly", six...)}},
		{name: "coloc-intra-set", about: "cts coloc-intra-set: a colocation set chains each resource to the one before it: all join dummy0",
			config: twoNodes + primitives("dummy0", "dummy1", "dummy2", "dummy3") + "[[colocation]]\nid = \"dummy-set\"\n" +
				setTOML("colocation", []string{"dummy0", "dummy1", "dummy2", "dummy3"}, ""),
			state: State{Nodes: both(), Instances: append(onNode("benji", "dummy0", "dummy2"), onNode("holly", "dummy1", "dummy3")...)}},
		{name: "bug-5014-ordered-set-symmetrical-false", about: "cts bug-5014-ordered-set-symmetrical-false: set (B C) then set (A), not symmetrical, C disabled: only C stops",
			config: bcA("symmetrical = false\n"), state: State{Nodes: []NodeState{{"holly", Online}, {"benji", Offline}}, Instances: onNode("holly", "A", "B", "C")}},
		{name: "bug-5014-ordered-set-symmetrical-true", about: "cts bug-5014-ordered-set-symmetrical-true: same, symmetrical: A stops too",
			config: bcA(""), state: State{Nodes: []NodeState{{"holly", Online}, {"benji", Offline}}, Instances: onNode("holly", "A", "B", "C")}},
		{name: "rsc-sets-clone", about: "cts rsc-sets-clone: a clone then an unordered set of three, colocated with it; node1 goes standby",
			config: attrNodes([]string{"node1", "node2"}, nil) + primitives("rsc1", "rsc2", "rsc3") + "[[resource]]\nid = \"rsc\"\nagent = \"systemd:rsc\"\n[resource.clone]\nid = \"clone-rsc\"\n" +
				"[[order]]\nid = \"order-1\"\n" + setTOML("order", []string{"clone-rsc"}, "") + setTOML("order", []string{"rsc1", "rsc2", "rsc3"}, "sequential = false\n") +
				"[[colocation]]\nid = \"coloc-1\"\n" + setTOML("colocation", []string{"rsc1", "rsc2", "rsc3"}, "sequential = false\n") + setTOML("colocation", []string{"clone-rsc"}, ""),
			state: State{Nodes: []NodeState{{"node1", Standby}, {"node2", Online}}, Instances: []InstanceState{{Resource: "rsc1", Node: "node1"}, {Resource: "rsc2", Node: "node2"},
				{Resource: "rsc3", Node: "node1"}, {Resource: "rsc", Node: "node1"}, {Resource: "rsc", Instance: 1, Node: "node2"}}}},
		{name: "rsc-sets-clone-1", about: "cts rsc-sets-clone-1: a cloned group of eight (interleaved) ordered before and colocated with an unordered set of VMs; its copy starts on the second node",
			config: attrNodes([]string{"sys2", "sys3"}, nil) + "[defaults]\nresource-stickiness = \"INFINITY\"\n" +
				primitives("stonithsys2", "stonithsys3", "vm1") + func() string {
				var b strings.Builder
				for _, vm := range []string{"vm2", "vm3", "vm4"} {
					fmt.Fprintf(&b, "[[resource]]\nid = %q\nagent = \"systemd:%s\"\nmeta = { target-role = \"Stopped\" }\n", vm, vm)
				}
				return b.String()
			}() + primitives("controld", "clvmd", "o2cb", "iscsi1", "iscsi2", "vg1", "vg2", "fs2") +
				"[[resource]]\nid = \"nfs1\"\nagent = \"systemd:nfs1\"\nmeta = { target-role = \"Stopped\" }\n[resource.clone]\nid = \"fs1\"\ninterleave = true\n" +
				groupTOML("basegrp", []string{"controld", "clvmd", "o2cb", "iscsi1", "iscsi2", "vg1", "vg2", "fs2"}, "[group.clone]\nid = \"baseclone\"\ninterleave = true\n") + `
[[location]]
rsc = "stonithsys2"
node = "sys2"
score = "-INFINITY"
[[location]]
rsc = "stonithsys3"
node = "sys3"
score = "-INFINITY"
[[location]]
rsc = "vm1"
node = "sys2"
score = 5000
[[location]]
rsc = "vm2"
node = "sys2"
score = 5000
[[location]]
rsc = "vm3"
node = "sys3"
score = 5000
[[location]]
rsc = "vm4"
node = "sys3"
score = 5000
[[colocation]]
id = "col-vm"
` + setTOML("colocation", []string{"vm1", "vm2", "vm3", "vm4"}, "sequential = false\n") + setTOML("colocation", []string{"baseclone"}, "") +
				"[[order]]\nid = \"order-vm\"\n" + setTOML("order", []string{"baseclone"}, "") + setTOML("order", []string{"vm1", "vm2", "vm3", "vm4"}, "sequential = false\n"),
			state: State{Nodes: online("sys2", "sys3"), Instances: append(onNode("sys2", "vm1", "stonithsys3"),
				onNode("sys2", "controld", "clvmd", "o2cb", "iscsi1", "iscsi2", "vg1", "vg2", "fs2")...)}},
		{name: "order-set-require-all-false", about: "set (A B unordered, require-all=false) then set (C): A disabled, B runs, so C may start",
			config: twoNodes + "[[resource]]\nid = \"A\"\nagent = \"systemd:a\"\nmeta = { target-role = \"Stopped\" }\n" + primitives("B", "C") +
				"[[order]]\n" + setTOML("order", []string{"A", "B"}, "require-all = false\nsequential = false\n") + setTOML("order", []string{"C"}, ""),
			state: State{Nodes: both()}},
		{name: "order-set-require-all-false-sequential", about: "set (A B require-all=false, sequential) then set (C): A disabled, so B cannot start (A then B inside the set), nor C",
			config: twoNodes + "[[resource]]\nid = \"A\"\nagent = \"systemd:a\"\nmeta = { target-role = \"Stopped\" }\n" + primitives("B", "C") +
				"[[order]]\n" + setTOML("order", []string{"A", "B"}, "require-all = false\n") + setTOML("order", []string{"C"}, ""),
			state: State{Nodes: both()}},
		{name: "order-set-require-all-false-none", about: "set (A B unordered, require-all=false) then set (C), A and B disabled: C cannot start",
			config: twoNodes + "[[resource]]\nid = \"A\"\nagent = \"systemd:a\"\nmeta = { target-role = \"Stopped\" }\n" +
				"[[resource]]\nid = \"B\"\nagent = \"systemd:b\"\nmeta = { target-role = \"Stopped\" }\n" + primitives("C") +
				"[[order]]\n" + setTOML("order", []string{"A", "B"}, "require-all = false\nsequential = false\n") + setTOML("order", []string{"C"}, ""),
			state: State{Nodes: both()}},
		{name: "order-set-require-all-false-interleave", about: "set (P, a disabled clone; require-all=false) then an interleaved clone: it starts on both nodes, not only where P runs",
			config: twoNodes + primitives("P") + "[[resource]]\nid = \"d\"\nagent = \"systemd:d\"\nmeta = { target-role = \"Stopped\" }\n[resource.clone]\n" +
				"[[resource]]\nid = \"c\"\nagent = \"systemd:c\"\n[resource.clone]\ninterleave = true\n" +
				"[[order]]\n" + setTOML("order", []string{"P", "d-clone"}, "require-all = false\nsequential = false\n") + setTOML("order", []string{"c-clone"}, ""),
			state: State{Nodes: both()}},
		{name: "colocation-set-negative", about: "a colocation set with -INFINITY keeps each of three resources away from the others",
			config: threeNodes + primitives("A", "B", "C") + "[[colocation]]\nscore = \"-INFINITY\"\n" + setTOML("colocation", []string{"A", "B", "C"}, ""),
			state:  State{Nodes: online("holly", "benji", "carl"), Instances: onNode("holly", "A", "B", "C")}},
		{name: "colocation-sets-unordered", about: "colocation set (A B sequential=false) set (C): A and B each with C, not with each other's preferences",
			config: threeNodes + primitives("A", "B", "C") + "[[colocation]]\n" + setTOML("colocation", []string{"A", "B"}, "sequential = false\n") +
				setTOML("colocation", []string{"C"}, "") + "[[location]]\nrsc = \"C\"\nnode = \"carl\"\nscore = 100\n",
			state: State{Nodes: online("holly", "benji", "carl")}},
		{name: "order-set-serialize", about: "a Serialize set: each start before the starts that follow it in the set, no stop order",
			config: twoNodes + primitives("A", "B", "C") + "[[order]]\nkind = \"Serialize\"\n" + setTOML("order", []string{"A", "B", "C"}, ""),
			state:  State{Nodes: both()}},
		{name: "order-set-with-group", about: "an order set naming a group and a clone: (g) then (c-clone, X unordered)",
			config: twoNodes + primitives("a", "b", "X") + "[[resource]]\nid = \"c\"\nagent = \"systemd:c\"\n[resource.clone]\n" +
				groupTOML("g", []string{"a", "b"}, "") + "[[order]]\n" + setTOML("order", []string{"g"}, "") +
				setTOML("order", []string{"c-clone", "X"}, "sequential = false\n"),
			state: State{Nodes: both()}},
	}
}
