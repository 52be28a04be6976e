package policies

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/policies/cib"
)

// Groups and cloned groups, checked against crm_simulate like every
// scenario. Names starting with a case of Pacemaker's regression suite
// (cts/scheduler) reproduce that case as a Tandem cluster file; the others
// are Tandem's own.

// primitives is one [[resource]] per id (systemd agents; the agent does
// not matter to the scheduler).
func primitives(ids ...string) string {
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, "[[resource]]\nid = %q\nagent = \"systemd:%s\"\n", id, id)
	}
	return b.String()
}

// groupTOML is a [[group]] of members, with extra lines (meta, clone).
func groupTOML(id string, members []string, extra string) string {
	quoted := make([]string, len(members))
	for i, m := range members {
		quoted[i] = fmt.Sprintf("%q", m)
	}
	return fmt.Sprintf("[[group]]\nid = %q\nresources = [%s]\n%s", id, strings.Join(quoted, ", "), extra)
}

// nodesTOML is a cluster of the named nodes (a witness for two).
func nodesTOML(names ...string) string {
	var b strings.Builder
	b.WriteString("[cluster]\nname = \"pm\"\n")
	for i, n := range names {
		fmt.Fprintf(&b, "[[node]]\nname = %q\naddress = \"198.18.0.%d\"\n", n, 40+i)
	}
	if len(names) == 2 {
		b.WriteString("[witness]\nname = \"director\"\naddress = \"198.18.0.30\"\n")
	}
	return b.String()
}

func onNode(node string, rscs ...string) []InstanceState {
	var out []InstanceState
	for _, r := range rscs {
		out = append(out, InstanceState{Resource: r, Node: node})
	}
	return out
}

func online(names ...string) []NodeState {
	var out []NodeState
	for _, n := range names {
		out = append(out, NodeState{Name: n, Status: Online})
	}
	return out
}

func groupScenarios() []pmScenario {
	abc := []string{"a", "b", "c"}
	five := []string{"rhel7-1", "rhel7-2", "rhel7-3", "rhel7-4", "rhel7-5"}
	dependee := func(score int) string {
		return nodesTOML(five...) + `
[defaults]
resource-stickiness = 1000
` + primitives("dummy1a", "dummy1b", "dummy1c", "dummy1d", "dummy2a", "dummy2b", "dummy2c", "dummy2d") +
			groupTOML("dummy1", []string{"dummy1a", "dummy1b", "dummy1c", "dummy1d"}, "") +
			groupTOML("dummy2", []string{"dummy2a", "dummy2b", "dummy2c", "dummy2d"}, "") + fmt.Sprintf(`
[[colocation]]
rsc = "dummy2"
with = "dummy1"
score = %d
`, score)
	}
	dependeeState := State{Nodes: online(five...), Instances: append(onNode("rhel7-3", "dummy1a", "dummy1b", "dummy1c", "dummy1d"),
		onNode("rhel7-4", "dummy2a", "dummy2b", "dummy2c", "dummy2d")...)}
	return []pmScenario{
		{name: "group1", about: "cts group1: a group of three starts on one node, in order",
			config: twoNodes + primitives(abc...) + groupTOML("g", abc, ""), state: State{Nodes: both()}},
		{name: "group2", about: "cts group2: a group between two primitives with Optional orders",
			config: twoNodes + primitives("rsc1", "c1", "c2", "c3", "rsc3") + groupTOML("rsc2", []string{"c1", "c2", "c3"}, "") + `
[[order]]
first = "rsc1"
then = "rsc2"
kind = "Optional"
[[order]]
first = "rsc2"
then = "rsc3"
kind = "Optional"
`, state: State{Nodes: both()}},
		{name: "group5", about: "cts group5 (its #uname rules as locations): a group and two primitives move to the node they prefer",
			config: twoNodes + primitives("rsc1", "c1", "c2", "c3", "rsc3") + groupTOML("rsc2", []string{"c1", "c2", "c3"}, "") + `
[[order]]
first = "rsc1"
then = "rsc2"
kind = "Optional"
[[order]]
first = "rsc2"
then = "rsc3"
kind = "Optional"
[[location]]
rsc = "rsc1"
node = "benji"
score = 1
[[location]]
rsc = "rsc2"
node = "benji"
score = 1
[[location]]
rsc = "rsc3"
node = "benji"
score = 1
`, state: State{Nodes: both(), Instances: onNode("holly", "rsc1", "c1", "c2", "c3", "rsc3")}},
		{name: "group6", about: "cts group6 (rules as locations): two groups move, the second after the first (Optional order)",
			config: twoNodes + primitives("c1", "c2", "c3", "c4", "c5", "c6") + groupTOML("rsc1", []string{"c1", "c2", "c3"}, "") +
				groupTOML("rsc2", []string{"c4", "c5", "c6"}, "") + `
[[order]]
first = "rsc1"
then = "rsc2"
kind = "Optional"
[[location]]
rsc = "rsc1"
node = "benji"
score = 1
[[location]]
rsc = "rsc2"
node = "benji"
score = 1
`, state: State{Nodes: both(), Instances: onNode("holly", "c1", "c2", "c3", "c4", "c5", "c6")}},
		{name: "group-fail", about: "cts group-fail: members 1 and 3 stopped, 2 and 4 running: 1 and 3 start, 2 and 4 restart after them",
			config: twoNodes + primitives("rsc1", "rsc2", "rsc3", "rsc4") + groupTOML("group1", []string{"rsc1", "rsc2", "rsc3", "rsc4"}, ""),
			state:  State{Nodes: both(), Instances: onNode("holly", "rsc2", "rsc4")}},
		{name: "coloc-dependee-should-stay", about: "cts coloc-dependee-should-stay: a group's stickiness (4 × 1000) beats a colocation of 2000",
			config: dependee(2000), state: dependeeState},
		{name: "coloc-dependee-should-move", about: "cts coloc-dependee-should-move: a colocation of 4001 beats the group's 4 × 1000",
			config: dependee(4001), state: dependeeState},
		{name: "group-anticolocation", about: "cts group-anticolocation: group2 -5000 with group1; its last member fails (migration-threshold 1) and stops, the group stays",
			config: twoNodes + "[defaults]\nmigration-threshold = 1\n" + primitives("member1a", "member1b", "member2a", "member2b") +
				groupTOML("group1", []string{"member1a", "member1b"}, "") + groupTOML("group2", []string{"member2a", "member2b"}, "") + `
[[colocation]]
rsc = "group2"
with = "group1"
score = -5000
`, state: State{Nodes: both(), Instances: append(onNode("benji", "member1a", "member1b"), InstanceState{Resource: "member2a", Node: "holly"},
				InstanceState{Resource: "member2b", Node: "holly", Failed: true}),
				Failures: []Failure{{"member2b", "holly", 1, pmNow.Add(-time.Minute)}}}},
		{name: "group-colocation-failure", about: "cts group-colocation-failure: group2 INFINITY with group1 fails where both run: group1 moves with it",
			config: twoNodes + "[defaults]\nmigration-threshold = 1\n" + primitives("member1a", "member1b", "member2a") +
				groupTOML("group1", []string{"member1a", "member1b"}, "") + groupTOML("group2", []string{"member2a"}, "") + `
[[colocation]]
rsc = "group2"
with = "group1"
`, state: State{Nodes: both(), Instances: append(onNode("benji", "member1a", "member1b"), InstanceState{Resource: "member2a", Node: "benji", Failed: true}),
				Failures: []Failure{{"member2a", "benji", 1, pmNow.Add(-time.Minute)}}}},
		{name: "coloc-group", about: "cts coloc-group: a group INFINITY with rsc1; members banned by failures: rsc1 goes where the first member can run",
			config: threeNodes + "[defaults]\nmigration-threshold = 1\n" + primitives("rsc1", "rsc2", "rsc3", "rsc4") +
				groupTOML("group1", []string{"rsc2", "rsc3", "rsc4"}, "") + `
[[colocation]]
rsc = "group1"
with = "rsc1"
`, state: State{Nodes: online("holly", "benji", "carl"), Failures: []Failure{{"rsc2", "holly", 1, pmNow.Add(-time.Minute)},
				{"rsc3", "benji", 1, pmNow.Add(-time.Minute)}, {"rsc2", "carl", 1, pmNow.Add(-time.Minute)}}}},
		{name: "group-member-recover", about: "a member fails once: it recovers in place and the members after it restart",
			config: twoNodes + primitives(abc...) + groupTOML("g", abc, "meta = { resource-stickiness = 100 }\n"),
			state: State{Nodes: both(), Instances: withFailed(onNode("holly", abc...), "b", "holly"),
				Failures: []Failure{{"b", "holly", 1, pmNow.Add(-10 * time.Second)}}}},
		{name: "group-member-threshold", about: "a member reaches migration-threshold: the whole group moves, stopping in reverse and starting in order",
			config: twoNodes + primitives(abc...) + groupTOML("g", abc, "meta = { resource-stickiness = 100, migration-threshold = 2 }\n"),
			state: State{Nodes: both(), Instances: withFailed(onNode("holly", abc...), "b", "holly"),
				Failures: []Failure{{"b", "holly", 2, pmNow.Add(-10 * time.Second)}}}},
		{name: "group-stickiness-vs-location", about: "a group location of 250 against 3 members' stickiness of 100: the location counts once per member",
			config: twoNodes + primitives(abc...) + groupTOML("g", abc, "meta = { resource-stickiness = 100 }\n") + `
[[location]]
rsc = "g"
node = "benji"
score = 250
`, state: State{Nodes: both(), Instances: onNode("holly", abc...)}},
		{name: "group-member-disabled", about: "a member with target-role=Stopped stops with the members after it; the one before it stays",
			config: twoNodes + primitives("a") + "[[resource]]\nid = \"b\"\nagent = \"systemd:b\"\nmeta = { target-role = \"Stopped\" }\n" +
				primitives("c") + groupTOML("g", abc, ""),
			state: State{Nodes: both(), Instances: onNode("holly", abc...)}},
		{name: "group-first-stopped", about: "order X then group, X target-role=Stopped: the whole group stops, in reverse",
			config: twoNodes + "[[resource]]\nid = \"X\"\nagent = \"systemd:x\"\nmeta = { target-role = \"Stopped\" }\n" + primitives(abc...) +
				groupTOML("g", abc, "") + "[[order]]\nfirst = \"X\"\nthen = \"g\"\n",
			state: State{Nodes: both(), Instances: onNode("holly", abc...)}},
		{name: "group-then-partial", about: "order group then X, a member disabled: the group cannot start as a whole, so X stops",
			config: twoNodes + primitives("a") + "[[resource]]\nid = \"b\"\nagent = \"systemd:b\"\nmeta = { target-role = \"Stopped\" }\n" +
				primitives("X") + groupTOML("g", []string{"a", "b"}, "") + "[[order]]\nfirst = \"g\"\nthen = \"X\"\n",
			state: State{Nodes: both(), Instances: onNode("holly", "a", "X")}},
		{name: "with-group", about: "X INFINITY with a group goes with its last member; the group with Y (finite) follows Y's first choice",
			config: threeNodes + primitives("X", "Y", "a", "b") + groupTOML("g", []string{"a", "b"}, "") + `
[[colocation]]
rsc = "X"
with = "g"
[[colocation]]
rsc = "g"
with = "Y"
score = 100
[[location]]
rsc = "Y"
node = "carl"
score = 50
[[location]]
rsc = "b"
node = "carl"
score = "-INFINITY"
`, state: State{Nodes: online("holly", "benji", "carl")}},
		{name: "group-restart-asymmetric", about: "a member recovers; the next one would restart but an asymmetrical order from a stopped X forbids its start: it stops",
			config: twoNodes + "[[resource]]\nid = \"X\"\nagent = \"systemd:x\"\nmeta = { target-role = \"Stopped\" }\n" + primitives("a", "b") +
				groupTOML("g", []string{"a", "b"}, "") + "[[order]]\nfirst = \"X\"\nthen = \"b\"\nsymmetrical = false\n",
			state: State{Nodes: both(), Instances: withFailed(onNode("holly", "a", "b"), "a", "holly"),
				Failures: []Failure{{"a", "holly", 1, pmNow.Add(-10 * time.Second)}}}},
		{name: "random-groups-8x30x3-node-failure", about: "the group benchmark's generator: 8 nodes, 30 groups of 3, 20 constraints (sets and rules among them), settled, then one node fails",
			build: func(tb testing.TB) (*cib.CIB, State) {
				cfg := groupedCluster(8, 30, 3, 20)
				return cfg, nodeFailure(settledState(tb, cfg))
			}},
		{name: "cloned-group-start", about: "a cloned group starts on both nodes, each node's members in order",
			config: twoNodes + primitives("a", "b") + groupTOML("g", []string{"a", "b"}, "[group.clone]\n"), state: State{Nodes: both()}},
		{name: "cloned-group-recover", about: "a cloned group's first member fails on holly: it recovers and the second restarts there only",
			config: twoNodes + primitives("a", "b") + groupTOML("g", []string{"a", "b"}, "[group.clone]\n"),
			state: State{Nodes: both(), Instances: []InstanceState{{Resource: "a", Node: "holly", Failed: true}, {Resource: "b", Node: "holly"},
				{Resource: "a", Instance: 1, Node: "benji"}, {Resource: "b", Instance: 1, Node: "benji"}},
				Failures: []Failure{{"a", "holly", 1, pmNow.Add(-10 * time.Second)}}}},
		{name: "cloned-group-constraints", about: "VIP INFINITY with a cloned group and ordered after it; the group is banned from holly, prefers benji",
			config: twoNodes + primitives("VIP", "a", "b") + groupTOML("g", []string{"a", "b"}, "[group.clone]\n") + `
[[order]]
first = "g-clone"
then = "VIP"
[[colocation]]
rsc = "VIP"
with = "g-clone"
[[location]]
rsc = "g-clone"
node = "benji"
score = 10
[[location]]
rsc = "g-clone"
node = "holly"
score = "-INFINITY"
`, state: State{Nodes: both()}},
	}
}
