package policies

import (
	"sort"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/policies/cib"
)

// promotableTOML is a promotable clone "db" of primitive "db" with extra
// clone lines.
func promotableTOML(id, extra string) string {
	return "[[resource]]\nid = \"" + id + "\"\nagent = \"systemd:" + id + "\"\n[resource.clone]\nid = \"" + id + "-clone\"\npromotable = true\n" + extra
}

// promoted lists the placement's promoted instances as "rsc@node", sorted.
func promoted(res *Result) string {
	var out []string
	for _, a := range res.Placement {
		if a.Role == cib.RolePromoted {
			out = append(out, a.Resource+"@"+a.Node)
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func scores(rsc string, byNode map[string]cib.Score) []PromotionScore {
	var out []PromotionScore
	for n, s := range byNode {
		out = append(out, PromotionScore{Resource: rsc, Node: n, Score: s})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out
}

// Promotable clones: which instance is promoted, and the promote and
// demote actions with their order. The cts-named cases reproduce
// Pacemaker 2.1.5's regression cases of that name (their .summary), with
// the node names shortened; Tandem has no notify actions and no
// monitor-interval changes, so only starts, stops, promotes and demotes
// are compared.
func TestPromotable(t *testing.T) {
	type edge struct{ a, b string } // a waits for b ("op rsc@node")
	for _, c := range []struct {
		name, config string
		state        State
		ops          string // the transition's actions, sorted
		promoted     string // "rsc@node ..." promoted once it has run
		waits        []edge
		notWaits     []edge
	}{{
		name:     "fresh start: both start, the best score is promoted after every start",
		config:   twoNodes + promotableTOML("db", ""),
		state:    State{Nodes: both(), Promotion: scores("db", map[string]cib.Score{"holly": 10, "benji": 5})},
		ops:      "promote db@holly,start db@benji,start db@holly",
		promoted: "db@holly",
		waits:    []edge{{"promote db@holly", "start db@holly"}, {"promote db@holly", "start db@benji"}},
	}, {
		name:   "no promotion score: nothing is promoted (Pacemaker's -1)",
		config: twoNodes + promotableTOML("db", ""),
		state:  State{Nodes: both()},
		ops:    "start db@benji,start db@holly",
	}, {
		name:     "a location for the Promoted role makes up for a missing score",
		config:   twoNodes + promotableTOML("db", "") + "[[location]]\nrsc = \"db-clone\"\nnode = \"benji\"\nscore = 1\nrole = \"Promoted\"\n",
		state:    State{Nodes: both(), Instances: []InstanceState{{Resource: "db", Instance: 0, Node: "holly"}, {Resource: "db", Instance: 1, Node: "benji"}}},
		ops:      "promote db@benji",
		promoted: "db@benji",
	}, {
		name:   "failover: the promoted node is gone, the other instance is promoted",
		config: twoNodes + promotableTOML("db", ""),
		state: State{Nodes: []NodeState{{"holly", Offline}, {"benji", Online}},
			Instances: []InstanceState{{Resource: "db", Instance: 0, Node: "holly", Role: cib.RolePromoted}, {Resource: "db", Instance: 1, Node: "benji"}},
			Promotion: scores("db", map[string]cib.Score{"holly": 10, "benji": 5})},
		ops:      "promote db@benji",
		promoted: "db@benji",
	}, {
		name:   "the promoted node goes standby: demote before stop, promote the other after the demote",
		config: twoNodes + promotableTOML("db", ""),
		state: State{Nodes: []NodeState{{"holly", Standby}, {"benji", Online}},
			Instances: []InstanceState{{Resource: "db", Instance: 0, Node: "holly", Role: cib.RolePromoted}, {Resource: "db", Instance: 1, Node: "benji"}},
			Promotion: scores("db", map[string]cib.Score{"holly": 10, "benji": 5})},
		ops:      "demote db@holly,promote db@benji,stop db@holly",
		promoted: "db@benji",
		waits:    []edge{{"stop db@holly", "demote db@holly"}, {"promote db@benji", "demote db@holly"}},
	}, {
		name:   "a failed promoted instance: demote, stop, start, promote again",
		config: twoNodes + promotableTOML("db", ""),
		state: State{Nodes: both(),
			Instances: []InstanceState{{Resource: "db", Instance: 0, Node: "holly", Role: cib.RolePromoted, Failed: true}, {Resource: "db", Instance: 1, Node: "benji"}},
			Promotion: scores("db", map[string]cib.Score{"holly": 10, "benji": 5})},
		ops:      "demote db@holly,promote db@holly,start db@holly,stop db@holly",
		promoted: "db@holly",
		waits:    []edge{{"stop db@holly", "demote db@holly"}, {"start db@holly", "stop db@holly"}, {"promote db@holly", "start db@holly"}},
	}, {
		name:   "equal scores: the instance promoted now stays promoted",
		config: twoNodes + promotableTOML("db", ""),
		state: State{Nodes: both(),
			Instances: []InstanceState{{Resource: "db", Instance: 0, Node: "holly"}, {Resource: "db", Instance: 1, Node: "benji", Role: cib.RolePromoted}},
			Promotion: scores("db", map[string]cib.Score{"holly": 5, "benji": 5})},
		ops:      "",
		promoted: "db@benji",
	}, {
		name:   "promoted-max 2 on three nodes",
		config: threeNodes + promotableTOML("db", "promoted-max = 2\n"),
		state: State{Nodes: []NodeState{{"holly", Online}, {"benji", Online}, {"carl", Online}},
			Promotion: scores("db", map[string]cib.Score{"holly": 10, "benji": 5, "carl": 7})},
		ops:      "promote db@carl,promote db@holly,start db@benji,start db@carl,start db@holly",
		promoted: "db@carl db@holly",
	}, {
		name: "order promote db then start app: app starts after the promote, with the promoted instance",
		config: twoNodes + promotableTOML("db", "") + primitives("app") +
			"[[order]]\nfirst = \"db-clone\"\nfirst-action = \"promote\"\nthen = \"app\"\nthen-action = \"start\"\n" +
			"[[colocation]]\nrsc = \"app\"\nwith = \"db-clone\"\nwith-rsc-role = \"Promoted\"\n",
		state:    State{Nodes: both(), Promotion: scores("db", map[string]cib.Score{"holly": 5, "benji": 10})},
		ops:      "promote db@benji,start app@benji,start db@benji,start db@holly",
		promoted: "db@benji",
		waits:    []edge{{"start app@benji", "promote db@benji"}},
	}, {
		name: "order promote db then start app: app does not run when nothing can be promoted",
		config: twoNodes + promotableTOML("db", "") + primitives("app") +
			"[[order]]\nfirst = \"db-clone\"\nfirst-action = \"promote\"\nthen = \"app\"\nthen-action = \"start\"\n",
		state: State{Nodes: both(), Instances: []InstanceState{{Resource: "app", Node: "holly"}}},
		ops:   "start db@benji,start db@holly,stop app@holly",
	}, {
		// cts anti-colocation-promoted: dummy1 -INFINITY with the
		// promoted ms1, and ms1 may not be promoted on sle12sp2-1 (holly
		// here, sle12sp2-2 is benji).
		name: "cts anti-colocation-promoted",
		config: twoNodes + primitives("dummy1") + promotableTOML("state1", "") +
			"[[colocation]]\nrsc = \"dummy1\"\nwith = \"state1-clone\"\nwith-rsc-role = \"Promoted\"\nscore = \"-INFINITY\"\n" +
			"[[location]]\nrsc = \"state1-clone\"\nnode = \"holly\"\nrole = \"Promoted\"\nscore = \"-INFINITY\"\n",
		state: State{Nodes: both(), Instances: []InstanceState{{Resource: "dummy1", Node: "benji"},
			{Resource: "state1", Instance: 0, Node: "benji"}, {Resource: "state1", Instance: 1, Node: "holly", Role: cib.RolePromoted}},
			Promotion: scores("state1", map[string]cib.Score{"holly": 10, "benji": 5})},
		ops:      "demote state1@holly,promote state1@benji,start dummy1@holly,stop dummy1@benji",
		promoted: "state1@benji",
		waits:    []edge{{"promote state1@benji", "demote state1@holly"}},
	}, {
		// cts colo_promoted_w_native: the promoted MS_RSC INFINITY with A
		// (on node1 = holly); promoted now on node2 = benji.
		name: "cts colo_promoted_w_native",
		config: twoNodes + primitives("A") + promotableTOML("MS_RSC_NATIVE", "") +
			"[[colocation]]\nrsc = \"MS_RSC_NATIVE-clone\"\nrsc-role = \"Promoted\"\nwith = \"A\"\n",
		state: State{Nodes: both(), Instances: []InstanceState{{Resource: "A", Node: "holly"},
			{Resource: "MS_RSC_NATIVE", Instance: 0, Node: "benji", Role: cib.RolePromoted}, {Resource: "MS_RSC_NATIVE", Instance: 1, Node: "holly"}},
			Promotion: scores("MS_RSC_NATIVE", map[string]cib.Score{"benji": 10, "holly": 5})},
		ops:      "demote MS_RSC_NATIVE@benji,promote MS_RSC_NATIVE@holly",
		promoted: "MS_RSC_NATIVE@holly",
		waits:    []edge{{"promote MS_RSC_NATIVE@holly", "demote MS_RSC_NATIVE@benji"}},
	}, {
		// cts promoted-promotion-constraint: group g0 is disabled; ms0 is
		// promoted only after and with g0: demote it.
		name: "cts promoted-promotion-constraint",
		config: twoNodes + primitives("d0", "d1") + groupTOML("g0", []string{"d0", "d1"}, "meta = { target-role = \"Stopped\" }\n") +
			promotableTOML("s0", "") +
			"[[order]]\nfirst = \"g0\"\nthen = \"s0-clone\"\nthen-action = \"promote\"\n" +
			"[[colocation]]\nrsc = \"s0-clone\"\nrsc-role = \"Promoted\"\nwith = \"g0\"\n",
		state: State{Nodes: both(), Instances: []InstanceState{
			{Resource: "s0", Instance: 0, Node: "holly"}, {Resource: "s0", Instance: 1, Node: "benji", Role: cib.RolePromoted}},
			Promotion: scores("s0", map[string]cib.Score{"benji": 10, "holly": 5})},
		ops: "demote s0@benji",
	}, {
		// cts anti-colocation-unpromoted: dummy1 -INFINITY with the
		// unpromoted ms1, which may not be promoted on sle12sp2-1 (holly;
		// sle12sp2-2 is benji): the role moves, and dummy1 with it.
		name: "cts anti-colocation-unpromoted",
		config: twoNodes + promotableTOML("state1", "") + primitives("dummy1") +
			"[[colocation]]\nrsc = \"dummy1\"\nrsc-role = \"Started\"\nwith = \"state1-clone\"\nwith-rsc-role = \"Unpromoted\"\nscore = \"-INFINITY\"\n" +
			"[[location]]\nrsc = \"state1-clone\"\nnode = \"holly\"\nrole = \"Promoted\"\nscore = \"-INFINITY\"\n",
		state: State{Nodes: both(), Instances: []InstanceState{{Resource: "dummy1", Node: "holly"},
			{Resource: "state1", Instance: 0, Node: "holly", Role: cib.RolePromoted}, {Resource: "state1", Instance: 1, Node: "benji"}},
			Promotion: scores("state1", map[string]cib.Score{"holly": 10, "benji": 5})},
		ops:      "demote state1@holly,promote state1@benji,start dummy1@benji,stop dummy1@holly",
		promoted: "state1@benji",
		waits:    []edge{{"promote state1@benji", "demote state1@holly"}},
	}, {
		// cts colo_unpromoted_w_native: the unpromoted MS_RSC INFINITY
		// with A, which moves to node2 (benji; node1 is holly): the role
		// is taken off node2, and MS_RSC is promoted on node1 though its
		// score is lower there; both instances keep running.
		name: "cts colo_unpromoted_w_native",
		config: twoNodes + primitives("A") + promotableTOML("MS_RSC_NATIVE", "") +
			"[[location]]\nrsc = \"A\"\nnode = \"benji\"\nscore = 5000\n" +
			"[[colocation]]\nrsc = \"MS_RSC_NATIVE-clone\"\nrsc-role = \"Unpromoted\"\nwith = \"A\"\n",
		state: State{Nodes: both(), Instances: []InstanceState{{Resource: "A", Node: "holly"},
			{Resource: "MS_RSC_NATIVE", Instance: 0, Node: "benji", Role: cib.RolePromoted}, {Resource: "MS_RSC_NATIVE", Instance: 1, Node: "holly"}},
			Promotion: scores("MS_RSC_NATIVE", map[string]cib.Score{"benji": 10, "holly": 5})},
		ops:      "demote MS_RSC_NATIVE@benji,promote MS_RSC_NATIVE@holly,start A@benji,stop A@holly",
		promoted: "MS_RSC_NATIVE@holly",
		waits:    []edge{{"promote MS_RSC_NATIVE@holly", "demote MS_RSC_NATIVE@benji"}},
	}, {
		// cts clbz5007-promotable-colocation: PROMOTED_IP INFINITY with
		// the promoted MS_DUMMY; UNPROMOTED_IP 101 with the promoted and
		// 1000 with the unpromoted instance: the two addresses swap
		// (fc16-builder is holly, fc16-builder2 benji).
		name: "cts clbz5007-promotable-colocation",
		config: twoNodes + promotableTOML("DUMMY", "") + primitives("UNPROMOTED_IP", "PROMOTED_IP") +
			"[[colocation]]\nrsc = \"PROMOTED_IP\"\nwith = \"DUMMY-clone\"\nwith-rsc-role = \"Promoted\"\n" +
			"[[colocation]]\nrsc = \"UNPROMOTED_IP\"\nwith = \"DUMMY-clone\"\nwith-rsc-role = \"Promoted\"\nscore = 101\n" +
			"[[colocation]]\nrsc = \"UNPROMOTED_IP\"\nwith = \"DUMMY-clone\"\nwith-rsc-role = \"Unpromoted\"\nscore = 1000\n",
		state: State{Nodes: both(), Instances: []InstanceState{{Resource: "UNPROMOTED_IP", Node: "holly"}, {Resource: "PROMOTED_IP", Node: "benji"},
			{Resource: "DUMMY", Instance: 0, Node: "holly", Role: cib.RolePromoted}, {Resource: "DUMMY", Instance: 1, Node: "benji"}},
			Promotion: scores("DUMMY", map[string]cib.Score{"holly": 10, "benji": 5})},
		ops:      "start PROMOTED_IP@holly,start UNPROMOTED_IP@benji,stop PROMOTED_IP@benji,stop UNPROMOTED_IP@holly",
		promoted: "DUMMY@holly",
	}, {
		// cts coloc-unpromoted-anti: group-1 INFINITY with the promoted
		// drbd-msr and -INFINITY with the unpromoted one; the Promoted
		// role prefers pollux (50, and its pingd attribute 300): the
		// group starts there, the roles stay (the fencing devices left
		// out).
		name: "cts coloc-unpromoted-anti",
		config: "[cluster]\nname = \"pm\"\n[[node]]\nname = \"pollux\"\naddress = \"198.18.0.22\"\nattributes = { pingd-1-node-attribute = \"300\" }\n" +
			"[[node]]\nname = \"sirius\"\naddress = \"198.18.0.24\"\n[witness]\nname = \"w\"\naddress = \"198.18.0.30\"\n" +
			"[defaults]\nresource-stickiness = 200\n" +
			primitives("pingd-1") + "[resource.clone]\nid = \"pingd-clone\"\n" +
			"[[resource]]\nid = \"drbd-r0\"\nagent = \"systemd:drbd\"\n[resource.clone]\nid = \"drbd-msr\"\npromotable = true\nclone-max = 2\nclone-node-max = 1\npromoted-max = 1\npromoted-node-max = 1\n" +
			primitives("fs-1", "ip-198", "apache") + groupTOML("group-1", []string{"fs-1", "ip-198", "apache"}, "") +
			"[[location]]\nrsc = \"drbd-msr\"\nrole = \"Promoted\"\nscore = 50\nrule = \"#uname eq pollux\"\n" +
			"[[location]]\nrsc = \"drbd-msr\"\nrole = \"Promoted\"\nscore-attribute = \"pingd-1-node-attribute\"\nrule = \"defined pingd-1-node-attribute\"\n" +
			"[[colocation]]\nrsc = \"group-1\"\nwith = \"drbd-msr\"\nwith-rsc-role = \"Promoted\"\n" +
			"[[colocation]]\nrsc = \"group-1\"\nwith = \"drbd-msr\"\nwith-rsc-role = \"Unpromoted\"\nscore = \"-INFINITY\"\n" +
			"[[order]]\nfirst = \"drbd-msr\"\nfirst-action = \"promote\"\nthen = \"group-1\"\nthen-action = \"start\"\n",
		state: State{Nodes: []NodeState{{"pollux", Online}, {"sirius", Online}}, Instances: []InstanceState{
			{Resource: "pingd-1", Instance: 0, Node: "sirius"}, {Resource: "pingd-1", Instance: 1, Node: "pollux"},
			{Resource: "drbd-r0", Instance: 0, Node: "sirius"}, {Resource: "drbd-r0", Instance: 1, Node: "pollux", Role: cib.RolePromoted}},
			Promotion: scores("drbd-r0", map[string]cib.Score{"pollux": 75, "sirius": 75})},
		ops:      "start apache@pollux,start fs-1@pollux,start ip-198@pollux",
		promoted: "drbd-r0@pollux",
	}, {
		// cts rsc-sets-promoted: rsc1-3 (a set, sequential=false)
		// INFINITY with the set of ms-rsc in role Promoted, and started
		// after the promote of ms-rsc (an order's set with
		// action=promote); node1 (holly) goes standby: everything moves
		// to node2 (benji), promoted there (location rule for the
		// Promoted role, 300; no promotion score).
		name: "cts rsc-sets-promoted",
		config: twoNodes + promotableTOML("rsc", "") + primitives("rsc1", "rsc2", "rsc3") +
			"[[colocation]]\n[[colocation.set]]\nresources = [\"rsc1\", \"rsc2\", \"rsc3\"]\nsequential = false\n[[colocation.set]]\nresources = [\"rsc-clone\"]\nrole = \"Promoted\"\n" +
			"[[location]]\nrsc = \"rsc-clone\"\nrole = \"Promoted\"\nscore = 500\nrule = \"#uname eq holly\"\n" +
			"[[location]]\nrsc = \"rsc-clone\"\nrole = \"Promoted\"\nscore = 300\nrule = \"#uname eq benji\"\n" +
			"[[order]]\n[[order.set]]\nresources = [\"rsc-clone\"]\naction = \"promote\"\n[[order.set]]\nresources = [\"rsc1\", \"rsc2\", \"rsc3\"]\nsequential = false\n",
		state: State{Nodes: []NodeState{{"holly", Standby}, {"benji", Online}}, Instances: []InstanceState{
			{Resource: "rsc", Instance: 0, Node: "holly", Role: cib.RolePromoted}, {Resource: "rsc", Instance: 1, Node: "benji"},
			{Resource: "rsc1", Node: "holly"}, {Resource: "rsc2", Node: "holly"}, {Resource: "rsc3", Node: "holly"}}},
		ops: "demote rsc@holly,promote rsc@benji,start rsc1@benji,start rsc2@benji,start rsc3@benji," +
			"stop rsc1@holly,stop rsc2@holly,stop rsc3@holly,stop rsc@holly",
		promoted: "rsc@benji",
		waits: []edge{{"promote rsc@benji", "demote rsc@holly"}, {"stop rsc@holly", "demote rsc@holly"},
			{"start rsc1@benji", "promote rsc@benji"}, {"start rsc3@benji", "promote rsc@benji"},
			{"demote rsc@holly", "stop rsc2@holly"}},
	}, {
		name: "a location for the Unpromoted role applies to every role (as in Pacemaker)",
		config: twoNodes + promotableTOML("db", "") +
			"[[location]]\nrsc = \"db-clone\"\nnode = \"benji\"\nrole = \"Unpromoted\"\nscore = \"-INFINITY\"\n",
		state:    State{Nodes: both(), Promotion: scores("db", map[string]cib.Score{"holly": 5, "benji": 10})},
		ops:      "promote db@holly,start db@holly",
		promoted: "db@holly",
	}, {
		name: "a location rule for the Unpromoted role applies to every role",
		config: twoNodes + promotableTOML("db", "") +
			"[[location]]\nrsc = \"db-clone\"\nrule = \"#uname eq benji\"\nrole = \"Unpromoted\"\nscore = \"-INFINITY\"\n",
		state:    State{Nodes: both(), Promotion: scores("db", map[string]cib.Score{"holly": 5, "benji": 10})},
		ops:      "promote db@holly,start db@holly",
		promoted: "db@holly",
	}, {
		name: "colocation set with role Unpromoted: backup runs with the unpromoted instance",
		config: twoNodes + promotableTOML("db", "") + primitives("backup") +
			"[[colocation]]\n[[colocation.set]]\nresources = [\"backup\"]\n[[colocation.set]]\nresources = [\"db-clone\"]\nrole = \"Unpromoted\"\n",
		state:    State{Nodes: both(), Promotion: scores("db", map[string]cib.Score{"holly": 5, "benji": 10})},
		ops:      "promote db@benji,start backup@holly,start db@benji,start db@holly",
		promoted: "db@benji",
	}, {
		name: "a -INFINITY colocation rsc-role Unpromoted promotes the instance where the primary is",
		config: twoNodes + promotableTOML("db", "") + primitives("app") +
			"[[location]]\nrsc = \"app\"\nnode = \"holly\"\nscore = 100\n" +
			"[[colocation]]\nrsc = \"db-clone\"\nrsc-role = \"Unpromoted\"\nwith = \"app\"\nscore = \"-INFINITY\"\n",
		state:    State{Nodes: both(), Promotion: scores("db", map[string]cib.Score{"holly": 5, "benji": 10})},
		ops:      "promote db@holly,start app@holly,start db@benji,start db@holly",
		promoted: "db@holly",
	}, {
		// order demote db then start app: app's new start waits for the
		// demote of the old promoted instance, and (symmetrical) the
		// promote waits for app's stop.
		name: "order demote db then start app, on failover of the promoted role",
		config: twoNodes + promotableTOML("db", "") + primitives("app") +
			"[[colocation]]\nrsc = \"app\"\nwith = \"db-clone\"\nwith-rsc-role = \"Promoted\"\n" +
			"[[order]]\nfirst = \"db-clone\"\nfirst-action = \"demote\"\nthen = \"app\"\nthen-action = \"start\"\n",
		state: State{Nodes: []NodeState{{"holly", Standby}, {"benji", Online}}, Instances: []InstanceState{{Resource: "app", Node: "holly"},
			{Resource: "db", Instance: 0, Node: "holly", Role: cib.RolePromoted}, {Resource: "db", Instance: 1, Node: "benji"}},
			Promotion: scores("db", map[string]cib.Score{"holly": 10, "benji": 5})},
		ops:      "demote db@holly,promote db@benji,start app@benji,stop app@holly,stop db@holly",
		promoted: "db@benji",
		waits:    []edge{{"start app@benji", "demote db@holly"}, {"promote db@benji", "stop app@holly"}},
	}} {
		t.Run(c.name, func(t *testing.T) {
			f, err := config.Parse("promotable.toml", []byte(c.config))
			if err != nil {
				t.Fatal(err)
			}
			res := schedule(t, f.CIB, c.state)
			if testing.Verbose() {
				t.Logf("notes %v", res.Notes)
			}
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
