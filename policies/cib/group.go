package cib

import (
	"fmt"
	"slices"
	"strings"
)

// Group is Pacemaker's resource group: primitives that run together on one
// node, started in their order and stopped in the reverse order (each
// member is colocated with the one before it, INFINITY, and ordered after
// it, Mandatory). Its meta attributes are every member's defaults, so its
// resource-stickiness counts once per active member. A cloned group runs
// one copy of the whole group per node.
type Group struct {
	ID string `json:"id"`
	// Resources are the members' primitive ids, in start order.
	Resources []string `json:"resources"`
	Meta      Meta     `json:"meta"`
	Clone     *Clone   `json:"clone,omitempty"`
}

// Group returns the group whose id or clone id is id, and whether id named
// the clone.
func (c *CIB) Group(id string) (g *Group, isClone bool) {
	for i := range c.Groups {
		g := &c.Groups[i]
		if g.ID == id {
			return g, false
		}
		if g.Clone != nil && g.Clone.ID == id {
			return g, true
		}
	}
	return nil, false
}

func (c *CIB) isGroup(id string) bool {
	g, _ := c.Group(id)
	return g != nil
}

// GroupOf returns the group primitive rsc belongs to, or nil.
func (c *CIB) GroupOf(rsc string) *Group {
	for i := range c.Groups {
		if slices.Contains(c.Groups[i].Resources, rsc) {
			return &c.Groups[i]
		}
	}
	return nil
}

// GroupIndex maps every group member to its group, for callers that look
// up many resources (GroupOf searches the list).
func (c *CIB) GroupIndex() map[string]*Group {
	idx := map[string]*Group{}
	for i := range c.Groups {
		for _, m := range c.Groups[i].Resources {
			idx[m] = &c.Groups[i]
		}
	}
	return idx
}

// CloneOf is the clone that runs primitive r on several nodes: its own, or
// its group's; nil for a resource that runs on one node at most.
func (c *CIB) CloneOf(r *Resource) *Clone {
	if r.Clone != nil {
		return r.Clone
	}
	if g := c.GroupOf(r.ID); g != nil {
		return g.Clone
	}
	return nil
}

// RunAs is r as a node runs it: a copy that carries the clone it runs
// under, its own or, for a member of a cloned group, the group's (so that
// the node neither takes a singleton's lease for it nor reports it
// without its clone).
func (c *CIB) RunAs(r *Resource) Resource {
	out := *r
	out.Clone = c.CloneOf(r)
	return out
}

// PromotableInstance says whether primitive id runs as instances of a
// promotable clone: its own, or its cloned group's.
func (c *CIB) PromotableInstance(id string) bool {
	r, isClone := c.Resource(id)
	if r == nil || isClone {
		return false
	}
	cl := c.CloneOf(r)
	return cl != nil && cl.Promotable
}

// Primitives lists the primitives id stands for: a primitive, a clone's
// primitive, or a group's (or cloned group's) members.
func (c *CIB) Primitives(id string) ([]string, error) {
	if g, _ := c.Group(id); g != nil {
		return g.Resources, nil
	}
	r, err := c.MustResource(id)
	if err != nil {
		return nil, err
	}
	return []string{r.ID}, nil
}

// OwnTargetRole is the target-role resource or group id sets itself (""
// when it leaves it to the defaults), and whether id is stopped in effect.
func (c *CIB) OwnTargetRole(id string) (own string, stopped bool, err error) {
	if g, _ := c.Group(id); g != nil {
		stopped = g.Meta.TargetRole == RoleStopped || (g.Meta.TargetRole == "" && c.Defaults.TargetRole == RoleStopped)
		return g.Meta.TargetRole, stopped, nil
	}
	r, err := c.MustResource(id)
	if err != nil {
		return "", false, err
	}
	return r.Meta.TargetRole, c.Effective(r).TargetRole == RoleStopped, nil
}

// GroupConstraintName is the id constraints use for g: its clone id when
// cloned.
func GroupConstraintName(g *Group) string {
	if g.Clone != nil {
		return g.Clone.ID
	}
	return g.ID
}

// GroupPosition says where GroupAdd puts the resources: at the end, or
// before or after a member.
type GroupPosition struct {
	Before, After string
}

// GroupAdd puts resources into group id (created if there is none), at the
// end or before/after a member, as `pcs resource group add` does. A
// resource already in another group leaves that group (a group left empty
// is deleted). It returns the ids of constraints that were removed with an
// emptied group.
func (c *CIB) GroupAdd(id string, rscs []string, pos GroupPosition) (removed []string, err error) {
	if len(rscs) == 0 {
		return nil, fmt.Errorf("group %s: name at least one resource to add", id)
	}
	if pos.Before != "" && pos.After != "" {
		return nil, fmt.Errorf("group %s: give --before or --after, not both", id)
	}
	g, isClone := c.Group(id)
	if isClone {
		return nil, fmt.Errorf("%q is the clone of group %q: add resources to the group %q", id, g.ID, g.ID)
	}
	if g == nil {
		if !ValidID(id) {
			return nil, fmt.Errorf("group id %q: %s", id, idRule)
		}
		if what := c.idInUse(id); what != "" {
			return nil, fmt.Errorf("group id %q is already used by %s", id, what)
		}
	}
	seen := map[string]bool{}
	for _, rid := range rscs {
		if seen[rid] {
			return nil, fmt.Errorf("group %s: resource %q is named twice", id, rid)
		}
		seen[rid] = true
		r, isClone := c.Resource(rid)
		switch {
		case r == nil:
			if og, _ := c.Group(rid); og != nil {
				return nil, fmt.Errorf("group %s: %q is a group; groups cannot be nested", id, rid)
			}
			return nil, c.UnknownResource(rid)
		case r.Clone != nil || isClone:
			return nil, fmt.Errorf("group %s: %q is cloned; only primitives join a group (clone the group instead: [group.clone])", id, rid)
		}
		if ref := pos.Before + pos.After; ref == rid {
			return nil, fmt.Errorf("group %s: %q cannot be placed next to itself", id, rid)
		}
	}
	ref := pos.Before + pos.After
	if ref != "" && (g == nil || !slices.Contains(g.Resources, ref)) {
		return nil, fmt.Errorf("group %s: %q is not a member (members: %s)", id, ref, strings.Join(c.groupMembers(g), ", "))
	}
	// Take the resources out of wherever they are, then insert.
	for _, rid := range rscs {
		if og := c.GroupOf(rid); og != nil {
			og.Resources = slices.DeleteFunc(og.Resources, func(s string) bool { return s == rid })
		}
	}
	if g == nil {
		c.Groups = append(c.Groups, Group{ID: id})
		g = &c.Groups[len(c.Groups)-1]
	}
	at := len(g.Resources)
	if ref != "" {
		at = slices.Index(g.Resources, ref)
		if pos.After != "" {
			at++
		}
	}
	g.Resources = slices.Insert(g.Resources, at, rscs...)
	return c.dropEmptyGroups(), nil
}

func (c *CIB) groupMembers(g *Group) []string {
	if g == nil {
		return []string{"none: the group does not exist yet"}
	}
	return g.Resources
}

// GroupRemove takes resources out of group id; with none named, it
// ungroups every member. The resources stay configured. A group left empty
// is deleted with the constraints that name it, whose ids are returned.
func (c *CIB) GroupRemove(id string, rscs []string) (removed []string, err error) {
	g, isClone := c.Group(id)
	if g == nil {
		return nil, c.unknownGroup(id)
	}
	if isClone {
		return nil, fmt.Errorf("%q is the clone of group %q: name the group", id, g.ID)
	}
	if len(rscs) == 0 {
		g.Resources = nil
		return c.dropEmptyGroups(), nil
	}
	for _, rid := range rscs {
		if !slices.Contains(g.Resources, rid) {
			return nil, fmt.Errorf("group %s: %q is not a member (members: %s)", id, rid, strings.Join(g.Resources, ", "))
		}
	}
	g.Resources = slices.DeleteFunc(g.Resources, func(s string) bool { return slices.Contains(rscs, s) })
	return c.dropEmptyGroups(), nil
}

func (c *CIB) unknownGroup(id string) error {
	var ids []string
	for _, g := range c.Groups {
		ids = append(ids, g.ID)
	}
	known := strings.Join(ids, ", ")
	if known == "" {
		known = "none"
	}
	return fmt.Errorf("no group %q (groups: %s)", id, known)
}

// dropEmptyGroups deletes groups without members, and the constraints that
// name them, as pcs does; it returns those constraints' ids.
func (c *CIB) dropEmptyGroups() []string {
	var removed []string
	keep := c.Groups[:0]
	for _, g := range c.Groups {
		if len(g.Resources) > 0 {
			keep = append(keep, g)
			continue
		}
		names := map[string]bool{g.ID: true}
		if g.Clone != nil {
			names[g.Clone.ID] = true
		}
		removed = append(removed, c.removeConstraintsNaming(names)...)
	}
	c.Groups = keep
	if len(c.Groups) == 0 {
		c.Groups = nil
	}
	return removed
}

// GroupKeys are the keys of a [[group]] table besides meta and clone.
var GroupKeys = []string{"id", "resources", "meta", "clone"}
