package policies

import (
	"fmt"
	"slices"
	"sort"

	"github.com/tandem-ha/tandem/policies/cib"
)

// Allocation follows Pacemaker 2.1's scheduler (pcmk__primitive_assign,
// pcmk__clone_allocate, distribute_children): resources are taken in a
// fixed order (priority, then score on the current node, then best score,
// then configuration order); before a resource is placed, the resources it
// is colocated with are placed; the resources colocated with it lend it
// their preferences; then the best node wins:
//
//	highest score, then fewest resources already placed on the node, then
//	the node it runs on, then the node name (alphabetical);
//
// and if the best score is positive and the node it runs on has that same
// score, it stays. A resource runs nowhere when every node scores below 0.

// allocationOrder sorts units like Pacemaker's cmp_resources, except that
// it ignores where resources run now: priority first, then the best score
// on any node (available nodes first, each group by name), scores taken
// without stickiness and with those of the resources it is colocated with,
// then configuration order. Pacemaker also puts first the resources with
// the best score where they run; that makes the order, and with it every
// tie-break on the number of resources per node, change once a transition
// has run, so that planning again could move things again. Tandem's order
// only changes when the configuration or the failures do.
func (s *scheduler) allocationOrder() []*unit {
	units := append([]*unit(nil), s.units...)
	nodes := make([]int, len(s.nodes))
	for i := range nodes {
		nodes[i] = i
	}
	sort.Slice(nodes, func(a, b int) bool {
		na, nb := nodes[a], nodes[b]
		if s.nodes[na].avail != s.nodes[nb].avail {
			return s.nodes[na].avail
		}
		return s.nameRank[na] < s.nameRank[nb]
	})
	for _, u := range units {
		u.sortKey = s.sortScores(u)
	}
	if s.capacity != nil {
		s.utilizationOrder(units)
		return units
	}
	sort.SliceStable(units, func(i, j int) bool {
		return units[i].meta.Priority > units[j].meta.Priority
	})
	return units
}

// sortScores are u's own scores plus those of the resources it is
// colocated with, scaled by the colocation (Pacemaker's
// add_colocated_node_scores with "this with" selection).
func (s *scheduler) sortScores(u *unit) []cib.Score {
	if len(u.withs) == 0 {
		return u.orderBase // read only
	}
	work := append([]cib.Score(nil), u.orderBase...)
	if s.anyAvailable(work) {
		u.merging = true
		for _, c := range u.withs {
			s.mergeThisWith(c.prim, work, c.factor)
		}
		u.merging = false
	}
	return work
}

func (s *scheduler) mergeThisWith(u *unit, w []cib.Score, factor float64) {
	if u.merging {
		return
	}
	u.merging = true
	defer func() { u.merging = false }()
	s.addMatching(w, nil, u.orderBase, factor, false, "")
	if s.anyAvailable(w) {
		for _, c := range u.withs {
			s.mergeThisWith(c.prim, w, factor*c.factor)
		}
	}
}

// allocate places u (and first what it is colocated with).
func (s *scheduler) allocate(u *unit) {
	if o := u.shadowOf; o != nil {
		// Its promoted instances: chosen once it is placed (a promotable
		// cloned group once all its members are).
		if g := o.promoGroup(); g != nil {
			o = g.members[len(g.members)-1]
		}
		s.allocate(o)
		return
	}
	if u.state != unassigned {
		return // placed, or a colocation loop: Pacemaker skips it too
	}
	u.state = assigning
	for _, c := range u.withs {
		s.allocate(c.prim)
	}
	if u.promo != nil {
		for _, c := range u.promo.withs {
			s.allocate(c.prim)
		}
	}
	if u.clone != "" {
		s.assignClone(u)
	} else {
		s.assignPrimitive(u)
	}
	u.on = make([]bool, len(s.nodes))
	for _, a := range u.insts {
		u.on[a.node] = true
		if u.clone == "" {
			s.alloc[a.node]++ // assignClone counts instances as it places them
			s.consume(u, a.node)
		}
	}
	s.setHold(u)
	u.state = done
	if g := u.promoGroup(); g != nil {
		s.choosePromoted(g.members[0])
	} else if u.promo != nil {
		s.choosePromoted(u)
	}
}

// setHold records where u's instances count for the resources colocated
// with it (u.hold): where u is placed, except where its only instance is
// one left alone (blocked, or on a node in maintenance) that u would not
// be given if it were free to move: a node that is not available, banned,
// or kept from u by its own mandatory colocations (for a group member,
// the member before it, so the group's own ban), or a resource with
// target-role Stopped. Such an instance still runs, and still keeps
// resources away (-INFINITY); but nothing starts with it (INFINITY, or a
// positive score), and what would need it there is stopped: its group's
// later members stop where the group may not run, as in Pacemaker, which
// gives the later members of a group with an unmanaged member the
// group's mandatory colocations.
//
// It says whether u.hold changed.
func (s *scheduler) setHold(u *unit) bool {
	hold := make([]bool, len(s.nodes))
	for _, a := range u.insts {
		hold[a.node] = hold[a.node] || !u.unmanaged(a) || s.wouldPlace(u, a.node)
	}
	changed := !slices.Equal(hold, u.hold)
	u.hold = hold
	return changed
}

// shrinkHold decides u.hold again (setHold), but only takes nodes away;
// it says whether u.hold changed.
func (s *scheduler) shrinkHold(u *unit) bool {
	old := u.hold
	s.setHold(u)
	if old != nil {
		for n := range u.hold {
			u.hold[n] = u.hold[n] && old[n]
		}
	}
	return !slices.Equal(old, u.hold)
}

// wouldPlace says whether u, free to move, could be given node n. Its
// weights say it, except in a colocation loop, where a primary may have
// been placed after u: its mandatory colocations are checked again (see
// enforce).
func (s *scheduler) wouldPlace(u *unit, n int) bool {
	if !s.nodes[n].avail || u.stopped || u.excluded != "" || u.excludedOn[n] != "" || u.w == nil || u.w[n] <= negInf {
		return false
	}
	for _, c := range u.withs {
		p := c.prim
		if p.state != done {
			continue
		}
		if c.score >= inf && !p.hold[n] || c.score <= negInf && p.on[n] {
			return false
		}
	}
	return true
}

func (s *scheduler) assignPrimitive(u *unit) {
	// Most resources have no colocation: their weights are their base,
	// read only, no copy.
	w, parts := u.base, u.baseParts
	shared := true
	if len(u.withs) > 0 || len(u.deps) > 0 || len(u.excludedOn) > 0 {
		w, parts = copyWeights(u.base, u.baseParts)
		shared = false
	}
	s.applyExclusions(u, w, parts)
	current := -1
	if len(u.cur) > 0 {
		current = u.cur[0].node
	}
	for _, c := range u.withs {
		s.applyColocation(u, w, parts, c)
	}
	for _, c := range u.deps {
		if c.influences {
			s.addColocated(c, w, parts, c.factor, false, true, u.id)
		}
	}
	u.w, u.wParts = w, parts
	if fixed, ok := u.fixed(); ok {
		u.insts = []assigned{{inst: 0, node: fixed}}
		return
	}
	if u.stopped {
		u.why = "target-role is Stopped"
		return
	}
	if u.excluded != "" {
		u.why = u.excluded
		return
	}
	prefer, w, parts := s.banInsufficient(u, w, parts, shared)
	u.w, u.wParts = w, parts
	if n := s.choose(w, current, prefer); n >= 0 {
		u.insts = []assigned{{inst: 0, node: n}}
	} else if u.why == "" {
		u.why = s.nowhere(u)
	}
}

// fixed is where a primitive stays because it runs on a node in
// maintenance (Pacemaker: unmanaged resources keep their current node).
func (u *unit) fixed() (int, bool) {
	for _, c := range u.cur {
		if !c.managed {
			return c.node, true
		}
	}
	return -1, false
}

// applyExclusions keeps u off the nodes the first pass had to stop it on.
func (s *scheduler) applyExclusions(u *unit, w []cib.Score, parts [][]ScorePart) {
	for n, why := range u.excludedOn {
		s.setPart(w, parts, n, negInf, why)
	}
}

// applyColocation applies "u with c.prim" to u's weights once c.prim is
// placed (Pacemaker's apply_coloc_score): INFINITY bans every node where
// the primary has no instance, -INFINITY bans the nodes where it has one,
// a finite score is added on the nodes where it has one. A negative finite
// score is undone when it leaves u nowhere to run.
func (s *scheduler) applyColocation(u *unit, w []cib.Score, parts [][]ScorePart, c *colo) {
	p := c.prim
	if p.state != done {
		return // colocation loop: the primary is still being placed
	}
	reason := "" // built only when explaining: this runs for every colocation of every resource
	if parts != nil {
		reason = fmt.Sprintf("%s (%s with %s, %s)", named("colocation", c.c.ID), c.c.Rsc, c.c.With, c.score)
	}
	switch {
	case c.score >= inf:
		if !p.holdsAny() && u.why == "" {
			u.why = p.nowhereWhy()
		}
		for n := range w {
			if !p.hold[n] && w[n] > negInf {
				w[n] = negInf
				if parts != nil {
					s.setPart(w, parts, n, negInf, reason+": "+p.id+" is not here")
				}
			}
		}
	case c.score <= negInf:
		for n := range w {
			if p.on[n] && w[n] > negInf {
				w[n] = negInf
				if parts != nil {
					s.setPart(w, parts, n, negInf, reason+": "+p.id+" is here")
				}
			}
		}
	default:
		var archive []cib.Score
		var archiveParts [][]ScorePart
		if c.score < 0 {
			archive, archiveParts = copyWeights(w, parts)
		}
		for n := range w {
			if c.score > 0 && p.hold[n] || c.score < 0 && p.on[n] {
				s.addPart(w, parts, n, c.score, reason)
			}
		}
		if archive != nil && !s.anyAvailable(w) {
			copy(w, archive)
			for n := range parts {
				parts[n] = archiveParts[n]
			}
		}
	}
}

// addColocated lends dep's preferences to the weights w of the resource
// dep is colocated with, scaled by factor, and recursively those of the
// resources colocated with dep (Pacemaker's add_colocated_node_scores with
// "with this" selection). nonNegative keeps only what does not lower a
// score (clones); rollback undoes it all if no node is left.
//
// Unlike Pacemaker, the preferences lent leave out dep's stickiness, and a
// dep with target-role=Stopped lends nothing: where a dependent happens to
// run must not decide where its primary goes, or the primary could move
// again after the transition has moved the dependent. The exception is a
// group member lending to the member before it (colo.lends): the members
// run together, and a group's stickiness is the sum of its active
// members', as in Pacemaker. Lent preferences are scaled by the product
// of the factors along the chain (Pacemaker 2.1.5 uses each constraint's
// own factor at every level, which lends a dependent group's indirect
// members at full strength; its code calls that questionable).
func (s *scheduler) addColocated(c *colo, w []cib.Score, parts [][]ScorePart, factor float64, nonNegative, rollback bool, target string) {
	dep := c.dep
	if dep.merging || dep.stopped {
		return
	}
	dep.merging = true
	defer func() { dep.merging = false }()
	work, workParts := copyWeights(w, parts)
	reason := ""
	if parts != nil {
		reason = "preferences of " + dep.id + " (colocated with " + target + ")"
	}
	s.addMatching(work, workParts, c.lends(), factor, nonNegative, reason)
	if s.anyAvailable(work) {
		for _, c := range dep.deps {
			if c.influences {
				s.addColocated(c, work, workParts, factor*c.factor, nonNegative, rollback, target)
			}
		}
	}
	if rollback && !s.anyAvailable(work) {
		return
	}
	copy(w, work)
	for n := range parts {
		parts[n] = workParts[n]
	}
}

// addMatching adds factor × other's score on each node to w (Pacemaker's
// add_node_scores_matching_attr): a node other cannot use counts as
// -INFINITY; a negative preference times a negative factor is dropped.
func (s *scheduler) addMatching(w []cib.Score, parts [][]ScorePart, other []cib.Score, factor float64, nonNegative bool, reason string) {
	for n := range w {
		score := other[n]
		if !s.nodes[n].avail {
			score = negInf
		}
		if factor < 0 && score < 0 {
			continue
		}
		add := score.Scale(factor)
		sum := add.Add(w[n])
		if nonNegative && sum < 0 && w[n] >= 0 {
			continue
		}
		if add != 0 {
			s.addPart(w, parts, n, add, reason)
		}
	}
}

// anyAvailable says whether some available node has a score >= 0.
func (s *scheduler) anyAvailable(w []cib.Score) bool {
	for n, v := range w {
		if v >= 0 && s.nodes[n].avail {
			return true
		}
	}
	return false
}

// choose picks the node for one primitive or instance, or -1. current is
// the node it runs on (-1: none); prefer, when >= 0, is a node to take if
// it is as good as the best (clone pre-allocation).
func (s *scheduler) choose(w []cib.Score, current, prefer int) int {
	best := -1
	for n := range w {
		if !s.nodes[n].avail {
			continue
		}
		if best < 0 || s.better(w, n, best, current) {
			best = n
		}
	}
	if best < 0 {
		return -1
	}
	chosen := best
	if prefer >= 0 {
		if w[prefer] >= w[best] && s.nodes[prefer].avail && w[prefer] >= 0 {
			return prefer
		}
	}
	// A positive best score ties with the current node: stay.
	if w[chosen] > 0 && current >= 0 && s.nodes[current].avail && w[current] == w[chosen] {
		chosen = current
	}
	if w[chosen] < 0 {
		return -1
	}
	return chosen
}

// better is Pacemaker's compare_nodes.
func (s *scheduler) better(w []cib.Score, a, b, current int) bool {
	if w[a] != w[b] {
		return w[a] > w[b]
	}
	if cmp, nameOnly := s.tieBreak(a, b); cmp != 0 {
		return cmp < 0
	} else if nameOnly {
		return s.nameRank[a] < s.nameRank[b]
	}
	if s.alloc[a] != s.alloc[b] {
		return s.alloc[a] < s.alloc[b]
	}
	if current >= 0 && (a == current) != (b == current) {
		return a == current
	}
	return s.nameRank[a] < s.nameRank[b]
}

// assignClone places a clone's instances. Each node offers
// clone-node-max slots; a slot already held by an instance (running or
// failed) carries the instance's stickiness. Slots are taken one at a
// time, best first, until clone-max are taken:
//
//	highest score, then the node with fewer instances of this clone
//	(spread), then a held slot if the score is positive, then fewest
//	resources placed on the node, then a held slot, then the node name.
//
// This gives Pacemaker's answers (distribute_children) in the common
// cases, and unlike Pacemaker's instance-by-instance walk it does not
// depend on the order instances are looked at: once a transition has run,
// the slots taken only gain stickiness and the others only lose it, so
// planning again takes the same slots.
func (s *scheduler) assignClone(u *unit) {
	cw, cwParts := copyWeights(u.base, u.baseParts)
	s.applyExclusions(u, cw, cwParts)
	for _, c := range u.deps {
		if c.influences {
			s.addColocated(c, cw, cwParts, c.factor, true, true, u.id)
		}
	}
	available := 0
	for _, n := range s.nodes {
		if n.avail {
			available++
		}
	}
	allColoc := u.max < available
	// Node weights for instances: the clone's own, with its colocations
	// (mandatory and negative ones always, positive ones only when not
	// every node gets an instance, as Pacemaker does), and the
	// preferences of what is colocated with it on the same terms.
	w, wParts := copyWeights(u.base, u.baseParts)
	s.applyExclusions(u, w, wParts)
	for n := range w {
		if cw[n] < 0 && w[n] >= 0 {
			s.addPart(w, wParts, n, cw[n], "clone-wide score")
		}
	}
	// Pacemaker undoes a negative finite colocation for an instance that
	// would otherwise have nowhere to go: fallback is w without them, used
	// for a slot only when w leaves none.
	var fallback []cib.Score
	for _, c := range u.withs {
		if c.score < 0 && c.score > negInf && fallback == nil {
			fallback = append([]cib.Score(nil), w...)
		}
	}
	for _, c := range u.withs {
		if allColoc || c.score < 0 || c.score >= inf {
			s.applyColocation(u, w, wParts, c)
			if fallback != nil && (c.score >= 0 || c.score <= negInf) {
				s.applyColocation(u, fallback, nil, c)
			}
		}
	}
	for _, c := range u.deps {
		if c.influences && (allColoc || c.score < 0) {
			s.addColocated(c, w, wParts, c.factor, false, true, u.id)
			if fallback != nil {
				s.addColocated(c, fallback, nil, c.factor, false, true, u.id)
			}
		}
	}
	u.w, u.wParts = w, wParts

	var insts []assigned
	count := make([]int, len(s.nodes))
	// Instances on nodes in maintenance stay, whatever the limits.
	for _, c := range u.cur {
		if !c.managed {
			insts = append(insts, assigned{inst: c.inst, node: c.node})
			count[c.node]++
			s.alloc[c.node]++
			s.consume(u, c.node)
		}
	}
	switch {
	case u.stopped:
		u.why = "target-role is Stopped"
	case u.excluded != "":
		u.why = u.excluded
	case u.unique && u.prevMember() != nil:
		insts = s.followCopies(u, w, insts, count)
		if len(insts) == 0 {
			u.why = s.nowhere(u)
		}
	default:
		held := make([]int, len(s.nodes)) // instances (managed) on each node now
		for _, c := range u.cur {
			if c.managed && !u.beyond(c) && u.banned(c.inst, c.node) == "" {
				held[c.node]++
			}
		}
		taken := make([]int, len(s.nodes)) // slots taken on each node
		fits := s.numbersFit(u, taken, held)
		for placed := len(insts); placed < u.max; placed++ {
			best := s.bestSlot(u, w, count, taken, held, fits)
			if best < 0 && fallback != nil {
				best = s.bestSlot(u, fallback, count, taken, held, fits)
			}
			if best < 0 {
				break
			}
			if fits != nil && taken[best] >= held[best] {
				fits.add(best)
			}
			taken[best]++
			count[best]++
			s.alloc[best]++
			s.consume(u, best)
			insts = append(insts, assigned{inst: -1, node: best})
		}
		if len(insts) == 0 {
			u.why = s.nowhere(u)
		}
	}
	u.insts = s.numberInstances(u, insts)
}

// followCopies places the instances of u, a member after the first of a
// globally-unique cloned group, copy by copy: instance N goes where the
// member before it placed its instance N, as Pacemaker assigns each group
// instance (member:N) as a whole, if u may run there (its weights w carry
// the group's colocation with the member before it, its own bans and
// failures) and the node has room for it. insts holds the instances left
// alone on their node; count what they take of each node.
func (s *scheduler) followCopies(u *unit, w []cib.Score, insts []assigned, count []int) []assigned {
	prev := u.prevMember()
	kept := map[int]bool{}
	for _, a := range insts {
		kept[a.inst] = true
	}
	for _, a := range prev.insts {
		n := a.node
		if kept[a.inst] || a.inst >= u.max || !s.nodes[n].avail || w[n] < 0 || count[n] >= u.nodeMax {
			continue
		}
		if s.capacity != nil && !s.fits(n, u.util) {
			if u.capWhy == nil {
				u.capWhy = map[int]string{}
			}
			u.capWhy[n] = "not enough free capacity for an instance of " + u.id
			continue
		}
		count[n]++
		s.alloc[n]++
		s.consume(u, n)
		insts = append(insts, assigned{inst: a.inst, node: n})
	}
	return insts
}

// bestSlot is the node of the best free slot under weights w, or -1.
func (s *scheduler) bestSlot(u *unit, w []cib.Score, count, taken, held []int, fits *numberFit) int {
	best, bestScore := -1, cib.Score(0)
	need, what := s.slotNeed(u, w, count)
	for n := range s.nodes {
		if !s.nodes[n].avail || count[n] >= u.nodeMax || w[n] < 0 {
			continue
		}
		if fits != nil && taken[n] >= held[n] && !fits.fits(n) {
			continue // every instance a new slot here could take failed here
		}
		if s.capacity != nil && !s.fits(n, need) {
			if u.capWhy == nil {
				u.capWhy = map[int]string{}
			}
			u.capWhy[n] = "not enough free capacity for an instance of " + u.id + what
			continue
		}
		score := w[n]
		if taken[n] < held[n] {
			score = score.Add(u.sticky)
			if u.groupSticky != nil {
				score = score.Add(u.groupSticky[n])
			}
			if u.copySticky != nil && taken[n] < len(u.copySticky[n]) {
				score = score.Add(u.copySticky[n][taken[n]])
			}
		}
		if score < 0 {
			continue
		}
		if best < 0 || s.betterSlot(score, n, bestScore, best, count, taken, held) {
			best, bestScore = n, score
		}
	}
	return best
}

// betterSlot compares a slot on node a (score sa) with one on node b.
func (s *scheduler) betterSlot(sa cib.Score, a int, sb cib.Score, b int, count, taken, held []int) bool {
	if sa != sb {
		return sa > sb
	}
	if count[a] != count[b] {
		return count[a] < count[b]
	}
	ha, hb := taken[a] < held[a], taken[b] < held[b]
	if sa > 0 && ha != hb {
		return ha
	}
	if cmp, nameOnly := s.tieBreak(a, b); cmp != 0 {
		return cmp < 0
	} else if nameOnly {
		return s.nameRank[a] < s.nameRank[b]
	}
	if s.alloc[a] != s.alloc[b] {
		return s.alloc[a] < s.alloc[b]
	}
	if ha != hb {
		return ha
	}
	return s.nameRank[a] < s.nameRank[b]
}

// numberInstances gives the slots taken (inst -1) instance numbers: an
// instance already on the node keeps its number (started ones before
// failed ones, then by number); the other slots take the lowest numbers
// not kept, so an instance stopped on one node and started on another is
// a move of the same instance. Result sorted by instance.
func (s *scheduler) numberInstances(u *unit, insts []assigned) []assigned {
	used := map[int]bool{}
	for _, a := range insts {
		if a.inst >= 0 {
			used[a.inst] = true
		}
	}
	cur := append([]current(nil), u.cur...)
	sort.SliceStable(cur, func(i, j int) bool {
		if cur[i].failed != cur[j].failed {
			return !cur[i].failed
		}
		return cur[i].inst < cur[j].inst
	})
	for i := range insts {
		if insts[i].inst >= 0 {
			continue
		}
		for _, c := range cur {
			if c.managed && c.node == insts[i].node && !used[c.inst] && !u.beyond(c) && u.banned(c.inst, c.node) == "" {
				insts[i].inst = c.inst
				used[c.inst] = true
				break
			}
		}
	}
	var slots, free []int // the slots still without a number, by index in insts; the numbers left
	for i := range insts {
		if insts[i].inst < 0 {
			slots = append(slots, i)
		}
	}
	for n := 0; len(free) < len(slots); n++ {
		if !used[n] {
			free = append(free, n)
		}
	}
	nodes := make([]int, len(slots))
	for k, i := range slots {
		nodes[k] = insts[i].node
	}
	out := insts[:0]
	numbers := u.numbersFor(nodes, free)
	k := 0
	for i := range insts {
		if k < len(slots) && slots[k] == i {
			num := numbers[k]
			k++
			if num < 0 {
				// No instance left that may run there (each failed
				// there): the slot stays empty.
				s.alloc[insts[i].node]--
				s.unconsume(u, insts[i].node)
				continue
			}
			insts[i].inst = num
		}
		out = append(out, insts[i])
	}
	insts = out
	sort.Slice(insts, func(i, j int) bool { return insts[i].inst < insts[j].inst })
	return insts
}

// numbersFor gives each of the new slots on nodes a distinct number of
// free (ascending), none that failed on its slot's node up to
// migration-threshold (u.bans): -1 for a slot none is left for. Without
// bans each slot takes the lowest number left, in order; with them, a
// matching (augmenting paths) so that a number banned on one slot's node
// goes to another's.
func (u *unit) numbersFor(nodes, free []int) []int {
	out := make([]int, len(nodes))
	slotOf := map[int]int{} // number -> the slot holding it
	var try func(slot int, seen map[int]bool) bool
	try = func(slot int, seen map[int]bool) bool {
		// The lowest number no slot holds, if one may run there; else
		// one another slot gives up for one of its own.
		for _, num := range free {
			if _, held := slotOf[num]; !held && u.banned(num, nodes[slot]) == "" {
				slotOf[num], out[slot] = slot, num
				return true
			}
		}
		for _, num := range free {
			other, held := slotOf[num]
			if !held || seen[num] || u.banned(num, nodes[slot]) != "" {
				continue
			}
			seen[num] = true
			if try(other, seen) {
				slotOf[num], out[slot] = slot, num
				return true
			}
		}
		return false
	}
	for i := range nodes {
		out[i] = -1
		try(i, map[int]bool{})
	}
	return out
}

// numberFit tracks, while a unique clone's slots are taken, whether the
// new slots (not held by an instance running there) can still each get a
// number that did not fail on their node: a slot no number fits is not
// taken, so that the instance that failed there goes to another node.
type numberFit struct {
	u     *unit
	free  []int // numbers not kept by an instance where it runs
	slots []int // nodes of the new slots taken so far
}

// numbersFit is nil unless u is a globally-unique clone with instances
// kept off nodes by their failures.
func (s *scheduler) numbersFit(u *unit, taken, held []int) *numberFit {
	if len(u.bans) == 0 {
		return nil
	}
	kept := map[int]bool{}
	for _, c := range u.cur {
		if !c.managed || (!u.beyond(c) && u.banned(c.inst, c.node) == "") {
			kept[c.inst] = true
		}
	}
	f := &numberFit{u: u}
	for n := 0; n < u.max; n++ {
		if !kept[n] {
			f.free = append(f.free, n)
		}
	}
	return f
}

// fits says whether one more new slot on node n leaves every new slot a
// number.
func (f *numberFit) fits(n int) bool {
	for _, num := range f.u.numbersFor(append(append([]int(nil), f.slots...), n), f.free) {
		if num < 0 {
			return false
		}
	}
	return true
}

func (f *numberFit) add(n int) { f.slots = append(f.slots, n) }
