package policies

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/tandem-ha/tandem/policies/cib"
)

// NodeStatus is what a node can do for resources right now.
type NodeStatus string

// Node statuses. The configuration's standby and maintenance flags are
// combined with the observed status: a node configured standby is standby
// even when the state says online.
const (
	// Online nodes run resources.
	Online NodeStatus = "online"
	// Offline nodes are gone (dead or cut off). Whatever they ran is
	// treated as stopped: a node that loses the bus stops its resources by
	// itself (lease self-fencing), so no stop is scheduled there.
	Offline NodeStatus = "offline"
	// Standby nodes run nothing: their resources are moved away.
	Standby NodeStatus = "standby"
	// Maintenance nodes are left alone: what runs there keeps running,
	// nothing is started or stopped there.
	Maintenance NodeStatus = "maintenance"
)

// NodeState is the observed status of one configured node.
type NodeState struct {
	Name   string     `json:"name"`
	Status NodeStatus `json:"status"`
}

// InstanceState says that one instance of a resource is active on a node:
// started, or failed (it was started and then failed: it must be stopped
// before it can start again). An instance absent from the state is stopped.
type InstanceState struct {
	// Resource is the primitive id (for a clone, the cloned primitive).
	Resource string `json:"resource"`
	// Clone is the clone id if the resource is cloned. The configuration
	// decides for configured resources; this is only used to stop orphans
	// (resources no longer in the configuration).
	Clone string `json:"clone,omitempty"`
	// Instance numbers the instances of a clone (0 for a primitive). The
	// numbers are labels: duplicates are renumbered (see normalize).
	Instance int    `json:"instance,omitempty"`
	Node     string `json:"node"`
	Failed   bool   `json:"failed,omitempty"`
	// Blocked: its stop failed on this node. Without fencing nobody can
	// tell whether it still runs there, so it is left exactly where it is
	// (as on a node in maintenance): no action for it there, no instance
	// of it anywhere else in its place, and it counts for colocations and
	// clone-max. Only the admin unblocks it (cleanup), or a new attempt
	// that the caller chooses to make by reporting it Failed instead.
	Blocked bool `json:"blocked,omitempty"`
	// Role is "Promoted" for an instance of a promotable clone that runs
	// promoted (a failed one that was promoted is still reported
	// Promoted: it is demoted before it stops); "" otherwise (Started, or
	// Unpromoted for a promotable clone).
	Role string `json:"role,omitempty"`
}

// PromotionScore is a promotable clone's agent's wish to be promoted on a
// node (Pacemaker's master-<resource> node attribute, which the agent sets
// with crm_master): the latest score its monitor reported there. A node
// without a score is not promoted unless a location for the Promoted role
// makes its priority 0 or more, as in Pacemaker.
type PromotionScore struct {
	Resource string    `json:"resource"` // primitive id
	Node     string    `json:"node"`
	Score    cib.Score `json:"score"`
}

// Failure is the failure history of a resource on a node: how many times it
// failed there (Pacemaker's fail-count) and when it last did. A failed start
// is fatal in Pacemaker (start-failure-is-fatal): record it with Count
// cib.Infinity.
//
// Resource "rsc:N" is instance N of globally-unique clone rsc (Pacemaker's
// fail-count-rsc:N): its failures keep that instance, and no other, off
// the node at migration-threshold. A primitive's id alone is the whole
// resource on the node (a clone's every instance); "rsc:N" of a resource
// that is not a globally-unique clone counts as the whole resource's.
type Failure struct {
	Resource string    `json:"resource"` // primitive id, or "id:N" (an instance of a globally-unique clone)
	Node     string    `json:"node"`
	Count    int       `json:"count"`
	Last     time.Time `json:"last"`
}

// State is what the scheduler knows about the cluster besides its
// configuration.
type State struct {
	// Nodes lists the observed status of nodes. A configured node that is
	// not listed is offline: the scheduler never places anything on a node
	// nobody has seen. AllOnline lists every node as online.
	Nodes     []NodeState     `json:"nodes"`
	Instances []InstanceState `json:"instances,omitempty"`
	Failures  []Failure       `json:"failures,omitempty"`
	// Promotion holds the agents' promotion scores (promotable clones).
	Promotion []PromotionScore `json:"promotion,omitempty"`
	// Tickets are the tickets' states (ticket constraints); a ticket not
	// listed is revoked.
	Tickets []TicketState `json:"tickets,omitempty"`
}

// AllOnline lists every configured node as online.
func AllOnline(cfg *cib.CIB) []NodeState {
	ns := make([]NodeState, len(cfg.Nodes))
	for i, n := range cfg.Nodes {
		ns[i] = NodeState{Name: n.Name, Status: Online}
	}
	return ns
}

// presentNodes are the configured nodes that are not offline: what runs
// anywhere else is gone with its node.
func presentNodes(cfg *cib.CIB, s State) map[string]bool {
	out := map[string]bool{}
	for _, n := range NodeStatuses(cfg, s) {
		if n.Status != Offline {
			out[n.Name] = true
		}
	}
	return out
}

// NodeStatuses is the status the scheduler uses for every configured node,
// in configuration order: the observed status (offline when not listed)
// combined with the configuration's flags (maintenance wins over standby;
// an offline node stays offline).
func NodeStatuses(cfg *cib.CIB, s State) []NodeState {
	observed := make(map[string]NodeStatus, len(s.Nodes))
	for _, n := range s.Nodes {
		observed[n.Name] = n.Status
	}
	out := make([]NodeState, len(cfg.Nodes))
	for i, n := range cfg.Nodes {
		st, ok := observed[n.Name]
		if !ok {
			st = Offline
		}
		if st != Offline {
			switch {
			case n.Maintenance || st == Maintenance:
				st = Maintenance
			case n.Standby || st == Standby:
				st = Standby
			}
		}
		out[i] = NodeState{Name: n.Name, Status: st}
	}
	return out
}

// Input is everything a scheduling run depends on.
type Input struct {
	CIB   *cib.CIB
	State State
	// Now is compared with failure times for failure-timeout.
	Now time.Time
	// Explain records, for every resource and node, the parts its score is
	// made of (Result.Scores). It costs time and memory on big clusters.
	Explain bool
}

// ErrInvalidInput is wrapped by every error about a malformed Input.
var ErrInvalidInput = errors.New("invalid scheduler input")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidInput, fmt.Sprintf(format, args...))
}

// resourceIndex finds resources by primitive id or clone id in constant
// time (cib.Resource searches the list).
type resourceIndex map[string]resourceRef

type resourceRef struct {
	r       *cib.Resource
	isClone bool       // the id named the clone
	clone   *cib.Clone // r's clone, or its group's; nil for a primitive
	group   *cib.Group // r's group, or nil
}

func indexResources(cfg *cib.CIB) resourceIndex {
	idx := make(resourceIndex, 2*len(cfg.Resources))
	groups := cfg.GroupIndex()
	for i := range cfg.Resources {
		r := &cfg.Resources[i]
		ref := resourceRef{r: r, clone: r.Clone, group: groups[r.ID]}
		if ref.group != nil && ref.clone == nil {
			ref.clone = ref.group.Clone
		}
		idx[r.ID] = ref
		if r.Clone != nil {
			idx[r.Clone.ID] = resourceRef{r: r, isClone: true, clone: r.Clone}
		}
	}
	return idx
}

// checkState rejects states that cannot be meant: they would make the
// scheduler guess.
func checkState(idx resourceIndex, s *State) error {
	seenNode := map[string]bool{}
	for i, n := range s.Nodes {
		switch n.Status {
		case Online, Offline, Standby, Maintenance:
		default:
			return invalid("nodes[%d] (%q): status %q is not online, offline, standby or maintenance", i, n.Name, n.Status)
		}
		if n.Name == "" {
			return invalid("nodes[%d]: name is missing", i)
		}
		if seenNode[n.Name] {
			return invalid("nodes[%d]: node %q is listed twice", i, n.Name)
		}
		seenNode[n.Name] = true
	}
	seenTicket := map[string]bool{}
	for i, t := range s.Tickets {
		if t.Ticket == "" {
			return invalid("tickets[%d]: ticket name is missing", i)
		}
		if seenTicket[t.Ticket] {
			return invalid("tickets[%d]: ticket %q is listed twice", i, t.Ticket)
		}
		seenTicket[t.Ticket] = true
	}
	type where struct{ rsc, node string }
	seen := map[where]int{}
	for i, in := range s.Instances {
		if in.Resource == "" || in.Node == "" {
			return invalid("instances[%d]: resource and node are required", i)
		}
		if in.Instance < 0 {
			return invalid("instances[%d] (%s on %s): instance %d is negative", i, in.Resource, in.Node, in.Instance)
		}
		ref := idx[in.Resource]
		if ref.isClone {
			return invalid("instances[%d]: %q is a clone id; name the cloned primitive %q", i, in.Resource, ref.r.ID)
		}
		k := where{in.Resource, in.Node}
		if ref.r != nil && ref.clone == nil {
			if j, dup := seen[k]; dup {
				return invalid("instances[%d]: %s is listed twice on %s (also instances[%d])", i, in.Resource, in.Node, j)
			}
		}
		seen[k] = i
	}
	for i, in := range s.Instances {
		switch in.Role {
		case "", cib.RoleStarted, cib.RoleUnpromoted:
		case cib.RolePromoted:
			if ref := idx[in.Resource]; ref.r != nil && (ref.clone == nil || !ref.clone.Promotable) {
				return invalid("instances[%d]: %s on %s is Promoted, but %s is not a promotable clone", i, in.Resource, in.Node, in.Resource)
			}
		default:
			return invalid("instances[%d] (%s on %s): role %q is not Started, Unpromoted or Promoted", i, in.Resource, in.Node, in.Role)
		}
	}
	for i, p := range s.Promotion {
		if p.Resource == "" || p.Node == "" {
			return invalid("promotion[%d]: resource and node are required", i)
		}
	}
	for i, f := range s.Failures {
		if f.Resource == "" || f.Node == "" {
			return invalid("failures[%d]: resource and node are required", i)
		}
		if f.Count < 0 {
			return invalid("failures[%d] (%s on %s): count %d is negative", i, f.Resource, f.Node, f.Count)
		}
	}
	return nil
}

// normalizeInstances gives every active instance of an anonymous clone a
// distinct number (a globally-unique clone's keep theirs: see
// isUnique): sources that do not track numbers (a host reports "haproxy runs
// here") may send duplicates. The first holder of a number keeps it, one on
// a present node (present[node]; nil: every node) before one on a node
// that is gone (offline, or not configured), then by node name; the others
// take the lowest free numbers. What ran on a node that is gone does not
// count (bindState drops it), so its number must not take a present
// instance's: the plan would then give the present instance a number it
// does not keep, and the next plan would move it back (a stop and a start
// of the same instance on the same node). Primitives are instance 0. The
// result is sorted by resource, instance, node.
func normalizeInstances(idx resourceIndex, in []InstanceState, present map[string]bool) []InstanceState {
	out := append([]InstanceState(nil), in...)
	for i := range out {
		if !cloned(idx, out[i]) {
			out[i].Instance = 0
		}
	}
	gone := func(in InstanceState) bool { return present != nil && !present[in.Node] }
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Resource != b.Resource {
			return a.Resource < b.Resource
		}
		if a.Instance != b.Instance {
			return a.Instance < b.Instance
		}
		if gone(a) != gone(b) {
			return !gone(a)
		}
		return a.Node < b.Node
	})
	for start := 0; start < len(out); {
		end := start
		for end < len(out) && out[end].Resource == out[start].Resource {
			end++
		}
		if cloned(idx, out[start]) && !isUnique(idx, out[start]) {
			renumber(out[start:end])
		}
		start = end
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
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

// cloned says whether an instance belongs to a clone: the configuration
// decides, or for an orphan, the clone id the state recorded.
func cloned(idx resourceIndex, in InstanceState) bool {
	if ref, ok := idx[in.Resource]; ok {
		return ref.clone != nil
	}
	return in.Clone != ""
}

// isUnique says whether an instance belongs to a globally-unique
// clone of the configuration. Its number names it: two nodes reporting
// the same number run the same instance twice, which the scheduler stops
// where it does not keep it (the other node may then start another
// instance), instead of renumbering one of them into an instance its
// agent was not started as.
func isUnique(idx resourceIndex, in InstanceState) bool {
	ref, ok := idx[in.Resource]
	return ok && ref.clone != nil && ref.clone.GloballyUnique
}

// renumber fixes duplicate instance numbers of one clone (sorted by
// instance, then node).
func renumber(group []InstanceState) {
	used := map[int]bool{}
	var dups []int
	for i, in := range group {
		if used[in.Instance] {
			dups = append(dups, i)
			continue
		}
		used[in.Instance] = true
	}
	next := 0
	for _, i := range dups {
		for used[next] {
			next++
		}
		group[i].Instance = next
		used[next] = true
	}
}
