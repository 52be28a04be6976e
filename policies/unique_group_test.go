package policies

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/policies/cib"
)

// uniqueGroupTOML is [[group]] id of members (primitives too), cloned
// globally-unique as cloneID with extra clone lines.
func uniqueGroupTOML(id string, members []string, cloneID, extra string) string {
	return primitives(members...) + groupTOML(id, members, "[group.clone]\nid = \""+cloneID+"\"\nglobally-unique = true\n"+extra)
}

// instOps lists the actions as "op rsc#N@node", sorted.
func instOps(res *Result) []string {
	var out []string
	for _, a := range res.Transition.Actions {
		out = append(out, fmt.Sprintf("%s %s#%d@%s", a.Op, a.Resource, a.Instance, a.Node))
	}
	sort.Strings(out)
	return out
}

// instPlacement lists the placement as "rsc#N@node" (with "+" when
// promoted), sorted.
func instPlacement(res *Result) string {
	var out []string
	for _, a := range res.Placement {
		s := fmt.Sprintf("%s#%d@%s", a.Resource, a.Instance, a.Node)
		if a.Role == cib.RolePromoted {
			s += "+"
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// instWaits says whether the action "op rsc#N@node" a waits, directly or
// not, for b.
func instWaits(t *testing.T, res *Result, a, b string) bool {
	t.Helper()
	ids := map[string]string{}
	for _, x := range res.Transition.Actions {
		ids[fmt.Sprintf("%s %s#%d@%s", x.Op, x.Resource, x.Instance, x.Node)] = x.ID
	}
	ia, ib := ids[a], ids[b]
	if ia == "" || ib == "" {
		t.Fatalf("no action %q or %q in %v", a, b, instOps(res))
	}
	return tandemClosure(&res.Transition)[ia][ib]
}

// Globally-unique cloned groups: copy N of the group is instance N of
// every member (Pacemaker's group:N of member:N), all on one node, and a
// move keeps the number. The cts-named cases reproduce the Pacemaker
// 2.1.5 regression cases of that name (cts/scheduler/xml and summary) as
// written, globally-unique, with their instance numbers; node names are
// shortened where said, and only starts, stops, promotes and demotes are
// compared (no monitor, no notify). The others are Tandem's own, for what
// no cts case covers (several copies on one node).
func TestUniqueClonedGroup(t *testing.T) {
	type edge struct{ a, b string } // a waits for b ("op rsc#N@node")
	ab := []string{"a", "b"}
	promotable := "promotable = true\nclone-max = 2\nclone-node-max = 1\npromoted-max = 1\npromoted-node-max = 1\n"
	promotedRules := func(rsc string, a, b int) string {
		return fmt.Sprintf("[[location]]\nrsc = %q\nrole = \"Promoted\"\nscore = %d\nrule = \"#uname eq holly\"\n"+
			"[[location]]\nrsc = %q\nrole = \"Promoted\"\nscore = %d\nrule = \"#uname eq benji\"\n", rsc, a, rsc, b)
	}
	two := online("node1", "node2")
	for _, c := range []struct {
		name, config string
		state        State
		ops          string // the transition's actions, sorted
		placement    string // instPlacement
		waits        []edge
		notWaits     []edge
	}{{
		// cts bug-pm-11 (node-a is holly, node-b benji): group:0 is
		// stateful-1:0 unpromoted on node-b, group:1 stateful-1:1
		// promoted on node-a; stateful-2 runs nowhere. stateful-2:0
		// starts on node-b, stateful-2:1 on node-a, where it is promoted
		// once the clone's starts are done.
		name: "cts bug-pm-11",
		config: twoNodes + "[defaults]\nresource-stickiness = \"INFINITY\"\n" +
			uniqueGroupTOML("group", []string{"stateful-1", "stateful-2"}, "ms-sf", promotable) + promotedRules("ms-sf", 100, 50),
		state: State{Nodes: both(), Instances: []InstanceState{
			{Resource: "stateful-1", Instance: 0, Node: "benji"}, {Resource: "stateful-1", Instance: 1, Node: "holly", Role: cib.RolePromoted}}},
		ops:       "promote stateful-2#1@holly,start stateful-2#0@benji,start stateful-2#1@holly",
		placement: "stateful-1#0@benji stateful-1#1@holly+ stateful-2#0@benji stateful-2#1@holly+",
		waits:     []edge{{"promote stateful-2#1@holly", "start stateful-2#1@holly"}, {"promote stateful-2#1@holly", "start stateful-2#0@benji"}},
	}, {
		// cts promoted-group (rh44-1 is holly, rh44-2 benji): a unique
		// cloned group of one member, promotable_Stateful:0 on rh44-2 and
		// :1 on rh44-1, both unpromoted: :1 is promoted (Promoted rules
		// 100 on rh44-1, 50 on rh44-2). The group "test" stays.
		name: "cts promoted-group",
		config: twoNodes + "[defaults]\nresource-stickiness = \"INFINITY\"\n" +
			primitives("resource_1") + groupTOML("test", []string{"resource_1"}, "") +
			uniqueGroupTOML("grp_ms_sf", []string{"promotable_Stateful"}, "ms-sf", promotable) +
			"[[location]]\nrsc = \"test\"\nscore = 200\nrule = \"#uname eq holly\"\n" +
			"[[location]]\nrsc = \"test\"\nscore = 100\nrule = \"#uname eq benji\"\n" + promotedRules("ms-sf", 100, 50),
		state: State{Nodes: both(), Instances: []InstanceState{{Resource: "resource_1", Node: "holly"},
			{Resource: "promotable_Stateful", Instance: 0, Node: "benji"}, {Resource: "promotable_Stateful", Instance: 1, Node: "holly"}}},
		ops:       "promote promotable_Stateful#1@holly",
		placement: "promotable_Stateful#0@benji promotable_Stateful#1@holly+ resource_1#0@holly",
	}, {
		// cts promoted-failed-demote-2 (dl380g5a is holly, dl380g5b
		// benji): stateful-1:0 failed on dl380g5b (migration-threshold
		// 1), stateful-2:0 stopped: stateful-1:0 stops; group:1 on
		// dl380g5a is promoted, its members in order, after that stop.
		name: "cts promoted-failed-demote-2",
		config: twoNodes + "[defaults]\nresource-stickiness = \"INFINITY\"\nmigration-threshold = 1\n" +
			uniqueGroupTOML("group", []string{"stateful-1", "stateful-2"}, "ms-sf", promotable) + promotedRules("ms-sf", 100, 500),
		state: State{Nodes: both(), Instances: []InstanceState{
			{Resource: "stateful-1", Instance: 0, Node: "benji", Failed: true},
			{Resource: "stateful-1", Instance: 1, Node: "holly"}, {Resource: "stateful-2", Instance: 1, Node: "holly"}},
			Failures: []Failure{{Resource: "stateful-1", Node: "benji", Count: 1, Last: pmNow.Add(-time.Minute)},
				{Resource: "stateful-2", Node: "benji", Count: 1, Last: pmNow.Add(-time.Minute)}}},
		ops:       "promote stateful-1#1@holly,promote stateful-2#1@holly,stop stateful-1#0@benji",
		placement: "stateful-1#1@holly+ stateful-2#1@holly+",
		waits: []edge{{"promote stateful-1#1@holly", "stop stateful-1#0@benji"}, {"promote stateful-2#1@holly", "stop stateful-1#0@benji"},
			{"promote stateful-2#1@holly", "promote stateful-1#1@holly"}},
	}, {
		// cts bug-1822 (process1a is holly, process2b benji): group:1 runs
		// promoted on process1a, which shuts down (standby here);
		// group:0 has promotable_Stateful:0 unpromoted on process2b,
		// where promotable_procdctl failed (migration-threshold 1; the
		// case's fail-counts are per instance, Tandem's per node). group:1
		// is demoted and stopped; group:0 cannot be promoted (a member
		// cannot run on its node) and stays as it is. (Pacemaker's graph
		// leaves the two members' demotes and stops unordered here; Tandem
		// demotes and stops a group in reverse order.)
		name: "cts bug-1822",
		config: twoNodes + "[defaults]\nresource-stickiness = \"INFINITY\"\nmigration-threshold = 1\n" +
			uniqueGroupTOML("ms-sf_group", []string{"promotable_Stateful", "promotable_procdctl"}, "ms-sf", promotable) +
			promotedRules("ms-sf", 100, 50),
		state: State{Nodes: []NodeState{{"holly", Standby}, {"benji", Online}}, Instances: []InstanceState{
			{Resource: "promotable_Stateful", Instance: 0, Node: "benji"},
			{Resource: "promotable_Stateful", Instance: 1, Node: "holly", Role: cib.RolePromoted},
			{Resource: "promotable_procdctl", Instance: 1, Node: "holly", Role: cib.RolePromoted}},
			Failures: []Failure{{Resource: "promotable_procdctl", Node: "benji", Count: 2, Last: pmNow.Add(-time.Minute)},
				{Resource: "promotable_procdctl", Node: "holly", Count: 1, Last: pmNow.Add(-time.Minute)}}},
		ops:       "demote promotable_Stateful#1@holly,demote promotable_procdctl#1@holly,stop promotable_Stateful#1@holly,stop promotable_procdctl#1@holly",
		placement: "promotable_Stateful#0@benji",
		waits: []edge{{"stop promotable_Stateful#1@holly", "demote promotable_Stateful#1@holly"},
			{"stop promotable_procdctl#1@holly", "demote promotable_procdctl#1@holly"}},
	}, {
		// cts promoted-probed-score, its IPClone: a unique cloned group
		// of three addresses (clone-max 2, clone-node-max 2, stickiness
		// 0), INFINITY with and after FilesystemClone (an anonymous
		// cloned group; two of its six members here), nothing running.
		// Pacemaker starts ClusterIP:0, ClusterIPLocal:0,
		// ClusterIPSandbox:0 on hypatia and the :1 copy on orestes
		// (node names shortened), each copy in group order, after every start
		// of FilesystemClone.
		name: "cts promoted-probed-score (IPClone)",
		config: nodesTOML("hypatia", "orestes") +
			uniqueGroupTOML("IPGroup", []string{"ClusterIP", "ClusterIPLocal", "ClusterIPSandbox"}, "IPClone",
				"clone-max = 2\nclone-node-max = 2\n[group.meta]\nresource-stickiness = 0\n") +
			primitives("AdminLvm", "FSUsrNevis") + groupTOML("FilesystemGroup", []string{"AdminLvm", "FSUsrNevis"}, "[group.clone]\nid = \"FilesystemClone\"\n") +
			"[[colocation]]\nid = \"IP_With_Filesystem\"\nrsc = \"IPClone\"\nwith = \"FilesystemClone\"\n" +
			"[[order]]\nid = \"Filesystem_Before_IP\"\nfirst = \"FilesystemClone\"\nthen = \"IPClone\"\n",
		state: State{Nodes: online("hypatia", "orestes")},
		ops: "start AdminLvm#0@hypatia,start AdminLvm#1@orestes,start ClusterIP#0@hypatia,start ClusterIP#1@orestes," +
			"start ClusterIPLocal#0@hypatia,start ClusterIPLocal#1@orestes,start ClusterIPSandbox#0@hypatia,start ClusterIPSandbox#1@orestes," +
			"start FSUsrNevis#0@hypatia,start FSUsrNevis#1@orestes",
		waits: []edge{{"start ClusterIPLocal#0@hypatia", "start ClusterIP#0@hypatia"}, {"start ClusterIPSandbox#1@orestes", "start ClusterIPLocal#1@orestes"},
			{"start ClusterIP#0@hypatia", "start FSUsrNevis#1@orestes"}, {"start ClusterIP#1@orestes", "start FSUsrNevis#0@hypatia"}},
	}, {
		name:   "four copies, two per node: each copy starts in group order, and waits for no other copy",
		config: uniqueCluster(2) + uniqueGroupTOML("g", ab, "g-clone", "clone-max = 4\nclone-node-max = 2\n"),
		state:  State{Nodes: two},
		ops: "start a#0@node1,start a#1@node2,start a#2@node1,start a#3@node2," +
			"start b#0@node1,start b#1@node2,start b#2@node1,start b#3@node2",
		placement: "a#0@node1 a#1@node2 a#2@node1 a#3@node2 b#0@node1 b#1@node2 b#2@node1 b#3@node2",
		waits:     []edge{{"start b#0@node1", "start a#0@node1"}, {"start b#2@node1", "start a#2@node1"}},
		notWaits:  []edge{{"start b#0@node1", "start a#2@node1"}, {"start b#2@node1", "start a#0@node1"}},
	}, {
		name:   "node2 goes standby: its copy moves to node1 whole and keeps its number; the copy on node1 is not restarted",
		config: uniqueCluster(2) + uniqueGroupTOML("g", ab, "g-clone", "clone-max = 2\nclone-node-max = 2\n"),
		state: State{Nodes: []NodeState{{"node1", Online}, {"node2", Standby}}, Instances: []InstanceState{
			{Resource: "a", Instance: 0, Node: "node1"}, {Resource: "b", Instance: 0, Node: "node1"},
			{Resource: "a", Instance: 1, Node: "node2"}, {Resource: "b", Instance: 1, Node: "node2"}}},
		ops:       "start a#1@node1,start b#1@node1,stop a#1@node2,stop b#1@node2",
		placement: "a#0@node1 a#1@node1 b#0@node1 b#1@node1",
		waits: []edge{{"stop a#1@node2", "stop b#1@node2"}, {"start a#1@node1", "stop a#1@node2"},
			{"start b#1@node1", "start a#1@node1"}},
	}, {
		name:   "the first member of one of two copies on a node fails: that copy restarts, the other is left alone",
		config: uniqueCluster(2) + uniqueGroupTOML("g", ab, "g-clone", "clone-max = 2\nclone-node-max = 2\n"),
		state: State{Nodes: []NodeState{{"node1", Online}, {"node2", Standby}}, Instances: []InstanceState{
			{Resource: "a", Instance: 0, Node: "node1", Failed: true}, {Resource: "b", Instance: 0, Node: "node1"},
			{Resource: "a", Instance: 1, Node: "node1"}, {Resource: "b", Instance: 1, Node: "node1"}}},
		ops:       "start a#0@node1,start b#0@node1,stop a#0@node1,stop b#0@node1",
		placement: "a#0@node1 a#1@node1 b#0@node1 b#1@node1",
		waits:     []edge{{"stop a#0@node1", "stop b#0@node1"}, {"start b#0@node1", "start a#0@node1"}},
	}, {
		name:   "a member banned from a node: no copy runs it there, the copies there run their first member only",
		config: uniqueCluster(2) + "[defaults]\nmigration-threshold = 1\n" + uniqueGroupTOML("g", ab, "g-clone", "clone-max = 2\nclone-node-max = 1\n"),
		state: State{Nodes: two,
			Failures: []Failure{{Resource: "b", Node: "node2", Count: 1, Last: pmNow.Add(-time.Minute)}}},
		ops:       "start a#0@node1,start a#1@node2,start b#0@node1",
		placement: "a#0@node1 a#1@node2 b#0@node1",
	}, {
		name:   "copies that do not match (b:1 beside a:0): b's instances follow a's numbers",
		config: uniqueCluster(2) + uniqueGroupTOML("g", ab, "g-clone", "clone-max = 2\nclone-node-max = 1\n"),
		state: State{Nodes: two, Instances: []InstanceState{
			{Resource: "a", Instance: 0, Node: "node1"}, {Resource: "b", Instance: 1, Node: "node1"},
			{Resource: "a", Instance: 1, Node: "node2"}, {Resource: "b", Instance: 0, Node: "node2"}}},
		ops:       "start b#0@node1,start b#1@node2,stop b#0@node2,stop b#1@node1",
		placement: "a#0@node1 a#1@node2 b#0@node1 b#1@node2",
	}, {
		name:   "a promoted member left alone (blocked) beside another copy does not promote that copy, and stays promoted",
		config: uniqueCluster(2) + uniqueGroupTOML("g", ab, "g-clone", "promotable = true\nclone-max = 2\n"),
		state: State{Nodes: two, Instances: []InstanceState{{Resource: "a", Instance: 0, Node: "node1"},
			{Resource: "b", Instance: 1, Node: "node1", Blocked: true, Role: cib.RolePromoted}},
			Promotion: scores("a", map[string]cib.Score{"node1": 5, "node2": 10})},
		ops:       "start a#1@node2",
		placement: "a#0@node1 a#1@node2 b#1@node1+",
	}} {
		t.Run(c.name, func(t *testing.T) {
			f, err := config.Parse("unique-group.toml", []byte(c.config))
			if err != nil {
				t.Fatal(err)
			}
			res := schedule(t, f.CIB, c.state)
			if got := strings.Join(instOps(res), ","); got != c.ops {
				t.Errorf("actions %q, want %q\n%s", got, c.ops, describe(&res.Transition))
			}
			if got := instPlacement(res); c.placement != "" && got != c.placement {
				t.Errorf("placement %q, want %q", got, c.placement)
			}
			for _, e := range c.waits {
				if !instWaits(t, res, e.a, e.b) {
					t.Errorf("%s does not wait for %s:\n%s", e.a, e.b, describe(&res.Transition))
				}
			}
			for _, e := range c.notWaits {
				if instWaits(t, res, e.a, e.b) {
					t.Errorf("%s waits for %s:\n%s", e.a, e.b, describe(&res.Transition))
				}
			}
			// Once the transition has run, nothing is left to do.
			next := Apply(f.CIB, c.state, &res.Transition)
			again := schedule(t, f.CIB, next)
			if !again.Transition.Empty() {
				t.Errorf("then %v", instOps(again))
			}
			if got, want := instPlacement(again), instPlacement(res); got != want {
				t.Errorf("placement once applied %q, want %q", got, want)
			}
		})
	}
}
