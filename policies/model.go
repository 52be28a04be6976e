package policies

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/policies/cib"
)

const (
	inf    = cib.Infinity
	negInf = -cib.Infinity
)

// scheduler holds one run's compiled input and its working state. Nodes
// and resources are numbered (configuration order) so that the hot loops
// index slices instead of maps.
type scheduler struct {
	cfg     *cib.CIB
	now     time.Time
	explain bool

	nodes    []node
	nodeIdx  map[string]int
	nameRank []int // position of each node in name order (ties are broken by name)

	units  []*unit
	byID   map[string]*unit  // primitive ids and clone ids
	groups map[string]*group // group ids and cloned groups' clone ids
	glist  []*group          // in configuration order
	orders []order

	rindex   resourceIndex
	failures map[string][]failure // by primitive id
	locs     map[*unit][]*cib.Location
	orphans  []InstanceState
	notes    []Note
	recheck  time.Time

	slab  []cib.Score         // backing store for the units' base weights (one allocation, not one per unit)
	attrs []map[string]string // each node's attributes as rules see them (built on the first rule)
	alloc []int               // resources assigned to each node so far (Pacemaker's num_resources)
	// capacity: the nodes' capacities and what is free of them, when the
	// placement strategy counts utilization; nil otherwise.
	capacity *capacity
}

type node struct {
	name   string
	status NodeStatus
	// avail: the node may be given resources (online, not standby, not in
	// maintenance), Pacemaker's pcmk__node_available without scores.
	avail bool
}

// unit is a resource as constraints name it: a primitive, or a clone with
// its instances.
type unit struct {
	r       *cib.Resource
	id      string // clone id for a clone, else the primitive id
	clone   string // clone id or ""
	pos     int    // configuration order
	max     int    // instances wanted (1 for a primitive)
	nodeMax int
	meta    cib.EffectiveMeta
	sticky  cib.Score
	stopped bool // target-role=Stopped

	base      []cib.Score    // location, failures, node availability; stickiness for primitives
	baseParts [][]ScorePart  // explanation of base (explain only)
	baseWhy   map[int]string // first reason a node scores below 0 in base
	orderBase []cib.Score    // base without stickiness: what the allocation order and colocated resources look at
	removed   map[int]string // nodes enforce took an instance off, and why

	excluded   string         // second pass: why it is not placed at all
	excludedOn map[int]string // second pass: nodes it is kept off, and why

	withs []*colo // colocations where this is the dependent ("this with")
	deps  []*colo // colocations where this is the primary ("with this")

	cur []current // active instances on nodes that still count

	interleave bool // clone: a dependent clone's instance waits only for the instance on its node
	notify     bool // clone of a primitive with notify = true: clone notifications
	// unique: a globally-unique clone, whose instances are distinct
	// (rsc:0 ... rsc:<clone-max - 1>): an active instance numbered
	// clone-max or more is not one of them, and is stopped (see beyond).
	unique bool
	// bans, for a globally-unique clone, are the nodes each instance may
	// not run on, with why: its own failures there reached
	// migration-threshold (instance -> node -> why).
	bans  map[int]map[int]string
	group *group // the group u is a member of, or nil
	// groupSticky, for the first member of a cloned group, is the
	// stickiness the other members add to each node they run on: a
	// group's stickiness counts once per active member.
	groupSticky []cib.Score
	// copySticky, for the first member of a globally-unique cloned group,
	// is on each node the stickiness the other members of each copy
	// running there add to the copy's slot, best first (copyStickiness).
	copySticky [][]cib.Score

	// allocation state
	state   int
	merging bool
	w       []cib.Score // final weights (clone: clone-level weights)
	wParts  [][]ScorePart
	insts   []assigned
	on      []bool // node has an instance after allocation
	// hold: node has an instance that counts for what is colocated with
	// u (see setHold).
	hold    []bool
	why     string // why it got no instance at all, when known
	sortKey []cib.Score
	util    []utilUse      // what one instance uses of its node's capacity (placement strategies other than default)
	capWhy  map[int]string // nodes banned for want of free capacity, and why

	// ticketBan: why u may run nowhere (a ticket it needs is revoked or
	// in standby), "" when it may.
	ticketBan string

	promo *promotion // promotable clone: its roles; nil otherwise
	// shadowOf: this unit stands for the promoted instances of a
	// promotable clone (see promotion.shadow).
	shadowOf *unit
}

const (
	unassigned = iota
	assigning
	done
)

type current struct {
	inst     int
	node     int
	failed   bool
	managed  bool // false on a node in maintenance, or blocked: left as it is
	promoted bool // runs (or failed) in the Promoted role
}

// beyond says whether c is an instance of a globally-unique clone that
// is not one of its instances any more (numbered clone-max or more, as
// after clone-max was lowered): Pacemaker stops it as an orphan.
func (u *unit) beyond(c current) bool {
	return u.unique && c.inst >= u.max
}

// unmanaged says whether u's instance a is one left as it is (on a node in
// maintenance, or blocked by a failed stop).
func (u *unit) unmanaged(a assigned) bool {
	for _, c := range u.cur {
		if !c.managed && c.node == a.node && c.inst == a.inst {
			return true
		}
	}
	return false
}

// holdsAny says whether u has an instance that counts for what is
// colocated with it (see setHold).
func (u *unit) holdsAny() bool {
	for _, h := range u.hold {
		if h {
			return true
		}
	}
	return false
}

// nowhereWhy says why what must run with u (INFINITY) cannot run.
func (u *unit) nowhereWhy() string {
	if len(u.insts) > 0 {
		return fmt.Sprintf("it must run with %s (INFINITY), which is only left where it may not run (blocked, or on a node in maintenance)", u.id)
	}
	return fmt.Sprintf("it must run with %s (INFINITY), which runs nowhere", u.id)
}

// leftAlone says whether u has an instance left as it is.
func (u *unit) leftAlone() bool {
	for _, c := range u.cur {
		if !c.managed {
			return true
		}
	}
	return false
}

type assigned struct {
	inst int
	node int
}

type colo struct {
	c          *cib.Colocation
	dep, prim  *unit
	score      cib.Score
	factor     float64 // score / INFINITY
	influences bool
	// internal: a group member with the one before it. The member lends
	// its stickiness too, so that the group's stickiness is summed over
	// its active members, as in Pacemaker.
	internal bool
}

// lends is what dep lends the resource it is colocated with: its scores
// without stickiness (see addColocated), with it inside a group.
func (c *colo) lends() []cib.Score {
	if c.internal {
		return c.dep.base
	}
	return c.dep.orderBase
}

type order struct {
	o           *cib.Order
	first, then *unit
	sameNode    bool // internal order of a cloned group: instance by instance on each node
	sameInst    bool // internal order of a globally-unique cloned group: each copy (instance number) by itself
	// anyOf: first's set has require-all=false: then may start once any
	// of these runs (Pacemaker's one-or-more pseudo-action).
	anyOf []*unit
}

// interleaved says whether then's instances wait only for first's
// instances on their own node. An order through a require-all=false set
// never is: Pacemaker joins the set in a pseudo-action, which belongs to
// no node.
func (o order) interleaved() bool {
	if o.anyOf != nil {
		return false
	}
	return o.sameNode || (o.first.clone != "" && o.then.clone != "" && o.then.interleave)
}

func newScheduler(in Input) (*scheduler, error) {
	cfg := in.CIB
	if cfg == nil {
		return nil, invalid("no configuration")
	}
	idx := indexResources(cfg)
	if err := checkState(idx, &in.State); err != nil {
		return nil, err
	}
	s := &scheduler{cfg: cfg, now: in.Now, explain: in.Explain, nodeIdx: map[string]int{}, byID: map[string]*unit{}, rindex: idx}

	for i, n := range NodeStatuses(cfg, in.State) {
		s.nodes = append(s.nodes, node{name: n.Name, status: n.Status, avail: n.Status == Online})
		s.nodeIdx[n.Name] = i
	}
	order := make([]int, len(s.nodes))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return s.nodes[order[a]].name < s.nodes[order[b]].name })
	s.nameRank = make([]int, len(s.nodes))
	for rank, i := range order {
		s.nameRank[i] = rank
	}
	s.alloc = make([]int, len(s.nodes))

	for i := range cfg.Resources {
		r := &cfg.Resources[i]
		ref := idx[r.ID]
		u := &unit{r: r, id: r.ID, pos: i, max: 1, nodeMax: 1, meta: cfg.EffectiveIn(r, ref.group)}
		u.sticky = cib.ClampScore(int64(u.meta.Stickiness))
		if cl := ref.clone; cl != nil {
			// A member of a cloned group is a clone of its own, named by
			// its primitive id: the group's instance on a node is the
			// members' instances there.
			u.clone = cl.ID
			if r.Clone != nil {
				u.id = cl.ID
			}
			u.interleave = cl.Interleave
			u.notify = cl.Notify && r.Clone != nil
			u.unique = cl.GloballyUnique
			u.max, u.nodeMax = cl.Limits(len(cfg.Nodes))
			// Pacemaker: clone instances are sticky by 1 unless told
			// otherwise, so that they do not shuffle between equal nodes.
			if r.Meta.Stickiness == nil && cfg.Defaults.Stickiness == nil && (ref.group == nil || ref.group.Meta.Stickiness == nil) {
				u.sticky = 1
			}
		}
		u.stopped = u.meta.TargetRole == cib.RoleStopped
		if cl := ref.clone; cl != nil && cl.Promotable {
			// A member of a promotable cloned group is promotable too:
			// its group chooses where (see choosePromoted).
			s.makePromotable(u, cl)
		}
		s.units = append(s.units, u)
		s.byID[u.id] = u
		s.byID[r.ID] = u
	}
	s.bindGroups()
	if err := s.bindConstraints(); err != nil {
		return nil, err
	}
	s.failures = map[string][]failure{}
	for _, f := range in.State.Failures {
		id, inst := splitInstance(f.Resource, func(id string) bool { return s.byID[id] != nil })
		s.failures[id] = append(s.failures[id], failure{Failure: f, inst: inst})
	}
	s.bindState(in.State)
	s.bindTickets(in.State.Tickets)
	s.locs = map[*unit][]*cib.Location{}
	for i := range cfg.Locations {
		l := &cfg.Locations[i]
		// A group's location is its first member's, which places the
		// group (Pacemaker gives the other members the nodes with score
		// 0, which only matters to an opt-in cluster).
		u := s.refFirst(l.Rsc)
		s.locs[u] = append(s.locs[u], l)
	}
	for _, u := range s.units {
		s.computeBase(u)
		for _, sh := range u.shadows() {
			sh.base, sh.orderBase = u.base, u.orderBase
		}
	}
	s.groupStickiness()
	s.initCapacity()
	return s, nil
}

// bindConstraints links constraints to units. Constraints that name
// nothing were caught by config validation; a config built in code may
// still hold them, so they are errors here too.
func (s *scheduler) bindConstraints() error {
	cfg := s.cfg
	// A constraint with resource sets is bound as the simple ones it
	// stands for; a simple one as itself (no copy: this runs for every
	// constraint of a big cluster).
	for i := range cfg.Colocations {
		c := &cfg.Colocations[i]
		if len(c.Sets) == 0 {
			if err := s.bindColocation(c); err != nil {
				return err
			}
			continue
		}
		for _, p := range colocationPairs(c) {
			if err := s.bindColocation(p); err != nil {
				return err
			}
		}
	}
	for i := range cfg.Orders {
		o := &cfg.Orders[i]
		if len(o.Sets) == 0 {
			if err := s.bindOrder(o, nil); err != nil {
				return err
			}
			continue
		}
		pairs := o.Pairs()
		for j := range pairs {
			if err := s.bindOrder(&pairs[j].Order, pairs[j].AnyOf); err != nil {
				return err
			}
		}
	}
	for i := range cfg.Locations {
		l := &cfg.Locations[i]
		if s.refUnits(l.Rsc) == nil {
			return invalid("location %s names unknown resource %s", l.ID, l.Rsc)
		}
	}
	return nil
}

// colocationPairs is c itself, or the pairs its resource sets stand for.
func colocationPairs(c *cib.Colocation) []*cib.Colocation {
	if len(c.Sets) == 0 {
		return []*cib.Colocation{c}
	}
	pairs := c.Pairs()
	out := make([]*cib.Colocation, len(pairs))
	for i := range pairs {
		out[i] = &pairs[i]
	}
	return out
}

func (s *scheduler) bindColocation(c *cib.Colocation) error {
	// A group is placed by its first member (the others follow it); "with
	// a group" means with its last member when mandatory (the whole group
	// must run there), with its first otherwise, as in Pacemaker.
	dep, prim := s.refFirst(c.Rsc), s.refFirst(c.With)
	if c.Score >= inf {
		prim = s.refLast(c.With)
	}
	if dep == nil || prim == nil {
		return invalid("colocation %s: %s with %s names an unknown resource", c.ID, c.Rsc, c.With)
	}
	if dep == prim || c.Score == 0 {
		return nil // nothing to do (config validation refuses self-colocation)
	}
	if roleOf(c.RscRole) != "" || roleOf(c.WithRole) != "" {
		return s.bindRoleColocation(c, dep, prim)
	}
	s.colocate(&colo{c: c, dep: dep, prim: prim, score: c.Score, factor: float64(c.Score) / float64(inf), influences: true})
	return nil
}

// bindOrder binds a simple order; with anyOfIDs (an order from a
// require-all=false set), then may start once any of them runs.
func (s *scheduler) bindOrder(o *cib.Order, anyOfIDs []string) error {
	// An order naming a group orders each of its members: the group has
	// started when all of them have.
	fs, ts := s.refUnits(o.First), s.refUnits(o.Then)
	if fs == nil || ts == nil {
		return invalid("order %s: %s then %s names an unknown resource", o.ID, o.First, o.Then)
	}
	var anyOf []*unit
	for _, id := range anyOfIDs {
		// A group has started when its last member has.
		if u := s.refLast(id); u != nil {
			anyOf = append(anyOf, u)
		}
	}
	for _, f := range fs {
		for _, t := range ts {
			if f != t {
				s.orders = append(s.orders, order{o: o, first: f, then: t, anyOf: anyOf})
			}
		}
	}
	return nil
}

func (s *scheduler) colocate(c *colo) {
	c.dep.withs = append(c.dep.withs, c)
	c.prim.deps = append(c.prim.deps, c)
}

// bindState sorts the observed instances into units (or orphans) and
// drops what ran on nodes that are gone.
func (s *scheduler) bindState(st State) {
	present := map[string]bool{}
	for _, n := range s.nodes {
		if n.status != Offline {
			present[n.name] = true
		}
	}
	for _, in := range normalizeInstances(s.rindex, st.Instances, present) {
		n, ok := s.nodeIdx[in.Node]
		if !ok {
			s.note(in.Resource, fmt.Sprintf("reported on %s, which is not a configured node: ignored", in.Node))
			continue
		}
		if s.nodes[n].status == Offline {
			continue // the node is gone, and its resources with it
		}
		u := s.byID[in.Resource]
		if u == nil {
			s.orphans = append(s.orphans, in)
			if in.Blocked {
				s.note(in.Resource, fmt.Sprintf("not in the configuration, but blocked on %s (its stop failed): left alone there until `tandem resource cleanup`", in.Node))
				continue
			}
			if s.nodes[n].status == Maintenance {
				s.note(in.Resource, fmt.Sprintf("not in the configuration, left alone on %s (maintenance)", in.Node))
			} else {
				s.note(in.Resource, fmt.Sprintf("not in the configuration: stopped on %s", in.Node))
			}
			continue
		}
		if in.Blocked {
			s.note(in.Resource, fmt.Sprintf("blocked on %s: its stop failed; left alone there until `tandem resource cleanup %s`", in.Node, in.Resource))
		}
		u.cur = append(u.cur, current{inst: in.Instance, node: n, failed: in.Failed || in.Blocked,
			managed: s.nodes[n].status != Maintenance && !in.Blocked, promoted: u.promo != nil && in.Role == cib.RolePromoted})
	}
	for _, p := range st.Promotion {
		u, n, ok := s.byID[p.Resource], 0, false
		if u != nil {
			n, ok = s.nodeIdx[p.Node]
		}
		if ok && u.promo != nil && s.nodes[n].status != Offline {
			u.promo.score[n] = p.Score
			u.promo.scored[n] = true
		}
	}
}

func (s *scheduler) note(rsc, text string) {
	s.notes = append(s.notes, Note{Resource: rsc, Text: text})
}

// computeBase scores every node for u before colocations: node
// availability, location constraints, failures, and a primitive's
// stickiness on the node it runs on.
func (s *scheduler) computeBase(u *unit) {
	nn := len(s.nodes)
	if len(s.slab) < nn {
		s.slab = make([]cib.Score, nn*max(64, len(s.units)-u.pos))
	}
	u.base, s.slab = s.slab[:nn:nn], s.slab[nn:]
	if s.explain {
		u.baseParts = make([][]ScorePart, nn)
	}
	for i, n := range s.nodes {
		if !n.avail {
			s.addPart(u.base, u.baseParts, i, negInf, "node is "+string(n.status))
		}
	}
	if u.ticketBan != "" {
		for i := range s.nodes {
			s.addPart(u.base, u.baseParts, i, negInf, u.ticketBan)
			u.why1(i, u.ticketBan)
		}
	}
	for _, l := range s.locs[u] {
		if l.Role == cib.RolePromoted {
			continue // where it is promoted (promotionPriority), not where it runs
		}
		if l.Rule != nil {
			s.applyRule(u, l)
			continue
		}
		if n, ok := s.nodeIdx[l.Node]; ok {
			s.addPart(u.base, u.baseParts, n, l.Score, named("location", l.ID))
			if u.base[n] < 0 {
				u.why1(n, fmt.Sprintf("%s scores it %s", named("location", l.ID), l.Score))
			}
		}
	}
	threshold := u.meta.MigrationThreshold
	for _, f := range s.failuresOf(u) {
		if !s.reached(u, f.Failure) {
			continue
		}
		n := s.nodeIdx[f.Node]
		what := u.r.ID
		if f.inst >= 0 {
			// One instance of a globally-unique clone: that instance
			// alone is kept off the node (assignClone).
			what = fmt.Sprintf("%s:%d", u.r.ID, f.inst)
		}
		why := fmt.Sprintf("%s failed %s times on %s (migration-threshold %s)", what, countString(f.Count), f.Node, countString(threshold))
		if f.inst >= 0 {
			if u.bans == nil {
				u.bans = map[int]map[int]string{}
			}
			if u.bans[f.inst] == nil {
				u.bans[f.inst] = map[int]string{}
			}
			u.bans[f.inst][n] = why
			continue
		}
		s.addPart(u.base, u.baseParts, n, negInf, why)
		u.why1(n, why)
	}
	s.addPromotionScores(u)
	u.orderBase = u.base // shared (both read only from here on) unless stickiness makes them differ
	if u.clone == "" && len(u.cur) == 1 && u.sticky != 0 {
		u.orderBase = append([]cib.Score(nil), u.base...)
		s.addPart(u.base, u.baseParts, u.cur[0].node, u.sticky, "resource-stickiness (running here)")
	}
	for n := range u.baseWhy {
		if u.base[n] >= 0 {
			delete(u.baseWhy, n)
		}
	}
}

// named is "colocation c1" for a constraint the user named c1, and the id
// alone for ids that already say what they are (pcs-style defaults such as
// "colocation-VIP-haproxy-clone-INFINITY").
func named(kind, id string) string {
	if strings.HasPrefix(id, kind) {
		return id
	}
	return kind + " " + id
}

// why1 keeps the first reason node n is forbidden.
func (u *unit) why1(n int, why string) {
	if u.baseWhy == nil {
		u.baseWhy = map[int]string{}
	}
	if _, ok := u.baseWhy[n]; !ok {
		u.baseWhy[n] = why
	}
}

func countString(n int) string {
	if n >= int(inf) {
		return "INFINITY"
	}
	return fmt.Sprint(n)
}

// reached says whether failure record f (of u) keeps what failed off
// its node: its count reached migration-threshold and failure-timeout has
// not passed since it last failed (the plan is made again when it passes).
func (s *scheduler) reached(u *unit, f Failure) bool {
	threshold := u.meta.MigrationThreshold
	if timeout := u.meta.FailureTimeout; timeout > 0 {
		// Forgotten once more than failure-timeout has passed, as in
		// Pacemaker (which counts whole seconds: the failure still
		// counts at exactly last + timeout, not a second later).
		if s.now.After(f.Last.Add(timeout)) {
			return false
		}
		expires := f.Last.Add(timeout + time.Second)
		if threshold > 0 && f.Count >= threshold && (s.recheck.IsZero() || expires.Before(s.recheck)) {
			s.recheck = expires
		}
	}
	return threshold > 0 && f.Count >= threshold
}

// failuresOf returns u's failure records on configured nodes, merged per
// node (counts add up, the latest time wins) and, for a globally-unique
// clone, per instance (a record of an instance of a resource that is not
// one counts for the whole resource).
func (s *scheduler) failuresOf(u *unit) []failure {
	var out []failure
	for _, f := range s.failures[u.r.ID] {
		if f.Count == 0 {
			continue
		}
		if _, ok := s.nodeIdx[f.Node]; !ok {
			continue
		}
		if !u.unique {
			f.inst = -1
		}
		merged := false
		for i := range out {
			if out[i].Node == f.Node && out[i].inst == f.inst {
				out[i].Count = int(cib.ClampScore(int64(out[i].Count) + int64(f.Count)))
				if f.Last.After(out[i].Last) {
					out[i].Last = f.Last
				}
				merged = true
			}
		}
		if !merged {
			out = append(out, f)
		}
	}
	return out
}

// failure is a failure record with the instance it is of: -1 for the
// whole resource, N for instance N of a globally-unique clone ("rsc:N").
type failure struct {
	Failure
	inst int
}

// splitInstance reads a failure record's resource: "rsc:N" with rsc a
// resource (known) is instance N of rsc; anything else is the resource
// itself (-1).
func splitInstance(resource string, known func(id string) bool) (string, int) {
	if known(resource) {
		return resource, -1
	}
	if id, n, ok := SplitInstance(resource); ok && known(id) {
		return id, n
	}
	return resource, -1
}

// FailureResource is the resource of cfg a fail-count record's resource
// names: the resource itself, or the resource of an instance ("rsc:N");
// nil for none.
func FailureResource(cfg *cib.CIB, name string) *cib.Resource {
	r, _ := cfg.Resource(name)
	if id, _, ok := SplitInstance(name); r == nil && ok {
		r, _ = cfg.Resource(id)
	}
	return r
}

// SplitInstance reads name as "rsc:N", instance N of globally-unique clone
// rsc (as Pacemaker names it: fail-count-rsc:N): ok is false for any other
// name.
func SplitInstance(name string) (id string, n int, ok bool) {
	i := strings.LastIndex(name, ":")
	if i <= 0 {
		return "", 0, false
	}
	num := name[i+1:]
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || strconv.Itoa(n) != num {
		return "", 0, false
	}
	return name[:i], n, true
}

// banned says why instance inst of u may not run on node n ("" if it may).
func (u *unit) banned(inst, n int) string {
	return u.bans[inst][n]
}

// addPart adds score to w[n] and, when explaining (parts != nil), records
// why.
func (s *scheduler) addPart(w []cib.Score, parts [][]ScorePart, n int, score cib.Score, reason string) {
	w[n] = w[n].Add(score)
	if parts != nil {
		parts[n] = append(parts[n], ScorePart{Score: score, Reason: reason})
	}
}

// setPart forces w[n] to score (a ban that must not be softened).
func (s *scheduler) setPart(w []cib.Score, parts [][]ScorePart, n int, score cib.Score, reason string) {
	w[n] = score
	if parts != nil {
		parts[n] = append(parts[n], ScorePart{Score: score, Reason: reason})
	}
}

// copyWeights copies a weight vector and, when explaining, its parts.
func copyWeights(w []cib.Score, parts [][]ScorePart) ([]cib.Score, [][]ScorePart) {
	w2 := append([]cib.Score(nil), w...)
	if parts == nil {
		return w2, nil
	}
	p2 := make([][]ScorePart, len(parts))
	for i, p := range parts {
		p2[i] = append([]ScorePart(nil), p...)
	}
	return w2, p2
}
