package policies

import (
	"fmt"
	"sort"

	"github.com/tandem-ha/tandem/policies/cib"
)

// Groups are planned as their members, each a unit of its own, tied by the
// constraints Pacemaker gives a group (pcmk_sched_group.c):
//
//   - each member is colocated with the one before it (INFINITY), and lends
//     it its scores with its stickiness, so the first member, which places
//     the group, sees the stickiness of every active member;
//   - each member is ordered after the one before it (Mandatory,
//     symmetrical): started in order, stopped in reverse;
//   - a member that starts on a node restarts the later members that keep
//     running there (see restartLaterMembers);
//   - constraints naming the group: "group with X" is its first member
//     with X; "X with group" is X with its last member when mandatory,
//     with its first otherwise; an order or location naming the group
//     applies to every member.
//
// A cloned group's members are clones whose instances go together node by
// node: the internal colocation is clone with clone, and the internal
// orders are interleaved. In a globally-unique cloned group each copy is
// distinct: copy N is instance N of every member (member:N in Pacemaker),
// all on the node of the first member's instance N (see followCopies), and
// the internal orders and restarts tie a copy's members only, so several
// copies on one node (clone-node-max > 1) are each a group of their own.

// group is a resource group as the scheduler sees it.
type group struct {
	g       *cib.Group
	members []*unit // in start order
}

// bindGroups links each group's members with the group's own colocations
// and orders.
func (s *scheduler) bindGroups() {
	s.groups = map[string]*group{}
	for i := range s.cfg.Groups {
		g := &s.cfg.Groups[i]
		gr := &group{g: g}
		for _, m := range g.Resources {
			if u := s.byID[m]; u != nil {
				u.group = gr
				gr.members = append(gr.members, u)
			}
		}
		s.groups[g.ID] = gr
		if g.Clone != nil {
			s.groups[g.Clone.ID] = gr
		}
		s.glist = append(s.glist, gr)
		if len(gr.members) < 2 {
			continue
		}
		id := "group:" + g.ID
		cols := make([]cib.Colocation, len(gr.members)-1)
		ords := make([]cib.Order, len(gr.members)-1)
		for j := 1; j < len(gr.members); j++ {
			prev, m := gr.members[j-1], gr.members[j]
			cols[j-1] = cib.Colocation{ID: id, Rsc: m.r.ID, With: prev.r.ID, Score: inf}
			s.colocate(&colo{c: &cols[j-1], dep: m, prim: prev, score: inf, factor: 1, influences: true, internal: true})
			ords[j-1] = cib.Order{ID: id, First: prev.r.ID, Then: m.r.ID, FirstAction: cib.ActionStart, ThenAction: cib.ActionStart,
				Kind: cib.Mandatory, Symmetrical: true}
			s.orders = append(s.orders, order{o: &ords[j-1], first: prev, then: m, sameNode: g.Clone != nil, sameInst: gr.unique()})
		}
	}
}

// unique says whether g is a globally-unique cloned group.
func (g *group) unique() bool { return g.g.Clone != nil && g.g.Clone.GloballyUnique }

// copyKey names the copy of g that an instance inst on node belongs to:
// "" for a group that is not cloned (one copy), the node for an anonymous
// cloned group (one copy per node), the node and the instance number for
// a globally-unique one.
func (g *group) copyKey(node string, inst int) string {
	switch {
	case g.g.Clone == nil:
		return ""
	case g.unique():
		return fmt.Sprintf("%s#%d", node, inst)
	}
	return node
}

// prevMember is the member before u in its cloned group, or nil.
func (u *unit) prevMember() *unit {
	if u.group == nil || u.group.g.Clone == nil {
		return nil
	}
	for i, m := range u.group.members {
		if m == u && i > 0 {
			return u.group.members[i-1]
		}
	}
	return nil
}

// refUnits is what a constraint naming id acts on: the unit it names, or
// every member of the group it names; nil if it names nothing.
func (s *scheduler) refUnits(id string) []*unit {
	if g := s.groups[id]; g != nil {
		return g.members
	}
	if u := s.byID[id]; u != nil {
		return []*unit{u}
	}
	return nil
}

// refFirst is the unit id names, or its group's first member.
func (s *scheduler) refFirst(id string) *unit {
	if us := s.refUnits(id); len(us) > 0 {
		return us[0]
	}
	return nil
}

// refLast is the unit id names, or its group's last member.
func (s *scheduler) refLast(id string) *unit {
	if us := s.refUnits(id); len(us) > 0 {
		return us[len(us)-1]
	}
	return nil
}

// groupStickiness gives the first member of each cloned group the
// stickiness the other members add where they run. (An uncloned group's
// members lend theirs through the internal colocations; a clone's
// stickiness is per instance, so it is counted slot by slot.)
func (s *scheduler) groupStickiness() {
	for _, g := range s.glist {
		if g.g.Clone == nil || len(g.members) < 2 {
			continue
		}
		lead := g.members[0]
		if g.unique() {
			s.copyStickiness(g)
			continue
		}
		lead.groupSticky = make([]cib.Score, len(s.nodes))
		for _, m := range g.members[1:] {
			for _, c := range m.cur {
				lead.groupSticky[c.node] = lead.groupSticky[c.node].Add(m.sticky)
			}
		}
	}
}

// copyStickiness gives the first member of a globally-unique cloned group
// the stickiness of each copy's other members, copy by copy: on each
// node, the held slots (one per running instance of the first member)
// carry, best first, what the members of those copies running with it add.
func (s *scheduler) copyStickiness(g *group) {
	lead := g.members[0]
	lead.copySticky = make([][]cib.Score, len(s.nodes))
	for _, c := range lead.cur {
		if !c.managed || lead.beyond(c) {
			continue
		}
		var sum cib.Score
		for _, m := range g.members[1:] {
			for _, mc := range m.cur {
				if mc.inst == c.inst && mc.node == c.node {
					sum = sum.Add(m.sticky)
				}
			}
		}
		lead.copySticky[c.node] = append(lead.copySticky[c.node], sum)
	}
	for _, ss := range lead.copySticky {
		sort.Slice(ss, func(i, j int) bool { return ss[i] > ss[j] })
	}
}

// restartLaterMembers adds the restarts Pacemaker's group orders imply:
// when a member starts on a node (a start, a move there or a recovery), the
// next member, if it keeps running there, is stopped before and started
// after it; and so on down the group. (Orders between resources add no
// restarts in Tandem, see docs/scheduler.md; inside a group they do, since
// a group is a stack: the file system recovers, the database on it
// restarts.)
func (s *scheduler) restartLaterMembers(b *builder) {
	for _, g := range s.glist {
		for i := 1; i < len(g.members); i++ {
			prev, m := b.byUnit[g.members[i-1]], b.byUnit[g.members[i]]
			starting := map[string]bool{}
			for _, a := range prev.starts {
				starting[g.copyKey(b.actions[a].Node, b.actions[a].Instance)] = true
			}
			kept := m.kept[:0:0]
			for _, k := range m.kept {
				node := s.nodes[k.node].name
				// A blocked instance (its stop failed) or one on a node in
				// maintenance is left as it is: no restart.
				if !starting[g.copyKey(node, k.inst)] || s.nodes[k.node].status == Maintenance || g.members[i].unmanaged(k) {
					kept = append(kept, k)
					continue
				}
				u := g.members[i]
				why := fmt.Sprintf("restart: %s, before it in group %s, starts on %s", g.members[i-1].r.ID, g.g.ID, node)
				stop := b.add(Action{Resource: u.r.ID, Clone: u.clone, Instance: k.inst, Node: node, Op: OpStop, Reason: why})
				start := b.add(Action{Resource: u.r.ID, Clone: u.clone, Instance: k.inst, Node: node, Op: OpStart, Reason: why})
				for _, st := range append(m.starts, start) {
					b.edge(stop, st)
				}
				for _, sp := range m.stops {
					b.edge(sp, start)
				}
				m.stops = append(m.stops, stop)
				m.starts = append(m.starts, start)
			}
			m.kept = kept
		}
	}
}

// groupEdges orders a group's actions as Pacemaker's group pseudo-actions
// do: every member's stop comes before any member's start (a group stops
// as a whole before it starts again, as a clone does), and a member stops
// only once the later members that stop have stopped, also when members
// between them are not running (in the same copy, for a cloned group: on
// the same node, and for a globally-unique one, the same instance).
func (s *scheduler) groupEdges(b *builder) {
	for _, g := range s.glist {
		var stops, starts []int
		for _, m := range g.members {
			stops = append(stops, b.byUnit[m].stops...)
			starts = append(starts, b.byUnit[m].starts...)
		}
		for _, st := range starts {
			for _, sp := range stops {
				b.edge(sp, st)
			}
		}
		if g.g.Clone != nil && g.g.Clone.Promotable {
			s.groupRoleEdges(b, g, starts, stops)
		}
		// Walk from the last member up, remembering on each node the
		// stops of the nearest later member that stops there.
		later := map[string][]int{}
		for i := len(g.members) - 1; i >= 0; i-- {
			mine := map[string][]int{}
			for _, sp := range b.byUnit[g.members[i]].stops {
				node := g.copyKey(b.actions[sp].Node, b.actions[sp].Instance)
				for _, l := range later[node] {
					b.edge(l, sp)
				}
				mine[node] = append(mine[node], sp)
			}
			for node, sps := range mine {
				later[node] = sps
			}
		}
	}
}

// groupRoleEdges orders a promotable cloned group's promotes and demotes
// as Pacemaker's clone and group pseudo-actions do: every demote before
// every stop, every promote after every stop, start and demote (the
// clone's demoted, stopped, started, then promote); on each node, a
// member is promoted after the one before it and demoted before it.
func (s *scheduler) groupRoleEdges(b *builder, g *group, starts, stops []int) {
	var promotes, demotes []int
	for _, m := range g.members {
		promotes = append(promotes, b.byUnit[m].promotes...)
		demotes = append(demotes, b.byUnit[m].demotes...)
	}
	for _, d := range demotes {
		for _, sp := range stops {
			b.edge(d, sp)
		}
	}
	for _, pr := range promotes {
		for _, st := range starts {
			b.edge(st, pr)
		}
		for _, sp := range stops {
			b.edge(sp, pr)
		}
		for _, d := range demotes {
			b.edge(d, pr)
		}
	}
	for i := 1; i < len(g.members); i++ {
		prev, m := b.byUnit[g.members[i-1]], b.byUnit[g.members[i]]
		for _, pr := range m.promotes {
			for _, pp := range prev.promotes {
				if b.actions[pp].Node == b.actions[pr].Node {
					b.edge(pp, pr)
				}
			}
		}
		for _, d := range m.demotes {
			for _, pd := range prev.demotes {
				if b.actions[pd].Node == b.actions[d].Node {
					b.edge(d, pd)
				}
			}
		}
	}
}
