package policies

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/tandem-ha/tandem/policies/cib"
)

// lookahead bounds how many times Schedule plans again from the state its
// own transition leads to, looking for a placement that stays put.
const lookahead = 6

// Schedule computes the placement and the transition for one input. It
// fails only on malformed input (ErrInvalidInput) or on an ordering cycle
// between the actions (an order "start A then stop B" whose reverse meets
// the restart of A and B).
//
// The placement returned is one that planning again, once the transition
// has run, leaves as it is: Schedule applies its transition and plans
// again (up to lookahead times) until nothing changes, and returns the
// transition from the current state straight to that placement. Most
// inputs settle at once and cost one extra placement when there is
// something to do, none when there is not; a colocation loop may settle in
// two steps (where Pacemaker would run two transitions). A contradictory
// configuration can make plans alternate; then Schedule stays where it is
// if that is one of the alternating placements, else goes to the first of
// them, and says so in a note.
func Schedule(in Input) (*Result, error) {
	first, err := place(in)
	if err != nil {
		return nil, err
	}
	if first.cfg.Properties.MaintenanceMode {
		return first.maintenance(), nil
	}
	t, err := first.transition()
	if err != nil {
		return nil, err
	}
	if !t.Empty() {
		if t, err = first.settle(in, t); err != nil {
			return nil, err
		}
	}
	res := &Result{Placement: first.placement(), Transition: *t, RecheckAt: first.recheck}
	for _, u := range first.units {
		if len(u.insts) == 0 && u.why != "" {
			first.note(u.id, "not running: "+u.why)
		}
	}
	res.Notes = first.notes
	if first.explain {
		res.Scores = first.scores()
	}
	return res, nil
}

// settle looks ahead from first's plan (whose transition t is not empty)
// and makes first's placement the one the cluster settles on; it returns
// the transition to it.
func (first *scheduler) settle(in Input, t *Transition) (*Transition, error) {
	chain := []*scheduler{first}
	keys0 := first.placementKey()
	keys := map[string]int{keys0: 0}
	st := in.State
	var cycle []*scheduler
	for step := 0; step < lookahead; step++ {
		lt, err := chain[len(chain)-1].transition()
		if err != nil {
			return nil, err
		}
		st = Apply(in.CIB, st, lt)
		next, err := place(Input{CIB: in.CIB, State: st, Now: in.Now, Explain: in.Explain})
		if err != nil {
			return nil, err
		}
		nt, err := next.transition()
		if err != nil {
			return nil, err
		}
		if nt.Empty() {
			if next.placementKey() == keys0 {
				return t, nil // the first plan was right
			}
			first.note("", fmt.Sprintf("placement chosen by planning %d transition(s) ahead (a colocation loop?); scores are those of the current state", step+2))
			first.adopt(next)
			return first.transition()
		}
		k := next.placementKey()
		if j, seen := keys[k]; seen {
			cycle = chain[j:]
			break
		}
		keys[k] = len(chain)
		chain = append(chain, next)
	}
	if cycle == nil {
		first.note("", fmt.Sprintf("the placement does not settle within %d transitions: look for colocation loops", lookahead))
		return t, nil
	}
	first.note("", fmt.Sprintf("the configuration makes %d placements alternate (a colocation loop?): keeping one of them", len(cycle)))
	for _, m := range cycle {
		first.adopt(m)
		mt, err := first.transition()
		if err != nil {
			return nil, err
		}
		if mt.Empty() {
			return mt, nil // the cluster already is in one of them: stay
		}
	}
	first.adopt(cycle[0])
	return first.transition()
}

// placementKey identifies a placement.
func (s *scheduler) placementKey() string {
	var b strings.Builder
	for _, u := range s.units {
		for _, a := range u.insts {
			fmt.Fprintf(&b, "%d#%d@%d ", u.pos, a.inst, a.node)
		}
		if u.promo != nil {
			for _, a := range u.promo.prom {
				fmt.Fprintf(&b, "P%d#%d@%d ", u.pos, a.inst, a.node)
			}
		}
	}
	return b.String()
}

// place decides the placement for one input.
func place(in Input) (*scheduler, error) {
	s, err := newScheduler(in)
	if err != nil {
		return nil, err
	}
	if s.cfg.Properties.MaintenanceMode {
		return s, nil
	}
	// Two passes: what the first pass places and then has to stop (see
	// enforce) is left out of the second from the start, so that it does
	// not weigh in the tie-breaks of what is placed after it (a phantom
	// that would be gone once the transition has run, changing the next
	// plan).
	order := s.allocationOrder()
	s.reset()
	for _, u := range order {
		s.allocate(u)
	}
	s.enforce()
	if s.exclude() {
		s.reset()
		for _, u := range order {
			s.allocate(u)
		}
		s.enforce()
	}
	return s, nil
}

// adopt takes the placement of a later plan, whose units are in the same
// configuration order; scores stay those of the current state. The later
// plan enforced its rules from the state it was planned in, where more
// may already run: an asymmetrical order lets what runs there stay, while
// from the current state it would start. So the rules are enforced again
// from the current state (enforce only removes: what would start although
// an order forbids it is not started). Enforce sees the later plan's
// weights, which decided where its instances left alone count (setHold);
// the current ones are put back for the scores and reasons shown.
func (s *scheduler) adopt(o *scheduler) {
	type weights struct {
		w     []cib.Score
		parts [][]ScorePart
	}
	own := make([]weights, len(s.units))
	for i, u := range s.units {
		own[i] = weights{u.w, u.wParts}
		u.w = o.units[i].w
	}
	defer func() {
		for i, u := range s.units {
			u.w, u.wParts = own[i].w, own[i].parts
		}
	}()
	for i, u := range s.units {
		v := o.units[i]
		u.insts = append([]assigned(nil), v.insts...)
		u.on = slices.Clone(v.on)
		u.hold = slices.Clone(v.hold)
		u.why = v.why
		u.removed = maps.Clone(v.removed)
		if u.promo != nil {
			// Kept where enforce (which chooses again) has a choice.
			u.promo.prom = slices.Clone(v.promo.prom)
		}
	}
	s.enforce()
}

func (s *scheduler) reset() {
	for _, u := range s.units {
		u.state, u.insts, u.on, u.hold, u.w, u.wParts, u.why, u.removed, u.capWhy = unassigned, nil, nil, nil, nil, nil, "", nil, nil
		if p := u.promo; p != nil {
			p.prom = nil
			for _, sh := range u.shadows() {
				sh.state, sh.insts, sh.on, sh.hold, sh.why = unassigned, nil, nil, nil, ""
			}
		}
	}
	for i := range s.alloc {
		s.alloc[i] = 0
	}
	s.resetCapacity()
}

// enforce stops what placement left in breach of a mandatory rule, as
// Pacemaker does after placing (it does not place again):
//
//   - a Mandatory order whose first action is start: "then" cannot start
//     (so does not run) if "first" runs nowhere; for interleaved clones an
//     instance of "then" needs an instance of "first" on its node. An
//     asymmetrical order (symmetrical=false) only keeps "then" from
//     starting: an instance already running where it is placed stays
//     (Pacemaker's handle_asymmetric_ordering), while one that would start,
//     move or recover is stopped;
//   - an INFINITY colocation: the dependent runs only where the primary
//     does; -INFINITY: never where it does (a colocation loop is placed in
//     one pass and may come out wrong).
//
// Stopping an instance can break another rule, so this repeats until
// nothing changes; it only removes, so it ends. Instances left alone (on a
// node in maintenance, or blocked) are never removed.
func (s *scheduler) enforce() {
	for changed := true; changed; {
		changed = false
		// A colocation loop may have placed a primary after what is
		// colocated with it: where an instance left alone counts is
		// decided again once all are placed (it only shrinks: given back,
		// a node could be taken again, for ever, when the instance's
		// colocation is with a role that itself depends on where the
		// instance counts).
		for _, u := range s.units {
			if u.leftAlone() && s.shrinkHold(u) {
				changed = true
			}
		}
		// Promotion follows what is left of the placement.
		for _, u := range s.units {
			if u.promo != nil && s.choosePromoted(u) {
				changed = true
			}
		}
		for _, o := range s.orders {
			if o.o.Kind != cib.Mandatory || o.o.ThenAction != cib.ActionStart {
				continue
			}
			f, t := o.first, o.then
			switch {
			case o.o.FirstAction == cib.ActionPromote && f.promo != nil:
				f = f.promo.shadow // then needs a promoted instance
			case o.o.FirstAction != cib.ActionStart:
				continue
			}
			interleave := o.interleaved()
			why := fmt.Sprintf("%s: %s must start first, and it cannot run", named("order", o.o.ID), f.id)
			if interleave {
				why = fmt.Sprintf("%s (interleaved): no instance of %s on the node", named("order", o.o.ID), f.id)
			}
			firsts := []*unit{f}
			if o.anyOf != nil {
				firsts = o.anyOf
				why = fmt.Sprintf("%s (require-all=false): none of the resources before it can run", named("order", o.o.ID))
			}
			cannot := func(a assigned) bool {
				for _, f := range firsts {
					if len(f.insts) > 0 && (!interleave || f.on[a.node]) {
						return false
					}
				}
				return true
			}
			bad := cannot
			if !o.o.Symmetrical {
				why += " (symmetrical=false: what already runs stays)"
				bad = func(a assigned) bool { return cannot(a) && t.starts(a) }
			}
			if s.remove(t, why, bad) {
				changed = true
			}
		}
		// A copy of a globally-unique cloned group runs whole up to
		// where it stops: member:N only with the member before it's N.
		for _, u := range s.units {
			prev := u.prevMember()
			if prev == nil || !u.unique {
				continue
			}
			why := fmt.Sprintf("a copy of group %s runs as a whole: %s runs only where %s's instance of the same number does", u.group.g.ID, u.id, prev.id)
			if s.remove(u, why, func(a assigned) bool { return !slices.Contains(prev.insts, a) }) {
				changed = true
			}
		}
		for _, u := range s.units {
			for _, c := range u.withs {
				if c.score > negInf && c.score < inf {
					continue
				}
				p, must := c.prim, c.score >= inf
				why := fmt.Sprintf("%s (%s with %s, %s)", named("colocation", c.c.ID), c.c.Rsc, c.c.With, c.score)
				if must && !p.holdsAny() {
					why = p.nowhereWhy()
				}
				if s.remove(u, why, func(a assigned) bool {
					if must {
						return !p.hold[a.node]
					}
					return p.on[a.node]
				}) {
					changed = true
				}
			}
		}
	}
}

// exclude turns what enforce stopped into exclusions for the next pass:
// a resource left with no instance is not placed at all, otherwise it is
// kept off the nodes it was stopped on. It says whether there is any.
func (s *scheduler) exclude() bool {
	any := false
	for _, u := range s.units {
		if len(u.removed) == 0 {
			continue
		}
		any = true
		if len(u.insts) == 0 {
			u.excluded = u.why
			continue
		}
		u.excludedOn = map[int]string{}
		for n, why := range u.removed {
			u.excludedOn[n] = why
		}
	}
	return any
}

// runs says whether instance a is already running, unfailed, where it is
// placed.
func (u *unit) runs(a assigned) bool {
	for _, c := range u.cur {
		if c.node == a.node && c.inst == a.inst && !c.failed {
			return true
		}
	}
	return false
}

// starts says whether instance a of u has to start where it is placed: it
// does not run there, or a group member before u starts on that node,
// which restarts u (see restartLaterMembers).
func (u *unit) starts(a assigned) bool {
	if !u.runs(a) {
		return true
	}
	if u.group == nil {
		return false
	}
	for _, m := range u.group.members {
		if m == u {
			return false
		}
		for _, b := range m.insts {
			if b.node == a.node && (!u.group.unique() || b.inst == a.inst) && !m.runs(b) {
				return true
			}
		}
	}
	return false
}

// remove stops the instances of u that bad says, except those left alone
// (on a node in maintenance, or blocked), and says whether it stopped any.
func (s *scheduler) remove(u *unit, why string, bad func(a assigned) bool) bool {
	kept := u.insts[:0]
	removed := false
	for _, a := range u.insts {
		if !u.unmanaged(a) && bad(a) {
			u.on[a.node] = false
			removed = true
			if u.removed == nil {
				u.removed = map[int]string{}
			}
			u.removed[a.node] = why
			continue
		}
		kept = append(kept, a)
	}
	u.insts = kept
	for _, a := range u.insts {
		u.on[a.node] = true // another instance may share the node
	}
	if removed {
		s.setHold(u)
	}
	if removed && len(u.insts) == 0 {
		u.why = why
	}
	return removed
}

// maintenance is the answer when the whole cluster is in maintenance mode:
// everything stays as it is and nothing is done.
func (s *scheduler) maintenance() *Result {
	for _, u := range s.units {
		for _, c := range u.cur {
			u.insts = append(u.insts, assigned{inst: c.inst, node: c.node})
			if c.promoted {
				u.promo.prom = append(u.promo.prom, assigned{inst: c.inst, node: c.node})
			}
		}
	}
	s.note("", "the cluster is in maintenance mode (maintenance-mode = true): nothing is started or stopped")
	return &Result{Placement: s.placement(), Transition: Transition{Version: TransitionVersion, Actions: []Action{}}, Notes: s.notes, RecheckAt: s.recheck}
}

func (s *scheduler) placement() []Assignment {
	out := []Assignment{}
	for _, u := range s.units {
		insts := append([]assigned(nil), u.insts...)
		sort.Slice(insts, func(i, j int) bool {
			if insts[i].inst != insts[j].inst {
				return insts[i].inst < insts[j].inst
			}
			return insts[i].node < insts[j].node
		})
		for _, a := range insts {
			as := Assignment{Resource: u.r.ID, Clone: u.clone, Instance: a.inst, Node: s.nodes[a.node].name}
			if u.isPromoted(a) {
				as.Role = cib.RolePromoted
			}
			out = append(out, as)
		}
	}
	return out
}

func (s *scheduler) scores() []ResourceScores {
	var out []ResourceScores
	for _, u := range s.units {
		rs := ResourceScores{Resource: u.id}
		for n, nd := range s.nodes {
			ns := NodeScore{Node: nd.name, Score: u.w[n]}
			if u.wParts != nil {
				ns.Parts = u.wParts[n]
			}
			rs.Nodes = append(rs.Nodes, ns)
		}
		out = append(out, rs)
	}
	return out
}
