package cib

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
)

// Resource is a primitive resource, optionally cloned onto several nodes.
type Resource struct {
	ID     string            `json:"id"`
	Agent  string            `json:"agent"`            // "vip", "systemd:apache2", "haproxy", "health:http", "<plugin>:<type>"
	Params map[string]string `json:"params,omitempty"` // passed to the agent as is
	Ops    []Op              `json:"ops,omitempty"`
	Meta   Meta              `json:"meta"`
	Clone  *Clone            `json:"clone,omitempty"` // nil for a primitive that runs on at most one node
	// Utilization is what the resource (each instance of a clone) uses of
	// its node's capacity (pcs resource utilization).
	Utilization map[string]int `json:"utilization,omitempty"`
}

// Fingerprint identifies a resource's whole definition (agent, params,
// operations, meta, clone): equal definitions have equal fingerprints, and
// any change makes another. The fingerprint of no resource (nil) is "".
// A node reports it with a blocked resource, so that the coordinator can
// tell whether the admin changed the resource since its stop failed.
func Fingerprint(r *Resource) string {
	if r == nil {
		return ""
	}
	data, err := json.Marshal(r) // maps marshal in key order: deterministic
	if err != nil {
		return "unencodable"
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// ParamsDigest identifies a set of parameters (Pacemaker's op digest): a
// node reports it with each started resource, so that `resource update`
// can tell when every node runs the new parameters.
func ParamsDigest(params map[string]string) string {
	if len(params) == 0 {
		return ""
	}
	data, err := json.Marshal(params) // in key order: deterministic
	if err != nil {
		return "unencodable"
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// Plugin is the plugin that provides the resource's agent ("systemd" for
// "systemd:apache2", "vip" for "vip").
func (r *Resource) Plugin() string {
	p, _, _ := strings.Cut(r.Agent, ":")
	return p
}

// AgentType is the part after the colon ("apache2" for "systemd:apache2"),
// or the plugin name itself when there is none.
func (r *Resource) AgentType() string {
	p, t, ok := strings.Cut(r.Agent, ":")
	if !ok {
		return p
	}
	return t
}

// Op returns the operation called name, if configured.
func (r *Resource) Op(name string) (Op, bool) {
	for _, o := range r.Ops {
		if o.Name == name {
			return o, true
		}
	}
	return Op{}, false
}

// ConstraintName is the id constraints use for r: its clone id when cloned.
func ConstraintName(r *Resource) string {
	if r.Clone != nil {
		return r.Clone.ID
	}
	return r.ID
}

// ConstraintNameOf is the id constraints use for the resource whose
// primitive id is id (its clone id when cloned), or id itself when c has
// no such resource.
func ConstraintNameOf(c *CIB, id string) string {
	if r, _ := c.Resource(id); r != nil {
		return ConstraintName(r)
	}
	return id
}

// OpNames lists the operations a resource may configure.
var OpNames = []string{"start", "stop", "monitor", "reload", "promote", "demote"}

// Op is an operation of a resource: start, stop, monitor (or reload).
type Op struct {
	Name     string        `json:"name"`
	Interval time.Duration `json:"interval,omitempty"` // monitor only: how often
	Timeout  time.Duration `json:"timeout,omitempty"`  // 0: the agent's default
}

// Meta holds the meta attributes of a resource. A nil field is unset, so
// that resource values can be layered over the defaults.
type Meta struct {
	Stickiness         *int           `json:"resource-stickiness,omitempty"`
	MigrationThreshold *int           `json:"migration-threshold,omitempty"`
	FailureTimeout     *time.Duration `json:"failure-timeout,omitempty"`
	TargetRole         string         `json:"target-role,omitempty"` // "", "Started" or "Stopped"
	Priority           *int           `json:"priority,omitempty"`
}

// MetaKeys are the meta attributes a resource (or the defaults) takes.
var MetaKeys = []string{"resource-stickiness", "migration-threshold", "failure-timeout", "target-role", "priority"}

// Target roles, and the roles of a promotable clone's instances (both are
// Started).
const (
	RoleStarted    = "Started"
	RoleStopped    = "Stopped"
	RolePromoted   = "Promoted"
	RoleUnpromoted = "Unpromoted"
)

// Pacemaker's defaults for meta attributes that are not set anywhere.
const (
	DefaultStickiness         = 0
	DefaultMigrationThreshold = int(Infinity) // never ban for failures
)

// EffectiveMeta is a resource's meta with the defaults and built-in
// defaults applied; every field is set.
type EffectiveMeta struct {
	Stickiness         int
	MigrationThreshold int           // failcount >= this bans the node; INFINITY: never
	FailureTimeout     time.Duration // 0: failures are never forgotten
	TargetRole         string        // "Started" or "Stopped"
	Priority           int
}

// Clone makes a resource run on several nodes at once.
type Clone struct {
	ID         string `json:"id"`                       // default "<resource id>-clone", as pcs names it
	Max        int    `json:"clone-max,omitempty"`      // 0: as many as there are nodes
	NodeMax    int    `json:"clone-node-max,omitempty"` // 0: 1
	Interleave bool   `json:"interleave,omitempty"`
	// GloballyUnique: the instances are distinct resources (Pacemaker's
	// globally-unique clones, named rsc:0, rsc:1, ...), each with its own
	// number for the agent; several may run on one node (clone-node-max).
	// Without it the instances are interchangeable and at most one runs
	// on a node.
	GloballyUnique bool `json:"globally-unique,omitempty"`
	// Promotable: each instance runs Unpromoted or Promoted (Pacemaker's
	// promotable clones); at most PromotedMax instances are promoted in
	// the cluster and PromotedNodeMax on one node.
	Promotable      bool `json:"promotable,omitempty"`
	PromotedMax     int  `json:"promoted-max,omitempty"`      // 0: 1
	PromotedNodeMax int  `json:"promoted-node-max,omitempty"` // 0: 1
	// Notify: before and after each start, stop, promote and demote of
	// the clone's instances, every active instance is told about it
	// (Pacemaker's clone notifications: the agent's notify action).
	Notify bool `json:"notify,omitempty"`
}

// Limits are the clone's clone-max and clone-node-max with their defaults
// applied: clone-max 0 is one instance per node of the configuration
// (nodes of them), clone-node-max 0 is 1.
func (c *Clone) Limits(nodes int) (most, perNode int) {
	most = c.Max
	if most <= 0 {
		most = nodes
	}
	return most, max(c.NodeMax, 1)
}

// PromotedLimits are the clone's promoted-max and promoted-node-max with
// their defaults (1 and 1) applied.
func (c *Clone) PromotedLimits() (most, perNode int) {
	return max(c.PromotedMax, 1), max(c.PromotedNodeMax, 1)
}

// CloneSuffix is appended to a resource id to name its clone, as pcs does.
const CloneSuffix = "-clone"

// CloneKeys are the options of a clone.
var CloneKeys = []string{"clone-max", "clone-node-max", "globally-unique", "interleave", "promotable", "promoted-max", "promoted-node-max", "notify"}
