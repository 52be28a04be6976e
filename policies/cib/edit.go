package cib

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Edits of the model, as the pcs-shaped commands make them. Every edit
// either changes what it says or returns an error naming what is wrong and
// changes nothing; Validate then checks the whole result (ordering cycles,
// references) before it is stored.

// ResourceSpec is what `resource create` and `resource update` say about a
// resource beyond its id and agent.
type ResourceSpec struct {
	Params map[string]string // value "" removes the param (update)
	Ops    []Op
	Meta   map[string]string // value "" unsets the attribute (update)
	Clone  *Clone            // "clone" was given (ID "" for the default)
	// CloneOptions are the clone's k=v options as given.
	CloneOptions map[string]string
}

// idInUse says what already uses id, or "".
func (c *CIB) idInUse(id string) string {
	if r, isClone := c.Resource(id); r != nil {
		if isClone {
			return fmt.Sprintf("the clone of resource %q", r.ID)
		}
		return "a resource"
	}
	if g, isClone := c.Group(id); g != nil {
		if isClone {
			return fmt.Sprintf("the clone of group %q", g.ID)
		}
		return "a group"
	}
	for _, o := range c.Orders {
		if o.ID == id {
			return "an order constraint"
		}
	}
	for _, co := range c.Colocations {
		if co.ID == id {
			return "a colocation constraint"
		}
	}
	for _, l := range c.Locations {
		if l.ID == id {
			return "a location constraint"
		}
	}
	for _, t := range c.Tickets {
		if t.ID == id {
			return "a ticket constraint"
		}
	}
	if c.Alert(id) != nil {
		return "an alert"
	}
	if a, _ := c.recipient(id); a != nil {
		return fmt.Sprintf("a recipient of alert %q", a.ID)
	}
	return ""
}

// AddResource adds a new resource with id and agent, configured by spec.
func (c *CIB) AddResource(id, agent string, spec ResourceSpec) (*Resource, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("resource id %q: %s", id, idRule)
	}
	if what := c.idInUse(id); what != "" {
		return nil, fmt.Errorf("id %q is already used by %s", id, what)
	}
	if msg := AgentProblem(agent); msg != "" {
		return nil, errors.New(msg)
	}
	r := Resource{ID: id, Agent: agent, Ops: spec.Ops}
	for k, v := range spec.Params {
		if v == "" {
			continue
		}
		if r.Params == nil {
			r.Params = map[string]string{}
		}
		r.Params[k] = v
	}
	for _, k := range sortedKeys(spec.Meta) {
		if err := SetMeta(&r.Meta, k, spec.Meta[k]); err != nil {
			return nil, err
		}
	}
	if spec.Clone != nil {
		cl := *spec.Clone
		if cl.ID == "" {
			cl.ID = id + CloneSuffix
		}
		if what := c.idInUse(cl.ID); what != "" {
			return nil, fmt.Errorf("clone id %q is already used by %s", cl.ID, what)
		}
		r.Clone = &cl
	}
	c.Resources = append(c.Resources, r)
	return &c.Resources[len(c.Resources)-1], nil
}

// UpdateResource merges spec into resource id: params and meta attributes
// are set (an empty value removes them), each op replaces the op of the same
// name, clone options are set on its clone.
func (c *CIB) UpdateResource(id string, spec ResourceSpec) error {
	r, err := c.MustResource(id)
	if err != nil {
		return err
	}
	if spec.Clone != nil && r.Clone == nil {
		return fmt.Errorf("resource %q is not cloned; clone options do not apply (delete and create it with clone)", r.ID)
	}
	// Work on a copy, so that a refused attribute leaves r as it was.
	next := *r
	next.Params = map[string]string{}
	for k, v := range r.Params {
		next.Params[k] = v
	}
	for _, k := range sortedKeys(spec.Params) {
		if v := spec.Params[k]; v == "" {
			delete(next.Params, k)
		} else {
			next.Params[k] = v
		}
	}
	if len(next.Params) == 0 {
		next.Params = nil
	}
	for _, k := range sortedKeys(spec.Meta) {
		if err := SetMeta(&next.Meta, k, spec.Meta[k]); err != nil {
			return err
		}
	}
	next.Ops = append([]Op(nil), r.Ops...)
	for _, o := range spec.Ops {
		replaced := false
		for i := range next.Ops {
			if next.Ops[i].Name == o.Name {
				next.Ops[i] = o
				replaced = true
				break
			}
		}
		if !replaced {
			next.Ops = append(next.Ops, o)
		}
	}
	if spec.Clone != nil {
		cl := *r.Clone
		for _, k := range sortedKeys(spec.CloneOptions) {
			if err := SetCloneOption(&cl, k, spec.CloneOptions[k]); err != nil {
				return err
			}
		}
		next.Clone = &cl
	}
	*r = next
	return nil
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// DeleteResource removes resource id (primitive or clone id) and every
// constraint that names it; it returns the ids of those constraints.
func (c *CIB) DeleteResource(id string) (removed []string, err error) {
	r, err := c.MustResource(id)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{r.ID: true}
	if r.Clone != nil {
		names[r.Clone.ID] = true
	}
	primitive := r.ID
	removed = c.removeConstraintsNaming(names)
	var rs []Resource
	for _, x := range c.Resources {
		if x.ID != primitive {
			rs = append(rs, x)
		}
	}
	c.Resources = rs
	if g := c.GroupOf(primitive); g != nil {
		g.Resources = slices.DeleteFunc(g.Resources, func(s string) bool { return s == primitive })
		removed = append(removed, c.dropEmptyGroups()...)
	}
	return removed, nil
}

// DeleteGroup removes group id (or the group whose clone id is id), its
// members and every constraint that names them; it returns the ids of
// those constraints.
func (c *CIB) DeleteGroup(id string) (removed []string, err error) {
	g, _ := c.Group(id)
	if g == nil {
		return nil, c.unknownGroup(id)
	}
	for _, m := range slices.Clone(g.Resources) {
		more, err := c.DeleteResource(m)
		if err != nil {
			return nil, err
		}
		removed = append(removed, more...)
	}
	return removed, nil
}

// removeConstraintsNaming removes every constraint that names one of
// names; it returns their ids. From a constraint with sets, the names are
// taken out of the sets; it goes when fewer than two resources are left,
// as it then constrains nothing.
func (c *CIB) removeConstraintsNaming(names map[string]bool) (removed []string) {
	var orders []Order
	for _, o := range c.Orders {
		if len(o.Sets) > 0 {
			if o.Sets = removeFromSets(o.Sets, names); setSize(o.Sets) < 2 {
				removed = append(removed, o.ID)
				continue
			}
		} else if names[o.First] || names[o.Then] {
			removed = append(removed, o.ID)
			continue
		}
		orders = append(orders, o)
	}
	var cols []Colocation
	for _, co := range c.Colocations {
		if len(co.Sets) > 0 {
			if co.Sets = removeFromSets(co.Sets, names); setSize(co.Sets) < 2 {
				removed = append(removed, co.ID)
				continue
			}
		} else if names[co.Rsc] || names[co.With] {
			removed = append(removed, co.ID)
			continue
		}
		cols = append(cols, co)
	}
	var locs []Location
	for _, l := range c.Locations {
		if names[l.Rsc] {
			removed = append(removed, l.ID)
			continue
		}
		locs = append(locs, l)
	}
	var tickets []Ticket
	for _, t := range c.Tickets {
		if len(t.Sets) > 0 {
			// One resource left still needs the ticket.
			if t.Sets = removeFromSets(t.Sets, names); setSize(t.Sets) < 1 {
				removed = append(removed, t.ID)
				continue
			}
		} else if names[t.Rsc] {
			removed = append(removed, t.ID)
			continue
		}
		tickets = append(tickets, t)
	}
	c.Orders, c.Colocations, c.Locations, c.Tickets = orders, cols, locs, tickets
	return removed
}

// SetTargetRole sets the target-role of resource or group id ("" removes
// it, so it is Started by default). A group's is its members' default.
func (c *CIB) SetTargetRole(id, role string) error {
	if g, _ := c.Group(id); g != nil {
		return SetMeta(&g.Meta, "target-role", role)
	}
	r, err := c.MustResource(id)
	if err != nil {
		return err
	}
	return SetMeta(&r.Meta, "target-role", role)
}

// target is the name location constraints use for resource or group id,
// and whether it runs on several nodes (a clone or a cloned group).
func (c *CIB) target(id string) (name string, cloned bool, err error) {
	if g, _ := c.Group(id); g != nil {
		return GroupConstraintName(g), g.Clone != nil, nil
	}
	r, err := c.MustResource(id)
	if err != nil {
		return "", false, err
	}
	if g := c.GroupOf(r.ID); g != nil && g.Clone != nil {
		return "", false, fmt.Errorf("%q is a member of cloned group %q: name the group's clone %q", id, g.ID, g.Clone.ID)
	}
	return ConstraintName(r), r.Clone != nil, nil
}

// SetMeta sets meta attribute key of m from its text; value "" unsets it.
// On an error m is unchanged.
func SetMeta(m *Meta, key, value string) error {
	if value == "" {
		switch key {
		case "resource-stickiness":
			m.Stickiness = nil
		case "migration-threshold":
			m.MigrationThreshold = nil
		case "failure-timeout":
			m.FailureTimeout = nil
		case "target-role":
			m.TargetRole = ""
		case "priority":
			m.Priority = nil
		default:
			return fmt.Errorf("unknown meta attribute %q%s", key, DidYouMean(key, MetaKeys))
		}
		return nil
	}
	score := func(dst **int) error {
		s, err := ParseScore(value)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		n := int(s)
		*dst = &n
		return nil
	}
	switch key {
	case "resource-stickiness":
		return score(&m.Stickiness)
	case "migration-threshold":
		return score(&m.MigrationThreshold)
	case "priority":
		return score(&m.Priority)
	case "failure-timeout":
		d, err := ParseDuration(value)
		if err != nil {
			return fmt.Errorf("failure-timeout: %w", err)
		}
		m.FailureTimeout = &d
	case "target-role":
		role, err := ParseRole(value)
		if err != nil {
			return err
		}
		m.TargetRole = role
	default:
		return fmt.Errorf("unknown meta attribute %q%s", key, DidYouMean(key, MetaKeys))
	}
	return nil
}

// MakePromotable makes resource or group id a promotable clone (pcs
// resource promotable): a primitive or a group becomes a clone named
// cloneID (default "<id>-clone"); a clone, or a cloned group, becomes
// promotable. opts are clone options.
func (c *CIB) MakePromotable(id, cloneID string, opts map[string]string) error {
	var (
		cur  *Clone // the clone it is already, if any
		what string
		set  func(*Clone)
	)
	if g, _ := c.Group(id); g != nil {
		cur, what, set = g.Clone, "group "+strconv.Quote(g.ID), func(cl *Clone) { g.Clone = cl }
		id = g.ID
	} else {
		r, err := c.MustResource(id)
		if err != nil {
			return err
		}
		if g := c.GroupOf(r.ID); g != nil {
			return fmt.Errorf("resource %q is in group %q; a group member cannot be a promotable clone of its own (make the group promotable: resource promotable %s)", r.ID, g.ID, g.ID)
		}
		cur, what, set = r.Clone, "resource "+strconv.Quote(r.ID), func(cl *Clone) { r.Clone = cl }
		id = r.ID
	}
	var cl Clone
	if cur != nil {
		cl = *cur
		if cloneID != "" && cloneID != cl.ID {
			return fmt.Errorf("%s is already cloned as %q; leave out the clone id %q", what, cl.ID, cloneID)
		}
	} else {
		cl.ID = cloneID
		if cl.ID == "" {
			cl.ID = id + CloneSuffix
		}
		if what := c.idInUse(cl.ID); what != "" {
			return fmt.Errorf("clone id %q is already used by %s", cl.ID, what)
		}
	}
	cl.Promotable = true
	for _, k := range sortedKeys(opts) {
		if err := SetCloneOption(&cl, k, opts[k]); err != nil {
			return err
		}
	}
	if !cl.Promotable {
		return fmt.Errorf("promotable=false: use resource update %s clone promotable=false to make it a plain clone", id)
	}
	set(&cl)
	return nil
}

// ParseConstraintRole reads the role of a constraint's resource: Started,
// Stopped, Promoted or Unpromoted in any case (Master and Slave, the old
// names, too).
func ParseConstraintRole(value string) (string, error) {
	switch strings.ToLower(value) {
	case "promoted", "master":
		return RolePromoted, nil
	case "unpromoted", "slave":
		return RoleUnpromoted, nil
	}
	if r, err := ParseRole(value); err == nil {
		return r, nil
	}
	return "", fmt.Errorf("role %q: must be Started, Stopped, Promoted or Unpromoted", value)
}

// ParseRole reads a target-role: Started or Stopped, in any case.
func ParseRole(value string) (string, error) {
	switch strings.ToLower(value) {
	case "started":
		return RoleStarted, nil
	case "stopped":
		return RoleStopped, nil
	}
	return "", fmt.Errorf("target-role %q: must be Started or Stopped", value)
}

// SetCloneOption sets clone option k of cl from its text.
func SetCloneOption(cl *Clone, k, v string) error {
	switch k {
	case "clone-max", "clone-node-max":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("%s=%q: want a number >= 0", k, v)
		}
		if k == "clone-max" {
			cl.Max = n
		} else {
			cl.NodeMax = n
		}
	case "interleave", "promotable", "notify", "globally-unique":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s=%q: want true or false", k, v)
		}
		switch k {
		case "interleave":
			cl.Interleave = b
		case "promotable":
			cl.Promotable = b
		case "notify":
			cl.Notify = b
		default:
			cl.GloballyUnique = b
		}
	case "promoted-max", "promoted-node-max":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("%s=%q: want a number >= 0", k, v)
		}
		if k == "promoted-max" {
			cl.PromotedMax = n
		} else {
			cl.PromotedNodeMax = n
		}
	default:
		return fmt.Errorf("unknown clone option %q%s (clone takes %s)", k, DidYouMean(k, CloneKeys), strings.Join(CloneKeys, ", "))
	}
	return nil
}

// ConstraintRef checks that id names a resource constraints may name: an
// uncloned primitive (also a member of an uncloned group), a clone id, a
// group that is not cloned, or a cloned group's clone id.
func (c *CIB) ConstraintRef(id string) (string, error) {
	if g, isClone := c.Group(id); g != nil {
		if g.Clone != nil && !isClone {
			return "", fmt.Errorf("group %q is cloned; constraints name the clone: use %q", id, g.Clone.ID)
		}
		return id, nil
	}
	r, isClone := c.Resource(id)
	if r == nil {
		return "", c.UnknownResource(id)
	}
	if r.Clone != nil && !isClone {
		return "", fmt.Errorf("%q is cloned; constraints name the clone: use %q", id, r.Clone.ID)
	}
	if g := c.GroupOf(id); g != nil && g.Clone != nil {
		return "", fmt.Errorf("%q is a member of cloned group %q; constraints name the clone: use %q", id, g.ID, g.Clone.ID)
	}
	return id, nil
}

// CheckNode says why name is not a node of c, or nil.
func (c *CIB) CheckNode(name string) error {
	if c.Node(name) != nil {
		return nil
	}
	return fmt.Errorf("no node %q (nodes: %s)", name, strings.Join(c.NodeNames(), ", "))
}

// freeConstraintID refuses an id that something already uses.
func (c *CIB) freeConstraintID(id string) error {
	if what := c.idInUse(id); what != "" {
		return fmt.Errorf("constraint id %q is already used by %s", id, what)
	}
	return nil
}

// AddOrder adds o; an order with the same id is refused.
func (c *CIB) AddOrder(o Order) error {
	if err := c.freeConstraintID(o.ID); err != nil {
		return err
	}
	c.Orders = append(c.Orders, o)
	return nil
}

// AddColocation adds co; a colocation with the same id is refused.
func (c *CIB) AddColocation(co Colocation) error {
	if err := c.freeConstraintID(co.ID); err != nil {
		return err
	}
	c.Colocations = append(c.Colocations, co)
	return nil
}

// SetLocation adds l, or replaces the location constraint of l.Rsc on
// l.Node (so "prefers" after "avoids" changes the score, as in pcs). A
// location with a rule is added (with a new id if the default is taken).
func (c *CIB) SetLocation(l Location) error {
	if l.Rule != nil {
		if l.ID == DefaultLocationID(l) {
			base := l.ID
			for i := 1; c.idInUse(l.ID) != ""; i++ {
				l.ID = fmt.Sprintf("%s-%d", base, i)
			}
		}
	} else {
		for i, x := range c.Locations {
			if x.Rule == nil && x.Rsc == l.Rsc && x.Node == l.Node {
				c.Locations[i] = l
				return nil
			}
		}
	}
	if err := c.freeConstraintID(l.ID); err != nil {
		return err
	}
	c.Locations = append(c.Locations, l)
	return nil
}

// RemoveConstraint removes the constraint called id.
func (c *CIB) RemoveConstraint(id string) error {
	for i, o := range c.Orders {
		if o.ID == id {
			c.Orders = append(c.Orders[:i:i], c.Orders[i+1:]...)
			return nil
		}
	}
	for i, co := range c.Colocations {
		if co.ID == id {
			c.Colocations = append(c.Colocations[:i:i], c.Colocations[i+1:]...)
			return nil
		}
	}
	for i, l := range c.Locations {
		if l.ID == id {
			c.Locations = append(c.Locations[:i:i], c.Locations[i+1:]...)
			return nil
		}
	}
	for i, t := range c.Tickets {
		if t.ID == id {
			c.Tickets = append(c.Tickets[:i:i], c.Tickets[i+1:]...)
			return nil
		}
	}
	known := strings.Join(c.ConstraintIDs(), ", ")
	if known == "" {
		known = "none"
	}
	return fmt.Errorf("no constraint %q (constraints: %s; `tandem constraint --full` shows ids)", id, known)
}

// Move makes resource or group id prefer node (INFINITY), replacing an
// earlier move.
func (c *CIB) Move(id, node string) (Location, error) {
	name, cloned, err := c.target(id)
	if err != nil {
		return Location{}, err
	}
	if err := c.CheckNode(node); err != nil {
		return Location{}, err
	}
	if cloned {
		return Location{}, fmt.Errorf("%q is a clone, which runs on every node it may; use ban to keep it off a node", name)
	}
	l := Location{ID: MoveConstraintID(name), Rsc: name, Node: node, Score: Infinity}
	c.removeLocationID(l.ID)
	c.Locations = append(c.Locations, l)
	return l, nil
}

// Ban keeps resource or group id off node (-INFINITY).
func (c *CIB) Ban(id, node string) (Location, error) {
	name, _, err := c.target(id)
	if err != nil {
		return Location{}, err
	}
	if err := c.CheckNode(node); err != nil {
		return Location{}, err
	}
	l := Location{ID: BanConstraintID(name, node), Rsc: name, Node: node, Score: -Infinity}
	c.removeLocationID(l.ID)
	c.Locations = append(c.Locations, l)
	return l, nil
}

// Clear removes the constraints move and ban made for resource or group
// id; it returns their ids.
func (c *CIB) Clear(id string) ([]string, error) {
	name, _, err := c.target(id)
	if err != nil {
		return nil, err
	}
	var removed []string
	var keep []Location
	for _, l := range c.Locations {
		if l.ID == MoveConstraintID(name) || strings.HasPrefix(l.ID, "cli-ban-"+name+"-on-") {
			removed = append(removed, l.ID)
			continue
		}
		keep = append(keep, l)
	}
	c.Locations = keep
	return removed, nil
}

func (c *CIB) removeLocationID(id string) {
	var keep []Location
	for _, l := range c.Locations {
		if l.ID != id {
			keep = append(keep, l)
		}
	}
	c.Locations = keep
}

// SetStandby puts node in standby (or takes it out).
func (c *CIB) SetStandby(node string, on bool) error {
	if err := c.CheckNode(node); err != nil {
		return err
	}
	c.Node(node).Standby = on
	return nil
}

// SetNodeMaintenance puts node in maintenance (or takes it out).
func (c *CIB) SetNodeMaintenance(node string, on bool) error {
	if err := c.CheckNode(node); err != nil {
		return err
	}
	c.Node(node).Maintenance = on
	return nil
}

// SetNodeAttribute sets attribute name of node to value; value "" removes
// it. Names starting with # are the built-in ones rules see (#uname, #id,
// #kind) and cannot be set.
func (c *CIB) SetNodeAttribute(node, name, value string) error {
	if err := c.CheckNode(node); err != nil {
		return err
	}
	if name == "standby" || name == "maintenance" {
		return fmt.Errorf("node attribute %q: use tandem node %s|un%s, which the scheduler reads", name, name, name)
	}
	if !validAttributeName(name) {
		return fmt.Errorf("node attribute %q: a name is not empty, does not start with # (#uname, #id and #kind are built in) and has no spaces, = or parentheses", name)
	}
	n := c.Node(node)
	if value == "" {
		delete(n.Attributes, name)
		if len(n.Attributes) == 0 {
			n.Attributes = nil
		}
		return nil
	}
	if n.Attributes == nil {
		n.Attributes = map[string]string{}
	}
	n.Attributes[name] = value
	return nil
}

// SetProperty sets a cluster property from its text.
func (c *CIB) SetProperty(key, value string) error {
	switch key {
	case "maintenance-mode":
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("maintenance-mode=%q: want true or false", value)
		}
		c.Properties.MaintenanceMode = b
		return nil
	case "placement-strategy":
		if value == PlacementDefault {
			value = ""
		}
		if p := placementProblem(value); p != "" {
			return fmt.Errorf("%s", p)
		}
		c.Properties.PlacementStrategy = value
		return nil
	}
	return fmt.Errorf("unknown property %q%s (properties: %s)", key, DidYouMean(key, PropertyKeys), strings.Join(PropertyKeys, ", "))
}
