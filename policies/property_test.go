package policies

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/policies/cib"
	"pgregory.net/rapid"
)

// genCluster draws a random cluster: up to 5 nodes in any status, up to 8
// primitives and clones with random meta attributes, random colocations,
// locations and orders (orders without cycles, as config validation
// demands, and without "start then stop" orders, whose reverse can meet a
// restart and make a cycle), and a random current state with failures.
func genCluster(t *rapid.T) (*cib.CIB, State) {
	cfg := &cib.CIB{}
	nn := rapid.IntRange(1, 5).Draw(t, "nodes")
	statuses := []NodeStatus{Online, Online, Online, Offline, Standby, Maintenance}
	var st State
	for i := 0; i < nn; i++ {
		name := fmt.Sprintf("n%d", i)
		n := cib.Node{Name: name}
		n.Standby = rapid.IntRange(0, 9).Draw(t, "cfgStandby") == 0
		n.Maintenance = rapid.IntRange(0, 14).Draw(t, "cfgMaint") == 0
		cfg.Nodes = append(cfg.Nodes, n)
		if s := rapid.SampledFrom(statuses).Draw(t, "status"); s != Offline || rapid.Bool().Draw(t, "listOffline") {
			st.Nodes = append(st.Nodes, NodeState{Name: name, Status: s})
		}
	}
	opt := func(label string, vals ...int) *int {
		i := rapid.IntRange(0, len(vals)).Draw(t, label)
		if i == len(vals) {
			return nil
		}
		v := vals[i]
		return &v
	}
	if rapid.Bool().Draw(t, "defaults") {
		cfg.Defaults.Stickiness = opt("defStick", 0, 100)
		cfg.Defaults.MigrationThreshold = opt("defThreshold", 1, 3)
	}
	nr := rapid.IntRange(1, 8).Draw(t, "resources")
	var ids []string // constraint-facing ids
	for i := 0; i < nr; i++ {
		r := cib.Resource{ID: fmt.Sprintf("r%d", i), Agent: "systemd:x"}
		r.Meta.Stickiness = opt("stick", 0, 1, 50, 100, int(cib.Infinity))
		r.Meta.MigrationThreshold = opt("threshold", 1, 2, 3)
		if rapid.Bool().Draw(t, "hasTimeout") {
			ft := time.Duration(rapid.IntRange(10, 120).Draw(t, "timeout")) * time.Second
			r.Meta.FailureTimeout = &ft
		}
		if rapid.IntRange(0, 9).Draw(t, "stopped") == 0 {
			r.Meta.TargetRole = cib.RoleStopped
		}
		r.Meta.Priority = opt("priority", 0, 10)
		id := r.ID
		if rapid.IntRange(0, 2).Draw(t, "cloned") == 0 {
			r.Clone = &cib.Clone{ID: r.ID + "-clone", Max: rapid.IntRange(0, nn+1).Draw(t, "cloneMax"),
				NodeMax: rapid.IntRange(0, 2).Draw(t, "nodeMax"), Interleave: rapid.Bool().Draw(t, "interleave")}
			id = r.Clone.ID
		}
		cfg.Resources = append(cfg.Resources, r)
		ids = append(ids, id)
	}
	scores := []cib.Score{cib.Infinity, cib.Infinity, -cib.Infinity, 50, -50, 200, 1}
	for i, n := 0, rapid.IntRange(0, 6).Draw(t, "colocations"); i < n; i++ {
		a, b := rapid.SampledFrom(ids).Draw(t, "rsc"), rapid.SampledFrom(ids).Draw(t, "with")
		if a == b {
			continue
		}
		cfg.Colocations = append(cfg.Colocations, cib.Colocation{ID: fmt.Sprintf("col%d", i), Rsc: a, With: b,
			Score: rapid.SampledFrom(scores).Draw(t, "colScore")})
	}
	for i, n := 0, rapid.IntRange(0, 6).Draw(t, "locations"); i < n; i++ {
		cfg.Locations = append(cfg.Locations, cib.Location{ID: fmt.Sprintf("loc%d", i), Rsc: rapid.SampledFrom(ids).Draw(t, "locRsc"),
			Node: rapid.SampledFrom(cfg.Nodes).Draw(t, "locNode").Name, Score: rapid.SampledFrom(scores).Draw(t, "locScore")})
	}
	kinds := []cib.OrderKind{cib.Mandatory, cib.Mandatory, cib.Optional, cib.Serialize}
	actions := [][2]cib.Action{{cib.ActionStart, cib.ActionStart}, {cib.ActionStart, cib.ActionStart},
		{cib.ActionStop, cib.ActionStop}, {cib.ActionStop, cib.ActionStart}}
	for i, n := 0, rapid.IntRange(0, 6).Draw(t, "orders"); i < n; i++ {
		a, b := rapid.SampledFrom(ids).Draw(t, "first"), rapid.SampledFrom(ids).Draw(t, "then")
		if a == b {
			continue
		}
		act := rapid.SampledFrom(actions).Draw(t, "actions")
		kind := rapid.SampledFrom(kinds).Draw(t, "kind")
		o := cib.Order{ID: fmt.Sprintf("ord%d", i), First: a, Then: b, FirstAction: act[0], ThenAction: act[1], Kind: kind,
			Symmetrical: kind != cib.Serialize && rapid.IntRange(0, 3).Draw(t, "asym") != 0}
		cfg.Orders = append(cfg.Orders, o)
		if len(cfg.OrderCycles()) > 0 {
			cfg.Orders = cfg.Orders[:len(cfg.Orders)-1]
		}
	}
	for _, r := range cfg.Resources {
		for _, n := range cfg.Nodes {
			if rapid.IntRange(0, 2).Draw(t, "active") == 0 {
				st.Instances = append(st.Instances, InstanceState{Resource: r.ID, Node: n.Name,
					Instance: rapid.IntRange(0, 3).Draw(t, "inst"), Failed: rapid.IntRange(0, 4).Draw(t, "failed") == 0,
					Blocked: rapid.IntRange(0, 7).Draw(t, "blocked") == 0})
				if r.Clone == nil && rapid.Bool().Draw(t, "single") {
					break // mostly one node for a primitive; sometimes multiply active
				}
			}
			if rapid.IntRange(0, 3).Draw(t, "hasFailures") == 0 {
				st.Failures = append(st.Failures, Failure{Resource: r.ID, Node: n.Name,
					Count: rapid.SampledFrom([]int{1, 2, 3, int(cib.Infinity)}).Draw(t, "count"),
					Last:  pmNow.Add(-time.Duration(rapid.IntRange(0, 200).Draw(t, "age")) * time.Second)})
			}
		}
	}
	return cfg, st
}

// TestMain raises rapid's default of 100 random clusters to 1,000 (well
// under a second here) unless -rapid.checks is given.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.checks" })
	if !set {
		if err := flag.Set("rapid.checks", "1000"); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}

func TestProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg, st := genCluster(t)
		res, err := Schedule(Input{CIB: cfg, State: st, Now: pmNow})
		if err != nil {
			t.Fatalf("schedule: %v", err)
		}
		s, err := newScheduler(Input{CIB: cfg, State: st, Now: pmNow})
		if err != nil {
			t.Fatal(err)
		}
		checkDAG(t, res)
		checkNodes(t, s, res)
		checkBlocked(t, s, res)
		checkColocations(t, s, res)
		checkMandatoryOrders(t, s, res)
		checkDeterminism(t, cfg, st, res)
		checkConvergence(t, cfg, st, res)
	})
}

// checkDAG: the transition is acyclic and listed in topological order, and
// survives its JSON form.
func checkDAG(t *rapid.T, res *Result) {
	if err := res.Transition.Validate(); err != nil {
		t.Fatalf("transition: %v", err)
	}
	data, err := json.Marshal(res.Transition)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeTransition(data)
	if err != nil {
		t.Fatalf("decoding our own transition: %v", err)
	}
	again, _ := json.Marshal(back)
	if !bytes.Equal(data, again) {
		t.Fatalf("JSON round trip changed the transition:\n%s\n%s", data, again)
	}
}

// fixedHere says whether an instance of u on node n was left alone there:
// the node is in maintenance, or an instance is blocked there (its stop
// failed).
func fixedHere(s *scheduler, u *unit, n int) bool {
	if s.nodes[n].status == Maintenance {
		return true
	}
	for _, c := range u.cur {
		if !c.managed && c.node == n {
			return true
		}
	}
	return false
}

// checkBlocked: nothing is done to a blocked instance (a clone may still
// get another instance on the node), and a blocked primitive is started
// nowhere else (it may still run where it is).
func checkBlocked(t *rapid.T, s *scheduler, res *Result) {
	for _, u := range s.units {
		for _, c := range u.cur {
			if c.managed || s.nodes[c.node].status == Maintenance {
				continue
			}
			for _, a := range res.Transition.Actions {
				if a.Resource != u.r.ID {
					continue
				}
				if a.Node == s.nodes[c.node].name && a.Instance == c.inst {
					t.Fatalf("%s acts on %s#%d, blocked on %s", a.ID, a.Resource, c.inst, a.Node)
				}
				if u.clone == "" && a.Op == OpStart {
					t.Fatalf("%s starts %s elsewhere while it is blocked on %s", a.ID, a.Resource, s.nodes[c.node].name)
				}
			}
		}
	}
	for _, o := range s.orphans {
		for _, a := range res.Transition.Actions {
			if o.Blocked && a.Resource == o.Resource && a.Node == o.Node {
				t.Fatalf("%s acts on the orphan %s, blocked on %s", a.ID, o.Resource, o.Node)
			}
		}
	}
}

// checkNodes: nothing is placed on (or acted on) an offline, standby or
// maintenance node or a node banned by failures or a -INFINITY location,
// except what is left alone on a node in maintenance.
func checkNodes(t *rapid.T, s *scheduler, res *Result) {
	for _, a := range res.Placement {
		u := s.byID[a.Resource]
		n := s.nodeIdx[a.Node]
		if s.nodes[n].status == Maintenance {
			found := false
			for _, c := range u.cur {
				found = found || (c.node == n && c.inst == a.Instance)
			}
			if !found {
				t.Fatalf("%s placed on %s, which is in maintenance, and it was not running there", a.Name(), a.Node)
			}
			continue
		}
		if u.unmanaged(assigned{inst: a.Instance, node: n}) {
			continue // blocked there
		}
		if !s.nodes[n].avail {
			t.Fatalf("%s placed on %s, which is %s", a.Name(), a.Node, s.nodes[n].status)
		}
		if u.base[n] <= negInf {
			t.Fatalf("%s placed on %s where it is banned (%v)", a.Name(), a.Node, u.baseWhy[n])
		}
		if u.stopped {
			t.Fatalf("%s placed although target-role is Stopped", a.Name())
		}
	}
	for _, a := range res.Transition.Actions {
		if st := s.nodes[s.nodeIdx[a.Node]].status; st == Offline || st == Maintenance {
			t.Fatalf("action %s on a node that is %s", a.ID, st)
		}
	}
}

// checkColocations: INFINITY colocations hold (the dependent only where
// the primary is) and -INFINITY ones too, for everything not left alone.
func checkColocations(t *rapid.T, s *scheduler, res *Result) {
	on := map[string]map[string]bool{} // unit id -> nodes
	for _, a := range res.Placement {
		id := s.byID[a.Resource].id
		if on[id] == nil {
			on[id] = map[string]bool{}
		}
		on[id][a.Node] = true
	}
	for _, c := range s.cfg.Colocations {
		if c.Score > negInf && c.Score < inf {
			continue
		}
		for node := range on[c.Rsc] {
			if fixedHere(s, s.byID[c.Rsc], s.nodeIdx[node]) {
				continue
			}
			if c.Score >= inf && !on[c.With][node] {
				t.Fatalf("%s runs on %s without %s (colocation %s INFINITY)", c.Rsc, node, c.With, c.ID)
			}
			if c.Score <= negInf && on[c.With][node] {
				t.Fatalf("%s runs on %s with %s (colocation %s -INFINITY)", c.Rsc, node, c.With, c.ID)
			}
		}
	}
}

// checkMandatoryOrders: no Mandatory order is inverted (every then-action
// waits for the matching first-actions in the same transition, and stops
// in reverse when symmetrical), and "then" does not run where "first"
// cannot (start/start orders).
func checkMandatoryOrders(t *rapid.T, s *scheduler, res *Result) {
	closure := tandemClosure(&res.Transition)
	unitOf := func(a Action) string { return s.byID[a.Resource].id }
	placed := map[string]bool{}
	for _, a := range res.Placement {
		placed[s.byID[a.Resource].id] = true
	}
	for _, o := range s.cfg.Orders {
		if o.Kind != cib.Mandatory {
			continue
		}
		fop, _ := opOf(o.FirstAction)
		top, _ := opOf(o.ThenAction)
		interleave := false
		if r, isClone := s.cfg.Resource(o.Then); isClone {
			_, firstClone := s.cfg.Resource(o.First)
			interleave = firstClone && r.Clone.Interleave
		}
		check := func(firstID string, firstOp Op, thenID string, thenOp Op) {
			for _, b := range res.Transition.Actions {
				if unitOf(b) != thenID || b.Op != thenOp {
					continue
				}
				for _, a := range res.Transition.Actions {
					if unitOf(a) != firstID || a.Op != firstOp || (interleave && a.Node != b.Node) {
						continue
					}
					if !closure[b.ID][a.ID] {
						t.Fatalf("order %s inverted: %s does not wait for %s", o.ID, b.ID, a.ID)
					}
				}
			}
		}
		check(o.First, fop, o.Then, top)
		if o.Symmetrical {
			check(o.Then, reverse(top), o.First, reverse(fop))
		}
		if o.FirstAction == cib.ActionStart && o.ThenAction == cib.ActionStart && !placed[o.First] {
			for _, a := range res.Placement {
				if u := s.byID[a.Resource]; u.id == o.Then && !fixedHere(s, u, s.nodeIdx[a.Node]) {
					t.Fatalf("order %s: %s placed on %s although %s runs nowhere", o.ID, a.Name(), a.Node, o.First)
				}
			}
		}
	}
}

// checkDeterminism: the same input, even with the state's lists in
// another order, gives byte-identical JSON.
func checkDeterminism(t *rapid.T, cfg *cib.CIB, st State, res *Result) {
	want, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	shuffled := State{
		Nodes:     rapid.Permutation(st.Nodes).Draw(t, "nodesOrder"),
		Instances: rapid.Permutation(st.Instances).Draw(t, "instancesOrder"),
		Failures:  rapid.Permutation(st.Failures).Draw(t, "failuresOrder"),
	}
	for _, in := range []State{st, shuffled} {
		again, err := Schedule(Input{CIB: cfg, State: in, Now: pmNow})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(again)
		if !bytes.Equal(want, got) {
			t.Fatalf("not deterministic:\n%s\n%s", want, got)
		}
	}
}

// checkConvergence: once the transition has run, there is nothing left to
// do.
func checkConvergence(t *rapid.T, cfg *cib.CIB, st State, res *Result) {
	next := Apply(cfg, st, &res.Transition)
	again, err := Schedule(Input{CIB: cfg, State: next, Now: pmNow})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Transition.Empty() {
		t.Fatalf("not converged: after %s\nthen %s\n%s", describe(&res.Transition), describe(&again.Transition), dump(cfg, st))
	}
}

// dump shows a failing input in a form that can be pasted into a test.
func dump(cfg *cib.CIB, st State) string {
	model, _ := json.MarshalIndent(cfg, "", "  ")
	js, _ := json.MarshalIndent(st, "", "  ")
	return string(model) + "\n" + string(js)
}
