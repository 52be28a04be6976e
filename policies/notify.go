package policies

import (
	"slices"
	"sort"
)

// Clone notifications (a clone with notify = true), as Pacemaker 2.1.5
// schedules them (lib/pengine/pe_notif.c, pcmk_sched_clone.c): for each of
// demote, stop, start and promote that the transition does to some of the
// clone's instances, in that order,
//
//   - a "pre" notification goes to the instances that run before it: for
//     stop and demote, every active instance (on its current node); for
//     start, the instances that will run and do not start now; for
//     promote, every instance that will run (after its start);
//   - then the clone's actions of that kind run (each waits for every
//     pre notification of its kind);
//   - then a "post" notification goes to the instances that run after it:
//     for stop, the active instances that do not stop; for demote, every
//     active instance; for start and promote, every instance that will run.
//
// The post notifications of an operation come before the pre notifications
// of the next one (demote, stop, start, promote), as Pacemaker's
// confirmed-post pseudo-actions are ordered before the next pre ones.
// Every notification carries the same lists, computed from the state before
// the transition (active, inactive, promoted, unpromoted) and from the
// transition's actions (start, stop, promote, demote): Pacemaker's
// notify_* meta attributes. No notification goes to an instance on a node
// in maintenance or one that is blocked: it is left alone.

// OpNotify is a notification to a clone instance (Action.Notify says which).
const OpNotify Op = "notify"

// Notification types.
const (
	NotifyPre  = "pre"
	NotifyPost = "post"
)

// NotifyEntry is one clone instance in a notification's lists.
type NotifyEntry struct {
	Instance int    `json:"instance"`
	Node     string `json:"node,omitempty"` // "" in Inactive
}

// Notification is what a notify action tells an instance: Pacemaker's
// notify_type, notify_operation and the notify_*_resource / _uname lists.
type Notification struct {
	Type      string `json:"type"`      // NotifyPre or NotifyPost
	Operation Op     `json:"operation"` // OpStart, OpStop, OpPromote or OpDemote
	// Every notification of a clone in a transition has the same lists:
	// the JSON form of a Transition holds them once per clone
	// ("notify_lists"), not in each action.
	NotifyLists `json:"-"`
}

// NotifyLists are the lists of a clone's notifications in a transition.
// Each list is sorted by instance, then node.
type NotifyLists struct {
	// Active: the instances running before the transition (failed ones
	// too), with their nodes; Inactive: the clone's other instances.
	Active   []NotifyEntry `json:"active,omitempty"`
	Inactive []NotifyEntry `json:"inactive,omitempty"`
	// Promoted and Unpromoted split Active by role, for a promotable clone.
	Promoted   []NotifyEntry `json:"promoted,omitempty"`
	Unpromoted []NotifyEntry `json:"unpromoted,omitempty"`
	// The instances the transition starts, stops, promotes and demotes.
	Start   []NotifyEntry `json:"start,omitempty"`
	Stop    []NotifyEntry `json:"stop,omitempty"`
	Promote []NotifyEntry `json:"promote,omitempty"`
	Demote  []NotifyEntry `json:"demote,omitempty"`
	// Available: the nodes that may run the clone (Pacemaker's
	// notify_available_uname: its allowed nodes, which in a symmetric
	// cluster are every node); All: every node (notify_all_uname). Sorted.
	Available []string `json:"available,omitempty"`
	All       []string `json:"all,omitempty"`
}

// NotifyListsOf returns the lists of clone's notifications in t: the
// clone has notify = true and t acts on its instances. Pacemaker gives
// them to the instances' own starts, stops, promotes and demotes too.
func (t *Transition) NotifyListsOf(clone string) (NotifyLists, bool) {
	for _, a := range t.Actions {
		if a.Notify != nil && a.Clone == clone {
			return a.Notify.NotifyLists, true
		}
	}
	return NotifyLists{}, false
}

// NotifyID is the id of the notification typ ("pre" or "post") of
// operation op to instance (resource, clone, instance) on node:
// "notify-pre-start/db#1@holly".
func NotifyID(typ string, op Op, resource, clone string, instance int, node string) string {
	return ActionID(Op("notify-"+typ+"-"+string(op)), resource, clone, instance, node)
}

// notifyOps is the order of a clone's operations and their notifications.
var notifyOps = []Op{OpDemote, OpStop, OpStart, OpPromote}

// notifyActions adds the notifications of every clone with notify = true.
func (s *scheduler) notifyActions(b *builder) {
	for _, u := range s.units {
		if u.notify {
			s.notifyUnit(b, u, b.byUnit[u])
		}
	}
}

func (s *scheduler) notifyUnit(b *builder, u *unit, ua *unitActions) {
	if ua == nil || len(ua.starts)+len(ua.stops)+len(ua.promotes)+len(ua.demotes) == 0 {
		return
	}
	base := s.notifyLists(b, u, ua)
	has := func(op Op, inst, node int) bool {
		for _, i := range ua.of(op) {
			a := b.actions[i]
			if a.Instance == inst && (node < 0 || a.Node == s.nodes[node].name) {
				return true
			}
		}
		return false
	}
	var gate []int // post notifications of the operations before
	for _, op := range notifyOps {
		acts := ua.of(op)
		if len(acts) == 0 {
			continue
		}
		notify := func(typ string, inst, node int) int {
			n := Notification{Type: typ, Operation: op, NotifyLists: base}
			a := Action{Resource: u.r.ID, Clone: u.clone, Instance: inst, Node: s.nodes[node].name, Op: OpNotify,
				Notify: &n, Reason: typ + "-" + string(op)}
			id := NotifyID(typ, op, a.Resource, a.Clone, inst, a.Node)
			for i := len(b.actions) - 1; i >= 0 && b.actions[i].Op == OpNotify; i-- {
				if b.actions[i].ID == id {
					return i
				}
			}
			b.actions = append(b.actions, a)
			b.after = append(b.after, nil)
			i := len(b.actions) - 1
			b.actions[i].ID = id
			return i
		}
		var pre, post []int
		switch op {
		case OpStop, OpDemote:
			for _, c := range u.cur {
				if !c.managed {
					continue
				}
				pre = append(pre, notify(NotifyPre, c.inst, c.node))
				if op == OpDemote || !has(OpStop, c.inst, -1) {
					post = append(post, notify(NotifyPost, c.inst, c.node))
				}
			}
		default:
			for _, a := range u.insts {
				if u.unmanaged(a) {
					continue
				}
				if op != OpStart || !has(OpStart, a.inst, -1) {
					pre = append(pre, notify(NotifyPre, a.inst, a.node))
				}
				post = append(post, notify(NotifyPost, a.inst, a.node))
			}
		}
		for _, p := range pre {
			for _, g := range gate {
				b.edge(g, p)
			}
			for _, x := range acts {
				b.edge(p, x)
			}
		}
		for _, x := range acts {
			for _, g := range gate {
				b.edge(g, x)
			}
		}
		for _, p := range post {
			for _, x := range acts {
				b.edge(x, p)
			}
			for _, q := range pre {
				b.edge(q, p)
			}
		}
		gate = append(gate, post...)
	}
}

// notifyLists are the lists every notification of u carries in this
// transition.
func (s *scheduler) notifyLists(b *builder, u *unit, ua *unitActions) NotifyLists {
	var n NotifyLists
	entry := func(inst, node int) NotifyEntry { return NotifyEntry{Instance: inst, Node: s.nodes[node].name} }
	active := map[int]bool{}
	for _, c := range u.cur {
		active[c.inst] = true
		n.Active = append(n.Active, entry(c.inst, c.node))
		switch {
		case u.promo != nil && c.promoted:
			n.Promoted = append(n.Promoted, entry(c.inst, c.node))
		case u.promo != nil:
			n.Unpromoted = append(n.Unpromoted, entry(c.inst, c.node))
		}
	}
	for i := range u.max {
		if !active[i] {
			n.Inactive = append(n.Inactive, NotifyEntry{Instance: i})
		}
	}
	of := func(op Op) []NotifyEntry {
		var out []NotifyEntry
		for _, i := range ua.of(op) {
			a := b.actions[i]
			out = append(out, NotifyEntry{Instance: a.Instance, Node: a.Node})
		}
		return out
	}
	n.Start, n.Stop, n.Promote, n.Demote = of(OpStart), of(OpStop), of(OpPromote), of(OpDemote)
	for _, l := range []*[]NotifyEntry{&n.Active, &n.Inactive, &n.Promoted, &n.Unpromoted, &n.Start, &n.Stop, &n.Promote, &n.Demote} {
		sort.Slice(*l, func(i, j int) bool {
			a, b := (*l)[i], (*l)[j]
			if a.Instance != b.Instance {
				return a.Instance < b.Instance
			}
			return a.Node < b.Node
		})
		*l = slices.Compact(*l)
	}
	for _, nd := range s.nodes {
		n.All = append(n.All, nd.name)
	}
	sort.Strings(n.All)
	// Pacemaker's allowed nodes: in a symmetric cluster (Tandem's only
	// kind) every node, banned, standby or offline ones too.
	n.Available = n.All
	return n
}
