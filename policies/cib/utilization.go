package cib

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Placement strategies (Pacemaker's placement-strategy property).
const (
	// PlacementDefault ignores utilization: the node with the best score,
	// then the fewest resources placed, wins.
	PlacementDefault = "default"
	// PlacementUtilization places a resource only on a node whose free
	// capacity covers its utilization; ties as "default".
	PlacementUtilization = "utilization"
	// PlacementBalanced is "utilization", ties broken first by the most
	// free capacity.
	PlacementBalanced = "balanced"
	// PlacementMinimal is "utilization", ties broken by node name only, so
	// that resources fill the first nodes and leave the others empty.
	PlacementMinimal = "minimal"
)

// PlacementStrategies lists the values of placement-strategy.
var PlacementStrategies = []string{PlacementDefault, PlacementUtilization, PlacementBalanced, PlacementMinimal}

// Placement is the placement strategy in effect: "default" when unset.
func (p Properties) Placement() string {
	if p.PlacementStrategy == "" {
		return PlacementDefault
	}
	return p.PlacementStrategy
}

// UsesUtilization says whether the placement strategy counts utilization.
func (p Properties) UsesUtilization() bool { return p.Placement() != PlacementDefault }

// placementProblem says what is wrong with placement-strategy value s, ""
// when nothing.
func placementProblem(s string) string {
	if s == "" {
		return ""
	}
	for _, k := range PlacementStrategies {
		if s == k {
			return ""
		}
	}
	return fmt.Sprintf("placement-strategy %q: want %s%s", s, strings.Join(PlacementStrategies, ", "), DidYouMean(s, PlacementStrategies))
}

// ParseUtilization reads a utilization value: a non-negative integer, as
// Pacemaker takes it (its own cases give nodes a capacity of 0).
func ParseUtilization(name, value string) (int, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
	if err != nil || n < 0 || n > math.MaxInt32 {
		return 0, fmt.Errorf("utilization %q=%q: want an integer from 0 to %d", name, value, math.MaxInt32)
	}
	return int(n), nil
}

// utilizationProblems checks a utilization map: names as node attributes,
// values from 0 to MaxInt32.
func utilizationProblems(u map[string]int) []string {
	var out []string
	names := make([]string, 0, len(u))
	for k := range u {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !validAttributeName(k) {
			out = append(out, fmt.Sprintf("utilization %q: a name is not empty, does not start with # and has no spaces, = or parentheses", k))
		}
		if v := u[k]; v < 0 || v > math.MaxInt32 {
			out = append(out, fmt.Sprintf("utilization %q=%d: want an integer from 0 to %d", k, v, math.MaxInt32))
		}
	}
	return out
}

// setUtilization sets or (value "") removes name in *u.
func setUtilization(u *map[string]int, name, value string) error {
	if !validAttributeName(name) {
		return fmt.Errorf("utilization %q: a name is not empty, does not start with # and has no spaces, = or parentheses", name)
	}
	if value == "" {
		delete(*u, name)
		if len(*u) == 0 {
			*u = nil
		}
		return nil
	}
	v, err := ParseUtilization(name, value)
	if err != nil {
		return err
	}
	if *u == nil {
		*u = map[string]int{}
	}
	(*u)[name] = v
	return nil
}

// SetNodeUtilization sets node's capacity for name (pcs node utilization
// NODE name=value); value "" removes it.
func (c *CIB) SetNodeUtilization(node, name, value string) error {
	if err := c.CheckNode(node); err != nil {
		return err
	}
	return setUtilization(&c.Node(node).Utilization, name, value)
}

// SetResourceUtilization sets what resource id (a primitive, or a clone
// by its id: each instance) uses of name; value "" removes it. A group
// has no utilization of its own: it uses the sum of its members'.
func (c *CIB) SetResourceUtilization(id, name, value string) error {
	r, _ := c.Resource(id)
	if r == nil {
		if g, _ := c.Group(id); g != nil {
			return fmt.Errorf("group %q: a group uses the sum of its members' utilization; set it on a member (%s)", id, strings.Join(g.Resources, ", "))
		}
		return c.UnknownResource(id)
	}
	return setUtilization(&r.Utilization, name, value)
}

// FormatUtilization writes u as "name=value ..." sorted by name.
func FormatUtilization(u map[string]int) string {
	names := make([]string, 0, len(u))
	for k := range u {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = k + "=" + strconv.Itoa(u[k])
	}
	return strings.Join(parts, " ")
}
