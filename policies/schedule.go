package policies

import (
	"fmt"
	"sort"

	"github.com/tandem-ha/tandem/host/config"
)

// Schedule computes the placement and the transition for one input. It
// fails only on malformed input (ErrInvalidInput) or on an ordering cycle
// between the actions (an order "start A then stop B" whose reverse meets
// the restart of A and B).
func Schedule(in Input) (*Result, error) {
	s, err := newScheduler(in)
	if err != nil {
		return nil, err
	}
	if s.cfg.Properties.MaintenanceMode {
		return s.maintenance(), nil
	}
	order := s.allocationOrder()
	// Place everything, then apply the Mandatory-order rule ("then" cannot
	// start where "first" cannot run). The rule only ever forbids more, so
	// this settles; each round re-places with what the last one forbade.
	for round := 0; ; round++ {
		s.reset()
		for _, u := range order {
			s.allocate(u)
		}
		if !s.runnable() {
			break
		}
		if round > len(s.units)*len(s.nodes)+1 {
			return nil, fmt.Errorf("scheduler bug: the order rule did not settle")
		}
	}
	res := &Result{Placement: s.placement(), RecheckAt: s.recheck}
	t, err := s.transition()
	if err != nil {
		return nil, err
	}
	res.Transition = *t
	for _, u := range s.units {
		if len(u.insts) == 0 && u.why != "" {
			s.note(u.id, "not running: "+u.why)
		}
	}
	res.Notes = s.notes
	if s.explain {
		res.Scores = s.scores()
	}
	return res, nil
}

func (s *scheduler) reset() {
	for _, u := range s.units {
		u.state, u.insts, u.on, u.w, u.wParts, u.why = unassigned, nil, nil, nil, nil, ""
	}
	for i := range s.alloc {
		s.alloc[i] = 0
	}
}

// runnable applies Pacemaker's rule for Mandatory orders whose first
// action is start: "then" cannot start if "first" cannot be active. If
// "first" runs nowhere, "then" runs nowhere; for interleaved clones, an
// instance of "then" needs an instance of "first" on its node. It reports
// whether it forbade anything new that was placed.
func (s *scheduler) runnable() bool {
	changed := false
	for _, o := range s.orders {
		if o.o.Kind != config.Mandatory || o.o.FirstAction != config.ActionStart || o.o.ThenAction != config.ActionStart {
			continue
		}
		f, t := o.first, o.then
		if t.block != "" {
			continue
		}
		if len(f.insts) == 0 {
			if len(t.insts) > 0 {
				t.block = fmt.Sprintf("order %s: %s must start first, and it cannot run", o.o.ID, f.id)
				changed = true
			}
			continue
		}
		if f.clone == "" || t.clone == "" || !t.r.Clone.Interleave {
			continue
		}
		for _, a := range t.insts {
			if f.on[a.node] {
				continue
			}
			if t.bans == nil {
				t.bans = make([]string, len(s.nodes))
			}
			if t.bans[a.node] == "" {
				t.bans[a.node] = fmt.Sprintf("order %s (interleaved): no instance of %s here", o.o.ID, f.id)
				changed = true
			}
		}
	}
	return changed
}

// maintenance is the answer when the whole cluster is in maintenance mode:
// everything stays as it is and nothing is done.
func (s *scheduler) maintenance() *Result {
	for _, u := range s.units {
		for _, c := range u.cur {
			u.insts = append(u.insts, assigned{inst: c.inst, node: c.node})
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
			out = append(out, Assignment{Resource: u.r.ID, Clone: u.clone, Instance: a.inst, Node: s.nodes[a.node].name})
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
