package policies

import (
	"fmt"
	"testing"

	"github.com/tandem-ha/tandem/policies/cib"
	"pgregory.net/rapid"
)

// addUtilization gives a random cluster a placement strategy other than
// default, node capacities and resource utilization (drawn after the
// cluster, so that the clusters TestProperties checks stay the same).
func addUtilization(t *rapid.T, cfg *cib.CIB) {
	cfg.Properties.PlacementStrategy = rapid.SampledFrom([]string{cib.PlacementUtilization, cib.PlacementBalanced, cib.PlacementMinimal}).Draw(t, "strategy")
	for i := range cfg.Nodes {
		for _, attr := range []string{"cpu", "memory"} {
			if rapid.IntRange(0, 4).Draw(t, "hasCapacity") != 0 {
				if cfg.Nodes[i].Utilization == nil {
					cfg.Nodes[i].Utilization = map[string]int{}
				}
				cfg.Nodes[i].Utilization[attr] = rapid.IntRange(0, 6).Draw(t, "capacity")
			}
		}
	}
	for i := range cfg.Resources {
		for _, attr := range []string{"cpu", "memory"} {
			if rapid.IntRange(0, 2).Draw(t, "hasUtilization") != 0 {
				if cfg.Resources[i].Utilization == nil {
					cfg.Resources[i].Utilization = map[string]int{}
				}
				cfg.Resources[i].Utilization[attr] = rapid.IntRange(0, 3).Draw(t, "utilization")
			}
		}
	}
}

// With a placement strategy other than default, no node runs more than its
// capacity once the transition has run (except a node where an instance
// is left alone, blocked or unmanaged, which counts whatever it uses);
// and the plans are still acyclic, deterministic and settle (planning
// again after the transition finds nothing to do).
func TestUtilizationProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg, st := genCluster(t)
		addUtilization(t, cfg)
		res, err := Schedule(Input{CIB: cfg, State: st, Now: pmNow})
		if err != nil {
			t.Fatalf("schedule: %v", err)
		}
		checkDAG(t, res)
		checkDeterminism(t, cfg, st, res)
		checkCapacity(t, cfg, st, res)
		checkConvergence(t, cfg, st, res)
	})
}

func checkCapacity(t *rapid.T, cfg *cib.CIB, st State, res *Result) {
	leftAlone := map[string]bool{}
	for _, in := range st.Instances {
		if in.Blocked {
			leftAlone[in.Node] = true
		}
	}
	statuses := map[string]NodeStatus{}
	for _, n := range NodeStatuses(cfg, st) {
		statuses[n.Name] = n.Status
	}
	next := Apply(cfg, st, &res.Transition)
	used := map[string]map[string]int{}
	for _, in := range next.Instances {
		r, _ := cfg.Resource(in.Resource)
		if r == nil {
			continue
		}
		if used[in.Node] == nil {
			used[in.Node] = map[string]int{}
		}
		for k, v := range r.Utilization {
			used[in.Node][k] += v
		}
	}
	for _, n := range cfg.Nodes {
		if leftAlone[n.Name] || statuses[n.Name] != Online {
			continue
		}
		for k, v := range used[n.Name] {
			if v > n.Utilization[k] {
				t.Fatalf("%s uses %s=%d of %d (%s)\nafter %s\n%s", n.Name, k, v, n.Utilization[k], cfg.Properties.PlacementStrategy,
					describe(&res.Transition), dump(cfg, st))
			}
		}
	}
}

// A benchmark-sized check that the strategies differ as Pacemaker's do:
// four equal nodes and eight equal resources; minimal fills the first
// nodes, balanced and utilization spread them.
func TestPlacementStrategiesSpread(t *testing.T) {
	for _, tc := range []struct {
		strategy string
		want     string // resources per node, in node order
	}{
		{cib.PlacementMinimal, "[4 4 0 0]"},
		{cib.PlacementBalanced, "[2 2 2 2]"},
		{cib.PlacementUtilization, "[2 2 2 2]"},
		{cib.PlacementDefault, "[2 2 2 2]"},
	} {
		cfg := &cib.CIB{Properties: cib.Properties{PlacementStrategy: tc.strategy}}
		var st State
		for i := range 4 {
			name := fmt.Sprintf("n%d", i)
			cfg.Nodes = append(cfg.Nodes, cib.Node{Name: name, Utilization: map[string]int{"cpu": 4}})
			st.Nodes = append(st.Nodes, NodeState{Name: name, Status: Online})
		}
		for i := range 8 {
			cfg.Resources = append(cfg.Resources, cib.Resource{ID: fmt.Sprintf("r%d", i), Agent: "systemd:r", Utilization: map[string]int{"cpu": 1}})
		}
		res, err := Schedule(Input{CIB: cfg, State: st, Now: pmNow})
		if err != nil {
			t.Fatal(err)
		}
		count := make([]int, 4)
		for _, a := range res.Transition.Actions {
			if a.Op == OpStart {
				var n int
				fmt.Sscanf(a.Node, "n%d", &n)
				count[n]++
			}
		}
		if got := fmt.Sprint(count); got != tc.want {
			t.Errorf("%s: resources per node %s, want %s", tc.strategy, got, tc.want)
		}
	}
}
