// Package config owns the cluster configuration: the domain types every other
// package plans and acts on, the cluster.toml file format, and its validation.
//
// The file format (fileConfig and friends in file.go) is kept apart from the
// domain types here, so that the scheduler and the hosts work on parsed,
// defaulted, validated values (scores as integers, durations as
// time.Duration) and never on raw TOML.
package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is a whole cluster: its members, its resources and its constraints.
type Config struct {
	Cluster     Cluster
	Bus         Bus
	Nodes       []Node
	Witness     *Witness
	Resources   []Resource
	Orders      []Order
	Colocations []Colocation
	Locations   []Location
	Defaults    Meta
	Properties  Properties
}

// Cluster names the cluster.
type Cluster struct {
	Name string
}

// Bus configures the embedded NATS server every node and the witness run.
type Bus struct {
	ClientPort  int    // port NATS clients (the CLI, the host itself) connect to
	ClusterPort int    // port the NATS route mesh between voters uses
	DataDir     string // JetStream storage; one sub-directory per member
	Credentials string // file holding the cluster's shared secret (tandem keygen)
	TLS         *TLS   // optional TLS for routes and clients
}

// TLS holds the paths of the certificate material used for routes and clients.
type TLS struct {
	Cert string
	Key  string
	CA   string
}

// Default bus settings.
const (
	DefaultClientPort  = 4222
	DefaultClusterPort = 6222
	DefaultDataDir     = "/var/lib/tandem"
	DefaultCredentials = "/etc/tandem/cluster.key"
)

// Node is a cluster member that runs resources.
type Node struct {
	Name        string
	Address     string // IP address other members reach this node at
	ClientPort  int    // overrides Bus.ClientPort for this member (0: use the bus's)
	ClusterPort int    // overrides Bus.ClusterPort for this member (0: use the bus's)
	Standby     bool   // a standby node runs no resources
	Maintenance bool   // nothing is started or stopped on a node in maintenance
	Pos         Pos
}

// Witness is a voter that runs only the bus (like corosync-qnetd): it breaks
// ties in a two-node cluster and runs no resources.
type Witness struct {
	Name        string
	Address     string
	ClientPort  int
	ClusterPort int
	Pos         Pos
}

// Member is anything that runs a bus server: a node or the witness.
type Member struct {
	Name        string
	Address     string
	ClientPort  int
	ClusterPort int
	Witness     bool
}

// Members lists every voter of the bus, nodes first (in file order), then the
// witness, with each port resolved.
func (c *Config) Members() []Member {
	var ms []Member
	for _, n := range c.Nodes {
		ms = append(ms, Member{Name: n.Name, Address: n.Address,
			ClientPort: pick(n.ClientPort, c.Bus.ClientPort), ClusterPort: pick(n.ClusterPort, c.Bus.ClusterPort)})
	}
	if w := c.Witness; w != nil {
		ms = append(ms, Member{Name: w.Name, Address: w.Address, Witness: true,
			ClientPort: pick(w.ClientPort, c.Bus.ClientPort), ClusterPort: pick(w.ClusterPort, c.Bus.ClusterPort)})
	}
	return ms
}

// Member returns the voter called name.
func (c *Config) Member(name string) (Member, bool) {
	for _, m := range c.Members() {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
}

// Node returns the node called name.
func (c *Config) Node(name string) *Node {
	for i := range c.Nodes {
		if c.Nodes[i].Name == name {
			return &c.Nodes[i]
		}
	}
	return nil
}

func pick(v, def int) int {
	if v != 0 {
		return v
	}
	return def
}

// Properties are cluster-wide switches (pcs property).
type Properties struct {
	MaintenanceMode bool // nothing is started, stopped or monitored-and-recovered
}

// Resource is a primitive resource, optionally cloned onto several nodes.
type Resource struct {
	ID     string
	Agent  string            // "vip", "systemd:apache2", "haproxy", "health:http", "<plugin>:<type>"
	Params map[string]string // passed to the agent as is
	Ops    []Op
	Meta   Meta
	Clone  *Clone // nil for a primitive that runs on at most one node
	Pos    Pos
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

// Op is an operation of a resource: start, stop, monitor (or reload).
type Op struct {
	Name     string
	Interval time.Duration // monitor only: how often
	Timeout  time.Duration // 0: the agent's default
	Pos      Pos
}

// Meta holds the meta attributes of a resource. A nil field is unset, so
// that resource values can be layered over [defaults].
type Meta struct {
	Stickiness         *int
	MigrationThreshold *int
	FailureTimeout     *time.Duration
	TargetRole         string // "", "Started" or "Stopped"
	Priority           *int
}

// Target roles.
const (
	RoleStarted = "Started"
	RoleStopped = "Stopped"
)

// Pacemaker's defaults for meta attributes that are not set anywhere.
const (
	DefaultStickiness         = 0
	DefaultMigrationThreshold = int(Infinity) // never ban for failures
)

// EffectiveMeta is a resource's meta with [defaults] and built-in defaults
// applied; every field is set.
type EffectiveMeta struct {
	Stickiness         int
	MigrationThreshold int           // failcount >= this bans the node; INFINITY: never
	FailureTimeout     time.Duration // 0: failures are never forgotten
	TargetRole         string        // "Started" or "Stopped"
	Priority           int
}

// Effective layers the resource's meta over the cluster defaults.
func (c *Config) Effective(r *Resource) EffectiveMeta {
	e := EffectiveMeta{Stickiness: DefaultStickiness, MigrationThreshold: DefaultMigrationThreshold, TargetRole: RoleStarted}
	for _, m := range []Meta{c.Defaults, r.Meta} {
		if m.Stickiness != nil {
			e.Stickiness = *m.Stickiness
		}
		if m.MigrationThreshold != nil {
			e.MigrationThreshold = *m.MigrationThreshold
		}
		if m.FailureTimeout != nil {
			e.FailureTimeout = *m.FailureTimeout
		}
		if m.TargetRole != "" {
			e.TargetRole = m.TargetRole
		}
		if m.Priority != nil {
			e.Priority = *m.Priority
		}
	}
	return e
}

// Clone makes a resource run on several nodes at once.
type Clone struct {
	ID         string // default "<resource id>-clone", as pcs names it
	Max        int    // clone-max; 0: as many as there are nodes
	NodeMax    int    // clone-node-max; 0: 1
	Interleave bool
}

// CloneSuffix is appended to a resource id to name its clone, as pcs does.
const CloneSuffix = "-clone"

// Resource returns the resource whose primitive id or clone id is id, and
// whether id named the clone.
func (c *Config) Resource(id string) (r *Resource, isClone bool) {
	for i := range c.Resources {
		r := &c.Resources[i]
		if r.ID == id {
			return r, false
		}
		if r.Clone != nil && r.Clone.ID == id {
			return r, true
		}
	}
	return nil, false
}

// Action is what an ordering constraint orders.
type Action string

// Actions an ordering constraint can name.
const (
	ActionStart   Action = "start"
	ActionStop    Action = "stop"
	ActionPromote Action = "promote"
	ActionDemote  Action = "demote"
)

// OrderKind is Pacemaker's order kind.
type OrderKind string

// Order kinds.
const (
	Mandatory OrderKind = "Mandatory"
	Optional  OrderKind = "Optional"
	Serialize OrderKind = "Serialize"
)

// Order is an ordering constraint: First's FirstAction before Then's ThenAction.
type Order struct {
	ID          string
	First       string // resource or clone id
	Then        string
	FirstAction Action
	ThenAction  Action
	Kind        OrderKind
	Symmetrical bool
	Pos         Pos
}

// Colocation places Rsc relative to With: INFINITY only where With runs,
// -INFINITY never where With runs, otherwise a preference.
type Colocation struct {
	ID    string
	Rsc   string
	With  string
	Score Score
	Pos   Pos
}

// Location scores a node for a resource (prefers: positive, avoids: negative).
type Location struct {
	ID    string
	Rsc   string
	Node  string
	Score Score
	Pos   Pos
}

// Score is a Pacemaker score: an integer saturated at ±INFINITY.
type Score int

// Infinity is Pacemaker's INFINITY (1,000,000); scores saturate there.
const Infinity Score = 1000000

// ParseScore reads "INFINITY", "+INFINITY", "-INFINITY" or an integer;
// integers beyond ±INFINITY saturate.
func ParseScore(s string) (Score, error) {
	switch strings.TrimSpace(s) {
	case "INFINITY", "+INFINITY", "inf", "+inf":
		return Infinity, nil
	case "-INFINITY", "-inf":
		return -Infinity, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("score %q is not INFINITY, -INFINITY or an integer", s)
	}
	return ClampScore(n), nil
}

// ClampScore saturates n at ±INFINITY.
func ClampScore(n int64) Score {
	if n >= int64(Infinity) {
		return Infinity
	}
	if n <= -int64(Infinity) {
		return -Infinity
	}
	return Score(n)
}

// String prints INFINITY, -INFINITY or the integer.
func (s Score) String() string {
	switch {
	case s >= Infinity:
		return "INFINITY"
	case s <= -Infinity:
		return "-INFINITY"
	}
	return strconv.Itoa(int(s))
}

// Pos is where something was defined: file and line (0 when it was not read
// from a file, e.g. created by a CLI command).
type Pos struct {
	File string
	Line int            // line of the table ([[resource]], [[order]], ...)
	Keys map[string]int // line of each key set in that table
}

// KeyLine is the line where key was set, or the table's line.
func (p Pos) KeyLine(key string) int {
	if l, ok := p.Keys[key]; ok {
		return l
	}
	return p.Line
}

func (p Pos) String() string {
	switch {
	case p.File == "" && p.Line == 0:
		return ""
	case p.Line == 0:
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// ResourceIDs returns every id a constraint may name: primitives that are not
// cloned, and clone ids; sorted.
func (c *Config) ResourceIDs() []string {
	var ids []string
	for _, r := range c.Resources {
		if r.Clone != nil {
			ids = append(ids, r.Clone.ID)
		} else {
			ids = append(ids, r.ID)
		}
	}
	sort.Strings(ids)
	return ids
}
