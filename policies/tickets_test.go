package policies

import (
	"testing"

	"github.com/tandem-ha/tandem/policies/cib"
	"pgregory.net/rapid"
)

// TestTicketProperties: 1,000-odd random clusters (TestProperties's) with
// ticket constraints on random resources and random ticket states. Once
// the plan has run, a resource bound to a ticket that is not usable with
// loss-policy stop (or to a ticket in standby) runs nowhere, except where
// it was left alone (blocked, or on a node in maintenance); one bound with
// freeze to a revoked ticket runs exactly where it ran (no start, no
// stop); the plans are acyclic, deterministic and settle.
func TestTicketProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg, st := genCluster(t)
		names := []string{"ta", "tb", "tc"}
		for _, n := range names {
			if rapid.Bool().Draw(t, "listed") {
				st.Tickets = append(st.Tickets, TicketState{Ticket: n, Granted: rapid.Bool().Draw(t, "granted"), Standby: rapid.IntRange(0, 3).Draw(t, "standby") == 0})
			}
		}
		usable := map[string]TicketState{}
		for _, ts := range st.Tickets {
			usable[ts.Ticket] = ts
		}
		bound := map[string]cib.Ticket{} // primitive id -> its constraint
		ids := cfg.ResourceIDs()
		for range rapid.IntRange(0, 4).Draw(t, "tickets") {
			if len(ids) == 0 {
				break
			}
			id := rapid.SampledFrom(ids).Draw(t, "rsc")
			prims, err := cfg.Primitives(id)
			if err != nil {
				t.Fatal(err)
			}
			taken := false
			for _, p := range prims {
				_, taken = bound[p]
				if taken {
					break
				}
			}
			if taken {
				continue
			}
			tk, err := cfg.AddTicket(cib.Ticket{Ticket: rapid.SampledFrom(names).Draw(t, "ticket"), Rsc: id,
				LossPolicy: rapid.SampledFrom([]string{cib.LossStop, cib.LossFreeze}).Draw(t, "policy")})
			if err != nil {
				continue // a constraint id already used
			}
			for _, p := range prims {
				bound[p] = tk
			}
		}
		res, err := Schedule(Input{CIB: cfg, State: st, Now: pmNow})
		if err != nil {
			t.Fatalf("schedule: %v", err)
		}
		checkDAG(t, res)
		checkDeterminism(t, cfg, st, res)
		checkConvergence(t, cfg, st, res)

		statuses := map[string]NodeStatus{}
		for _, n := range NodeStatuses(cfg, st) {
			statuses[n.Name] = n.Status
		}
		type where struct{ rsc, node string }
		before, leftAlone := map[where]bool{}, map[where]bool{}
		for _, in := range st.Instances {
			if statuses[in.Node] == Offline {
				continue
			}
			before[where{in.Resource, in.Node}] = true
			if in.Blocked || statuses[in.Node] == Maintenance {
				leftAlone[where{in.Resource, in.Node}] = true
			}
		}
		next := Apply(cfg, st, &res.Transition)
		after := map[where]bool{}
		for _, in := range next.Instances {
			if statuses[in.Node] == Offline {
				continue // gone with its node, whatever Apply keeps of it
			}
			after[where{in.Resource, in.Node}] = true
		}
		for p, tk := range bound {
			ts := usable[tk.Ticket]
			if ts.Usable() {
				continue
			}
			frozen := tk.Policy() == cib.LossFreeze && !ts.Granted
			for w := range after {
				if w.rsc != p {
					continue
				}
				switch {
				case frozen && !before[w]:
					t.Fatalf("%s started on %s although ticket %s is %s (freeze)\n%s\n%s", p, w.node, tk.Ticket, ts.Describe(), describe(&res.Transition), dump(cfg, st))
				case !frozen && !leftAlone[w]:
					t.Fatalf("%s runs on %s although ticket %s is %s (%s)\n%s\n%s", p, w.node, tk.Ticket, ts.Describe(), tk.Policy(), describe(&res.Transition), dump(cfg, st))
				}
			}
			if frozen {
				for w := range before {
					if w.rsc == p && !after[w] {
						t.Fatalf("%s stopped on %s although frozen (ticket %s revoked)\n%s\n%s", p, w.node, tk.Ticket, describe(&res.Transition), dump(cfg, st))
					}
				}
			}
		}
	})
}
