// Package cib is the cluster model Tandem plans on, named after Pacemaker's
// Cluster Information Base: the nodes and their attributes (standby,
// maintenance, the attributes location rules test), the resources
// (primitives and clones, their operations and meta attributes) and the
// groups of them, the order, colocation and location constraints (with
// resource sets and rules), the resource defaults and the cluster
// properties; with the edits the pcs-shaped commands make to it and the
// checks that keep it consistent.
//
// It is what the live configuration stores and what the scheduler
// (package policies) reads. It knows nothing of files or of the bus: where
// the members are and how they reach each other is bus.Topology (Pacemaker
// keeps that in corosync.conf, apart from the CIB), and where a value came
// from in cluster.toml is host/config's business. A problem found here is
// located by a path such as "resource[1].op[0]" that host/config turns into
// a file line.
package cib

import (
	"fmt"
	"sort"
	"strings"
)

// CIB is a whole cluster model.
type CIB struct {
	// Nodes are the nodes that may run resources, in configuration order.
	Nodes     []Node     `json:"nodes"`
	Resources []Resource `json:"resources,omitempty"`
	// Groups are resource groups over Resources (a member is listed in
	// Resources too, and in one group at most).
	Groups      []Group      `json:"groups,omitempty"`
	Orders      []Order      `json:"orders,omitempty"`
	Colocations []Colocation `json:"colocations,omitempty"`
	Locations   []Location   `json:"locations,omitempty"`
	// Tickets are the ticket constraints (rsc_ticket); the tickets' state
	// (granted, standby) is not here but in the cluster's state.
	Tickets []Ticket `json:"tickets,omitempty"`
	// Defaults are the resource defaults (pcs resource defaults).
	Defaults   Meta       `json:"defaults"`
	Properties Properties `json:"properties"`
	// Alerts are the alert agents and webhooks told of cluster events
	// (pcs alert).
	Alerts []Alert `json:"alerts,omitempty"`
}

// Node is a node's entry in the model: its name and its attributes.
type Node struct {
	Name        string `json:"name"`
	Standby     bool   `json:"standby,omitempty"`     // runs no resources
	Maintenance bool   `json:"maintenance,omitempty"` // nothing is started or stopped there
	// Attributes are the node's own attributes (pcs node attribute), which
	// location rules test.
	Attributes map[string]string `json:"attributes,omitempty"`
	// Utilization is the node's capacity (pcs node utilization): how much
	// of each attribute ("cpu", "memory") the resources placed on it may
	// use together, when the placement strategy is not "default".
	Utilization map[string]int `json:"utilization,omitempty"`
}

// RuleAttributes are the attributes a location rule sees on node n: its
// own, and the built-in #uname, #id and #kind.
func (n *Node) RuleAttributes() map[string]string {
	attrs := make(map[string]string, len(n.Attributes)+3)
	for k, v := range n.Attributes {
		attrs[k] = v
	}
	attrs[AttrUname], attrs[AttrID], attrs[AttrKind] = n.Name, n.Name, "cluster"
	return attrs
}

// Properties are cluster-wide switches (pcs property).
type Properties struct {
	MaintenanceMode bool `json:"maintenance-mode,omitempty"` // nothing is started, stopped or monitored-and-recovered
	// PlacementStrategy is how utilization counts (Pacemaker's
	// placement-strategy): "" or "default" ignores it; "utilization",
	// "balanced" and "minimal" place a resource only where the free
	// capacity covers its utilization, and break ties between equally
	// good nodes differently (see PlacementStrategies).
	PlacementStrategy string `json:"placement-strategy,omitempty"`
}

// PropertyKeys are the cluster properties SetProperty takes.
var PropertyKeys = []string{"maintenance-mode", "placement-strategy"}

// Node returns the node called name, or nil.
func (c *CIB) Node(name string) *Node {
	for i := range c.Nodes {
		if c.Nodes[i].Name == name {
			return &c.Nodes[i]
		}
	}
	return nil
}

// NodeNames lists the nodes' names in configuration order.
func (c *CIB) NodeNames() []string {
	names := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		names[i] = n.Name
	}
	return names
}

// Resource returns the resource whose primitive id or clone id is id, and
// whether id named the clone.
func (c *CIB) Resource(id string) (r *Resource, isClone bool) {
	for i := range c.Resources {
		r := &c.Resources[i]
		if r.ID == id {
			return r, false
		}
		if r.Clone != nil && r.Clone.ID == id {
			return r, true
		}
	}
	return nil, false
}

// MustResource returns the resource whose primitive or clone id is id, or
// an error that lists the ids there are.
func (c *CIB) MustResource(id string) (*Resource, error) {
	r, _ := c.Resource(id)
	if r == nil {
		return nil, c.UnknownResource(id)
	}
	return r, nil
}

// UnknownResource is the error for an id that names no resource or clone.
func (c *CIB) UnknownResource(id string) error {
	ids := c.ResourceIDs()
	for _, r := range c.Resources {
		if c.CloneOf(&r) != nil {
			ids = append(ids, r.ID)
		}
	}
	for _, g := range c.Groups {
		if g.Clone != nil {
			ids = append(ids, g.ID)
		}
	}
	sort.Strings(ids)
	known := strings.Join(ids, ", ")
	if known == "" {
		known = "none"
	}
	return fmt.Errorf("no resource or clone %q (defined: %s)", id, known)
}

// ResourceIDs returns every id a constraint may name: primitives that are not
// cloned (directly or through their group), clone ids, groups and cloned
// groups' clone ids; sorted.
func (c *CIB) ResourceIDs() []string {
	var ids []string
	for _, r := range c.Resources {
		if g := c.GroupOf(r.ID); g != nil && g.Clone != nil {
			continue
		}
		ids = append(ids, ConstraintName(&r))
	}
	for i := range c.Groups {
		ids = append(ids, GroupConstraintName(&c.Groups[i]))
	}
	sort.Strings(ids)
	return ids
}

// ConstraintIDs lists every constraint id, sorted.
func (c *CIB) ConstraintIDs() []string {
	var ids []string
	for _, o := range c.Orders {
		ids = append(ids, o.ID)
	}
	for _, co := range c.Colocations {
		ids = append(ids, co.ID)
	}
	for _, l := range c.Locations {
		ids = append(ids, l.ID)
	}
	for _, t := range c.Tickets {
		ids = append(ids, t.ID)
	}
	sort.Strings(ids)
	return ids
}

// Effective layers the resource's meta over its group's (a group's meta
// attributes are its members' defaults, as in Pacemaker) and the cluster
// defaults.
func (c *CIB) Effective(r *Resource) EffectiveMeta { return c.EffectiveIn(r, c.GroupOf(r.ID)) }

// EffectiveIn is Effective for r as a member of g (nil: in no group), for
// callers that already know r's group.
func (c *CIB) EffectiveIn(r *Resource, g *Group) EffectiveMeta {
	e := EffectiveMeta{Stickiness: DefaultStickiness, MigrationThreshold: DefaultMigrationThreshold, TargetRole: RoleStarted}
	layers := []Meta{c.Defaults, r.Meta}
	if g != nil {
		layers = []Meta{c.Defaults, g.Meta, r.Meta}
	}
	for _, m := range layers {
		if m.Stickiness != nil {
			e.Stickiness = *m.Stickiness
		}
		if m.MigrationThreshold != nil {
			e.MigrationThreshold = *m.MigrationThreshold
		}
		if m.FailureTimeout != nil {
			e.FailureTimeout = *m.FailureTimeout
		}
		if m.TargetRole != "" {
			e.TargetRole = m.TargetRole
		}
		if m.Priority != nil {
			e.Priority = *m.Priority
		}
	}
	return e
}

// DidYouMean returns ` (did you mean "x"?)` for the entry of known closest
// to s, when one is close enough to be a typo, and "" otherwise.
func DidYouMean(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(s), k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
