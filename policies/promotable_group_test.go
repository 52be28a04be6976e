package policies

import (
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/policies/cib"
)

// promotableGroupTOML is [[group]] id of members, cloned as a promotable
// clone cloneID with extra clone lines.
func promotableGroupTOML(id string, members []string, cloneID, extra string) string {
	return primitives(members...) + groupTOML(id, members, "[group.clone]\nid = \""+cloneID+"\"\npromotable = true\n"+extra)
}

// Promotable cloned groups: the group's instance on a node is promoted
// whole, its members in group order, and demoted in reverse. The
// cts-named cases reproduce Pacemaker 2.1.5's regression cases of that
// name (cts/scheduler/summary), node names shortened where said; those
// cases clone their group globally-unique, which Tandem refuses for a
// cloned group: the anonymous clone places the same here. Only starts,
// stops, promotes and demotes are compared (no notify, no monitor).
func TestPromotableGroup(t *testing.T) {
	type edge struct{ a, b string } // a waits for b ("op rsc@node")
	ab := []string{"a", "b"}
	for _, c := range []struct {
		name, config string
		state        State
		ops          string // the transition's actions, sorted
		promoted     string // "rsc@node ..." promoted once it has run
		waits        []edge
		notWaits     []edge
	}{{
		// cts bug-pm-11 (node-a is holly, node-b benji): stateful-1 runs
		// on both, promoted on node-a; stateful-2 runs nowhere. It starts
		// on both, and is promoted on node-a, where the group's instance
		// is promoted (location rules for the Promoted role: 100 on
		// node-a, 50 on node-b), once the clone's starts are done.
		name: "cts bug-pm-11",
		config: twoNodes + "[defaults]\nresource-stickiness = \"INFINITY\"\n" +
			promotableGroupTOML("group", []string{"stateful-1", "stateful-2"}, "ms-sf", "clone-max = 2\nclone-node-max = 1\npromoted-max = 1\npromoted-node-max = 1\n") +
			"[[location]]\nrsc = \"ms-sf\"\nrole = \"Promoted\"\nscore = 100\nrule = \"#uname eq holly\"\n" +
			"[[location]]\nrsc = \"ms-sf\"\nrole = \"Promoted\"\nscore = 50\nrule = \"#uname eq benji\"\n",
		state: State{Nodes: both(), Instances: []InstanceState{
			{Resource: "stateful-1", Instance: 0, Node: "benji"}, {Resource: "stateful-1", Instance: 1, Node: "holly", Role: cib.RolePromoted}}},
		ops:      "promote stateful-2@holly,start stateful-2@benji,start stateful-2@holly",
		promoted: "stateful-1@holly stateful-2@holly",
		waits:    []edge{{"promote stateful-2@holly", "start stateful-2@holly"}, {"promote stateful-2@holly", "start stateful-2@benji"}},
	}, {
		// cts promoted-group (rh44-1 is holly, rh44-2 benji): a cloned
		// group of one member, both instances unpromoted, no promotion
		// score: the location rules for the Promoted role (100 on rh44-1,
		// 50 on rh44-2) promote it on rh44-1. The group "test" stays.
		name: "cts promoted-group",
		config: twoNodes + "[defaults]\nresource-stickiness = \"INFINITY\"\n" +
			primitives("resource_1") + groupTOML("test", []string{"resource_1"}, "") +
			promotableGroupTOML("grp_ms_sf", []string{"promotable_Stateful"}, "ms-sf", "clone-max = 2\nclone-node-max = 1\npromoted-max = 1\npromoted-node-max = 1\n") +
			"[[location]]\nrsc = \"test\"\nscore = 200\nrule = \"#uname eq holly\"\n" +
			"[[location]]\nrsc = \"test\"\nscore = 100\nrule = \"#uname eq benji\"\n" +
			"[[location]]\nrsc = \"ms-sf\"\nrole = \"Promoted\"\nscore = 100\nrule = \"#uname eq holly\"\n" +
			"[[location]]\nrsc = \"ms-sf\"\nrole = \"Promoted\"\nscore = 50\nrule = \"#uname eq benji\"\n",
		state: State{Nodes: both(), Instances: []InstanceState{{Resource: "resource_1", Node: "holly"},
			{Resource: "promotable_Stateful", Instance: 0, Node: "benji"}, {Resource: "promotable_Stateful", Instance: 1, Node: "holly"}}},
		ops:      "promote promotable_Stateful@holly",
		promoted: "promotable_Stateful@holly",
	}, {
		// cts promoted-failed-demote-2 (dl380g5a is holly, dl380g5b
		// benji): the group's instance on dl380g5b failed (its demote
		// failed; stateful-2 is stopped there) and may not run there
		// again (migration-threshold 1): stateful-1 stops there, and the
		// instance on dl380g5a is promoted, once the stop is done, its
		// members in order.
		name: "cts promoted-failed-demote-2",
		config: twoNodes + "[defaults]\nresource-stickiness = \"INFINITY\"\nmigration-threshold = 1\n" +
			promotableGroupTOML("group", []string{"stateful-1", "stateful-2"}, "ms-sf", "clone-max = 2\nclone-node-max = 1\npromoted-max = 1\npromoted-node-max = 1\n") +
			"[[location]]\nrsc = \"ms-sf\"\nrole = \"Promoted\"\nscore = 100\nrule = \"#uname eq holly\"\n" +
			"[[location]]\nrsc = \"ms-sf\"\nrole = \"Promoted\"\nscore = 500\nrule = \"#uname eq benji\"\n",
		state: State{Nodes: both(), Instances: []InstanceState{
			{Resource: "stateful-1", Instance: 0, Node: "benji", Failed: true},
			{Resource: "stateful-1", Instance: 1, Node: "holly"}, {Resource: "stateful-2", Instance: 1, Node: "holly"}},
			Failures: []Failure{{Resource: "stateful-1", Node: "benji", Count: 1, Last: pmNow.Add(-time.Minute)},
				{Resource: "stateful-2", Node: "benji", Count: 1, Last: pmNow.Add(-time.Minute)}}},
		ops:      "promote stateful-1@holly,promote stateful-2@holly,stop stateful-1@benji",
		promoted: "stateful-1@holly stateful-2@holly",
		waits: []edge{{"promote stateful-1@holly", "stop stateful-1@benji"}, {"promote stateful-2@holly", "stop stateful-1@benji"},
			{"promote stateful-2@holly", "promote stateful-1@holly"}},
	}, {
		// cts bug-5059: ms_stateful (interleaved, after the clone
		// c_dummy) runs p_stateful1 unpromoted on gluster01 and gluster02
		// (promotion score 5 on both), p_stateful2 nowhere; gluster03 is
		// in standby, gluster04 offline. p_stateful2 starts on both, and
		// the group's instance on gluster01 is promoted, p_stateful1 then
		// p_stateful2, after the clone's starts. (notify = true left out:
		// Tandem refuses notify on a cloned group; it adds notifications
		// only.)
		name: "cts bug-5059",
		config: nodesTOML("gluster01", "gluster02", "gluster03", "gluster04") +
			promotableGroupTOML("g_stateful", []string{"p_stateful1", "p_stateful2"}, "ms_stateful", "clone-max = 2\nclone-node-max = 1\ninterleave = true\n") +
			"[[resource]]\nid = \"p_dummy1\"\nagent = \"systemd:dummy\"\n[resource.clone]\nid = \"c_dummy\"\nclone-max = 2\nclone-node-max = 1\ninterleave = true\n" +
			"[[order]]\nfirst = \"c_dummy\"\nthen = \"ms_stateful\"\n",
		state: State{Nodes: []NodeState{{"gluster01", Online}, {"gluster02", Online}, {"gluster03", Standby}, {"gluster04", Offline}},
			Instances: []InstanceState{{Resource: "p_dummy1", Instance: 0, Node: "gluster01"}, {Resource: "p_dummy1", Instance: 1, Node: "gluster02"},
				{Resource: "p_stateful1", Instance: 0, Node: "gluster01"}, {Resource: "p_stateful1", Instance: 1, Node: "gluster02"}},
			Promotion: []PromotionScore{{Resource: "p_stateful1", Node: "gluster01", Score: 5}, {Resource: "p_stateful1", Node: "gluster02", Score: 5}}},
		ops:      "promote p_stateful1@gluster01,promote p_stateful2@gluster01,start p_stateful2@gluster01,start p_stateful2@gluster02",
		promoted: "p_stateful1@gluster01 p_stateful2@gluster01",
		waits: []edge{{"promote p_stateful2@gluster01", "start p_stateful2@gluster01"}, {"promote p_stateful2@gluster01", "promote p_stateful1@gluster01"},
			{"promote p_stateful1@gluster01", "start p_stateful2@gluster02"}},
	}, {
		name:   "the members' promotion scores add up: the group is promoted where their sum is highest",
		config: twoNodes + promotableGroupTOML("g", ab, "g-clone", ""),
		state: State{Nodes: both(), Promotion: append(scores("a", map[string]cib.Score{"holly": 5, "benji": 10}),
			scores("b", map[string]cib.Score{"holly": 10})...)},
		ops:      "promote a@holly,promote b@holly,start a@benji,start a@holly,start b@benji,start b@holly",
		promoted: "a@holly b@holly",
		waits: []edge{{"promote b@holly", "promote a@holly"}, {"promote a@holly", "start b@holly"},
			{"promote a@holly", "start b@benji"}, {"promote b@holly", "start b@holly"}},
	}, {
		name:   "no member has a promotion score: nothing is promoted (Pacemaker's -1)",
		config: twoNodes + promotableGroupTOML("g", ab, "g-clone", ""),
		state:  State{Nodes: both()},
		ops:    "start a@benji,start a@holly,start b@benji,start b@holly",
	}, {
		name:   "the promoted node goes standby: demoted in reverse order, then stopped; the other instance is promoted",
		config: twoNodes + promotableGroupTOML("g", ab, "g-clone", ""),
		state: State{Nodes: []NodeState{{"holly", Standby}, {"benji", Online}},
			Instances: []InstanceState{{Resource: "a", Instance: 0, Node: "holly", Role: cib.RolePromoted}, {Resource: "b", Instance: 0, Node: "holly", Role: cib.RolePromoted},
				{Resource: "a", Instance: 1, Node: "benji"}, {Resource: "b", Instance: 1, Node: "benji"}},
			Promotion: scores("a", map[string]cib.Score{"holly": 10, "benji": 5})},
		ops:      "demote a@holly,demote b@holly,promote a@benji,promote b@benji,stop a@holly,stop b@holly",
		promoted: "a@benji b@benji",
		waits: []edge{{"demote a@holly", "demote b@holly"}, {"stop b@holly", "demote a@holly"}, {"stop a@holly", "stop b@holly"},
			{"promote a@benji", "demote a@holly"}, {"promote a@benji", "stop a@holly"}, {"promote b@benji", "promote a@benji"}},
		notWaits: []edge{{"demote b@holly", "demote a@holly"}},
	}, {
		name:   "a member that cannot run on a node keeps the group's instance there unpromoted",
		config: twoNodes + "[defaults]\nmigration-threshold = 1\n" + promotableGroupTOML("g", ab, "g-clone", ""),
		state: State{Nodes: both(),
			Instances: []InstanceState{{Resource: "a", Instance: 0, Node: "holly"}, {Resource: "a", Instance: 1, Node: "benji"}, {Resource: "b", Instance: 0, Node: "benji"}},
			Failures:  []Failure{{Resource: "b", Node: "holly", Count: 1, Last: pmNow.Add(-time.Minute)}},
			Promotion: scores("a", map[string]cib.Score{"holly": 100, "benji": 5})},
		ops:      "promote a@benji,promote b@benji",
		promoted: "a@benji b@benji",
	}, {
		name:   "a failed promoted first member: the group's instance restarts, demoted and promoted again",
		config: twoNodes + promotableGroupTOML("g", ab, "g-clone", ""),
		state: State{Nodes: both(),
			Instances: []InstanceState{{Resource: "a", Instance: 0, Node: "holly", Role: cib.RolePromoted, Failed: true}, {Resource: "b", Instance: 0, Node: "holly", Role: cib.RolePromoted},
				{Resource: "a", Instance: 1, Node: "benji"}, {Resource: "b", Instance: 1, Node: "benji"}},
			Promotion: scores("a", map[string]cib.Score{"holly": 10, "benji": 5})},
		ops:      "demote a@holly,demote b@holly,promote a@holly,promote b@holly,start a@holly,start b@holly,stop a@holly,stop b@holly",
		promoted: "a@holly b@holly",
		waits: []edge{{"demote a@holly", "demote b@holly"}, {"stop b@holly", "demote b@holly"}, {"stop a@holly", "stop b@holly"},
			{"start a@holly", "stop a@holly"}, {"start b@holly", "start a@holly"}, {"promote a@holly", "start b@holly"},
			{"promote b@holly", "promote a@holly"}},
	}, {
		name: "app with the promoted group, started after its promotion; the group is promoted where a location says",
		config: twoNodes + promotableGroupTOML("g", ab, "g-clone", "") + primitives("app") +
			"[[colocation]]\nrsc = \"app\"\nwith = \"g-clone\"\nwith-rsc-role = \"Promoted\"\n" +
			"[[order]]\nfirst = \"g-clone\"\nfirst-action = \"promote\"\nthen = \"app\"\nthen-action = \"start\"\n" +
			"[[location]]\nrsc = \"g-clone\"\nrole = \"Promoted\"\nnode = \"benji\"\nscore = 10\n",
		state:    State{Nodes: both()},
		ops:      "promote a@benji,promote b@benji,start a@benji,start a@holly,start app@benji,start b@benji,start b@holly",
		promoted: "a@benji b@benji",
		waits:    []edge{{"start app@benji", "promote b@benji"}, {"start app@benji", "promote a@benji"}},
	}, {
		name: "the promoted group with an address (Promoted g-clone with vip): promoted where the address runs",
		config: twoNodes + promotableGroupTOML("g", ab, "g-clone", "") + primitives("vip") +
			"[[colocation]]\nrsc = \"g-clone\"\nrsc-role = \"Promoted\"\nwith = \"vip\"\n" +
			"[[location]]\nrsc = \"vip\"\nnode = \"holly\"\nscore = 100\n",
		state:    State{Nodes: both(), Promotion: scores("a", map[string]cib.Score{"holly": 5, "benji": 10})},
		ops:      "promote a@holly,promote b@holly,start a@benji,start a@holly,start b@benji,start b@holly,start vip@holly",
		promoted: "a@holly b@holly",
	}, {
		name: "order start app then promote g-clone: every member's promote waits for app; backup runs with the unpromoted copy",
		config: twoNodes + promotableGroupTOML("g", ab, "g-clone", "") + primitives("app", "backup") +
			"[[order]]\nfirst = \"app\"\nthen = \"g-clone\"\nthen-action = \"promote\"\n" +
			"[[colocation]]\nrsc = \"backup\"\nwith = \"g-clone\"\nwith-rsc-role = \"Unpromoted\"\n",
		state:    State{Nodes: both(), Promotion: scores("b", map[string]cib.Score{"holly": 5, "benji": 10})},
		ops:      "promote a@benji,promote b@benji,start a@benji,start a@holly,start app@benji,start b@benji,start b@holly,start backup@holly",
		promoted: "a@benji b@benji",
		waits:    []edge{{"promote a@benji", "start app@benji"}, {"promote b@benji", "start app@benji"}},
	}, {
		name:   "promoted-max 2 on three nodes",
		config: threeNodes + promotableGroupTOML("g", ab, "g-clone", "promoted-max = 2\n"),
		state: State{Nodes: []NodeState{{"holly", Online}, {"benji", Online}, {"carl", Online}},
			Promotion: scores("b", map[string]cib.Score{"holly": 10, "benji": 5, "carl": 7})},
		ops:      "promote a@carl,promote a@holly,promote b@carl,promote b@holly,start a@benji,start a@carl,start a@holly,start b@benji,start b@carl,start b@holly",
		promoted: "a@carl a@holly b@carl b@holly",
	}} {
		t.Run(c.name, func(t *testing.T) {
			f, err := config.Parse("promotable-group.toml", []byte(c.config))
			if err != nil {
				t.Fatal(err)
			}
			res := schedule(t, f.CIB, c.state)
			if got := strings.Join(ops(res), ","); got != c.ops {
				t.Errorf("actions %q, want %q\n%s", got, c.ops, describe(&res.Transition))
			}
			if got := promoted(res); got != c.promoted {
				t.Errorf("promoted %q, want %q", got, c.promoted)
			}
			for _, e := range c.waits {
				if !waits(t, res, e.a, e.b) {
					t.Errorf("%s does not wait for %s:\n%s", e.a, e.b, describe(&res.Transition))
				}
			}
			for _, e := range c.notWaits {
				if waits(t, res, e.a, e.b) {
					t.Errorf("%s waits for %s:\n%s", e.a, e.b, describe(&res.Transition))
				}
			}
			// Once the transition has run, nothing is left to do, and the
			// roles are those planned.
			next := Apply(f.CIB, c.state, &res.Transition)
			again := schedule(t, f.CIB, next)
			if !again.Transition.Empty() {
				t.Errorf("then %v", ops(again))
			}
			if got := promoted(again); got != c.promoted {
				t.Errorf("promoted once applied %q, want %q", got, c.promoted)
			}
		})
	}
}
