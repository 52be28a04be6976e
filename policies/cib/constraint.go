package cib

import (
	"fmt"
	"strings"
)

// Action is what an ordering constraint orders.
type Action string

// Actions an ordering constraint can name.
const (
	ActionStart   Action = "start"
	ActionStop    Action = "stop"
	ActionPromote Action = "promote"
	ActionDemote  Action = "demote"
)

// OrderActions are the actions an order may name, as text.
var OrderActions = []string{string(ActionStart), string(ActionStop), string(ActionPromote), string(ActionDemote)}

// Inverse is the action that undoes a: stop for start, demote for promote.
func (a Action) Inverse() Action {
	switch a {
	case ActionStart:
		return ActionStop
	case ActionStop:
		return ActionStart
	case ActionPromote:
		return ActionDemote
	case ActionDemote:
		return ActionPromote
	}
	return ""
}

// OrderKind is Pacemaker's order kind.
type OrderKind string

// Order kinds.
const (
	Mandatory OrderKind = "Mandatory"
	Optional  OrderKind = "Optional"
	Serialize OrderKind = "Serialize"
)

// Order is an ordering constraint: First's FirstAction before Then's
// ThenAction; or, with Sets (then First, Then and the actions are empty),
// each set after the one before it (see Pairs).
type Order struct {
	ID          string        `json:"id"`
	First       string        `json:"first"` // resource, clone or group id
	Then        string        `json:"then"`
	FirstAction Action        `json:"first-action"`
	ThenAction  Action        `json:"then-action"`
	Kind        OrderKind     `json:"kind"`
	Symmetrical bool          `json:"symmetrical"`
	Sets        []ResourceSet `json:"sets,omitempty"`
}

// DefaultSymmetrical is Pacemaker's default for an order of kind k: true,
// except for Serialize where it has no meaning.
func DefaultSymmetrical(k OrderKind) bool { return k != Serialize }

// Colocation places Rsc relative to With: INFINITY only where With runs,
// -INFINITY never where With runs, otherwise a preference. With Sets (then
// Rsc and With are empty), the resources of the sets are placed relative to
// each other (see Pairs).
type Colocation struct {
	ID    string        `json:"id"`
	Rsc   string        `json:"rsc"`
	With  string        `json:"with"`
	Score Score         `json:"score"`
	Sets  []ResourceSet `json:"sets,omitempty"`
	// RscRole = Promoted: the colocation decides where Rsc (a promotable
	// clone) is promoted, not where it runs. WithRole = Promoted: Rsc is
	// placed relative to where With (a promotable clone) is promoted.
	// "" (or Started) is the instances, whatever their role.
	RscRole  string `json:"rsc-role,omitempty"`
	WithRole string `json:"with-rsc-role,omitempty"`
}

// Location scores a node for a resource (prefers: positive, avoids:
// negative); or, with a Rule instead of a Node, every node where the rule
// holds.
type Location struct {
	ID    string `json:"id"`
	Rsc   string `json:"rsc"`
	Node  string `json:"node"` // "" with a rule
	Score Score  `json:"score"`
	Rule  *Rule  `json:"rule,omitempty"`
	// ScoreAttribute, with a rule: a node's score is the value of this
	// node attribute (-INFINITY where it is not set) instead of Score.
	ScoreAttribute string `json:"score-attribute,omitempty"`
	// Role, with a rule: the location applies only while the resource's
	// role is this (Pacemaker's role filter); "" always.
	Role string `json:"role,omitempty"`
}

// DefaultOrderID names an order constraint the way pcs does.
func DefaultOrderID(o Order) string {
	return fmt.Sprintf("order-%s-%s-%s", o.First, o.Then, strings.ToLower(string(o.Kind)))
}

// DefaultColocationID names a colocation constraint the way pcs does.
func DefaultColocationID(c Colocation) string {
	return fmt.Sprintf("colocation-%s-%s-%s", c.Rsc, c.With, c.Score)
}

// DefaultLocationID names a location constraint the way pcs does.
func DefaultLocationID(l Location) string {
	if l.Rule != nil {
		return "location-" + l.Rsc
	}
	return fmt.Sprintf("location-%s-%s-%s", l.Rsc, l.Node, l.Score)
}

// MoveConstraintID is the location constraint `resource move` adds, named as
// pcs names it.
func MoveConstraintID(rsc string) string { return "cli-prefer-" + rsc }

// BanConstraintID is the location constraint `resource ban` adds.
func BanConstraintID(rsc, node string) string { return "cli-ban-" + rsc + "-on-" + node }
