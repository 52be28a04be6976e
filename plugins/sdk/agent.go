// Package sdk is what a resource agent plugin is written with: the Agent
// interface a plugin implements, the OCF-style result codes, and Serve, the
// one call a plugin's main makes. The host talks to agents through the gRPC
// contract in plugins/sdk/proto; none of that shows here.
package sdk

import (
	"context"
	"fmt"
	"time"
)

// Code is an OCF-style result code.
type Code int32

// OCF result codes (the values resource agents have always used).
const (
	OK               Code = 0 // success; for monitor: running
	ErrGeneric       Code = 1 // failed, may work elsewhere or later
	ErrArgs          Code = 2 // bad arguments
	ErrUnimplemented Code = 3 // the action is not implemented
	ErrPerm          Code = 4 // insufficient permission
	ErrNotInstalled  Code = 5 // what the agent manages is not installed on this node
	ErrNotConfigured Code = 6 // the configuration is wrong; fails everywhere
	NotRunning       Code = 7 // monitor: cleanly stopped
	// RunningPromoted (OCF_RUNNING_MASTER), monitor only: running in the
	// Promoted role (a promotable clone's instance).
	RunningPromoted Code = 8
	// FailedPromoted (OCF_FAILED_MASTER), monitor only: failed while in
	// the Promoted role.
	FailedPromoted Code = 9
	// Degraded (OCF_DEGRADED, as Pacemaker reads it): monitor or probe
	// only: running, with a problem the admin should see that is not a
	// failure of this resource here. The host keeps it started, counts no
	// failure, raises an event and shows the message as a warning in
	// status until a monitor says OK again.
	Degraded Code = 190
)

func (c Code) String() string {
	switch c {
	case OK:
		return "ok"
	case ErrGeneric:
		return "error"
	case ErrArgs:
		return "invalid parameter"
	case ErrUnimplemented:
		return "unimplemented feature"
	case ErrPerm:
		return "insufficient privileges"
	case ErrNotInstalled:
		return "not installed"
	case ErrNotConfigured:
		return "not configured"
	case NotRunning:
		return "not running"
	case RunningPromoted:
		return "running promoted"
	case FailedPromoted:
		return "failed promoted"
	case Degraded:
		return "degraded"
	}
	return fmt.Sprintf("code %d", int32(c))
}

// Result is what an action returns: a code and a message for the admin.
type Result struct {
	Code    Code
	Message string
	// PromotionScore, in a monitor's result of a promotable clone's
	// agent, is how much it wants this instance promoted on this node
	// (Pacemaker's crm_master; higher wins, negative: never); nil: no wish.
	PromotionScore *int
}

// Resultf builds a Result with a formatted message.
func Resultf(code Code, format string, args ...any) Result {
	return Result{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Instance says which copy of a resource an action is for.
type Instance struct {
	Node       string // the node the action runs on
	CloneIndex int    // -1 for a primitive
	// Clone is the meta of the instance's clone (CloneIndex >= 0); its ID
	// is empty for a primitive, and when the host is older than the field.
	Clone CloneMeta
}

// CloneMeta is a clone's meta as an instance's agent sees it, with the
// host's defaults applied: what Pacemaker passes OCF agents as
// OCF_RESKEY_CRM_meta_clone_max and its kin.
type CloneMeta struct {
	ID              string // the clone's id
	Max             int    // clone-max: instances in the cluster (unset: the number of nodes)
	NodeMax         int    // clone-node-max: instances on one node (unset: 1)
	Promotable      bool   // each instance runs Unpromoted or Promoted
	PromotedMax     int    // promoted-max (unset: 1); with Promotable only
	PromotedNodeMax int    // promoted-node-max (unset: 1); with Promotable only
	Notify          bool   // clone notifications: Notify with a Notification around its instances' actions
	GloballyUnique  bool   // the instances are distinct (globally-unique); unset: anonymous
}

// Request is the input of start, stop, monitor, reload and notify.
type Request struct {
	ResourceID string
	AgentType  string // "apache2" for systemd:apache2; the plugin name when there is no type
	Params     map[string]string
	Instance   Instance
	Deadline   time.Time // also the context's deadline
	Cluster    *ClusterView
	// Interval is a recurring monitor's interval; 0 for every other
	// action (start, stop, a probe: a one-off monitor).
	Interval time.Duration
	// Notification is set in Notify for a clone notification (the clone
	// has notify = true); nil in the cluster-view Notify. In Start, Stop,
	// Promote and Demote of a notify clone's instance it carries the
	// transition's lists only (Type and Operation empty), as Pacemaker
	// gives an agent's start the notify lists too; nil in every other call.
	Notification *Notification
}

// Notification is a clone notification, Pacemaker's: before ("pre") and
// after ("post") the host starts, stops, promotes or demotes instances of
// a clone with notify = true, each of its active instances gets Notify
// with one. The lists say what runs and what changes; each is sorted by
// instance, then node. A failed notification is logged and counts as no
// failure of the resource.
type Notification struct {
	Type      string // NotifyPre or NotifyPost
	Operation string // "start", "stop", "promote" or "demote"
	// Active: the instances that ran before the transition; Inactive: the
	// clone's other instances (without node); Promoted and Unpromoted
	// split Active by role, for a promotable clone.
	Active, Inactive, Promoted, Unpromoted []NotifyEntry
	// The instances the transition starts, stops, promotes and demotes.
	Start, Stop, Promote, Demote []NotifyEntry
	// Available: the nodes that may run the clone; All: every node.
	Available, All []string
}

// Notification types.
const (
	NotifyPre  = "pre"
	NotifyPost = "post"
)

// NotifyEntry is one instance of a clone in a Notification's lists.
type NotifyEntry struct {
	Instance int
	Node     string // "" in Inactive
}

// ClusterView is what the host knows of the cluster when it calls an agent;
// agents whose configuration depends on other nodes (haproxy's backends)
// read it. It is always set for Notify, and for Start and Monitor too.
type ClusterView struct {
	Nodes []NodeView
	// Active maps a resource or clone id to the nodes where it is started,
	// sorted.
	Active map[string][]string
}

// NodeView is one node of the cluster as the host sees it.
type NodeView struct {
	Name    string
	Address string
	Online  bool
}

// ValidateRequest asks an agent whether params are usable for agentType.
type ValidateRequest struct {
	AgentType string
	Params    map[string]string
}

// HoldRequest extends how long a fenced resource (the VIP) may stay active
// on this node. Until is a CLOCK_MONOTONIC reading (see MonotonicNow), which
// every process on a machine shares and no wall-clock step moves. When it
// passes without a newer HoldRequest, the agent stops the resource by itself,
// even if the host is frozen or gone.
//
// With Role HoldPromoted, what is held is the promoted role of a
// promotable clone's instance (Instance says which): when the hold lapses
// the instance is demoted (stopped if the demote fails). The SDK does that
// itself for every Promoter, with the agent's Demote and Stop; the agent's
// Hold is not called for role holds.
type HoldRequest struct {
	ResourceID string
	AgentType  string
	Params     map[string]string
	Until      time.Duration // CLOCK_MONOTONIC; 0 cancels the hold (no deadline)
	Role       string        // "" the resource; HoldPromoted its instance's promoted role
	Instance   Instance      // with Role: the instance
}

// HoldPromoted is the Role of a hold on a promoted instance.
const HoldPromoted = "Promoted"

// Info describes a plugin: who it is and which agent types it provides.
type Info struct {
	Name        string   // plugin name: the part before the colon in "systemd:apache2"
	Types       []string // agent types it provides; "*" for any (systemd units)
	Version     string   // the plugin's own version
	APIVersions []string // agent API versions it speaks, semver ("1.0.0")
}

// ParamSpec documents one parameter of an agent type. ParseParams checks
// a resource's parameters against these, so what meta-data says is what the
// agent accepts.
type ParamSpec struct {
	Name        string `json:"name"`
	Type        string `json:"type"` // one of ParamTypes: string, integer, boolean, duration, enum, ip, port, url
	Required    bool   `json:"required,omitempty"`
	Default     string `json:"default,omitempty"`
	Description string `json:"description,omitempty"`
	// Values lists what an enum parameter accepts.
	Values []string `json:"values,omitempty"`
	// Min and Max bound an integer, port or duration parameter, written as
	// its values are ("0", "100", "1ms", "10s"); empty for no bound.
	Min string `json:"min,omitempty"`
	Max string `json:"max,omitempty"`
	// Unit is what a bare number means for a duration parameter: "ms",
	// "s", "m" or "h". Empty means seconds, as in Pacemaker's time values.
	Unit string `json:"unit,omitempty"`
	// Unique: no two resources of this agent type may have the same value
	// (an IP address, a port); the host refuses a create or update that
	// would.
	Unique bool `json:"unique,omitempty"`
	// Reloadable: a change of this parameter is applied to a running
	// resource by the agent's Reload (the agent implements Reloader), not
	// by a restart. An update that changes any other parameter restarts.
	Reloadable bool `json:"reloadable,omitempty"`
}

// ActionSpec documents one action and its defaults.
type ActionSpec struct {
	Name     string        `json:"name"` // start, stop, monitor, reload, notify, hold
	Timeout  time.Duration `json:"timeout,omitzero"`
	Interval time.Duration `json:"interval,omitzero"` // monitor: the suggested interval
}

// MetaData is an agent type's self-description (OCF meta-data).
type MetaData struct {
	Type      string       `json:"type"`
	Version   string       `json:"version,omitempty"`
	ShortDesc string       `json:"shortdesc,omitempty"`
	LongDesc  string       `json:"longdesc,omitempty"`
	Params    []ParamSpec  `json:"parameters"`
	Actions   []ActionSpec `json:"actions"`
}

// Agent is a resource agent: what every plugin implements.
//
// Start and Stop must be idempotent (starting a running resource succeeds,
// stopping a stopped one succeeds). Monitor returns OK when running (or
// Degraded: running, with a warning), NotRunning when cleanly stopped, and
// an error code when failed. Each call
// gets a context that ends at the request's deadline.
type Agent interface {
	Info() Info
	MetaData(agentType string) (MetaData, error)
	Validate(ctx context.Context, req ValidateRequest) Result
	Start(ctx context.Context, req Request) Result
	Stop(ctx context.Context, req Request) Result
	Monitor(ctx context.Context, req Request) Result
}

// Reloader is implemented by agents that can apply new params without a
// restart.
type Reloader interface {
	Reload(ctx context.Context, req Request) Result
}

// Notifier is implemented by agents that react to changes elsewhere in the
// cluster (a node leaving, a clone instance stopping); req.Cluster says what
// changed to. For a clone with notify = true, Notify is also called before
// and after its instances start, stop, are promoted or demoted, with
// req.Notification saying what (Pacemaker's clone notifications). An agent
// without Notify is not notified.
type Notifier interface {
	Notify(ctx context.Context, req Request) Result
}

// Promoter is implemented by agents of promotable clones: Promote turns an
// instance that runs Unpromoted into the Promoted one (a replica into the
// primary), Demote turns it back. Both are idempotent, like every action.
// Monitor then answers RunningPromoted for a promoted instance, and sets
// Result.PromotionScore to say where the agent wants to be promoted.
type Promoter interface {
	Promote(ctx context.Context, req Request) Result
	Demote(ctx context.Context, req Request) Result
}

// Holder is implemented by agents of fenced resources: they keep the
// resource active only until the last HoldRequest's deadline.
type Holder interface {
	Hold(ctx context.Context, req HoldRequest) Result
}
