package policies

import (
	"fmt"
	"slices"
	"sort"

	"github.com/tandem-ha/tandem/policies/cib"
)

// Promotable clones follow Pacemaker 2.1.5's pcmk_sched_promotable.c: the
// instances are placed like any clone's; then, once the clone is placed
// (and before what is colocated with its Promoted role is), each placed
// instance gets a promotion priority:
//
//	the agent's promotion score on its node (-1 when the agent set none),
//	plus the locations for the Promoted role there, plus the colocations
//	"Promoted u with X" (INFINITY: -INFINITY where X does not run);
//
// an instance whose priority is negative is not promoted. The others are
// sorted by priority plus the clone's score on their node, highest first,
// then the instance promoted now first, then instance number and node
// name, and the first promoted-max are promoted (promoted-node-max per
// node). Positive promotion scores also count in the clone's placement,
// as in Pacemaker (pcmk__add_promotion_scores).
//
// "X with Promoted u" places X relative to u's promoted instances: they
// are a unit of their own, u.promo.shadow, which colocations and orders
// (promote u then start X) take as primary or first; "X with Unpromoted
// u" likewise relative to its other placed instances, u.promo.unshadow.
//
// "Unpromoted u with X" does not place u (Pacemaker skips a colocation
// whose dependent role is not the instance's role while placing): once u
// is placed, it takes the colocation's score off the promotion priority
// of u's instance on a node where X is (pcmk__apply_coloc_to_priority's
// score_multiplier -1), so u is promoted elsewhere. A location for the
// Unpromoted role applies to every role, as in Pacemaker (an instance is
// unpromoted before it is promoted).
//
// A promotable cloned group (promotable = true on the group's clone) is
// promoted instance by instance, the group's instance on a node being its
// members' instances there (pcmk_sched_promotable.c on a group instance):
// each member is a promotable unit of its own, but the group's first
// member chooses for all of them. Its instance on a node may be promoted
// only where every member has an instance (node_to_be_promoted_on); its
// promotion score is the sum of the members' scores (-1 when no member
// has one, promotion_score), which also counts in the group's placement
// when positive; the locations and colocations for the Promoted role are
// those naming the group's clone. Every member's instance on a chosen
// node is then promoted, in group order (see groupEdges).

type promotion struct {
	max, nodeMax int
	score        []cib.Score // the agent's promotion score on each node
	scored       []bool      // whether the agent set one
	withs        []*colo     // "Promoted u with X": where u may be promoted
	unwiths      []*colo     // "Unpromoted u with X": where u is not promoted
	// shadow stands for u's promoted instances as the primary of
	// colocations with-rsc-role Promoted: its insts, on and hold are those
	// of the promoted instances. unshadow stands for the others
	// (with-rsc-role Unpromoted).
	shadow, unshadow *unit
	prom             []assigned // the instances chosen for promotion
	// ticketBan: why no instance may be promoted (a ticket constraint for
	// the Promoted role whose ticket is revoked or in standby); "" if none.
	ticketBan string
}

func (s *scheduler) makePromotable(u *unit, cl *cib.Clone) {
	most, perNode := cl.PromotedLimits()
	n := len(s.nodes)
	u.promo = &promotion{max: most, nodeMax: perNode, score: make([]cib.Score, n), scored: make([]bool, n)}
	u.promo.shadow = &unit{r: u.r, id: u.id + " (Promoted)", pos: u.pos, clone: u.clone, max: most, nodeMax: perNode,
		meta: u.meta, shadowOf: u}
	u.promo.unshadow = &unit{r: u.r, id: u.id + " (Unpromoted)", pos: u.pos, clone: u.clone, max: u.max, nodeMax: u.nodeMax,
		meta: u.meta, shadowOf: u}
}

// promoGroup is u's group when it is a promotable cloned group, else nil.
func (u *unit) promoGroup() *group {
	if g := u.group; g != nil && g.g.Clone != nil && g.g.Clone.Promotable && u.promo != nil {
		return g
	}
	return nil
}

// promoMembers are the units whose promotion scores and orders count for
// u's promotion: u's group's members when u leads a promotable cloned
// group, else u.
func (u *unit) promoMembers() []*unit {
	if g := u.promoGroup(); g != nil {
		return g.members
	}
	return []*unit{u}
}

// promotionScore is the sum of the agents' promotion scores of members
// on node n, and whether any of them set one.
func promotionScore(members []*unit, n int) (cib.Score, bool) {
	var sum cib.Score
	scored := false
	for _, m := range members {
		if m.promo.scored[n] {
			sum, scored = sum.Add(m.promo.score[n]), true
		}
	}
	return sum, scored
}

// instOn is u's placed instance on node n.
func (u *unit) instOn(n int) (assigned, bool) {
	for _, a := range u.insts {
		if a.node == n {
			return a, true
		}
	}
	return assigned{}, false
}

// copyOf is u's placed instance in the same copy of its cloned group as
// a (an instance of another member): the one on a's node, and for a
// globally-unique cloned group also of a's number.
func (u *unit) copyOf(a assigned) (assigned, bool) {
	if !u.unique {
		return u.instOn(a.node)
	}
	for _, b := range u.insts {
		if b == a {
			return b, true
		}
	}
	return assigned{}, false
}

// shadows are u's role units (nil when u is not promotable).
func (u *unit) shadows() []*unit {
	if u.promo == nil {
		return nil
	}
	return []*unit{u.promo.shadow, u.promo.unshadow}
}

// roleOf is a constraint's role as the scheduler reads it: "" for any role
// (none, or Started), else Promoted or Unpromoted.
func roleOf(r string) string {
	if r == cib.RoleStarted {
		return ""
	}
	return r
}

// bindRoleColocation binds a colocation with a role: "Promoted dep with
// X" decides where dep is promoted; "X with Promoted prim" places X
// relative to prim's promoted instances.
func (s *scheduler) bindRoleColocation(c *cib.Colocation, dep, prim *unit) error {
	switch roleOf(c.WithRole) {
	case "":
	case cib.RolePromoted, cib.RoleUnpromoted:
		if prim.promo == nil {
			return invalid("colocation %s: %s is not a promotable clone (with-rsc-role %s)", c.ID, c.With, c.WithRole)
		}
		prim = prim.promo.shadow
		if c.WithRole == cib.RoleUnpromoted {
			prim = prim.shadowOf.promo.unshadow
		}
	default:
		return invalid("colocation %s: with-rsc-role %q is not Started, Promoted or Unpromoted", c.ID, c.WithRole)
	}
	co := &colo{c: c, dep: dep, prim: prim, score: c.Score, factor: float64(c.Score) / float64(inf)}
	switch roleOf(c.RscRole) {
	case "":
	case cib.RolePromoted, cib.RoleUnpromoted:
		if dep.promo == nil {
			return invalid("colocation %s: %s is not a promotable clone (rsc-role %s)", c.ID, c.Rsc, c.RscRole)
		}
		if c.RscRole == cib.RolePromoted {
			dep.promo.withs = append(dep.promo.withs, co)
		} else {
			dep.promo.unwiths = append(dep.promo.unwiths, co)
		}
		return nil
	default:
		return invalid("colocation %s: rsc-role %q is not Started, Promoted or Unpromoted", c.ID, c.RscRole)
	}
	// Where X runs does not lend preferences to where prim is promoted
	// (Pacemaker's apply_coloc_to_primary): a deliberate simplification.
	s.colocate(co)
	return nil
}

// addPromotionScores adds the agent's positive promotion scores to a
// promotable clone's placement weights on available nodes.
func (s *scheduler) addPromotionScores(u *unit) {
	if u.promo == nil {
		return
	}
	if g := u.promoGroup(); g != nil && u != g.members[0] {
		return // the group's instance is placed by its first member
	}
	members := u.promoMembers()
	for n := range s.nodes {
		if sc, scored := promotionScore(members, n); scored && sc > 0 && s.nodes[n].avail {
			s.addPart(u.base, u.baseParts, n, sc, "promotion score")
		}
	}
}

// promotedLocations is the sum of the locations for the Promoted role on
// node n.
func (s *scheduler) promotedLocations(u *unit, n int) cib.Score {
	var sum cib.Score
	for _, l := range s.locs[u] {
		if l.Role != cib.RolePromoted {
			continue
		}
		if l.Rule == nil {
			if idx, ok := s.nodeIdx[l.Node]; ok && idx == n {
				sum = sum.Add(l.Score)
			}
			continue
		}
		if score, ok := s.ruleScore(l, n); ok {
			sum = sum.Add(score)
		}
	}
	return sum
}

// promotionPriority is instance a's promotion priority, and why it may not
// be promoted when it is negative.
func (s *scheduler) promotionPriority(u *unit, a assigned) (cib.Score, string) {
	p, n := u.promo, a.node
	if p.ticketBan != "" {
		return negInf, p.ticketBan
	}
	prio := cib.Score(-1)
	why := "no promotion score"
	members := u.promoMembers()
	if sc, scored := promotionScore(members, n); scored {
		prio, why = sc, fmt.Sprintf("promotion score %s", sc)
		if len(members) > 1 {
			why = fmt.Sprintf("promotion scores of group %s's members %s", u.group.g.ID, sc)
		}
	}
	if l := s.promotedLocations(u, n); l != 0 {
		prio = prio.Add(l)
		why = fmt.Sprintf("%s, locations for the Promoted role %s", why, l)
	}
	for _, c := range p.withs {
		pr := c.prim
		if pr.state != done {
			continue
		}
		switch {
		case c.score >= inf && !pr.hold[n]:
			return negInf, fmt.Sprintf("%s: %s is not on %s", named("colocation", c.c.ID), pr.id, s.nodes[n].name)
		case c.score <= negInf && pr.on[n]:
			return negInf, fmt.Sprintf("%s: %s is on %s", named("colocation", c.c.ID), pr.id, s.nodes[n].name)
		case c.score > 0 && c.score < inf && pr.hold[n], c.score < 0 && c.score > negInf && pr.on[n]:
			prio = prio.Add(c.score)
		}
	}
	for _, c := range p.unwiths {
		pr := c.prim
		if pr.state != done {
			continue
		}
		if c.score > 0 && pr.hold[n] || c.score < 0 && pr.on[n] {
			if c.score >= inf {
				return negInf, fmt.Sprintf("%s: %s is on %s, and this instance must stay unpromoted there", named("colocation", c.c.ID), pr.id, s.nodes[n].name)
			}
			prio = prio.Add(-c.score)
		}
	}
	for _, o := range s.orders {
		if !slices.Contains(members, o.then) || o.o.Kind != cib.Mandatory || o.o.ThenAction != cib.ActionPromote {
			continue
		}
		f := o.first
		if o.o.FirstAction == cib.ActionPromote && f.promo != nil {
			f = f.promo.shadow
		} else if o.o.FirstAction != cib.ActionStart {
			continue
		}
		if f.state == done && len(f.insts) == 0 {
			return negInf, fmt.Sprintf("%s: %s must %s first, and it cannot", named("order", o.o.ID), o.first.id, o.o.FirstAction)
		}
	}
	return prio, why
}

// choosePromoted chooses u's promoted instances among those placed, and
// says whether the choice changed.
//
// For a promotable cloned group, u is its first member, which chooses for
// every member once all of them are placed (other members: false).
//
// An instance left alone (blocked, or on a node in maintenance) keeps its
// role: promoted, it counts against promoted-max and promoted-node-max,
// of its member and of its group, and the limits are kept by promoting
// fewer of the others. A group's copy with a member left alone promoted
// is left promoted (difference 11): its other members there are promoted
// with it, but only where the copy may be promoted (no INFINITY
// colocation or -INFINITY location for the Promoted role against it, no
// revoked ticket; Pacemaker gives such a copy the priority INFINITY, plus
// those scores) and where each of them stays within its own limits.
func (s *scheduler) choosePromoted(u *unit) bool {
	p := u.promo
	g := u.promoGroup()
	if g != nil {
		if u != g.members[0] {
			return false
		}
		for _, m := range g.members {
			if m.state != done {
				return false
			}
		}
	}
	type cand struct {
		a    assigned
		sort cib.Score
		prev bool // chosen before (enforce chooses again after removals)
		was  bool // promoted there now
	}
	members := u.promoMembers()
	// copyOf is member i's instance in the copy whose first member's
	// instance is a.
	copyOf := func(i int, a assigned) (assigned, bool) {
		if members[i] == u {
			return a, true
		}
		return members[i].copyOf(a)
	}
	// Each member's promoted instances, and their counts in all and by
	// node: first those left alone promoted, which cannot change.
	prom := make([][]assigned, len(members))
	total := make([]int, len(members))
	on := make([][]int, len(members))
	for i, m := range members {
		on[i] = make([]int, len(s.nodes))
		for _, c := range m.cur {
			a := assigned{inst: c.inst, node: c.node}
			if !c.managed && c.promoted && slices.Contains(m.insts, a) && !slices.Contains(prom[i], a) {
				prom[i] = append(prom[i], a)
				total[i]++
				on[i][a.node]++
			}
		}
	}
	fits := func(i int, a assigned) bool { return total[i] < p.max && on[i][a.node] < p.nodeMax }
	take := func(i int, a assigned) {
		prom[i] = append(prom[i], a)
		total[i]++
		on[i][a.node]++
	}
	var cands []cand
	var left []assigned // copies left alone promoted that may be promoted
	copies := 0         // the group's promoted copies
	count := make([]int, len(s.nodes))
	for _, a := range u.insts {
		was, unmanaged, whole := false, false, true
		for i, m := range members {
			ma, ok := copyOf(i, a)
			if !ok {
				whole = false // a group's instance is promoted whole or not at all
				continue
			}
			for _, c := range m.cur {
				if c.inst == ma.inst && c.node == ma.node && c.promoted {
					was = true
				}
			}
			unmanaged = unmanaged || m.unmanaged(ma)
		}
		if unmanaged {
			// Left alone: stays promoted if it is, and counts.
			if was {
				copies++
				count[a.node]++
				if prio, _ := s.promotionPriority(u, a); g != nil && prio > negInf {
					left = append(left, a)
				}
			}
			continue
		}
		if !whole {
			continue
		}
		prio, _ := s.promotionPriority(u, a)
		if prio < 0 {
			continue
		}
		sortIdx := prio
		if u.w != nil {
			sortIdx = prio.Add(u.w[a.node])
		}
		cands = append(cands, cand{a: a, sort: sortIdx, prev: slices.Contains(p.prom, a), was: was})
	}
	sort.SliceStable(cands, func(i, j int) bool {
		x, y := cands[i], cands[j]
		if x.sort != y.sort {
			return x.sort > y.sort
		}
		if x.prev != y.prev {
			return x.prev
		}
		if x.was != y.was {
			return x.was
		}
		if x.a.inst != y.a.inst {
			return x.a.inst < y.a.inst
		}
		return s.nameRank[x.a.node] < s.nameRank[y.a.node]
	})
	// A copy left alone promoted: its members that are not left alone
	// are promoted with it where they fit.
	for _, a := range left {
		for i, m := range members {
			if ma, ok := copyOf(i, a); ok && !m.unmanaged(ma) && fits(i, ma) {
				take(i, ma)
			}
		}
	}
	for _, c := range cands {
		if copies >= p.max {
			break
		}
		if count[c.a.node] >= p.nodeMax {
			continue
		}
		all := true
		for i := range members {
			ma, _ := copyOf(i, c.a)
			all = all && fits(i, ma)
		}
		if !all {
			continue
		}
		copies++
		count[c.a.node]++
		for i := range members {
			ma, _ := copyOf(i, c.a)
			take(i, ma)
		}
	}
	changed := false
	for i, m := range members {
		sort.Slice(prom[i], func(x, y int) bool { return prom[i][x].inst < prom[i][y].inst })
		if s.setPromoted(m, prom[i]) {
			changed = true
		}
	}
	return changed
}

// setPromoted makes chosen u's promoted instances, and sets its role
// units; it says whether anything changed.
func (s *scheduler) setPromoted(u *unit, chosen []assigned) bool {
	p := u.promo
	changed := !slices.Equal(chosen, p.prom) || p.shadow.state != done
	p.prom = chosen
	sh := p.shadow
	sh.insts = chosen
	sh.on = make([]bool, len(s.nodes))
	sh.hold = make([]bool, len(s.nodes))
	for _, a := range chosen {
		sh.on[a.node] = true
		sh.hold[a.node] = u.hold == nil || u.hold[a.node]
	}
	sh.why = ""
	if len(chosen) == 0 {
		sh.why = fmt.Sprintf("%s has no instance it can promote", u.id)
	}
	sh.state = done
	un := p.unshadow
	un.insts = nil
	un.on = make([]bool, len(s.nodes))
	un.hold = make([]bool, len(s.nodes))
	for _, a := range u.insts {
		if slices.Contains(chosen, a) {
			continue
		}
		un.insts = append(un.insts, a)
		un.on[a.node] = true
		un.hold[a.node] = u.hold == nil || u.hold[a.node]
	}
	un.why = ""
	if len(un.insts) == 0 {
		un.why = fmt.Sprintf("%s has no unpromoted instance", u.id)
	}
	un.state = done
	return changed
}

// isPromoted says whether instance a of u is chosen for promotion.
func (u *unit) isPromoted(a assigned) bool {
	return u.promo != nil && slices.Contains(u.promo.prom, a)
}

// promotionActions adds u's demote and promote actions: a demote where an
// instance runs promoted and should not stay promoted (or stops), before
// its stop and before any promote of u; a promote where an instance should
// be promoted and is not (or starts), after every start of u (Pacemaker's
// clone pseudo-actions: demoted, stopped, started, then promote).
func (s *scheduler) promotionActions(b *builder, u *unit, ua *unitActions) {
	if u.promo == nil {
		return
	}
	stopOf := map[assigned]int{}
	for _, i := range ua.stops {
		a := b.actions[i]
		stopOf[assigned{a.Instance, s.nodeIdx[a.Node]}] = i
	}
	for _, c := range u.cur {
		a := assigned{c.inst, c.node}
		if !c.promoted || !c.managed {
			continue
		}
		_, stops := stopOf[a]
		if !stops && u.isPromoted(a) {
			continue
		}
		reason := "not chosen for promotion"
		if stops {
			reason = "stops"
		}
		d := b.add(Action{Resource: u.r.ID, Clone: u.clone, Instance: c.inst, Node: s.nodes[c.node].name, Op: OpDemote, Reason: reason})
		ua.demotes = append(ua.demotes, d)
		for _, st := range ua.stops {
			b.edge(d, st)
		}
	}
	for _, a := range u.promo.prom {
		if u.unmanaged(a) {
			continue
		}
		was := false
		for _, c := range u.cur {
			if c.inst == a.inst && c.node == a.node && c.promoted && !c.failed {
				was = true
			}
		}
		if _, restarts := stopOf[a]; was && !restarts {
			continue
		}
		pr := b.add(Action{Resource: u.r.ID, Clone: u.clone, Instance: a.inst, Node: s.nodes[a.node].name, Op: OpPromote, Reason: "promote"})
		ua.promotes = append(ua.promotes, pr)
		for _, st := range ua.starts {
			b.edge(st, pr)
		}
		for _, d := range ua.demotes {
			b.edge(d, pr)
		}
	}
}
