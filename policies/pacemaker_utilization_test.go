package policies

import (
	"fmt"
	"strings"
)

// Utilization and placement strategies, checked against crm_simulate like
// every scenario. Each reproduces the case of Pacemaker's regression suite
// (cts/scheduler) it is named after, as a Tandem cluster file; "allow-migrate"
// (utilization-order1, -order3) is left out: Tandem has no live migration,
// and crm_simulate then moves by stop and start as Tandem does.

// utilNode is a [[node]] with its capacity ("cpu=1 memory=512") and extra
// lines (standby = true).
type utilNode struct {
	name, util, extra string
}

// utilCluster is a cluster of nodes (a witness for two) with a placement
// strategy.
func utilCluster(strategy string, nodes ...utilNode) string {
	var b strings.Builder
	b.WriteString("[cluster]\nname = \"pm\"\n")
	fmt.Fprintf(&b, "[properties]\nplacement-strategy = %q\n", strategy)
	for i, n := range nodes {
		fmt.Fprintf(&b, "[[node]]\nname = %q\naddress = \"198.18.0.%d\"\n%s", n.name, 40+i, n.extra)
		b.WriteString(utilTable("node", n.util))
	}
	if len(nodes) == 2 {
		b.WriteString("[witness]\nname = \"director\"\naddress = \"198.18.0.30\"\n")
	}
	return b.String()
}

// utilTable is a [<table>.utilization] table from "cpu=1 memory=512".
func utilTable(table, util string) string {
	if util == "" {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%s.utilization]\n", table)
	for _, kv := range strings.Fields(util) {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "%s = %s\n", k, v)
	}
	return b.String()
}

// utilResource is a [[resource]] with its utilization and extra lines.
func utilResource(id, util, extra string) string {
	return fmt.Sprintf("[[resource]]\nid = %q\nagent = \"systemd:%s\"\n%s", id, id, extra) + utilTable("resource", util)
}

func utilizationScenarios() []pmScenario {
	n12 := func(strategy, u1, u2 string) string {
		return utilCluster(strategy, utilNode{name: "node1", util: u1}, utilNode{name: "node2", util: u2})
	}
	standby1 := func(extra string) string {
		return utilCluster("balanced", utilNode{name: "node1", util: "cpu=1", extra: "standby = true\n"}, utilNode{name: "node2", util: "cpu=1"}) + extra
	}
	hosts := func(strategy, u1, u2 string) string {
		return utilCluster(strategy, utilNode{name: "host1", util: u1}, utilNode{name: "host2", util: u2})
	}
	prio := func(p int) string { return fmt.Sprintf("[resource.meta]\npriority = %d\n", p) }
	return []pmScenario{
		{name: "utilization", about: "cts utilization: rsc2 (priority 1) fits only host2; rsc1 then fits nowhere",
			config: hosts("utilization", "cpu=1 memory=512", "cpu=2 memory=1024") +
				utilResource("rsc1", "cpu=2 memory=512", "") + utilResource("rsc2", "cpu=1 memory=1024", prio(1)),
			state: State{Nodes: online("host1", "host2")}},
		{name: "minimal", about: "cts minimal: two resources that fit on one node both go to the first node",
			config: hosts("minimal", "cpu=2 memory=1024", "cpu=2 memory=1024") +
				utilResource("rsc1", "cpu=1 memory=512", "") + utilResource("rsc2", "cpu=1 memory=512", ""),
			state: State{Nodes: online("host1", "host2")}},
		{name: "balanced", about: "cts balanced: the node with more free capacity first, then the other",
			config: hosts("balanced", "cpu=1 memory=512", "cpu=2 memory=1024") +
				utilResource("rsc1", "cpu=1 memory=512", "") + utilResource("rsc2", "cpu=1 memory=512", ""),
			state: State{Nodes: online("host1", "host2")}},
		{name: "placement-capacity", about: "cts placement-capacity: node1 has no cpu left for rsc1, which stops; rsc2 stays",
			config: n12("balanced", "cpu=0", "cpu=1") + "[defaults]\nresource-stickiness = 100\n" +
				utilResource("rsc1", "cpu=1", "") + utilResource("rsc2", "cpu=1", ""),
			state: State{Nodes: online("node1", "node2"), Instances: append(onNode("node1", "rsc1"), onNode("node2", "rsc2")...)}},
		{name: "placement-location", about: "cts placement-location: node1 standby; rsc2 (location 200) keeps node2's only cpu, rsc1 (100) stops",
			config: standby1(utilResource("rsc1", "cpu=1", "") + utilResource("rsc2", "cpu=1", "") + `
[[location]]
rsc = "rsc1"
node = "node2"
score = 100
[[location]]
rsc = "rsc2"
node = "node2"
score = 200
`),
			state: State{Nodes: online("node1", "node2"), Instances: append(onNode("node1", "rsc1"), onNode("node2", "rsc2")...)}},
		{name: "placement-priority", about: "cts placement-priority: node1 standby; rsc2 (priority 2) keeps node2, rsc1 stops",
			config: standby1(utilResource("rsc1", "cpu=1", prio(1)) + utilResource("rsc2", "cpu=1", prio(2))),
			state:  State{Nodes: online("node1", "node2"), Instances: append(onNode("node1", "rsc1"), onNode("node2", "rsc2")...)}},
		{name: "placement-stickiness", about: "cts placement-stickiness: node1 standby; rsc2 stays on node2 by stickiness, rsc1 stops",
			config: standby1("[defaults]\nresource-stickiness = 100\n" + utilResource("rsc1", "cpu=1", "") + utilResource("rsc2", "cpu=1", "")),
			state:  State{Nodes: online("node1", "node2"), Instances: append(onNode("node1", "rsc1"), onNode("node2", "rsc2")...)}},
		{name: "utilization-order1", about: "cts utilization-order1: rsc2 (priority 1) takes node1's memory, rsc1 stops",
			config: n12("utilization", "memory=1024", "memory=512") +
				utilResource("rsc1", "memory=1024", "") + utilResource("rsc2", "memory=1024", prio(1)),
			state: State{Nodes: online("node1", "node2"), Instances: onNode("node1", "rsc1")}},
		{name: "utilization-order2", about: "cts utilization-order2: by priority rsc4, rsc3, the clone, rsc1: rsc3 moves, a clone instance and rsc1 stop",
			config: n12("utilization", "memory=1024", "memory=1024") +
				utilResource("rsc1", "memory=512", "") + utilResource("rsc2", "memory=512", prio(1)+"[resource.clone]\nid = \"clone-rsc2\"\n") +
				utilResource("rsc3", "memory=512", prio(2)) + utilResource("rsc4", "memory=1024", prio(3)),
			state: State{Nodes: online("node1", "node2"), Instances: []InstanceState{
				{Resource: "rsc3", Node: "node1"}, {Resource: "rsc2", Node: "node1", Instance: 1}, {Resource: "rsc2", Node: "node2", Instance: 0}, {Resource: "rsc1", Node: "node2"}}}},
		{name: "utilization-order3", about: "cts utilization-order3 (without allow-migrate): rsc2 (priority 1) takes node1, rsc1 moves to node2",
			config: n12("utilization", "memory=1024", "memory=512") +
				utilResource("rsc1", "memory=512", "") + utilResource("rsc2", "memory=1024", prio(1)),
			state: State{Nodes: online("node1", "node2"), Instances: onNode("node1", "rsc1")}},
		{name: "colocated-utilization-primitive-1", about: "cts: rsc2 and rsc3 INFINITY with rsc1: the three need 6 cpu, only node2 has them",
			config: n12("utilization", "cpu=4", "cpu=6") +
				utilResource("rsc1", "cpu=2", "") + utilResource("rsc2", "cpu=2", "") + utilResource("rsc3", "cpu=2", "") + `
[[colocation]]
rsc = "rsc2"
with = "rsc1"
score = "INFINITY"
[[colocation]]
rsc = "rsc3"
with = "rsc1"
score = "INFINITY"
`, state: State{Nodes: online("node1", "node2")}},
		{name: "colocated-utilization-primitive-2", about: "cts: same, rsc3 placed first (priority 1), the other two follow it to node2",
			config: n12("utilization", "cpu=2", "cpu=4") +
				utilResource("rsc1", "cpu=2", "") + utilResource("rsc2", "cpu=2", "") + utilResource("rsc3", "cpu=2", prio(1)) + `
[[colocation]]
rsc = "rsc2"
with = "rsc1"
score = "INFINITY"
[[colocation]]
rsc = "rsc3"
with = "rsc1"
score = "INFINITY"
`, state: State{Nodes: online("node1", "node2")}},
		{name: "colocated-utilization-group", about: "cts: two groups INFINITY with rsc1: the five need 10 cpu, only node2 has them",
			config: n12("utilization", "cpu=8", "cpu=10") +
				utilResource("rsc1", "cpu=2", "") + utilResource("rsc2", "cpu=2", "") + utilResource("rsc3", "cpu=2", "") +
				utilResource("rsc4", "cpu=2", "") + utilResource("rsc5", "cpu=2", "") +
				groupTOML("group1", []string{"rsc2", "rsc3"}, "") + groupTOML("group2", []string{"rsc4", "rsc5"}, "") + `
[[colocation]]
rsc = "group1"
with = "rsc1"
score = "INFINITY"
[[colocation]]
rsc = "group2"
with = "group1"
score = "INFINITY"
`, state: State{Nodes: online("node1", "node2")}},
		{name: "utilization-check-allowed-nodes", about: "cts: rsc2 (4 cpu) INFINITY with rsc1, which is banned from node1: rsc1 starts on node2, rsc2 fits nowhere with it",
			config: n12("utilization", "cpu=4", "cpu=2") +
				utilResource("rsc1", "", "") + utilResource("rsc2", "cpu=4", "") + `
[[location]]
rsc = "rsc1"
node = "node1"
score = "-INFINITY"
[[colocation]]
rsc = "rsc2"
with = "rsc1"
score = "INFINITY"
`, state: State{Nodes: online("node1", "node2")}},
	}
}
