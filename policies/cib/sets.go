package cib

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ResourceSet is one set of an order or colocation constraint with
// resource sets (Pacemaker's resource_set): `pcs constraint order set A B
// sequential=false set C`. Sequential and RequireAll keep whether they were
// written: Pacemaker reads an explicit sequential=true between sets
// differently from the default (see OrderPairs).
type ResourceSet struct {
	Resources  []string `json:"resources"`
	Sequential *bool    `json:"sequential,omitempty"`  // nil: true
	RequireAll *bool    `json:"require-all,omitempty"` // orders only; nil: true
	Action     Action   `json:"action,omitempty"`      // orders only; "": start
	// Role, colocations only: the set's resources in this role (Promoted
	// or Unpromoted, for promotable clones), as rsc-role and
	// with-rsc-role of the colocations the set stands for; "": any role.
	Role string `json:"role,omitempty"`
}

// SetKeys are the options an order's set takes.
var SetKeys = []string{"sequential", "require-all", "action"}

// ColocationSetKeys are the options a colocation's set takes.
var ColocationSetKeys = []string{"sequential", "role"}

// IsSequential is the set's sequential option (true unless written false).
func (s ResourceSet) IsSequential() bool { return s.Sequential == nil || *s.Sequential }

// RequiresAll is the set's require-all option (true unless written false).
func (s ResourceSet) RequiresAll() bool { return s.RequireAll == nil || *s.RequireAll }

// SetAction is the set's action (start unless written).
func (s ResourceSet) SetAction() Action {
	if s.Action == "" {
		return ActionStart
	}
	return s.Action
}

// SetOption sets one option of s from its text; forOrder says whether s
// belongs to an order (colocation sets take sequential only).
func (s *ResourceSet) SetOption(k, v string, forOrder bool) error {
	switch k {
	case "sequential", "require-all":
		if k == "require-all" && !forOrder {
			break
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s=%q: want true or false", k, v)
		}
		if k == "sequential" {
			s.Sequential = &b
		} else {
			s.RequireAll = &b
		}
		return nil
	case "action":
		if !forOrder {
			break
		}
		if !slices.Contains(OrderActions, v) {
			return fmt.Errorf("action=%q: want %s", v, strings.Join(OrderActions, ", "))
		}
		s.Action = Action(v)
		return nil
	case "role":
		if forOrder {
			// Pacemaker 2.1.5 reads no role on an order's set
			// (unpack_order_set): refused rather than ignored.
			return fmt.Errorf("role=%s: an order's set takes no role (Pacemaker ignores it); order an action instead: action=promote or action=demote", v)
		}
		r, err := ParseConstraintRole(v)
		if err != nil || r == RoleStopped {
			return fmt.Errorf("role=%q: want Started, Promoted or Unpromoted", v)
		}
		if r == RoleStarted {
			r = ""
		}
		s.Role = r
		return nil
	}
	keys := ColocationSetKeys
	if forOrder {
		keys = SetKeys
	}
	return fmt.Errorf("unknown set option %q%s (a set takes %s)", k, DidYouMean(k, keys), strings.Join(keys, ", "))
}

// Text writes the set as pcs does: "set A B sequential=false".
func (s ResourceSet) Text() string {
	parts := append([]string{"set"}, s.Resources...)
	if s.Action != "" {
		parts = append(parts, "action="+string(s.Action))
	}
	if s.RequireAll != nil {
		parts = append(parts, "require-all="+strconv.FormatBool(*s.RequireAll))
	}
	if s.Role != "" {
		parts = append(parts, "role="+s.Role)
	}
	if s.Sequential != nil {
		parts = append(parts, "sequential="+strconv.FormatBool(*s.Sequential))
	}
	return strings.Join(parts, " ")
}

// SetsText writes sets as pcs does: "set A B sequential=false set C".
func SetsText(sets []ResourceSet) string {
	var parts []string
	for _, s := range sets {
		parts = append(parts, s.Text())
	}
	return strings.Join(parts, " ")
}

// setMembers lists the resources of sets, for ids.
func setMembers(sets []ResourceSet) string {
	var parts []string
	for i, s := range sets {
		if i > 0 {
			parts = append(parts, "set")
		}
		parts = append(parts, s.Resources...)
	}
	return strings.Join(parts, "_")
}

// DefaultOrderSetID names an order with sets the way pcs does.
func DefaultOrderSetID(sets []ResourceSet) string { return "pcs_rsc_order_set_" + setMembers(sets) }

// DefaultColocationSetID names a colocation with sets the way pcs does.
func DefaultColocationSetID(sets []ResourceSet) string {
	return "pcs_rsc_colocation_set_" + setMembers(sets)
}

// OrderPair is one "first then then" an order stands for. AnyOf is set
// when first's set has require-all=false: then may start once any of
// AnyOf (first among them) runs, rather than all of them.
type OrderPair struct {
	Order
	AnyOf []string
}

// Pairs expands o into the simple orders it stands for, as Pacemaker 2.1.5
// unpacks resource sets (pcmk_sched_ordering.c): inside a sequential set,
// each resource after the one before it (a Serialize set: each before all
// that follow); between two sets, the last resource of the first set
// before the first of the next when each is written sequential=true, every
// resource of one before every resource of the other otherwise. Each pair
// keeps o's kind and symmetry. A simple order is one pair.
func (o *Order) Pairs() []OrderPair {
	if len(o.Sets) == 0 {
		return []OrderPair{{Order: *o}}
	}
	sets := distinct(o.Sets)
	var out []OrderPair
	pair := func(first, then string, fa, ta Action, anyOf []string) {
		p := OrderPair{Order: Order{ID: o.ID, First: first, Then: then, FirstAction: fa, ThenAction: ta, Kind: o.Kind, Symmetrical: o.Symmetrical}, AnyOf: anyOf}
		out = append(out, p)
	}
	for i, s := range sets {
		a := s.SetAction()
		for j, r := range s.Resources {
			switch {
			case o.Kind == Serialize:
				for _, later := range s.Resources[j+1:] {
					pair(r, later, a, a, nil)
				}
			case s.IsSequential() && j > 0:
				pair(s.Resources[j-1], r, a, a, nil)
			}
		}
		if i == 0 {
			continue
		}
		prev := sets[i-1]
		firsts, thens := prev.Resources, s.Resources
		var anyOf []string
		if !prev.RequiresAll() && len(prev.Resources) > 1 {
			anyOf = prev.Resources
		} else {
			if explicitlySequential(prev) && len(firsts) > 0 {
				firsts = firsts[len(firsts)-1:]
			}
			if explicitlySequential(s) && len(thens) > 0 {
				thens = thens[:1]
			}
		}
		for _, f := range firsts {
			for _, t := range thens {
				pair(f, t, prev.SetAction(), a, anyOf)
			}
		}
	}
	return out
}

func explicitlySequential(s ResourceSet) bool { return s.Sequential != nil && *s.Sequential }

// Pairs expands co into the simple colocations it stands for, as Pacemaker
// 2.1.5 unpacks resource sets (pcmk_sched_colocation.c): inside a set that
// is not sequential=false, each resource with the one before it (a
// negative score: each resource away from every one before it); between
// two sets, the first resource of the first set with the last resource of
// the next (every resource of a set written sequential=false). A simple
// colocation is one pair. A set's role is the role of its resources on
// both sides of the pairs inside the set; between two sets, the first
// set's role is the rsc-role and the next set's the with-rsc-role.
func (co *Colocation) Pairs() []Colocation {
	if len(co.Sets) == 0 {
		return []Colocation{*co}
	}
	sets := distinct(co.Sets)
	var out []Colocation
	pair := func(rsc, with, rscRole, withRole string) {
		out = append(out, Colocation{ID: co.ID, Rsc: rsc, With: with, Score: co.Score, RscRole: rscRole, WithRole: withRole})
	}
	for i, s := range sets {
		if s.IsSequential() {
			for j, r := range s.Resources {
				switch {
				case co.Score > 0 && j > 0:
					pair(r, s.Resources[j-1], s.Role, s.Role)
				case co.Score < 0:
					for _, before := range s.Resources[:j] {
						pair(r, before, s.Role, s.Role)
					}
				}
			}
		}
		if i == 0 {
			continue
		}
		prev := sets[i-1]
		rscs, withs := prev.Resources, s.Resources
		if prev.IsSequential() && len(rscs) > 0 {
			rscs = rscs[:1]
		}
		if s.IsSequential() && len(withs) > 0 {
			withs = withs[len(withs)-1:]
		}
		for _, r := range rscs {
			for _, w := range withs {
				pair(r, w, prev.Role, s.Role)
			}
		}
	}
	return out
}

// distinct is sets with each resource only where it first appears
// (validation refuses a resource named twice; planning a model that still
// has one must not order it after itself).
func distinct(sets []ResourceSet) []ResourceSet {
	seen := map[string]bool{}
	out := make([]ResourceSet, 0, len(sets))
	for _, s := range sets {
		var rs []string
		for _, r := range s.Resources {
			if !seen[r] {
				seen[r] = true
				rs = append(rs, r)
			}
		}
		s.Resources = rs
		out = append(out, s)
	}
	return out
}

// removeFromSets takes the resources in names out of sets, dropping sets
// left empty.
func removeFromSets(sets []ResourceSet, names map[string]bool) []ResourceSet {
	var out []ResourceSet
	for _, s := range sets {
		s.Resources = slices.DeleteFunc(slices.Clone(s.Resources), func(r string) bool { return names[r] })
		if len(s.Resources) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// setSize counts the resources of sets.
func setSize(sets []ResourceSet) int {
	n := 0
	for _, s := range sets {
		n += len(s.Resources)
	}
	return n
}
