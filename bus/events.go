package bus

import (
	"encoding/json"
	"fmt"
	"time"
)

// Events are typed Go structs carried as JSON in an Envelope on core NATS
// subjects (subjects.go lists them). Every event type has a kind (its name
// on the wire), a version (bumped when a field changes meaning; readers
// skip versions they do not know) and a subject.

// Event is anything published on the bus.
type Event interface {
	Kind() string    // type name on the wire
	Schema() int     // schema version of this kind
	Subject() string // where it is published
}

// Envelope wraps an event on the wire.
type Envelope struct {
	Kind    string          `json:"kind"`
	Version int             `json:"v"`
	Source  string          `json:"src"` // member that published it
	Time    time.Time       `json:"time"`
	Data    json.RawMessage `json:"data"`
}

// Heartbeat says a member is alive. Incarnation changes each time the member's
// process starts, so a restart is told apart from a pause.
type Heartbeat struct {
	Node        string    `json:"node"`
	Witness     bool      `json:"witness,omitempty"`
	Incarnation string    `json:"incarnation"`
	Seq         uint64    `json:"seq"`
	Started     time.Time `json:"started"`
	Build       string    `json:"build"`             // tandem version
	Plugins     []string  `json:"plugins,omitempty"` // "name ok" / "name restarting"
	// Stopped: the node's resource side is stopped (`tandem cluster stop`):
	// it stays a bus member but the coordinator places nothing on it.
	Stopped bool `json:"stopped,omitempty"`
	// Singletons is how many singleton leases the node holds (not the
	// coordinator's): the bus's leaders keep away from nodes that hold
	// some (bus.PlaceLeader).
	Singletons int `json:"singletons,omitempty"`
	// Leases is how the member keeps leases ([bus] leases; "" is
	// LeasesBucket): members of one cluster must agree (lease.Config.Mixed).
	Leases string `json:"leases,omitempty"`
	// View is the membership the coordinator sees, in its heartbeats only
	// (whenever it changed, and again every 4 s, or every second while a
	// member does not take stamps, below): the members that are not
	// voters follow the voters' heartbeats only and learn the others'
	// comings and goings from it (membership.Tracker, docs/topology.md).
	View *MembershipView `json:"view,omitempty"`
	// ViewStamp names the coordinator's view (its tenure and version) in
	// the coordinator's heartbeats that do not carry it whole: a member
	// that applied that view keeps it as fresh as if it came again
	// (membership.Tracker), so the whole view, N members' entries to N
	// members, is sent on change and every 4 s only.
	ViewStamp *ViewStamp `json:"view_stamp,omitempty"`
	// TakesStamps says the member keeps its view fresh from a ViewStamp.
	// While an online member's heartbeats do not (an older build), the
	// coordinator sends its view whole once a second, as before.
	TakesStamps bool `json:"takes_stamps,omitempty"`
}

// ViewStamp names a coordinator's view: its tenure and its version.
type ViewStamp struct {
	Token   uint64 `json:"token"`
	Version uint64 `json:"version"`
}

// MembershipView is the coordinator's membership: the members it sees
// online. Token is its coordinator lease's tenure: a view of a higher
// tenure replaces one of a lower.
type MembershipView struct {
	Token uint64 `json:"token"`
	// Version is the coordinator's count of membership changes when it
	// sent the view (0 from an older build): a ViewStamp names it.
	Version uint64       `json:"version,omitempty"`
	Online  []ViewMember `json:"online"`
}

// ViewMember is an online member as the coordinator last heard it.
type ViewMember struct {
	Name        string `json:"name"`
	Incarnation string `json:"incarnation"`
	Witness     bool   `json:"witness,omitempty"`
	Stopped     bool   `json:"stopped,omitempty"`
	Leases      string `json:"leases,omitempty"`
}

func (Heartbeat) Kind() string      { return "heartbeat" }
func (Heartbeat) Schema() int       { return 1 }
func (h Heartbeat) Subject() string { return SubjectHeartbeat(h.Node) }

// Operation names.
const (
	OpStart   = "start"
	OpStop    = "stop"
	OpMonitor = "monitor" // recurring
	OpProbe   = "probe"   // one-off monitor to learn the current state
	OpReload  = "reload"
	OpNotify  = "notify"
	// OpPromote and OpDemote change a promotable clone's instance's role.
	OpPromote = "promote"
	OpDemote  = "demote"
)

// ActionResult reports one action a host ran (start, stop, probe, reload).
type ActionResult struct {
	Transition string `json:"transition,omitempty"` // transition id, if the action came from one
	Action     string `json:"action,omitempty"`     // action id within the transition
	Resource   string `json:"resource"`             // primitive id
	Clone      string `json:"clone,omitempty"`      // clone id if cloned
	Instance   int    `json:"instance,omitempty"`   // clone instance number (0 for a primitive)
	Node       string `json:"node"`
	Op         string `json:"op"`
	Code       int32  `json:"code"` // sdk.Code
	Message    string `json:"message,omitempty"`
	TimedOut   bool   `json:"timed_out,omitempty"`
	// Cancelled: the action never ran (its transition was aborted, or an
	// action it waited for failed).
	Cancelled bool          `json:"cancelled,omitempty"`
	Started   time.Time     `json:"started"`
	Duration  time.Duration `json:"duration"`
}

// OK says whether the action succeeded.
func (a ActionResult) OK() bool { return a.Code == 0 && !a.TimedOut && !a.Cancelled }

func (ActionResult) Kind() string      { return "action" }
func (ActionResult) Schema() int       { return 1 }
func (a ActionResult) Subject() string { return SubjectAction(a.Node) }

// MonitorResult reports one recurring monitor. Changed is true when the code
// differs from the previous result for the same resource on the same node.
type MonitorResult struct {
	Resource string        `json:"resource"`
	Clone    string        `json:"clone,omitempty"`
	Instance int           `json:"instance,omitempty"` // clone instance number (0 for a primitive)
	Node     string        `json:"node"`
	Interval time.Duration `json:"interval"`
	Code     int32         `json:"code"`
	Message  string        `json:"message,omitempty"`
	TimedOut bool          `json:"timed_out,omitempty"`
	Changed  bool          `json:"changed,omitempty"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
	// PromotionScore is what a promotable clone's agent said it wants
	// (sdk.Result.PromotionScore); nil: nothing.
	PromotionScore *int `json:"promotion_score,omitempty"`
}

func (MonitorResult) Kind() string      { return "monitor" }
func (MonitorResult) Schema() int       { return 1 }
func (m MonitorResult) Subject() string { return SubjectMonitor(m.Node, m.Resource) }

// TransitionEvent announces a plan the coordinator computed; Plan is the
// scheduler's transition as JSON (policies owns its shape). Token is the
// fencing token of the coordinator lease's tenure it was planned under
// (0 from builds before fencing): nodes run a plan only while that tenure
// is current (docs/leases.md, "Fenced plans").
type TransitionEvent struct {
	ID          string          `json:"id"`
	Coordinator string          `json:"coordinator"`
	Token       uint64          `json:"token,omitempty"`
	ConfigRev   uint64          `json:"config_rev"`
	Reason      string          `json:"reason"`
	Plan        json.RawMessage `json:"plan"`
}

func (TransitionEvent) Kind() string    { return "transition" }
func (TransitionEvent) Schema() int     { return 1 }
func (TransitionEvent) Subject() string { return SubjectTransition }

// TransitionAbort tells hosts to start no more actions of transition ID
// ("*": of any transition); actions already running finish and report.
// Token is fenced like a TransitionEvent's.
type TransitionAbort struct {
	ID          string `json:"id"`
	Coordinator string `json:"coordinator"`
	Token       uint64 `json:"token,omitempty"`
	Reason      string `json:"reason"`
}

func (TransitionAbort) Kind() string    { return "transition-abort" }
func (TransitionAbort) Schema() int     { return 1 }
func (TransitionAbort) Subject() string { return SubjectTransition }

// Resource states a node reports.
const (
	StateStarted  = "started"
	StateStopped  = "stopped"
	StateFailed   = "failed"   // failed and not yet stopped: must be stopped before it starts again
	StateBlocked  = "blocked"  // a stop failed: the node cannot be trusted to have stopped it
	StateStarting = "starting" // an action is running
	StateStopping = "stopping"
	StateUnknown  = "unknown" // not probed yet
)

// ResourceState is one resource (instance) on one node.
type ResourceState struct {
	Resource string    `json:"resource"`
	Clone    string    `json:"clone,omitempty"`
	Instance int       `json:"instance,omitempty"`
	State    string    `json:"state"`
	Since    time.Time `json:"since"`
	Message  string    `json:"message,omitempty"`
	// Warning is what the last monitor of a started resource said when it
	// returned degraded (sdk.Degraded): running, but worth an admin's look.
	Warning string `json:"warning,omitempty"`
	// BlockedDef is, for a blocked resource, the fingerprint
	// (cib.Fingerprint) of its definition in the live configuration when
	// its stop last failed ("" if it was not configured any more): the
	// coordinator leaves it alone until the admin changes it (or a cleanup
	// probes it again).
	BlockedDef string `json:"blocked_def,omitempty"`
	// Params is the digest (cib.ParamsDigest) of the parameters the
	// instance runs with.
	Params string `json:"params,omitempty"`
	// Role is "Promoted" for a promotable clone's instance that runs (or
	// failed) promoted; "" otherwise.
	Role string `json:"role,omitempty"`
	// PromotionScore, for a promotable clone, is the promotion score its
	// agent last reported on this node (Pacemaker's crm_master); nil when
	// it reported none.
	PromotionScore *int `json:"promotion_score,omitempty"`
}

// NodeResources is what a node runs: published on every change and as the
// answer to a state request (the probe a new coordinator starts with).
type NodeResources struct {
	Node        string `json:"node"`
	Incarnation string `json:"incarnation"`
	Seq         uint64 `json:"seq"`
	// Active is Resources in brief, those not stopped: what the other
	// members read of a report (their agents' cluster view, which node
	// runs which clone instance), without every resource the node probed.
	// It is made from Resources whenever a report is encoded (MarshalJSON:
	// it cannot disagree with them), right after the header, where
	// PeekNodeResources reads it, and even when empty: a report without
	// it is from an older build, whose Resources must be read instead.
	Active    []ActiveResource `json:"active"`
	ConfigRev uint64           `json:"config_rev"`
	Probed    bool             `json:"probed"`         // every configured resource has been probed
	Busy      []string         `json:"busy,omitempty"` // ids of actions running now
	Resources []ResourceState  `json:"resources"`
}

// ActiveResource is a resource of a report that is not stopped, in brief
// (NodeResources.Active).
type ActiveResource struct {
	Resource string `json:"resource"`
	Clone    string `json:"clone,omitempty"`
	Instance int    `json:"instance,omitempty"`
	State    string `json:"state"`
}

// Brief lists the resources of n that are not stopped, as Active does: a
// reporting node sets Active to it; a reader of an older build's report
// (no Active) makes it from the resources.
func (n NodeResources) Brief() []ActiveResource {
	var out []ActiveResource
	for _, rs := range n.Resources {
		if rs.State != StateStopped {
			out = append(out, ActiveResource{Resource: rs.Resource, Clone: rs.Clone, Instance: rs.Instance, State: rs.State})
		}
	}
	return out
}

// MarshalJSON writes n with Active made from its Resources.
func (n NodeResources) MarshalJSON() ([]byte, error) {
	type plain NodeResources // without this method
	n.Active = n.Brief()
	if n.Active == nil {
		n.Active = []ActiveResource{}
	}
	return json.Marshal(plain(n))
}

func (NodeResources) Kind() string      { return "node-resources" }
func (NodeResources) Schema() int       { return 1 }
func (n NodeResources) Subject() string { return SubjectState(n.Node) }

// ConfigChanged says the live configuration moved to Revision.
type ConfigChanged struct {
	Revision uint64 `json:"revision"`
	By       string `json:"by,omitempty"`
	Summary  string `json:"summary,omitempty"`
}

func (ConfigChanged) Kind() string    { return "config" }
func (ConfigChanged) Schema() int     { return 1 }
func (ConfigChanged) Subject() string { return SubjectConfigChanged }

// NodeEvent says a member joined, left or lost a lease.
type NodeEvent struct {
	Node   string `json:"node"`
	Event  string `json:"event"` // joined, left, standby, unstandby, ...
	Reason string `json:"reason,omitempty"`
}

func (NodeEvent) Kind() string      { return "node" }
func (NodeEvent) Schema() int       { return 1 }
func (n NodeEvent) Subject() string { return SubjectNode(n.Node) }

// LogEvent is a notable host message worth showing in `tandem events`.
type LogEvent struct {
	Node    string `json:"node"`
	Level   string `json:"level"`
	Message string `json:"message"`
}

func (LogEvent) Kind() string      { return "log" }
func (LogEvent) Schema() int       { return 1 }
func (l LogEvent) Subject() string { return SubjectLog(l.Node) }

// Encode wraps ev in an envelope from source.
func Encode(ev Event, source string, now time.Time) ([]byte, error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encoding %s event: %w", ev.Kind(), err)
	}
	return json.Marshal(Envelope{Kind: ev.Kind(), Version: ev.Schema(), Source: source, Time: now, Data: data})
}

// Decode reads an envelope and, when its kind and version match T, the event.
func Decode[T Event](msg []byte) (T, Envelope, error) {
	var zero T
	var env Envelope
	if err := json.Unmarshal(msg, &env); err != nil {
		return zero, env, fmt.Errorf("not a tandem event: %w", err)
	}
	if env.Kind != zero.Kind() {
		return zero, env, fmt.Errorf("event kind %q, want %q", env.Kind, zero.Kind())
	}
	if env.Version != zero.Schema() {
		return zero, env, fmt.Errorf("%s event version %d, this build reads %d", env.Kind, env.Version, zero.Schema())
	}
	var ev T
	if err := json.Unmarshal(env.Data, &ev); err != nil {
		return zero, env, fmt.Errorf("decoding %s event: %w", env.Kind, err)
	}
	return ev, env, nil
}
