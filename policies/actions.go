package policies

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/tandem-ha/tandem/policies/cib"
)

// The transition holds exactly the actions the placement needs: a stop
// where an instance runs (or failed) and should not stay, a start where one
// should run and does not. Edges:
//
//   - every start of a resource waits for every stop of that resource
//     (a primitive moves stop-then-start; a clone stops what it stops
//     before it starts anything, as Pacemaker's clone pseudo-actions do);
//   - an order "first then then" makes then's then-action actions wait for
//     first's first-action actions, all of them, or for interleaved clones
//     those on the same node; a symmetrical order also makes first's
//     reverse actions wait for then's reverse actions (stops in reverse).
//
// Orders never add actions: a "then" resource that keeps running is not
// restarted because "first" starts, moves or recovers (Pacemaker would
// restart it; see docs/scheduler.md).

type unitActions struct {
	starts, stops     []int      // indexes into builder.actions
	promotes, demotes []int      // promotable clones
	kept              []assigned // instances that keep running where they are
}

type builder struct {
	actions []Action
	after   []map[int]bool
	byUnit  map[*unit]*unitActions
}

func (b *builder) add(a Action) int {
	a.ID = ActionID(a.Op, a.Resource, a.Clone, a.Instance, a.Node)
	b.actions = append(b.actions, a)
	b.after = append(b.after, nil)
	return len(b.actions) - 1
}

func (b *builder) edge(from, to int) {
	if from == to {
		return
	}
	if b.after[to] == nil {
		b.after[to] = map[int]bool{}
	}
	b.after[to][from] = true
}

// waits says whether action x waits, directly or not, for action y.
func (b *builder) waits(x, y int) bool {
	seen := map[int]bool{}
	stack := []int{x}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for d := range b.after[n] {
			if d == y {
				return true
			}
			if !seen[d] {
				seen[d] = true
				stack = append(stack, d)
			}
		}
	}
	return false
}

func (s *scheduler) transition() (*Transition, error) {
	b := &builder{byUnit: map[*unit]*unitActions{}}
	for _, u := range s.units {
		ua := &unitActions{}
		b.byUnit[u] = ua
		if len(u.cur) == 0 && len(u.insts) == 0 {
			continue
		}
		cur := append([]current(nil), u.cur...)
		sort.Slice(cur, func(i, j int) bool {
			if cur[i].inst != cur[j].inst {
				return cur[i].inst < cur[j].inst
			}
			return s.nameRank[cur[i].node] < s.nameRank[cur[j].node]
		})
		target := func(inst int) (int, bool) {
			for _, a := range u.insts {
				if a.inst == inst {
					return a.node, true
				}
			}
			return -1, false
		}
		var keep []assigned
		var beyond []int
		for _, c := range cur {
			tgt, placed := target(c.inst)
			if !c.managed || (placed && tgt == c.node && !c.failed) {
				keep = append(keep, assigned{c.inst, c.node})
				continue
			}
			stop := b.add(Action{Resource: u.r.ID, Clone: u.clone, Instance: c.inst,
				Node: s.nodes[c.node].name, Op: OpStop, Reason: s.stopReason(u, c, tgt, placed)})
			ua.stops = append(ua.stops, stop)
			if u.beyond(c) {
				// No longer one of the clone's instances: the clone's
				// starts do not wait for its stop, as Pacemaker's do
				// not wait for an orphan's (orders still do).
				beyond = append(beyond, stop)
			}
		}
		for _, a := range u.insts {
			if slices.Contains(keep, a) {
				continue
			}
			ua.starts = append(ua.starts, b.add(Action{Resource: u.r.ID, Clone: u.clone, Instance: a.inst,
				Node: s.nodes[a.node].name, Op: OpStart, Reason: s.startReason(u, a)}))
		}
		for _, st := range ua.starts {
			for _, sp := range ua.stops {
				if !slices.Contains(beyond, sp) {
					b.edge(sp, st)
				}
			}
		}
		ua.kept = keep
		if u.promoGroup() == nil {
			s.promotionActions(b, u, ua)
		}
	}
	s.restartLaterMembers(b)
	// A promotable cloned group's members are demoted before the
	// restarts their group adds, and promoted again after them.
	for _, u := range s.units {
		if u.promoGroup() != nil {
			s.promotionActions(b, u, b.byUnit[u])
		}
	}
	s.groupEdges(b)
	s.notifyActions(b)
	for _, o := range s.orphans {
		if s.nodes[s.nodeIdx[o.Node]].status == Maintenance || o.Blocked {
			continue
		}
		b.add(Action{Resource: o.Resource, Clone: o.Clone, Instance: o.Instance, Node: o.Node, Op: OpStop,
			Reason: "not in the configuration any more"})
	}
	// Serialize orders last: they only need the two actions not to run
	// together, so they add an edge only where the others leave the pair
	// unordered, and never one that closes a cycle.
	for _, o := range s.orders {
		if o.o.Kind != cib.Serialize {
			s.orderEdges(b, o)
		}
	}
	for _, o := range s.orders {
		if o.o.Kind == cib.Serialize {
			s.orderEdges(b, o)
		}
	}
	s.loadEdges(b)
	for i := range b.actions {
		ids := make([]string, 0, len(b.after[i]))
		for j := range b.after[i] {
			ids = append(ids, b.actions[j].ID)
		}
		sort.Strings(ids)
		if len(ids) > 0 {
			b.actions[i].After = ids
		}
	}
	sorted, err := topoSort(b.actions)
	if err != nil {
		return nil, err
	}
	return &Transition{Version: TransitionVersion, Actions: sorted}, nil
}

func opOf(a cib.Action) (Op, bool) {
	switch a {
	case cib.ActionStart:
		return OpStart, true
	case cib.ActionStop:
		return OpStop, true
	case cib.ActionPromote:
		return OpPromote, true
	case cib.ActionDemote:
		return OpDemote, true
	}
	return "", false
}

func reverse(op Op) Op {
	switch op {
	case OpStart:
		return OpStop
	case OpPromote:
		return OpDemote
	case OpDemote:
		return OpPromote
	}
	return OpStart
}

func (ua *unitActions) of(op Op) []int {
	switch op {
	case OpStart:
		return ua.starts
	case OpPromote:
		return ua.promotes
	case OpDemote:
		return ua.demotes
	}
	return ua.stops
}

// orderEdges adds the edges of one ordering constraint.
func (s *scheduler) orderEdges(b *builder, o order) {
	fop, ok1 := opOf(o.o.FirstAction)
	top, ok2 := opOf(o.o.ThenAction)
	if !ok1 || !ok2 {
		return
	}
	f, t := b.byUnit[o.first], b.byUnit[o.then]
	interleave := o.interleaved()
	link := func(befores, afters []int) {
		for _, a := range afters {
			for _, bf := range befores {
				if interleave && b.actions[a].Node != b.actions[bf].Node {
					continue
				}
				if o.sameInst && b.actions[a].Instance != b.actions[bf].Instance {
					continue
				}
				if o.o.Kind == cib.Serialize && (b.waits(a, bf) || b.waits(bf, a)) {
					continue
				}
				b.edge(bf, a)
			}
		}
	}
	link(f.of(fop), t.of(top))
	if o.o.Symmetrical {
		link(t.of(reverse(top)), f.of(reverse(fop)))
	}
}

func (s *scheduler) stopReason(u *unit, c current, tgt int, placed bool) string {
	here := s.nodes[c.node].name
	switch {
	case c.failed && placed && tgt == c.node:
		return "recover: failed on " + here
	case placed && c.failed:
		return fmt.Sprintf("failed on %s; moving to %s", here, s.nodes[tgt].name)
	case placed:
		return "move to " + s.nodes[tgt].name
	case len(u.insts) == 0 && u.why != "":
		return u.why
	case u.beyond(c):
		return fmt.Sprintf("instance %d is beyond clone-max %d", c.inst, u.max)
	case u.banned(c.inst, c.node) != "":
		return fmt.Sprintf("cannot run on %s: %s", here, u.banned(c.inst, c.node))
	}
	return s.nodeReason(u, c.node)
}

func (s *scheduler) startReason(u *unit, a assigned) string {
	for _, c := range u.cur {
		if c.inst != a.inst {
			continue
		}
		if c.node == a.node {
			return "recover: restart after failure"
		}
		return "move from " + s.nodes[c.node].name
	}
	return "start"
}

// nowhere says why u can run on no node: each node's reason (the first
// few, on a big cluster).
func (s *scheduler) nowhere(u *unit) string {
	const most = 4
	var why []string
	for n := range s.nodes {
		if len(why) == most {
			why = append(why, fmt.Sprintf("and %d more nodes", len(s.nodes)-most))
			break
		}
		why = append(why, strings.TrimPrefix(s.nodeReason(u, n), "cannot run on "))
	}
	return "no node can run it: " + strings.Join(why, "; ")
}

// nodeReason says why u cannot keep an instance on node n.
func (s *scheduler) nodeReason(u *unit, n int) string {
	nd := s.nodes[n]
	if !nd.avail {
		return nd.name + " is " + string(nd.status)
	}
	if why := u.baseWhy[n]; why != "" {
		return fmt.Sprintf("cannot run on %s: %s", nd.name, why)
	}
	if why := u.removed[n]; why != "" {
		return fmt.Sprintf("cannot run on %s: %s", nd.name, why)
	}
	if why := u.capWhy[n]; why != "" {
		return fmt.Sprintf("cannot run on %s: %s", nd.name, why)
	}
	for _, c := range u.withs {
		switch {
		case c.score >= inf && c.prim.hold != nil && !c.prim.hold[n] && c.prim.on[n]:
			return fmt.Sprintf("cannot run on %s: %s needs %s there, which is only left there (blocked, or in maintenance) where it may not run", nd.name, named("colocation", c.c.ID), c.prim.id)
		case c.score >= inf && c.prim.hold != nil && !c.prim.hold[n]:
			return fmt.Sprintf("cannot run on %s: %s needs %s there", nd.name, named("colocation", c.c.ID), c.prim.id)
		case c.score <= negInf && c.prim.on != nil && c.prim.on[n]:
			return fmt.Sprintf("cannot run on %s: %s keeps it away from %s", nd.name, named("colocation", c.c.ID), c.prim.id)
		}
	}
	if u.w != nil && u.w[n] < 0 {
		return fmt.Sprintf("cannot run on %s (score %s)", nd.name, u.w[n])
	}
	return fmt.Sprintf("not needed on %s (clone-max %d, clone-node-max %d)", nd.name, u.max, u.nodeMax)
}
