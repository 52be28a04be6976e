package policies

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/policies/cib"
)

// Tickets, checked against crm_simulate like every scenario. Each
// reproduces the ticket-primitive-N, ticket-group-N or ticket-clone-N case of Pacemaker's
// regression suite (cts/scheduler): one ticket constraint on rsc1 (or its
// clone), the ticket absent, granted, revoked or in standby, the resource
// stopped or running (group1's members on node2). Left out: the cases with loss-policy fence (Tandem
// has no fencing and refuses it) and with loss-policy demote without the
// Promoted role (-4..-6, -16..-18: Tandem refuses demote there, Pacemaker
// then stops, which loss-policy stop says). The promotable cases
// (ticket-promoted-N) are in TestTicketPromoted.

// ticketGroupCluster is node1 and node2 with group1 (rsc1, rsc2) bound
// to ticketA with loss-policy policy.
func ticketGroupCluster(policy string) string {
	return utilCluster("default", utilNode{name: "node1"}, utilNode{name: "node2"}) +
		"[[resource]]\nid = \"rsc1\"\nagent = \"systemd:rsc1\"\n[[resource]]\nid = \"rsc2\"\nagent = \"systemd:rsc2\"\n" +
		"[[group]]\nid = \"group1\"\nresources = [\"rsc1\", \"rsc2\"]\n" +
		fmt.Sprintf("[[ticket]]\nid = \"group1-dep-ticketA\"\nticket = \"ticketA\"\nrsc = \"group1\"\nloss-policy = %q\n", policy)
}

// ticketCluster is node1 and node2 with rsc1 (cloned as clone1 when
// clone) bound to ticketA with loss-policy policy.
func ticketCluster(clone bool, policy string) string {
	rsc := "rsc1"
	extra := ""
	if clone {
		rsc, extra = "clone1", "[resource.clone]\nid = \"clone1\"\n"
	}
	return utilCluster("default", utilNode{name: "node1"}, utilNode{name: "node2"}) +
		fmt.Sprintf("[[resource]]\nid = \"rsc1\"\nagent = \"systemd:rsc1\"\n%s[[ticket]]\nid = \"%s-dep-ticketA\"\nticket = \"ticketA\"\nrsc = %q\nloss-policy = %q\n", extra, rsc, rsc, policy)
}

func ticketScenarios() []pmScenario {
	none := []TicketState(nil)
	granted := []TicketState{{Ticket: "ticketA", Granted: true}}
	revoked := []TicketState{{Ticket: "ticketA"}}
	standby := []TicketState{{Ticket: "ticketA", Granted: true, Standby: true}}
	revokedStandby := []TicketState{{Ticket: "ticketA", Standby: true}}
	type tc struct {
		n       int
		policy  string
		tickets []TicketState
		running bool
		about   string
	}
	cases := []tc{
		{1, "stop", none, false, "no ticket state (revoked): rsc1 does not start"},
		{2, "stop", granted, false, "granted: rsc1 starts"},
		{3, "stop", revoked, true, "revoked: rsc1 stops"},
		{10, "freeze", none, false, "freeze, no ticket: rsc1 does not start"},
		{11, "freeze", granted, false, "freeze, granted: rsc1 starts"},
		{12, "freeze", revoked, true, "freeze, revoked: rsc1 is left running"},
		{13, "stop", standby, false, "standby: rsc1 does not start"},
		{14, "stop", standby, true, "standby: rsc1 stops"},
		{15, "stop", revokedStandby, true, "revoked and standby: rsc1 stops"},
		{22, "freeze", standby, false, "freeze, standby: rsc1 does not start"},
		{23, "freeze", standby, true, "freeze, standby: rsc1 stops (standby does not freeze)"},
		{24, "freeze", revokedStandby, true, "freeze, revoked and standby: rsc1 is left running"},
	}
	var out []pmScenario
	for _, c := range cases {
		prim := State{Nodes: online("node1", "node2"), Tickets: c.tickets}
		clone := State{Nodes: online("node1", "node2"), Tickets: c.tickets}
		if c.running {
			prim.Instances = onNode("node2", "rsc1")
			clone.Instances = []InstanceState{{Resource: "rsc1", Instance: 0, Node: "node1"}, {Resource: "rsc1", Instance: 1, Node: "node2"}}
		}
		group := State{Nodes: online("node1", "node2"), Tickets: c.tickets}
		if c.running {
			group.Instances = onNode("node2", "rsc1", "rsc2")
		}
		out = append(out,
			pmScenario{name: fmt.Sprintf("ticket-group-%d", c.n), about: "cts: " + c.about + " (both members of the group)", config: ticketGroupCluster(c.policy), state: group},
			pmScenario{name: fmt.Sprintf("ticket-primitive-%d", c.n), about: "cts: " + c.about, config: ticketCluster(false, c.policy), state: prim},
			pmScenario{name: fmt.Sprintf("ticket-clone-%d", c.n), about: "cts: " + c.about + " (every instance of the clone)", config: ticketCluster(true, c.policy), state: clone})
	}
	return out
}

// TestTicketPromoted reproduces Pacemaker 2.1.5's ticket-promoted-N cases
// (cts/scheduler, their .summary): a ticket constraint for the Promoted
// role of promotable clone ms1, which a location for the Promoted role
// prefers to promote on node1. Fence cases (-7..-9, -19..-21) are left
// out: Tandem refuses loss-policy fence. Only starts, stops, promotes and
// demotes are compared (Tandem has no notify or monitor actions).
func TestTicketPromoted(t *testing.T) {
	const (
		stopped = iota
		unpromoted
		promotedOn1
	)
	none := []TicketState(nil)
	granted := []TicketState{{Ticket: "ticketA", Granted: true}}
	revoked := []TicketState{{Ticket: "ticketA"}}
	standby := []TicketState{{Ticket: "ticketA", Granted: true, Standby: true}}
	revokedStandby := []TicketState{{Ticket: "ticketA", Standby: true}}
	for _, c := range []struct {
		n        int
		policy   string
		tickets  []TicketState
		running  int
		ops      string
		promoted string // once the transition has run
	}{
		{1, "stop", none, stopped, "", ""},
		{2, "stop", granted, stopped, "promote rsc1@node1,start rsc1@node1,start rsc1@node2", "rsc1@node1"},
		{3, "stop", revoked, promotedOn1, "demote rsc1@node1,stop rsc1@node1,stop rsc1@node2", ""},
		{4, "demote", none, stopped, "start rsc1@node1,start rsc1@node2", ""},
		{5, "demote", granted, unpromoted, "promote rsc1@node1", "rsc1@node1"},
		{6, "demote", revoked, promotedOn1, "demote rsc1@node1", ""},
		{10, "freeze", none, stopped, "start rsc1@node1,start rsc1@node2", ""},
		{11, "freeze", granted, unpromoted, "promote rsc1@node1", "rsc1@node1"},
		{12, "freeze", revoked, promotedOn1, "", "rsc1@node1"},
		{13, "stop", standby, stopped, "", ""},
		{14, "stop", standby, promotedOn1, "demote rsc1@node1,stop rsc1@node1,stop rsc1@node2", ""},
		{15, "stop", revokedStandby, promotedOn1, "demote rsc1@node1,stop rsc1@node1,stop rsc1@node2", ""},
		{16, "demote", standby, unpromoted, "", ""},
		{17, "demote", standby, promotedOn1, "demote rsc1@node1", ""},
		{18, "demote", revokedStandby, promotedOn1, "demote rsc1@node1", ""},
		{22, "freeze", standby, unpromoted, "", ""},
		{23, "freeze", standby, promotedOn1, "demote rsc1@node1", ""},
		{24, "freeze", revokedStandby, promotedOn1, "", "rsc1@node1"},
	} {
		t.Run(fmt.Sprintf("ticket-promoted-%d", c.n), func(t *testing.T) {
			src := utilCluster("default", utilNode{name: "node1"}, utilNode{name: "node2"}) +
				"[[resource]]\nid = \"rsc1\"\nagent = \"systemd:rsc1\"\n[resource.clone]\nid = \"ms1\"\npromotable = true\n" +
				"[[location]]\nrsc = \"ms1\"\nnode = \"node1\"\nscore = 10\nrole = \"Promoted\"\n" +
				fmt.Sprintf("[[ticket]]\nid = \"ms1-dep-ticketA\"\nticket = \"ticketA\"\nrsc = \"ms1\"\nrsc-role = \"Promoted\"\nloss-policy = %q\n", c.policy)
			f, err := config.Parse("ticket.toml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			st := State{Nodes: online("node1", "node2"), Tickets: c.tickets}
			switch c.running {
			case unpromoted:
				st.Instances = []InstanceState{{Resource: "rsc1", Instance: 0, Node: "node1"}, {Resource: "rsc1", Instance: 1, Node: "node2"}}
			case promotedOn1:
				st.Instances = []InstanceState{{Resource: "rsc1", Instance: 0, Node: "node1", Role: cib.RolePromoted}, {Resource: "rsc1", Instance: 1, Node: "node2"}}
			}
			res := schedule(t, f.CIB, st)
			if got := strings.Join(ops(res), ","); got != c.ops {
				t.Errorf("actions %q, want %q\nnotes %v\n%s", got, c.ops, res.Notes, describe(&res.Transition))
			}
			next := Apply(f.CIB, st, &res.Transition)
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

// TestTicketResourceSets reproduces Pacemaker 2.1.5's ticket-rsc-sets-N
// cases (cts/scheduler, checked against their .summary): rsc1, group2
// (rsc2, rsc3), clone4 and promotable ms5 (a location for the Promoted
// role prefers node1) bound to tickets through resource sets. In -1..-3
// and -8..-10 one constraint with loss-policy demote binds a set of rsc1,
// group2 and clone4 (role Started: they stop, as with stop) and a set of
// ms5 for the Promoted role; in the others ticketA (stop) binds rsc1 and
// group2, and ticketB (demote) clone4 and ms5's Promoted role. Only starts,
// stops, promotes and demotes are compared (Tandem has no notify or
// monitor actions). The cases' fencing device, running on node1, is an
// ordinary resource here (rsc_stonith): it weighs on where rsc1 and group2
// go as it does in Pacemaker.
func TestTicketResourceSets(t *testing.T) {
	const (
		stopped     = iota // nothing runs
		unpromoted         // ms5 unpromoted on both nodes, the rest stopped
		runAB              // rsc1 on node2, group2 on node1, ms5 unpromoted
		allPromoted        // everything runs, ms5 promoted on node1
	)
	one := "[[ticket]]\nid = \"resources-dep-ticketA\"\nticket = \"ticketA\"\nloss-policy = \"demote\"\n" +
		"[[ticket.set]]\nresources = [\"rsc1\", \"group2\", \"clone4\"]\nrole = \"Started\"\n" +
		"[[ticket.set]]\nresources = [\"ms5\"]\nrole = \"Promoted\"\n"
	two := "[[ticket]]\nid = \"resources-dep-ticketA\"\nticket = \"ticketA\"\nloss-policy = \"stop\"\n" +
		"[[ticket.set]]\nresources = [\"rsc1\", \"group2\"]\nrole = \"Started\"\n" +
		"[[ticket]]\nid = \"resources-dep-ticketB\"\nticket = \"ticketB\"\nloss-policy = \"demote\"\n" +
		"[[ticket.set]]\nresources = [\"clone4\"]\nrole = \"Started\"\n" +
		"[[ticket.set]]\nresources = [\"ms5\"]\nrole = \"Promoted\"\n"
	a := func(granted, standby bool) TicketState {
		return TicketState{Ticket: "ticketA", Granted: granted, Standby: standby}
	}
	b := func(granted, standby bool) TicketState {
		return TicketState{Ticket: "ticketB", Granted: granted, Standby: standby}
	}
	stopAll := "demote rsc5@node1,stop rsc1@node2,stop rsc2@node1,stop rsc3@node1,stop rsc4@node1,stop rsc4@node2"
	for _, c := range []struct {
		n        int
		cons     string
		tickets  []TicketState
		running  int
		ops      string
		promoted string // once the transition has run
	}{
		{1, one, nil, stopped, "start rsc5@node1,start rsc5@node2", ""},
		{2, one, []TicketState{a(true, false)}, unpromoted, "promote rsc5@node1,start rsc1@node2,start rsc2@node1,start rsc3@node1,start rsc4@node1,start rsc4@node2", "rsc5@node1"},
		{3, one, []TicketState{a(false, false)}, allPromoted, stopAll, ""},
		{4, two, nil, stopped, "start rsc5@node1,start rsc5@node2", ""},
		{5, two, []TicketState{a(true, false)}, unpromoted, "start rsc1@node2,start rsc2@node1,start rsc3@node1", ""},
		{6, two, []TicketState{a(true, false), b(true, false)}, runAB, "promote rsc5@node1,start rsc4@node1,start rsc4@node2", "rsc5@node1"},
		{7, two, []TicketState{a(false, false), b(false, false)}, allPromoted, stopAll, ""},
		{8, one, []TicketState{a(true, true)}, unpromoted, "", ""},
		{9, one, []TicketState{a(true, true)}, allPromoted, stopAll, ""},
		{10, one, []TicketState{a(false, true)}, allPromoted, stopAll, ""},
		{11, two, []TicketState{a(true, true)}, unpromoted, "", ""},
		{12, two, []TicketState{a(true, true)}, runAB, "stop rsc1@node2,stop rsc2@node1,stop rsc3@node1", ""},
		{13, two, []TicketState{a(true, true), b(true, true)}, allPromoted, stopAll, ""},
		{14, two, []TicketState{a(false, true), b(false, true)}, allPromoted, stopAll, ""},
	} {
		t.Run(fmt.Sprintf("ticket-rsc-sets-%d", c.n), func(t *testing.T) {
			src := utilCluster("default", utilNode{name: "node1"}, utilNode{name: "node2"}) +
				"[[resource]]\nid = \"rsc_stonith\"\nagent = \"systemd:rsc_stonith\"\n" +
				"[[resource]]\nid = \"rsc1\"\nagent = \"systemd:rsc1\"\n" +
				"[[resource]]\nid = \"rsc2\"\nagent = \"systemd:rsc2\"\n[[resource]]\nid = \"rsc3\"\nagent = \"systemd:rsc3\"\n" +
				"[[group]]\nid = \"group2\"\nresources = [\"rsc2\", \"rsc3\"]\n" +
				"[[resource]]\nid = \"rsc4\"\nagent = \"systemd:rsc4\"\n[resource.clone]\nid = \"clone4\"\n" +
				"[[resource]]\nid = \"rsc5\"\nagent = \"systemd:rsc5\"\n[resource.clone]\nid = \"ms5\"\npromotable = true\n" +
				"[[location]]\nrsc = \"ms5\"\nnode = \"node1\"\nscore = 10\nrole = \"Promoted\"\n" + c.cons
			f, err := config.Parse("ticket.toml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			st := State{Nodes: online("node1", "node2"), Tickets: c.tickets, Instances: onNode("node1", "rsc_stonith")}
			ms5 := []InstanceState{{Resource: "rsc5", Instance: 0, Node: "node1"}, {Resource: "rsc5", Instance: 1, Node: "node2"}}
			switch c.running {
			case unpromoted:
				st.Instances = append(st.Instances, ms5...)
			case runAB:
				st.Instances = append(append(append(st.Instances, onNode("node2", "rsc1")...), onNode("node1", "rsc2", "rsc3")...), ms5...)
			case allPromoted:
				ms5[0].Role = cib.RolePromoted
				st.Instances = append(append(append(st.Instances, onNode("node2", "rsc1")...), onNode("node1", "rsc2", "rsc3")...), ms5...)
				st.Instances = append(st.Instances, InstanceState{Resource: "rsc4", Instance: 0, Node: "node1"}, InstanceState{Resource: "rsc4", Instance: 1, Node: "node2"})
			}
			res := schedule(t, f.CIB, st)
			if got := strings.Join(ops(res), ","); got != c.ops {
				t.Errorf("actions %q, want %q\nnotes %v\n%s", got, c.ops, res.Notes, describe(&res.Transition))
			}
			next := Apply(f.CIB, st, &res.Transition)
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
