package cib

import (
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
	for _, o := range c.Orders {
		if o.Kind == Serialize || o.First == "" || o.Then == "" || o.First == o.Then {
			continue
		}
		a := string(o.FirstAction) + " " + o.First
		b := string(o.ThenAction) + " " + o.Then
		graph[a] = append(graph[a], edge{b, o.ID})
		if o.Symmetrical {
			ia, ib := o.FirstAction.Inverse(), o.ThenAction.Inverse()
			if ia != "" && ib != "" {
				from := string(ib) + " " + o.Then
				graph[from] = append(graph[from], edge{string(ia) + " " + o.First, o.ID})
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
