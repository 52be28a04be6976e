package policies

import (
	"fmt"
	"sort"

	"github.com/tandem-ha/tandem/host/config"
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

// allocationOrder sorts units like Pacemaker's cmp_resources.
func (s *scheduler) allocationOrder() []*unit {
	units := append([]*unit(nil), s.units...)
	// Node order for the "any node" comparison: available nodes first,
	// each group by name.
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
	currentScore := func(u *unit) config.Score {
		if len(u.cur) == 0 {
			return negInf
		}
		n := u.cur[0].node
		for _, c := range u.cur[1:] {
			if c.inst < u.cur[0].inst {
				n = c.node
			}
		}
		return u.sortKey[n]
	}
	sort.SliceStable(units, func(i, j int) bool {
		a, b := units[i], units[j]
		if a.meta.Priority != b.meta.Priority {
			return a.meta.Priority > b.meta.Priority
		}
		if ca, cb := currentScore(a), currentScore(b); ca != cb {
			return ca > cb
		}
		for _, n := range nodes {
			if a.sortKey[n] != b.sortKey[n] {
				return a.sortKey[n] > b.sortKey[n]
			}
		}
		return false
	})
	return units
}

// sortScores are u's own scores plus those of the resources it is
// colocated with, scaled by the colocation (Pacemaker's
// add_colocated_node_scores with "this with" selection).
func (s *scheduler) sortScores(u *unit) []config.Score {
	work := append([]config.Score(nil), u.base...)
	if s.anyAvailable(work) {
		u.merging = true
		for _, c := range u.withs {
			s.mergeThisWith(c.prim, work, c.factor)
		}
		u.merging = false
	}
	return work
}

func (s *scheduler) mergeThisWith(u *unit, w []config.Score, factor float64) {
	if u.merging {
		return
	}
	u.merging = true
	defer func() { u.merging = false }()
	s.addMatching(w, nil, u, factor, false, "")
	if s.anyAvailable(w) {
		for _, c := range u.withs {
			s.mergeThisWith(c.prim, w, factor*c.factor)
		}
	}
}

// allocate places u (and first what it is colocated with).
func (s *scheduler) allocate(u *unit) {
	if u.state != unassigned {
		return // placed, or a colocation loop: Pacemaker skips it too
	}
	u.state = assigning
	for _, c := range u.withs {
		s.allocate(c.prim)
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
		}
	}
	u.state = done
}

func (s *scheduler) assignPrimitive(u *unit) {
	w, parts := copyWeights(u.base, u.baseParts)
	s.applyBans(u, w, parts)
	current := -1
	if len(u.cur) > 0 {
		current = u.cur[0].node
	}
	for _, c := range u.withs {
		s.applyColocation(u, w, parts, c)
	}
	for _, c := range u.deps {
		if c.influences {
			s.addColocated(c.dep, w, parts, c.factor, false, true, u.id)
		}
	}
	u.w, u.wParts = w, parts
	if fixed, ok := u.fixed(); ok {
		u.insts = []assigned{{inst: 0, node: fixed}}
		return
	}
	if u.block != "" {
		u.why = u.block
		return
	}
	if u.stopped {
		u.why = "target-role is Stopped"
		return
	}
	if n := s.choose(w, current, -1); n >= 0 {
		u.insts = []assigned{{inst: 0, node: n}}
	} else if u.why == "" {
		u.why = "no node can run it (every node scores below 0)"
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

// applyBans applies what the order rule forbids (see runnable).
func (s *scheduler) applyBans(u *unit, w []config.Score, parts [][]ScorePart) {
	for n, why := range u.bans {
		if why != "" {
			s.setPart(w, parts, n, negInf, why)
		}
	}
}

// applyColocation applies "u with c.prim" to u's weights once c.prim is
// placed (Pacemaker's apply_coloc_score): INFINITY bans every node where
// the primary has no instance, -INFINITY bans the nodes where it has one,
// a finite score is added on the nodes where it has one. A negative finite
// score is undone when it leaves u nowhere to run.
func (s *scheduler) applyColocation(u *unit, w []config.Score, parts [][]ScorePart, c *colo) {
	p := c.prim
	if p.state != done {
		return // colocation loop: the primary is still being placed
	}
	reason := fmt.Sprintf("colocation %s (%s with %s, %s)", c.c.ID, c.c.Rsc, c.c.With, c.score)
	switch {
	case c.score >= inf:
		if len(p.insts) == 0 && u.why == "" {
			u.why = fmt.Sprintf("it must run with %s (INFINITY), which runs nowhere", p.id)
		}
		for n := range w {
			if !p.on[n] && w[n] > negInf {
				s.setPart(w, parts, n, negInf, reason+": "+p.id+" is not here")
			}
		}
	case c.score <= negInf:
		for n := range w {
			if p.on[n] && w[n] > negInf {
				s.setPart(w, parts, n, negInf, reason+": "+p.id+" is here")
			}
		}
	default:
		var archive []config.Score
		var archiveParts [][]ScorePart
		if c.score < 0 {
			archive, archiveParts = copyWeights(w, parts)
		}
		for n := range w {
			if p.on[n] {
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
func (s *scheduler) addColocated(dep *unit, w []config.Score, parts [][]ScorePart, factor float64, nonNegative, rollback bool, target string) {
	if dep.merging {
		return
	}
	dep.merging = true
	defer func() { dep.merging = false }()
	work, workParts := copyWeights(w, parts)
	s.addMatching(work, workParts, dep, factor, nonNegative, "preferences of "+dep.id+" (colocated with "+target+")")
	if s.anyAvailable(work) {
		for _, c := range dep.deps {
			if c.influences {
				s.addColocated(c.dep, work, workParts, factor*c.factor, nonNegative, rollback, target)
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
func (s *scheduler) addMatching(w []config.Score, parts [][]ScorePart, other *unit, factor float64, nonNegative bool, reason string) {
	for n := range w {
		score := other.base[n]
		if !s.nodes[n].avail {
			score = negInf
		}
		if factor < 0 && score < 0 {
			continue
		}
		add := scaleScore(factor, score)
		sum := addScores(add, w[n])
		if nonNegative && sum < 0 && w[n] >= 0 {
			continue
		}
		if add != 0 {
			s.addPart(w, parts, n, add, reason)
		}
	}
}

// anyAvailable says whether some available node has a score >= 0.
func (s *scheduler) anyAvailable(w []config.Score) bool {
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
func (s *scheduler) choose(w []config.Score, current, prefer int) int {
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

// better is Pacemaker's compare_nodes for the default placement strategy.
func (s *scheduler) better(w []config.Score, a, b, current int) bool {
	if w[a] != w[b] {
		return w[a] > w[b]
	}
	if s.alloc[a] != s.alloc[b] {
		return s.alloc[a] < s.alloc[b]
	}
	if current >= 0 && (a == current) != (b == current) {
		return a == current
	}
	return s.nameRank[a] < s.nameRank[b]
}

// assignClone places a clone's instances like Pacemaker's
// distribute_children: running instances stay where they are if that
// node is as good as any, then the others go one by one to the best node
// with room (clone-node-max), until clone-max are placed.
func (s *scheduler) assignClone(u *unit) {
	cw, cwParts := copyWeights(u.base, u.baseParts)
	s.applyBans(u, cw, cwParts)
	for _, c := range u.deps {
		if c.influences {
			s.addColocated(c.dep, cw, cwParts, c.factor, true, true, u.id)
		}
	}
	// The clone-level weights shown in explanations include what the
	// clone's own colocations do to every instance.
	shown, shownParts := copyWeights(cw, cwParts)
	for _, c := range u.withs {
		s.applyColocation(u, shown, shownParts, c)
	}
	u.w, u.wParts = shown, shownParts

	count := make([]int, len(s.nodes))
	placed := 0
	taken := map[int]bool{}
	var insts []assigned
	take := func(inst, n int) {
		insts = append(insts, assigned{inst: inst, node: n})
		count[n]++
		placed++
		taken[inst] = true
		s.alloc[n]++ // later instances see this one (Pacemaker counts per instance)
	}
	finish := func() {
		sort.Slice(insts, func(i, j int) bool { return insts[i].inst < insts[j].inst })
		u.insts = insts
	}
	// Instances on nodes in maintenance stay, whatever the limits.
	for _, c := range u.cur {
		if !c.managed {
			take(c.inst, c.node)
		}
	}
	if u.block != "" || u.stopped {
		u.why = u.block
		if u.stopped {
			u.why = "target-role is Stopped"
		}
		finish()
		return
	}
	available := 0
	for _, n := range s.nodes {
		if n.avail {
			available++
		}
	}
	allColoc := u.max < available
	loopMax := 1
	if available > 0 && u.max/available > 1 {
		loopMax = u.max / available
	}

	// Candidates in Pacemaker's instance order: running instances (not
	// failed first), then failed ones, then new ones.
	var running, failed []current
	for _, c := range u.cur {
		if !c.managed {
			continue
		}
		if c.failed {
			failed = append(failed, c)
		} else {
			running = append(running, c)
		}
	}
	byNode := func(cs []current) {
		sort.SliceStable(cs, func(i, j int) bool {
			a, b := cs[i], cs[j]
			if cw[a.node] != cw[b.node] {
				return cw[a.node] > cw[b.node]
			}
			if a.node != b.node {
				return s.nameRank[a.node] < s.nameRank[b.node]
			}
			return a.inst < b.inst
		})
	}
	byNode(running)
	byNode(failed)

	// Pre-allocation: a running instance stays on its node when that node
	// is as good as any other for it.
	preDone := map[int]bool{}
	for _, c := range running {
		if placed >= u.max || taken[c.inst] {
			continue
		}
		if !s.nodes[c.node].avail || count[c.node] >= loopMax {
			continue
		}
		if n := s.assignInstance(u, cw, c.node, c.node, u.nodeMax, allColoc, count); n == c.node {
			take(c.inst, n)
			preDone[c.inst] = true
		}
	}
	for _, cs := range [][]current{running, failed} {
		for _, c := range cs {
			if placed >= u.max || preDone[c.inst] || taken[c.inst] {
				continue
			}
			if n := s.assignInstance(u, cw, c.node, -1, u.nodeMax, allColoc, count); n >= 0 {
				take(c.inst, n)
			}
		}
	}
	// New instances take the lowest numbers nobody placed holds.
	next := 0
	for placed < u.max {
		for taken[next] {
			next++
		}
		n := s.assignInstance(u, cw, -1, -1, u.nodeMax, allColoc, count)
		if n < 0 {
			break
		}
		take(next, n)
	}
	if placed == 0 && u.why == "" {
		u.why = "no node can run it (every node scores below 0)"
	}
	finish()
}

// assignInstance picks a node for one clone instance (Pacemaker's
// allocate_instance and can_run_instance), or -1. current is the node the
// instance runs on (its stickiness applies there); prefer, when >= 0, is
// the only acceptable answer (pre-allocation).
func (s *scheduler) assignInstance(u *unit, cw []config.Score, current, prefer, limit int, allColoc bool, count []int) int {
	w := append([]config.Score(nil), u.base...)
	s.applyBans(u, w, nil)
	if current >= 0 {
		w[current] = addScores(w[current], u.sticky)
	}
	if prefer >= 0 && w[prefer] < 0 {
		return -1
	}
	for n := range w {
		switch {
		case !s.nodes[n].avail:
			w[n] = negInf
		case cw[n] < 0:
			w[n] = addScores(w[n], cw[n])
		case count[n] >= limit:
			w[n] = negInf
		}
	}
	for _, c := range u.withs {
		if allColoc || c.score < 0 || c.score >= inf {
			s.applyColocation(u, w, nil, c)
		}
	}
	for _, c := range u.deps {
		if c.influences && (allColoc || c.score < 0) {
			s.addColocated(c.dep, w, nil, c.factor, false, true, u.id)
		}
	}
	n := s.choose(w, current, prefer)
	if prefer >= 0 && n != prefer {
		return -1
	}
	return n
}
