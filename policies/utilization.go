package policies

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/tandem-ha/tandem/policies/cib"
)

// Utilization and placement strategies (Pacemaker 2.1.5's
// pcmk_sched_utilization.c). With placement-strategy "utilization",
// "balanced" or "minimal", each node has a capacity per attribute (its
// utilization; an attribute it does not list is 0) and each resource uses
// some of it (per instance for a clone). As resources are placed, what
// they use is taken from their node's free capacity, and:
//
//   - before a primitive is placed, the nodes whose free capacity does not
//     cover it and the not yet placed resources tied to it by INFINITY
//     colocations (a group's later members, what must run with it) are
//     banned, if some node covers them all; otherwise the nodes that do
//     not cover it alone are banned, and the node with the most free
//     capacity is preferred among equally good ones
//     (pcmk__ban_insufficient_capacity);
//   - a clone instance takes a slot only on a node whose free capacity
//     covers one instance;
//   - among nodes with the same score: "utilization" prefers, as
//     "default", the node with the fewest resources placed; "balanced"
//     first the node with more free capacity (more attributes with more
//     free than the other node: pcmk__compare_node_capacities), then the
//     fewest resources; "minimal" the node name alone, so that resources
//     fill the first nodes (compare_nodes);
//   - resources are placed in Pacemaker's order for these strategies
//     (cmp_resources): priority, then the score on the node a resource
//     runs on (stickiness included), then the scores on each node, nodes
//     sorted as above; so that what runs keeps its capacity before
//     something stopped takes it.

// capacity is the utilization bookkeeping of one scheduler (nil: the
// placement strategy is "default").
type capacity struct {
	strategy string
	names    []string // attribute names, sorted
	total    [][]int  // each node's capacity, by attribute
	free     [][]int  // each node's free capacity while placing
}

// utilUse is what a unit uses: attribute index and amount.
type utilUse struct {
	attr, amount int
}

func (s *scheduler) initCapacity() {
	if !s.cfg.Properties.UsesUtilization() {
		return
	}
	names := map[string]bool{}
	for _, n := range s.cfg.Nodes {
		for k := range n.Utilization {
			names[k] = true
		}
	}
	for _, r := range s.cfg.Resources {
		for k := range r.Utilization {
			names[k] = true
		}
	}
	c := &capacity{strategy: s.cfg.Properties.Placement()}
	for k := range names {
		c.names = append(c.names, k)
	}
	sort.Strings(c.names)
	attr := make(map[string]int, len(c.names))
	for i, k := range c.names {
		attr[k] = i
	}
	c.total = make([][]int, len(s.nodes))
	for i := range s.nodes {
		c.total[i] = make([]int, len(c.names))
	}
	for _, n := range s.cfg.Nodes {
		if i, ok := s.nodeIdx[n.Name]; ok {
			for k, v := range n.Utilization {
				c.total[i][attr[k]] = v
			}
		}
	}
	for _, u := range s.units {
		if len(u.r.Utilization) == 0 {
			continue
		}
		u.util = make([]utilUse, 0, len(u.r.Utilization))
		for k, v := range u.r.Utilization {
			u.util = append(u.util, utilUse{attr: attr[k], amount: v})
		}
		slices.SortFunc(u.util, func(a, b utilUse) int { return a.attr - b.attr })
	}
	s.capacity = c
	s.resetCapacity()
}

// resetCapacity makes every node's capacity free again.
func (s *scheduler) resetCapacity() {
	c := s.capacity
	if c == nil {
		return
	}
	if c.free == nil {
		c.free = make([][]int, len(c.total))
	}
	for i := range c.total {
		c.free[i] = append(c.free[i][:0], c.total[i]...)
	}
}

// consume takes what one instance of u uses from node n's free capacity.
func (s *scheduler) consume(u *unit, n int) {
	if s.capacity == nil {
		return
	}
	for _, x := range u.util {
		s.capacity.free[n][x.attr] -= x.amount
	}
}

// unconsume gives back what consume took of node n for u.
func (s *scheduler) unconsume(u *unit, n int) {
	if s.capacity == nil {
		return
	}
	for _, x := range u.util {
		s.capacity.free[n][x.attr] += x.amount
	}
}

// fits says whether node n's free capacity covers need (by attribute).
func (s *scheduler) fits(n int, need []utilUse) bool {
	free := s.capacity.free[n]
	for _, x := range need {
		if x.amount > free[x.attr] {
			return false
		}
	}
	return true
}

// compareCapacities is Pacemaker's pcmk__compare_node_capacities: below 0
// when node a has more free capacity than b (counting the attributes where
// it has more, less those where it has less).
func (s *scheduler) compareCapacities(a, b int) int {
	fa, fb := s.capacity.free[a], s.capacity.free[b]
	result := 0
	for i := range fa {
		switch {
		case fa[i] > fb[i]:
			result--
		case fa[i] < fb[i]:
			result++
		}
	}
	return result
}

// colocatedNeed sums what u and the resources tied to it by INFINITY
// colocations, not yet placed, use (Pacemaker's colocated_resources and
// add_utilization): each clone counts one instance, a group its members.
func (s *scheduler) colocatedNeed(u *unit) []utilUse {
	tied := false
	for _, c := range u.withs {
		tied = tied || c.score >= inf
	}
	for _, c := range u.deps {
		tied = tied || c.score >= inf
	}
	if !tied {
		return u.util // read only
	}
	seen := map[*unit]bool{}
	var walk func(v *unit)
	walk = func(v *unit) {
		if seen[v] {
			return
		}
		seen[v] = true
		for _, c := range v.withs {
			if c.score >= inf && c.prim != u {
				walk(c.prim)
			}
		}
		for _, c := range v.deps {
			if c.score >= inf && c.dep != u && (v.clone == "" || c.dep.clone != "") {
				walk(c.dep)
			}
		}
	}
	walk(u)
	sum := make([]int, len(s.capacity.names))
	for v := range seen {
		if v != u && v.state == done {
			continue
		}
		for _, x := range v.util {
			sum[x.attr] += x.amount
		}
	}
	var need []utilUse
	for i, v := range sum {
		if v > 0 || slices.ContainsFunc(u.util, func(x utilUse) bool { return x.attr == i }) {
			need = append(need, utilUse{attr: i, amount: v})
		}
	}
	return need
}

// banInsufficient bans u from the nodes that cannot take it (see the top
// of this file) and returns the node to prefer among equally good ones,
// or -1.
//
// w and parts are copied before the first ban when shared is set (they
// are then u's read-only base); the weights to use are returned.
func (s *scheduler) banInsufficient(u *unit, w []cib.Score, parts [][]ScorePart, shared bool) (int, []cib.Score, [][]ScorePart) {
	if s.capacity == nil {
		return -1, w, parts
	}
	group := s.colocatedNeed(u)
	anyFits, most := false, -1
	for _, n := range s.nameOrder() {
		if !s.nodes[n].avail || w[n] < 0 {
			continue
		}
		if s.fits(n, group) {
			anyFits = true
		}
		if most < 0 || s.compareCapacities(n, most) < 0 {
			most = n
		}
	}
	need, what := u.util, u.id
	if anyFits {
		need, what, most = group, u.id+" and the resources colocated with it", -1
	}
	for n := range w {
		if s.nodes[n].avail && w[n] >= 0 && !s.fits(n, need) {
			if shared {
				w, parts = copyWeights(w, parts)
				shared = false
			}
			reason := ""
			if parts != nil {
				reason = "not enough free capacity for " + what + " (" + s.describeNeed(n, need) + ")"
			}
			s.setPart(w, parts, n, negInf, reason)
			if u.capWhy == nil {
				u.capWhy = map[int]string{}
			}
			u.capWhy[n] = "not enough free capacity for " + what
		}
	}
	return most, w, parts
}

// describeNeed says, for the attributes node n lacks, what is needed and
// what is free.
func (s *scheduler) describeNeed(n int, need []utilUse) string {
	var out []string
	for _, x := range need {
		if free := s.capacity.free[n][x.attr]; x.amount > free {
			out = append(out, fmt.Sprintf("%s needs %d, %d free", s.capacity.names[x.attr], x.amount, free))
		}
	}
	return strings.Join(out, ", ")
}

// nameOrder lists the nodes in name order.
func (s *scheduler) nameOrder() []int {
	order := make([]int, len(s.nodes))
	for n, rank := range s.nameRank {
		order[rank] = n
	}
	return order
}

// tieBreak compares two nodes of equal score by the placement strategy's
// rules before the fewest-resources rule: below 0 when a is better, above
// when b is, 0 when the fewest-resources rule (and the others after it)
// decide. minimal says that only the name decides.
func (s *scheduler) tieBreak(a, b int) (cmp int, nameOnly bool) {
	c := s.capacity
	if c == nil {
		return 0, false
	}
	switch c.strategy {
	case cib.PlacementMinimal:
		return 0, true
	case cib.PlacementBalanced:
		return s.compareCapacities(a, b), false
	}
	return 0, false
}

// utilizationOrder sorts units as Pacemaker's cmp_resources does for a
// placement strategy other than default: priority, then the score on the
// node the resource runs on, then the scores on each node (nodes sorted
// by compare_nodes at zero scores), stable in configuration order.
func (s *scheduler) utilizationOrder(units []*unit) {
	nodes := make([]int, len(s.nodes))
	for i := range nodes {
		nodes[i] = i
	}
	sort.SliceStable(nodes, func(i, j int) bool {
		a, b := nodes[i], nodes[j]
		if s.nodes[a].avail != s.nodes[b].avail {
			return s.nodes[a].avail
		}
		// Nothing is placed yet: the fewest-resources rule ties.
		if cmp, _ := s.tieBreak(a, b); cmp != 0 {
			return cmp < 0
		}
		return s.nameRank[a] < s.nameRank[b]
	})
	type key struct {
		u      *unit
		cur    cib.Score
		scores []cib.Score
	}
	keys := make([]key, 0, len(units))
	for _, u := range units {
		scores := u.base // read only, unless merged with
		if len(u.withs) > 0 && s.anyAvailable(scores) {
			scores = append([]cib.Score(nil), u.base...)
			u.merging = true
			for _, c := range u.withs {
				s.mergeThisWith(c.prim, scores, c.factor)
			}
			u.merging = false
		}
		k := key{u: u, cur: negInf, scores: make([]cib.Score, len(nodes))}
		if len(u.cur) > 0 {
			k.cur = scores[u.cur[0].node]
		}
		for i, n := range nodes {
			k.scores[i] = scores[n]
			if !s.nodes[n].avail {
				k.scores[i] = negInf
			}
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(ka, kb key) int {
		if pa, pb := ka.u.meta.Priority, kb.u.meta.Priority; pa != pb {
			return cmpDesc(pa, pb)
		}
		if ka.cur != kb.cur {
			return cmpDesc(ka.cur, kb.cur)
		}
		for n := range ka.scores {
			if ka.scores[n] != kb.scores[n] {
				return cmpDesc(ka.scores[n], kb.scores[n])
			}
		}
		return ka.u.pos - kb.u.pos // stable: configuration order
	})
	for i, k := range keys {
		units[i] = k.u
	}
}

// cmpDesc orders higher values first.
func cmpDesc[T int | cib.Score](a, b T) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// loadEdges orders, on each node, the starts of resources that use
// capacity after the stops there of resources that use capacity
// (Pacemaker's load_stopped_<node> pseudo-action), so that what a start
// needs is free when it runs. An edge that would close a cycle is left out.
func (s *scheduler) loadEdges(b *builder) {
	if s.capacity == nil {
		return
	}
	uses := func(a Action) bool {
		u := s.byID[a.Resource]
		return u != nil && len(u.util) > 0
	}
	stops := map[string][]int{}
	for i, a := range b.actions {
		if a.Op == OpStop && uses(a) {
			stops[a.Node] = append(stops[a.Node], i)
		}
	}
	for i, a := range b.actions {
		if a.Op != OpStart || !uses(a) {
			continue
		}
		for _, sp := range stops[a.Node] {
			if !b.waits(sp, i) {
				b.edge(sp, i)
			}
		}
	}
}

// slotNeed is what a clone's next instance needs free on a node: one
// instance's utilization plus that of the resources tied to the clone by
// INFINITY colocations and not placed yet (one instance of each clone),
// if some node it may take has room for all that; its own alone
// otherwise (pcmk__ban_insufficient_capacity for the instance).
func (s *scheduler) slotNeed(u *unit, w []cib.Score, count []int) ([]utilUse, string) {
	if s.capacity == nil {
		return nil, ""
	}
	group := s.colocatedNeed(u)
	if len(group) == len(u.util) && slices.Equal(group, u.util) {
		return u.util, ""
	}
	for n := range s.nodes {
		if s.nodes[n].avail && count[n] < u.nodeMax && w[n] >= 0 && s.fits(n, group) {
			return group, " and the resources colocated with it"
		}
	}
	return u.util, ""
}
