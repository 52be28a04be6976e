package cib

import (
	"fmt"
	"regexp"
	"strings"
)

// Problem is one thing wrong with a model. Path locates it the way
// cluster.toml is laid out, with the index of each list entry:
// "resource[1]" (the second resource), "resource[1].agent",
// "resource[1].op[0]", "order[2].first", "node[0].name"; "" for the model as
// a whole. host/config turns a path into a file line.
type Problem struct {
	Path string
	Msg  string
	// Also is the path of the first definition, for a duplicate; More
	// follows the reference to it.
	Also, More string
}

// Text is the problem's message, with where(Also) naming the first
// definition of a duplicate.
func (p Problem) Text(where func(path string) string) string {
	if p.Also == "" {
		return p.Msg + p.More
	}
	return p.Msg + " (also defined at " + where(p.Also) + ")" + p.More
}

func (p Problem) String() string {
	s := p.Text(func(path string) string { return path })
	if p.Path == "" {
		return s
	}
	return p.Path + ": " + s
}

// Problems is every problem Validate found; it is an error.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Err is ps as an error, nil when there is none.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

var (
	idRE    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$`)
	agentRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*(:[A-Za-z0-9@._-]+)?$`)
	// ocf:PROVIDER:TYPE names a script under OCF_ROOT/resource.d: each
	// part a plain file name, never a path (no '/', no leading '.').
	ocfAgentRE = regexp.MustCompile(`^ocf:[A-Za-z0-9_][A-Za-z0-9._-]*:[A-Za-z0-9_][A-Za-z0-9._-]*$`)
)

const idRule = "an id starts with a letter, digit or '_' and holds letters, digits, '_', '.', ':' and '-'"

// ValidID reports whether s can name a resource or constraint.
func ValidID(s string) bool { return idRE.MatchString(s) }

// OCFPlugin is the plugin of OCF resource agents: agent
// "ocf:PROVIDER:TYPE" is plugin "ocf" with agent type "PROVIDER:TYPE".
const OCFPlugin = "ocf"

// ValidAgent reports whether s is written PLUGIN, PLUGIN:TYPE or
// ocf:PROVIDER:TYPE.
func ValidAgent(s string) bool { return AgentProblem(s) == "" }

// AgentProblem says what is wrong with agent name s, "" when nothing.
// Three parts are for OCF agents only (ocf:heartbeat:IPaddr2, as Pacemaker
// writes them); Plugin and AgentType split at the first colon, so the
// plugin is "ocf" and the type "heartbeat:IPaddr2".
func AgentProblem(s string) string {
	if s == OCFPlugin || strings.HasPrefix(s, OCFPlugin+":") {
		if ocfAgentRE.MatchString(s) {
			return ""
		}
		return fmt.Sprintf("agent %q is not ocf:PROVIDER:TYPE (e.g. ocf:heartbeat:IPaddr2): the provider and the type are file names "+
			"under OCF_ROOT/resource.d (letters, digits, '_', '-' and '.', not starting with '.'), never paths", s)
	}
	if agentRE.MatchString(s) {
		return ""
	}
	return fmt.Sprintf("agent %q is not PLUGIN, PLUGIN:TYPE or ocf:PROVIDER:TYPE (e.g. vip, systemd:apache2, health:http, ocf:heartbeat:IPaddr2)", s)
}

// Validate checks the model as a whole: ids valid and unique, agents well
// formed, operations, clones, every constraint naming what exists (a clone
// by its clone id), no ordering cycle. Agent parameters are not checked
// here: only the agent knows them (the host asks it).
func (c *CIB) Validate() Problems {
	v := &validator{c: c, ids: map[string]string{}}
	v.properties()
	v.nodes()
	v.resources()
	v.groups()
	v.constraints()
	for i, t := range c.Tickets {
		v.ticket(i, t)
	}
	v.alerts()
	v.text()
	v.leaseKeys()
	return v.ps
}

type validator struct {
	c   *CIB
	ps  Problems
	ids map[string]string // id -> path of its definition
}

func (v *validator) at(path, format string, args ...any) {
	v.ps = append(v.ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// claim records that id is defined at path, reporting a duplicate.
func (v *validator) claim(id, path, what string) {
	if prev, dup := v.ids[id]; dup {
		v.ps = append(v.ps, Problem{Path: path, Also: prev, Msg: fmt.Sprintf("%s: duplicate id %q", what, id),
			More: "; ids of resources, clones and constraints must be unique"})
		return
	}
	v.ids[id] = path
}

func (v *validator) properties() {
	if p := placementProblem(v.c.Properties.PlacementStrategy); p != "" {
		v.at("properties.placement-strategy", "%s", p)
	}
}

func (v *validator) nodes() {
	seen := map[string]string{}
	for i, n := range v.c.Nodes {
		path := fmt.Sprintf("node[%d]", i)
		for _, k := range sortedKeys(n.Attributes) {
			if !validAttributeName(k) {
				v.at(path+".attributes", "node %q: attribute %q: a name is not empty, does not start with # (#uname, #id and #kind are built in) and has no spaces, = or parentheses", n.Name, k)
			}
		}
		for _, p := range utilizationProblems(n.Utilization) {
			v.at(path+".utilization", "node %q: %s", n.Name, p)
		}
		if n.Name == "" {
			v.at(path, "node without a name")
			continue
		}
		if prev, dup := seen[n.Name]; dup {
			v.ps = append(v.ps, Problem{Path: path + ".name", Also: prev, Msg: fmt.Sprintf("node %q: duplicate name", n.Name)})
			continue
		}
		seen[n.Name] = path + ".name"
	}
}

func (v *validator) resources() {
	for i := range v.c.Resources {
		r := &v.c.Resources[i]
		path := fmt.Sprintf("resource[%d]", i)
		what := fmt.Sprintf("resource %q", r.ID)
		switch {
		case r.ID == "":
			v.at(path, "[[resource]] without an id")
		case !ValidID(r.ID):
			v.at(path+".id", "%s: %s", what, idRule)
		default:
			v.claim(r.ID, path+".id", what)
		}
		switch {
		case r.Agent == "":
			v.at(path, "%s: agent is missing (vip, systemd:<unit>, haproxy, health:http, or <plugin>:<type>)", what)
		case !ValidAgent(r.Agent):
			v.at(path+".agent", "%s: %s", what, AgentProblem(r.Agent))
		case r.Plugin() == "systemd" && !strings.Contains(r.Agent, ":"):
			v.at(path+".agent", "%s: agent systemd needs a unit: systemd:<unit>, e.g. systemd:apache2", what)
		}
		for _, p := range utilizationProblems(r.Utilization) {
			v.at(path+".utilization", "%s: %s", what, p)
		}
		monitors := map[int64]bool{}
		for j, o := range r.Ops {
			opPath := fmt.Sprintf("%s.op[%d]", path, j)
			switch {
			case !contains(OpNames, o.Name):
				v.at(opPath, "%s: op %q is not one of %s", what, o.Name, strings.Join(OpNames, ", "))
			case o.Name == "monitor":
				if o.Interval <= 0 {
					v.at(opPath, "%s: op monitor needs an interval > 0 (e.g. interval = \"30s\")", what)
				}
				if monitors[int64(o.Interval)] {
					v.at(opPath, "%s: two monitor ops with interval %s; each monitor needs its own interval", what, o.Interval)
				}
				monitors[int64(o.Interval)] = true
			case o.Interval != 0:
				v.at(opPath, "%s: op %s: only monitor takes an interval", what, o.Name)
			}
		}
		if cl := r.Clone; cl != nil {
			if !ValidID(cl.ID) {
				v.at(path, "%s: clone id %q is not a valid id", what, cl.ID)
			} else {
				v.claim(cl.ID, path, what+" clone")
			}
			if cl.Max < 0 {
				v.at(path, "%s: clone-max %d must be >= 0 (0: one per node)", what, cl.Max)
			}
			if cl.NodeMax < 0 {
				v.at(path, "%s: clone-node-max %d must be >= 0 (0: 1)", what, cl.NodeMax)
			}
			if cl.NodeMax > 1 && !cl.GloballyUnique {
				v.at(path, "%s: clone-node-max %d needs globally-unique = true: the instances of an anonymous clone are interchangeable, "+
					"so at most one runs on a node (Pacemaker ignores clone-node-max for them)", what, cl.NodeMax)
			}
			v.cloneBounds(path, what, cl)
			v.promotedBounds(path, what, cl)
		}
	}
	// Groups claim their ids before constraints do, so that a constraint
	// reusing a group's id is the one reported.
	for i, g := range v.c.Groups {
		path := fmt.Sprintf("group[%d]", i)
		if ValidID(g.ID) {
			v.claim(g.ID, path+".id", fmt.Sprintf("group %q", g.ID))
		}
		if g.Clone != nil && ValidID(g.Clone.ID) {
			v.claim(g.Clone.ID, path+".clone", fmt.Sprintf("group %q clone", g.ID))
		}
	}
	for i, o := range v.c.Orders {
		v.claim(o.ID, fmt.Sprintf("order[%d]", i), "order")
	}
	for i, co := range v.c.Colocations {
		v.claim(co.ID, fmt.Sprintf("colocation[%d]", i), "colocation")
	}
	for i, l := range v.c.Locations {
		v.claim(l.ID, fmt.Sprintf("location[%d]", i), "location")
	}
	for i, t := range v.c.Tickets {
		v.claim(t.ID, fmt.Sprintf("ticket[%d]", i), "ticket")
	}
}

// groups checks that every group has members, that they are configured
// primitives, not cloned, and in one group only.
func (v *validator) groups() {
	inGroup := map[string]string{} // member -> path of the group that has it
	for i, g := range v.c.Groups {
		path := fmt.Sprintf("group[%d]", i)
		what := fmt.Sprintf("group %q", g.ID)
		switch {
		case g.ID == "":
			v.at(path, "[[group]] without an id")
		case !ValidID(g.ID):
			v.at(path+".id", "%s: %s", what, idRule)
		}
		if len(g.Resources) == 0 {
			v.at(path, "%s has no resources: list its members in resources = [...] (start order)", what)
		}
		for _, m := range g.Resources {
			r, _ := v.c.Resource(m)
			switch {
			case r == nil:
				if og, _ := v.c.Group(m); og != nil {
					v.at(path+".resources", "%s: %q is a group; groups cannot be nested", what, m)
				} else {
					v.at(path+".resources", "%s: no resource %q%s", what, m, DidYouMean(m, v.primitiveIDs()))
				}
				continue
			case r.ID != m:
				v.at(path+".resources", "%s: %q is the clone of %q; only primitives join a group", what, m, r.ID)
				continue
			case r.Clone != nil:
				v.at(path+".resources", "%s: %q is cloned; only primitives join a group (clone the group instead: [group.clone])", what, m)
				continue
			}
			if prev, dup := inGroup[m]; dup {
				v.ps = append(v.ps, Problem{Path: path + ".resources", Also: prev, Msg: fmt.Sprintf("%s: resource %q is already in a group", what, m),
					More: "; a resource belongs to one group at most"})
				continue
			}
			inGroup[m] = path + ".resources"
		}
		if cl := g.Clone; cl != nil {
			if !ValidID(cl.ID) {
				v.at(path+".clone", "%s: clone id %q is not a valid id", what, cl.ID)
			}
			if cl.Max < 0 {
				v.at(path+".clone", "%s: clone-max %d must be >= 0 (0: one per node)", what, cl.Max)
			}
			if cl.NodeMax < 0 {
				v.at(path+".clone", "%s: clone-node-max %d must be >= 0 (0: 1)", what, cl.NodeMax)
			}
			switch {
			case cl.NodeMax > 1 && !cl.GloballyUnique:
				v.at(path+".clone", "%s: clone-node-max %d needs globally-unique = true: the copies of an anonymous cloned group are interchangeable, "+
					"so at most one runs on a node (Pacemaker ignores clone-node-max for them)", what, cl.NodeMax)
			case cl.NodeMax > 1 && cl.Promotable:
				v.at(path+".clone", "%s: clone-node-max %d on a promotable cloned group is not supported in Tandem: a promotable cloned group runs one copy per node (clone-node-max 1)", what, cl.NodeMax)
			}
			v.promotedBounds(path+".clone", what, cl)
			if cl.Notify {
				v.at(path+".clone", "%s: notify on a cloned group is not supported in Tandem; make the member that needs notifications a clone of its own with notify = true", what)
			}
			v.cloneBounds(path+".clone", what, cl)
		}
	}
}

// promotedBounds checks a clone's promoted-max and promoted-node-max.
func (v *validator) promotedBounds(path, what string, cl *Clone) {
	if !cl.Promotable {
		if cl.PromotedMax != 0 || cl.PromotedNodeMax != 0 {
			v.at(path, "%s: promoted-max and promoted-node-max go with promotable = true", what)
		}
		return
	}
	if cl.PromotedMax < 0 {
		v.at(path, "%s: promoted-max %d must be >= 0 (0: 1)", what, cl.PromotedMax)
	}
	if cl.PromotedNodeMax < 0 {
		v.at(path, "%s: promoted-node-max %d must be >= 0 (0: 1)", what, cl.PromotedNodeMax)
	}
	if most, perNode := cl.PromotedLimits(); perNode > max(cl.NodeMax, 1) {
		v.at(path, "%s: promoted-node-max %d is more than clone-node-max %d: a node cannot promote more instances than it runs", what, perNode, max(cl.NodeMax, 1))
	} else if cl.Max > 0 && most > cl.Max {
		v.at(path, "%s: promoted-max %d is more than clone-max %d", what, most, cl.Max)
	}
}

// Promotable says whether id names a promotable clone: a clone of a
// primitive, or a cloned group (by its clone id).
func (c *CIB) Promotable(id string) bool {
	if g, isClone := c.Group(id); g != nil {
		return isClone && g.Clone.Promotable
	}
	r, isClone := c.Resource(id)
	return r != nil && isClone && r.Clone.Promotable
}

// roleRef checks a role given to a constraint's resource id: Started (or
// none) for anything, Promoted or Unpromoted for a promotable clone.
func (v *validator) roleRef(path, what, id, role string) {
	switch role {
	case "", RoleStarted:
	case RolePromoted, RoleUnpromoted:
		if !v.c.Promotable(id) {
			v.at(path, "%s: role %s: %q is not a promotable clone (promotable = true in its [resource.clone])", what, role, id)
		}
	default:
		v.at(path, "%s: role %q is not Started, Promoted or Unpromoted", what, role)
	}
}

// cloneBounds keeps a clone's instances within what the nodes can run:
// the scheduler's work grows with the square of the instances, and
// instances beyond clone-node-max on every node would never run anyway.
func (v *validator) cloneBounds(path, what string, cl *Clone) {
	n := len(v.c.Nodes)
	if cl.NodeMax > n {
		v.at(path, "%s: clone-node-max %d is more than the %d node(s) of the cluster; at most %d", what, cl.NodeMax, n, n)
		return
	}
	if most := n * max(cl.NodeMax, 1); cl.Max > most {
		v.at(path, "%s: clone-max %d is more than the %d instance(s) the %d node(s) can run (clone-node-max %d each); at most %d (0: one per node)",
			what, cl.Max, most, n, max(cl.NodeMax, 1), most)
	}
}

func (v *validator) primitiveIDs() []string {
	var ids []string
	for _, r := range v.c.Resources {
		ids = append(ids, r.ID)
	}
	return ids
}

// ref checks that a constraint names something that exists, and a clone by
// its clone id.
func (v *validator) ref(path, what, id string) bool {
	if id == "" {
		v.at(path, "%s: a resource id is missing", what)
		return false
	}
	if _, err := v.c.ConstraintRef(id); err != nil {
		if r, _ := v.c.Resource(id); r == nil && !v.c.isGroup(id) {
			// Constraints may name only these; the primitive of a clone is
			// not offered.
			v.at(path, "%s: no resource or clone %q (defined: %s)", what, id, strings.Join(v.c.ResourceIDs(), ", "))
		} else {
			v.at(path, "%s: %v", what, err)
		}
		return false
	}
	return true
}

func (v *validator) constraints() {
	c := v.c
	for i, o := range c.Orders {
		path := fmt.Sprintf("order[%d]", i)
		if len(o.Sets) > 0 {
			what := fmt.Sprintf("order %s", SetsText(o.Sets))
			if o.First != "" || o.Then != "" || o.FirstAction != "" || o.ThenAction != "" {
				v.at(path, "%s: an order has first and then, or sets, not both", what)
			}
			v.sets(path, what, o.Sets, true)
		} else {
			what := fmt.Sprintf("order %s then %s", o.First, o.Then)
			v.pair(path, what, "first", o.First, "then", o.Then,
				"a resource cannot be ordered after itself", "a group and its own member are ordered already (the group orders its members)")
			if !contains(OrderActions, string(o.FirstAction)) {
				v.at(path+".first-action", "%s: first-action %q is not start, stop, promote or demote", what, o.FirstAction)
			}
			if !contains(OrderActions, string(o.ThenAction)) {
				v.at(path+".then-action", "%s: then-action %q is not start, stop, promote or demote", what, o.ThenAction)
			}
			for _, end := range []struct {
				key, id string
				action  Action
			}{{"first-action", o.First, o.FirstAction}, {"then-action", o.Then, o.ThenAction}} {
				if (end.action == ActionPromote || end.action == ActionDemote) && !c.Promotable(end.id) {
					v.at(path+"."+end.key, "%s: %s %s: %q is not a promotable clone (promotable = true in its [resource.clone])", what, end.key, end.action, end.id)
				}
			}
		}
		what := fmt.Sprintf("order %s then %s", o.First, o.Then)
		if len(o.Sets) > 0 {
			what = fmt.Sprintf("order %s", SetsText(o.Sets))
		}
		switch o.Kind {
		case Mandatory, Optional, Serialize:
		default:
			v.at(path+".kind", "%s: kind %q is not Mandatory, Optional or Serialize", what, o.Kind)
		}
	}
	for _, cycle := range c.OrderCycles() {
		path := ""
		for i, o := range c.Orders {
			if o.ID == cycle.Orders[0] {
				path = fmt.Sprintf("order[%d]", i)
				break
			}
		}
		for i, g := range c.Groups {
			if GroupOrderID(g.ID) == cycle.Orders[0] {
				path = fmt.Sprintf("group[%d].resources", i)
			}
		}
		v.at(path, "ordering cycle: %s; remove or reverse one of these orders (%s)",
			strings.Join(cycle.Steps, " then "), strings.Join(cycle.Orders, ", "))
	}
	for i, co := range c.Colocations {
		path := fmt.Sprintf("colocation[%d]", i)
		if len(co.Sets) > 0 {
			what := fmt.Sprintf("colocation %s", SetsText(co.Sets))
			if co.Rsc != "" || co.With != "" {
				v.at(path, "%s: a colocation has rsc and with, or sets, not both", what)
			}
			v.sets(path, what, co.Sets, false)
			continue
		}
		what := fmt.Sprintf("colocation %s with %s", co.Rsc, co.With)
		v.pair(path, what, "rsc", co.Rsc, "with", co.With,
			"a resource cannot be colocated with itself", "a group and its own member are together already (the group colocates its members)")
		v.roleRef(path+".rsc-role", what, co.Rsc, co.RscRole)
		v.roleRef(path+".with-rsc-role", what, co.With, co.WithRole)
	}
	for i, l := range c.Locations {
		path := fmt.Sprintf("location[%d]", i)
		what := fmt.Sprintf("location %s on %s", l.Rsc, l.Node)
		if l.Rule != nil {
			what = fmt.Sprintf("location %s rule %s", l.Rsc, l.Rule)
		}
		v.ref(path+".rsc", what, l.Rsc)
		switch {
		case l.Rule != nil:
			if l.Node != "" {
				v.at(path+".node", "%s: a location has a node or a rule, not both", what)
			}
			for _, p := range l.Rule.problems() {
				v.at(path+".rule", "%s: %s", what, p)
			}
			switch l.Role {
			case "", RoleStarted, RoleStopped:
			default:
				v.roleRef(path+".role", what, l.Rsc, l.Role)
			}
		case l.Node == "":
			v.at(path, "%s: node (or rule) is missing", what)
		default:
			if err := c.CheckNode(l.Node); err != nil {
				v.at(path+".node", "%s: %v", what, err)
			}
		}
		if l.Rule == nil && (l.Role == RolePromoted || l.Role == RoleUnpromoted) {
			v.roleRef(path+".role", what, l.Rsc, l.Role)
		} else if l.Rule == nil && (l.ScoreAttribute != "" || l.Role != "") {
			v.at(path, "%s: score-attribute and role go with a rule (except roles Promoted and Unpromoted)", what)
		}
	}
}

// pair checks the two ends of a simple order or colocation: both name
// what exists, and they are neither the same nor a group and its member.
func (v *validator) pair(path, what, aKey, a, bKey, b, same, member string) {
	okA := v.ref(path+"."+aKey, what, a)
	okB := v.ref(path+"."+bKey, what, b)
	switch {
	case okA && okB && a == b:
		v.at(path, "%s: %s", what, same)
	case okA && okB && v.c.overlap(a, b):
		v.at(path, "%s: %s", what, member)
	}
}

// sets checks the resource sets of a constraint: each names resources
// constraints may name, none twice, none that is a group and its member.
func (v *validator) sets(path, what string, sets []ResourceSet, forOrder bool) {
	var all []string
	for j, set := range sets {
		sp := fmt.Sprintf("%s.set[%d]", path, j)
		if len(set.Resources) == 0 {
			v.at(sp, "%s: a set without resources (resources = [...])", what)
		}
		for _, r := range set.Resources {
			if !v.ref(sp+".resources", what, r) {
				continue
			}
			for _, other := range all {
				switch {
				case other == r:
					v.at(sp+".resources", "%s: %q is named twice; a resource appears once in a constraint", what, r)
				case v.c.overlap(other, r):
					v.at(sp+".resources", "%s: %q and %q are a group and its own member", what, other, r)
				}
			}
			all = append(all, r)
		}
		if !forOrder && (set.RequireAll != nil || set.Action != "") {
			v.at(sp, "%s: require-all and action apply to order sets only", what)
		}
		if forOrder && set.Role != "" {
			v.at(sp+".role", "%s: an order's set takes no role (Pacemaker ignores it); order an action instead: action = \"promote\" or \"demote\"", what)
		}
		if !forOrder && set.Role != "" {
			for _, r := range set.Resources {
				v.roleRef(sp+".role", what, r, set.Role)
			}
		}
		if set.Action != "" && !contains(OrderActions, string(set.Action)) {
			v.at(sp+".action", "%s: action %q is not start, stop, promote or demote", what, set.Action)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
