package policies

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/tandem-ha/tandem/policies/cib"
)

// Op is what an action does to a resource instance on a node.
type Op string

// Operations of a transition. A restart is a stop then a start of the same
// instance on the same node; a move is a stop on one node then a start on
// another.
const (
	OpStart Op = "start"
	OpStop  Op = "stop"
	// OpPromote and OpDemote change the role of a promotable clone's
	// instance that runs (Unpromoted to Promoted and back).
	OpPromote Op = "promote"
	OpDemote  Op = "demote"
)

// TransitionVersion is the version of the Transition JSON form.
const TransitionVersion = 1

// Action is one start or stop of one resource instance on one node.
//
// A primitive's action has Clone == "" and no instance; a clone instance's
// action names the clone and the instance number (in JSON, "instance" is
// present exactly when "clone" is).
type Action struct {
	// ID is unique within the transition and readable:
	// "start/VIP@benji" for a primitive, "stop/haproxy#1@holly" for
	// instance 1 of haproxy's clone ('/', '#' and '@' never occur in ids
	// and node names).
	ID       string `json:"id"`
	Resource string `json:"resource"` // primitive id
	Clone    string `json:"clone,omitempty"`
	Instance int    `json:"-"`
	Node     string `json:"node"`
	Op       Op     `json:"op"`
	// After lists the ids of the actions that must have succeeded before
	// this one may run (they may be on other nodes). Sorted.
	After []string `json:"after,omitempty"`
	// Reason says why the action is needed, for people.
	Reason string `json:"reason,omitempty"`
	// Notify is what a notification (Op OpNotify) tells the instance.
	Notify *Notification `json:"notify,omitempty"`
}

// ActionID is the id of the action op on instance (resource, clone,
// instance) on node.
func ActionID(op Op, resource, clone string, instance int, node string) string {
	if clone == "" {
		return string(op) + "/" + resource + "@" + node
	}
	return string(op) + "/" + resource + "#" + strconv.Itoa(instance) + "@" + node
}

// Name is the instance the action acts on: "VIP" or "haproxy#1".
func (a Action) Name() string { return instanceName(a.Resource, a.Clone, a.Instance) }

func instanceName(resource, clone string, instance int) string {
	if clone == "" {
		return resource
	}
	return resource + "#" + strconv.Itoa(instance)
}

// actionJSON is the wire form of Action: "instance" right after "clone",
// present exactly when "clone" is.
type actionJSON struct {
	ID       string        `json:"id"`
	Resource string        `json:"resource"`
	Clone    string        `json:"clone,omitempty"`
	Instance *int          `json:"instance,omitempty"`
	Node     string        `json:"node"`
	Op       Op            `json:"op"`
	After    []string      `json:"after,omitempty"`
	Reason   string        `json:"reason,omitempty"`
	Notify   *Notification `json:"notify,omitempty"` // type and operation; the lists are the transition's
}

// MarshalJSON writes "instance" exactly when the action is on a clone
// instance, so that a primitive and instance 0 of a clone never look alike.
func (a Action) MarshalJSON() ([]byte, error) {
	w := actionJSON{ID: a.ID, Resource: a.Resource, Clone: a.Clone, Node: a.Node, Op: a.Op, After: a.After, Reason: a.Reason, Notify: a.Notify}
	if a.Clone != "" {
		w.Instance = &a.Instance
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (a *Action) UnmarshalJSON(data []byte) error {
	var w actionJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*a = Action{ID: w.ID, Resource: w.Resource, Clone: w.Clone, Node: w.Node, Op: w.Op, After: w.After, Reason: w.Reason, Notify: w.Notify}
	if w.Instance != nil {
		a.Instance = *w.Instance
	}
	return nil
}

// Transition is the DAG of actions that takes the cluster from its current
// state to the placement. Actions are listed in a topological order: running
// them one by one in list order respects every edge.
//
// In JSON, the lists of the clone notifications (Action.Notify) are written
// once per clone, in "notify_lists" by clone id: every notification of a
// clone in a transition carries the same (a clone of n instances has O(n)
// notifications of O(n) lists each).
type Transition struct {
	Version int      `json:"version"`
	Actions []Action `json:"actions"`
}

type transitionJSON struct {
	Version     int                    `json:"version"`
	Actions     []Action               `json:"actions"`
	NotifyLists map[string]NotifyLists `json:"notify_lists,omitempty"`
}

// MarshalJSON writes the notifications' lists once per clone.
func (t Transition) MarshalJSON() ([]byte, error) {
	w := transitionJSON{Version: t.Version, Actions: t.Actions}
	for _, a := range t.Actions {
		if a.Notify == nil {
			continue
		}
		if w.NotifyLists == nil {
			w.NotifyLists = map[string]NotifyLists{}
		}
		if _, ok := w.NotifyLists[a.Clone]; !ok {
			w.NotifyLists[a.Clone] = a.Notify.NotifyLists
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads what MarshalJSON writes: each notification gets its
// clone's lists.
func (t *Transition) UnmarshalJSON(data []byte) error {
	var w transitionJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	for i := range w.Actions {
		a := &w.Actions[i]
		if a.Notify == nil {
			continue
		}
		l, ok := w.NotifyLists[a.Clone]
		if !ok {
			return fmt.Errorf("transition action %q: no notify_lists for clone %q", a.ID, a.Clone)
		}
		a.Notify.NotifyLists = l
	}
	*t = Transition{Version: w.Version, Actions: w.Actions}
	return nil
}

// Empty says whether the transition has nothing to do.
func (t *Transition) Empty() bool { return len(t.Actions) == 0 }

// Action returns the action called id.
func (t *Transition) Action(id string) (Action, bool) {
	for _, a := range t.Actions {
		if a.ID == id {
			return a, true
		}
	}
	return Action{}, false
}

// ForNode returns the actions node must run, in list (topological) order.
func (t *Transition) ForNode(node string) []Action {
	var out []Action
	for _, a := range t.Actions {
		if a.Node == node {
			out = append(out, a)
		}
	}
	return out
}

// Ready says whether every action a waits for has succeeded.
func (a Action) Ready(succeeded func(id string) bool) bool {
	for _, id := range a.After {
		if !succeeded(id) {
			return false
		}
	}
	return true
}

// DecodeTransition reads a transition from its JSON form and checks it.
func DecodeTransition(data []byte) (*Transition, error) {
	var t Transition
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("decoding transition: %w", err)
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

// Validate checks what a host relies on: a known version, unique ids that
// match their action, edges to existing actions, no cycle, and a list in
// topological order.
func (t *Transition) Validate() error {
	if t.Version != TransitionVersion {
		return fmt.Errorf("transition version %d: this host understands version %d", t.Version, TransitionVersion)
	}
	pos := make(map[string]int, len(t.Actions))
	for i, a := range t.Actions {
		switch a.Op {
		case OpStart, OpStop:
		case OpPromote, OpDemote:
			if a.Clone == "" {
				return fmt.Errorf("transition action %q: only a clone instance is promoted or demoted", a.ID)
			}
		case OpNotify:
			if a.Clone == "" || a.Notify == nil {
				return fmt.Errorf("transition action %q: a notification goes to a clone instance and says what it notifies", a.ID)
			}
			if t := a.Notify.Type; t != NotifyPre && t != NotifyPost {
				return fmt.Errorf("transition action %q: notification type %q is not pre or post", a.ID, t)
			}
			if !slices.Contains(notifyOps, a.Notify.Operation) {
				return fmt.Errorf("transition action %q: notification of %q, not of start, stop, promote or demote", a.ID, a.Notify.Operation)
			}
		default:
			return fmt.Errorf("transition action %q: op %q is not start, stop, promote, demote or notify", a.ID, a.Op)
		}
		if a.Resource == "" || a.Node == "" {
			return fmt.Errorf("transition action %q: resource and node are required", a.ID)
		}
		want := ActionID(a.Op, a.Resource, a.Clone, a.Instance, a.Node)
		if a.Op == OpNotify {
			want = NotifyID(a.Notify.Type, a.Notify.Operation, a.Resource, a.Clone, a.Instance, a.Node)
		}
		if a.ID != want {
			return fmt.Errorf("transition action %q: id does not match its action (want %q)", a.ID, want)
		}
		if _, dup := pos[a.ID]; dup {
			return fmt.Errorf("transition action %q is listed twice", a.ID)
		}
		pos[a.ID] = i
	}
	for i, a := range t.Actions {
		for _, dep := range a.After {
			j, ok := pos[dep]
			if !ok {
				return fmt.Errorf("transition action %q waits for %q, which is not in the transition", a.ID, dep)
			}
			if j >= i {
				// Listing order is topological, so a later (or the same)
				// position means a cycle or a mis-ordered list.
				return fmt.Errorf("transition action %q waits for %q, which is not listed before it (cycle or unordered list)", a.ID, dep)
			}
		}
	}
	return nil
}

// DOT renders the transition as a Graphviz digraph: one box per action, an
// arrow from each action to the actions that wait for it.
func (t *Transition) DOT() string {
	var b strings.Builder
	b.WriteString("digraph transition {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n")
	for _, a := range t.Actions {
		color := "darkgreen"
		op := string(a.Op)
		switch {
		case a.Op == OpStop:
			color = "firebrick"
		case a.Notify != nil:
			color, op = "gray40", a.Notify.Type+"-notify "+string(a.Notify.Operation)
		}
		fmt.Fprintf(&b, "  %q [label=%q, color=%s];\n", a.ID, fmt.Sprintf("%s %s\non %s", op, a.Name(), a.Node), color)
	}
	for _, a := range t.Actions {
		for _, dep := range a.After {
			fmt.Fprintf(&b, "  %q -> %q;\n", dep, a.ID)
		}
	}
	b.WriteString("}\n")
	return b.String()
}

// Apply returns the state the transition leads to when every action
// succeeds: stops remove instances (failed or not), starts add started
// instances. Node states and failure histories are unchanged. The
// configuration is needed to number clone instances as Schedule did.
func Apply(cfg *cib.CIB, s State, t *Transition) State {
	type key struct {
		rsc  string
		inst int
		node string
	}
	ins := normalizeInstances(indexResources(cfg), s.Instances, presentNodes(cfg, s))
	stopped := map[key]bool{}
	for _, a := range t.Actions {
		if a.Op == OpStop {
			stopped[key{a.Resource, a.Instance, a.Node}] = true
		}
	}
	out := State{Nodes: append([]NodeState(nil), s.Nodes...), Failures: append([]Failure(nil), s.Failures...),
		Promotion: append([]PromotionScore(nil), s.Promotion...), Tickets: append([]TicketState(nil), s.Tickets...)}
	for _, in := range ins {
		if !stopped[key{in.Resource, in.Instance, in.Node}] {
			out.Instances = append(out.Instances, in)
		}
	}
	for _, a := range t.Actions {
		if a.Op == OpStart {
			out.Instances = append(out.Instances, InstanceState{Resource: a.Resource, Clone: a.Clone, Instance: a.Instance, Node: a.Node})
		}
	}
	for _, a := range t.Actions {
		if a.Op != OpPromote && a.Op != OpDemote {
			continue
		}
		for i := range out.Instances {
			in := &out.Instances[i]
			if in.Resource == a.Resource && in.Instance == a.Instance && in.Node == a.Node {
				in.Role = ""
				if a.Op == OpPromote {
					in.Role = cib.RolePromoted
				}
			}
		}
	}
	sort.SliceStable(out.Instances, func(i, j int) bool {
		a, b := out.Instances[i], out.Instances[j]
		if a.Resource != b.Resource {
			return a.Resource < b.Resource
		}
		if a.Instance != b.Instance {
			return a.Instance < b.Instance
		}
		return a.Node < b.Node
	})
	return out
}

// topoSort orders actions so that each comes after the actions it waits
// for; among actions that are free at the same time, the one created first
// goes first. It fails on a cycle (which would be a scheduler bug).
func topoSort(actions []Action) ([]Action, error) {
	idx := make(map[string]int, len(actions))
	for i, a := range actions {
		idx[a.ID] = i
	}
	indeg := make([]int, len(actions))
	next := make([][]int, len(actions))
	for i, a := range actions {
		for _, d := range a.After {
			j := idx[d]
			next[j] = append(next[j], i)
			indeg[i]++
		}
	}
	h := &intHeap{}
	for i := range actions {
		if indeg[i] == 0 {
			*h = append(*h, i)
		}
	}
	heap.Init(h)
	out := make([]Action, 0, len(actions))
	for h.Len() > 0 {
		i := heap.Pop(h).(int)
		out = append(out, actions[i])
		for _, j := range next[i] {
			indeg[j]--
			if indeg[j] == 0 {
				heap.Push(h, j)
			}
		}
	}
	if len(out) != len(actions) {
		var stuck []string
		for i, d := range indeg {
			if d > 0 {
				stuck = append(stuck, actions[i].ID)
			}
		}
		return nil, fmt.Errorf("scheduler bug: the transition has an ordering cycle among %s", strings.Join(stuck, ", "))
	}
	return out, nil
}

type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
