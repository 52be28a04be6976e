package cib

import (
	"slices"
	"sort"
	"strings"
)

// Cycle is a loop of ordering constraints: Steps like "start A", "start B",
// "start A"; Orders the constraint ids along it.
type Cycle struct {
	Steps  []string
	Orders []string
}

// OrderCycles finds loops among Mandatory and Optional orders (Serialize
// orders have no direction). A symmetrical order also orders the reverse
// actions in reverse, so those edges are part of the graph too. Each loop is
// reported once, starting from its smallest step.
func (c *CIB) OrderCycles() []Cycle {
	type edge struct{ to, order string }
	graph := map[string][]edge{}
	add := func(first, then string, fa, ta Action, symmetrical bool, id string) {
		a := string(fa) + " " + first
		b := string(ta) + " " + then
		graph[a] = append(graph[a], edge{b, id})
		if symmetrical {
			ia, ib := fa.Inverse(), ta.Inverse()
			if ia != "" && ib != "" {
				from := string(ib) + " " + then
				graph[from] = append(graph[from], edge{string(ia) + " " + first, id})
			}
		}
	}
	// A group is its members: an order naming it orders each of them, and
	// the members are ordered one after the other.
	for _, g := range c.Groups {
		ms := c.orderMembers(g.ID)
		for i := 1; i < len(ms); i++ {
			add(ms[i-1], ms[i], ActionStart, ActionStart, true, GroupOrderID(g.ID))
		}
	}
	for _, o := range c.Orders {
		if o.Kind == Serialize {
			continue
		}
		for _, p := range o.Pairs() {
			if p.First == "" || p.Then == "" || p.First == p.Then {
				continue
			}
			for _, f := range c.orderMembers(p.First) {
				for _, t := range c.orderMembers(p.Then) {
					if f != t {
						add(f, t, p.FirstAction, p.ThenAction, p.Symmetrical, o.ID)
					}
				}
			}
		}
	}
	var starts []string
	for k := range graph {
		starts = append(starts, k)
	}
	sort.Strings(starts)
	seen := map[string]bool{}
	var cycles []Cycle
	const white, grey, black = 0, 1, 2
	color := map[string]int{}
	var stack []string
	var via []string
	var dfs func(n string)
	dfs = func(n string) {
		color[n] = grey
		stack = append(stack, n)
		for _, e := range graph[n] {
			switch color[e.to] {
			case white:
				via = append(via, e.order)
				dfs(e.to)
				via = via[:len(via)-1]
			case grey:
				i := len(stack) - 1
				for stack[i] != e.to {
					i--
				}
				steps := append(append([]string{}, stack[i:]...), e.to)
				orders := append(append([]string{}, via[i:]...), e.order)
				cyc := canonicalCycle(steps, orders)
				key := strings.Join(cyc.Steps, "|")
				if !seen[key] {
					seen[key] = true
					cycles = append(cycles, cyc)
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
	}
	for _, s := range starts {
		if color[s] == white {
			dfs(s)
		}
	}
	return cycles
}

// canonicalCycle rotates a cycle so it starts at its smallest step.
func canonicalCycle(steps, orders []string) Cycle {
	n := len(steps) - 1 // last step repeats the first
	best := 0
	for i := 1; i < n; i++ {
		if steps[i] < steps[best] {
			best = i
		}
	}
	var cyc Cycle
	for i := 0; i < n; i++ {
		cyc.Steps = append(cyc.Steps, steps[(best+i)%n])
		cyc.Orders = append(cyc.Orders, orders[(best+i)%n])
	}
	cyc.Steps = append(cyc.Steps, cyc.Steps[0])
	return cyc
}

// orderMembers is what an order naming id orders: a group's (or cloned
// group's) members, or id itself.
// Members that are not configured primitives are left out: validation
// reports them, and a loop through them would only repeat that.
func (c *CIB) orderMembers(id string) []string {
	g, _ := c.Group(id)
	if g == nil {
		return []string{id}
	}
	var ms []string
	for _, m := range g.Resources {
		if r, _ := c.Resource(m); r != nil && r.ID == m {
			ms = append(ms, m)
		}
	}
	return ms
}

// GroupOrderID names the implicit orders between the members of group g
// where an ordering cycle is reported.
func GroupOrderID(g string) string { return "group " + g }

// overlap says whether a and b (resources or groups) share a member: a
// group and one of its members.
func (c *CIB) overlap(a, b string) bool {
	for _, x := range c.orderMembers(a) {
		if slices.Contains(c.orderMembers(b), x) {
			return true
		}
	}
	return false
}
