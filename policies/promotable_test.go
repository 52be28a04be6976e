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
