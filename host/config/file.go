package config

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/policies/cib"
)

// The cluster.toml file format. Tandem's own keys are snake_case; the names
// Pacemaker admins know (resource-stickiness, clone-max, first-action, ...)
// keep Pacemaker's spelling. Every key is documented in docs/config.md.

type fileConfig struct {
	Cluster     fileCluster      `toml:"cluster"`
	Bus         fileBus          `toml:"bus"`
	Plugins     filePlugins      `toml:"plugins"`
	Nodes       []fileMember     `toml:"node"`
	Witness     *fileMember      `toml:"witness,omitempty,omitzero"`
	Properties  fileProperties   `toml:"properties"`
	Defaults    fileMeta         `toml:"defaults"`
	Resources   []fileResource   `toml:"resource"`
	Groups      []fileGroup      `toml:"group"`
	Orders      []fileOrder      `toml:"order"`
	Colocations []fileColocation `toml:"colocation"`
	Locations   []fileLocation   `toml:"location"`
	Tickets     []fileTicket     `toml:"ticket,omitempty,omitzero"`
	Metrics     *fileMetrics     `toml:"metrics,omitempty,omitzero"`
	StatusPage  *fileStatusPage  `toml:"status_page,omitempty,omitzero"`
	Alerts      []fileAlert      `toml:"alert,omitempty,omitzero"`
}

// fileAlert is an [[alert]]: Pacemaker's alert agent (pcs alert create),
// or a webhook.
type fileAlert struct {
	ID          string          `toml:"id"`
	Path        string          `toml:"path,omitempty,omitzero"`
	Webhook     string          `toml:"webhook,omitempty,omitzero"`
	Description string          `toml:"description,omitempty,omitzero"`
	Options     map[string]any  `toml:"options,omitempty,omitzero"`
	Meta        *fileAlertMeta  `toml:"meta,omitempty,omitzero"`
	Recipients  []fileRecipient `toml:"recipient,omitempty,omitzero"`
	Select      []string        `toml:"select,omitempty,omitzero"`
}

type fileRecipient struct {
	ID    string         `toml:"id,omitempty,omitzero"`
	Value string         `toml:"value"`
	Meta  *fileAlertMeta `toml:"meta,omitempty,omitzero"`
}

type fileAlertMeta struct {
	Timeout         any    `toml:"timeout,omitempty,omitzero"`
	TimestampFormat string `toml:"timestamp-format,omitempty,omitzero"`
	Enabled         *bool  `toml:"enabled,omitempty,omitzero"`
}

type fileMetrics struct {
	Listen      string `toml:"listen,omitempty,omitzero"`
	NATSMonitor string `toml:"nats_monitor,omitempty,omitzero"`
}

type fileStatusPage struct {
	Listen string `toml:"listen,omitempty,omitzero"`
}

type fileCluster struct {
	Name string `toml:"name"`
}

type fileBus struct {
	ClientPort  int      `toml:"client_port,omitempty,omitzero"`
	ClusterPort int      `toml:"cluster_port,omitempty,omitzero"`
	DataDir     string   `toml:"data_dir,omitempty,omitzero"`
	Credentials string   `toml:"credentials,omitempty,omitzero"`
	Voters      []string `toml:"voters,omitempty,omitzero"`
	VoterCount  int      `toml:"voter_count,omitempty,omitzero"`
	Leases      string   `toml:"leases,omitempty,omitzero"`
	TLS         *fileTLS `toml:"tls,omitempty,omitzero"`
}

type filePlugins struct {
	Dir string `toml:"dir,omitempty,omitzero"`
}

type fileTLS struct {
	Dir  string `toml:"dir,omitempty,omitzero"`
	Cert string `toml:"cert,omitempty,omitzero"`
	Key  string `toml:"key,omitempty,omitzero"`
	CA   string `toml:"ca,omitempty,omitzero"`
}

type fileMember struct {
	Name        string `toml:"name"`
	Address     string `toml:"address,omitempty"`
	ClientPort  int    `toml:"client_port,omitempty,omitzero"`
	ClusterPort int    `toml:"cluster_port,omitempty,omitzero"`
	Standby     bool   `toml:"standby,omitempty,omitzero"`
	Maintenance bool   `toml:"maintenance,omitempty,omitzero"`
	// Attributes: the node's attributes, which location rules test.
	Attributes map[string]any `toml:"attributes,omitempty,omitzero"`
	// Utilization: the node's capacity (cpu = 8, memory = 16384).
	Utilization map[string]any `toml:"utilization,omitempty,omitzero"`
}

type fileProperties struct {
	MaintenanceMode   bool   `toml:"maintenance-mode,omitempty,omitzero"`
	PlacementStrategy string `toml:"placement-strategy,omitempty,omitzero"`
}

type fileMeta struct {
	Stickiness         any    `toml:"resource-stickiness,omitempty,omitzero"`
	MigrationThreshold any    `toml:"migration-threshold,omitempty,omitzero"`
	FailureTimeout     any    `toml:"failure-timeout,omitempty,omitzero"`
	TargetRole         string `toml:"target-role,omitempty,omitzero"`
	Priority           any    `toml:"priority,omitempty,omitzero"`
}

type fileResource struct {
	ID     string         `toml:"id"`
	Agent  string         `toml:"agent"`
	Params map[string]any `toml:"params,omitempty,omitzero"`
	Meta   *fileMeta      `toml:"meta,omitempty,omitzero"`
	Clone  *fileClone     `toml:"clone,omitempty,omitzero"`
	Ops    []fileOp       `toml:"op,omitempty,omitzero"`
	// Utilization: what the resource (each clone instance) uses of its
	// node's capacity.
	Utilization map[string]any `toml:"utilization,omitempty,omitzero"`
}

type fileGroup struct {
	ID        string     `toml:"id"`
	Resources []string   `toml:"resources"`
	Meta      *fileMeta  `toml:"meta,omitempty,omitzero"`
	Clone     *fileClone `toml:"clone,omitempty,omitzero"`
}

type fileOp struct {
	Name     string `toml:"name"`
	Interval any    `toml:"interval,omitempty,omitzero"`
	Timeout  any    `toml:"timeout,omitempty,omitzero"`
}

type fileClone struct {
	ID         string `toml:"id,omitempty,omitzero"`
	Max        int    `toml:"clone-max,omitempty,omitzero"`
	NodeMax    int    `toml:"clone-node-max,omitempty,omitzero"`
	Interleave bool   `toml:"interleave,omitempty,omitzero"`
	// GloballyUnique: distinct instances (rsc:0, rsc:1, ...); needed for
	// clone-node-max > 1.
	GloballyUnique bool `toml:"globally-unique,omitempty,omitzero"`
	Promotable     bool `toml:"promotable,omitempty,omitzero"`
	// PromotedMax and PromotedNodeMax: 0 is the default, 1.
	PromotedMax     int `toml:"promoted-max,omitempty,omitzero"`
	PromotedNodeMax int `toml:"promoted-node-max,omitempty,omitzero"`
	// Notify: clone notifications (the agent's notify action).
	Notify bool `toml:"notify,omitempty,omitzero"`
}

type fileOrder struct {
	ID          string    `toml:"id,omitempty,omitzero"`
	First       string    `toml:"first,omitempty,omitzero"`
	Then        string    `toml:"then,omitempty,omitzero"`
	FirstAction string    `toml:"first-action,omitempty,omitzero"`
	ThenAction  string    `toml:"then-action,omitempty,omitzero"`
	Kind        string    `toml:"kind,omitempty,omitzero"`
	Symmetrical *bool     `toml:"symmetrical,omitempty,omitzero"`
	Sets        []fileSet `toml:"set,omitempty,omitzero"`
}

// fileSet is a resource set of an order or colocation ([[order.set]]).
type fileSet struct {
	Resources  []string `toml:"resources"`
	Sequential *bool    `toml:"sequential,omitempty,omitzero"`
	RequireAll *bool    `toml:"require-all,omitempty,omitzero"`
	Action     string   `toml:"action,omitempty,omitzero"`
	Role       string   `toml:"role,omitempty,omitzero"` // colocation sets only
}

type fileColocation struct {
	ID    string    `toml:"id,omitempty,omitzero"`
	Rsc   string    `toml:"rsc,omitempty,omitzero"`
	With  string    `toml:"with,omitempty,omitzero"`
	Score any       `toml:"score,omitempty,omitzero"`
	Sets  []fileSet `toml:"set,omitempty,omitzero"`
	// RscRole and WithRole: "Promoted" for a promotable clone's promoted
	// instances.
	RscRole  string `toml:"rsc-role,omitempty,omitzero"`
	WithRole string `toml:"with-rsc-role,omitempty,omitzero"`
}

type fileLocation struct {
	ID             string `toml:"id,omitempty,omitzero"`
	Rsc            string `toml:"rsc"`
	Node           string `toml:"node,omitempty,omitzero"`
	Score          any    `toml:"score,omitempty,omitzero"`
	Rule           string `toml:"rule,omitempty,omitzero"`
	ScoreAttribute string `toml:"score-attribute,omitempty,omitzero"`
	Role           string `toml:"role,omitempty,omitzero"`
}

// fileTicket is a [[ticket]]: a ticket constraint (Pacemaker's rsc_ticket).
type fileTicket struct {
	ID         string    `toml:"id,omitempty,omitzero"`
	Ticket     string    `toml:"ticket"`
	Rsc        string    `toml:"rsc,omitempty,omitzero"`
	RscRole    string    `toml:"rsc-role,omitempty,omitzero"`
	LossPolicy string    `toml:"loss-policy,omitempty,omitzero"`
	Sets       []fileSet `toml:"set,omitempty,omitzero"` // [[ticket.set]]: resources and role
}

// decode turns TOML into a File, recording syntax errors, unknown keys and
// values that cannot be read. It returns a nil File only when the document
// could not be decoded at all.
func decode(name string, data []byte) (*File, *problems) {
	ps := &problems{file: name}
	var f fileConfig
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			line, col := pe.Position.Line, pe.Position.Col
			// The parser puts an error at a line's end on the next line;
			// count from the byte offset instead.
			if st := pe.Position.Start; st > 0 && st <= len(data) {
				line = bytes.Count(data[:st], []byte("\n")) + 1
				col = st - bytes.LastIndexByte(data[:st], '\n')
			}
			ps.list = append(ps.list, Problem{File: name, Line: line, Col: col, Msg: "TOML: " + pe.Message})
		} else {
			ps.atLine(0, "TOML: %v", err)
		}
		return nil, ps
	}
	lines := scanKeyLines(string(data))
	ps.lines = lines

	undecoded := map[string]bool{}
	for _, k := range md.Undecoded() {
		undecoded[strings.Join(k, ".")] = true
	}
	for _, path := range lines.order {
		plain := stripIndex(path)
		if !undecoded[plain] || strings.HasPrefix(plain, "resource.params.") {
			continue
		}
		// Report the outermost unknown key only, not each key below it.
		if parent, _, ok := cutLast(plain); ok && undecoded[parent] {
			continue
		}
		ps.at(path, "unknown key %q%s", plain, suggest(plain))
	}

	out := &File{Name: name, Topology: decodeTopology(&f, ps), Positions: lines, PluginDir: f.Plugins.Dir}
	if d := f.Plugins.Dir; d != "" && !filepath.IsAbs(d) {
		ps.at("plugins.dir", "[plugins] dir %q is not an absolute path", d)
	}
	c := &cib.CIB{Properties: cib.Properties{MaintenanceMode: f.Properties.MaintenanceMode, PlacementStrategy: f.Properties.PlacementStrategy}}
	for i, n := range f.Nodes {
		node := cib.Node{Name: n.Name, Standby: n.Standby, Maintenance: n.Maintenance}
		for _, k := range slices.Sorted(maps.Keys(n.Attributes)) {
			v, err := paramString(n.Attributes[k])
			if err != nil {
				ps.at(fmt.Sprintf("node[%d].attributes.%s", i, k), "node %q: attribute %q: %v", n.Name, k, err)
				continue
			}
			if node.Attributes == nil {
				node.Attributes = map[string]string{}
			}
			node.Attributes[k] = v
		}
		node.Utilization = decodeUtilization(n.Utilization, fmt.Sprintf("node[%d].utilization", i), ps, fmt.Sprintf("node %q", n.Name))
		c.Nodes = append(c.Nodes, node)
	}
	c.Defaults = decodeMeta(&f.Defaults, "defaults", ps, "[defaults]")
	for i, r := range f.Resources {
		path := fmt.Sprintf("resource[%d]", i)
		res := cib.Resource{ID: r.ID, Agent: r.Agent}
		what := fmt.Sprintf("resource %q", r.ID)
		if len(r.Params) > 0 {
			res.Params = map[string]string{}
			keys := make([]string, 0, len(r.Params))
			for k := range r.Params {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				v, err := paramString(r.Params[k])
				if err != nil {
					ps.at(path+".params."+k, "%s: param %q: %v", what, k, err)
					continue
				}
				res.Params[k] = v
			}
		}
		if r.Meta != nil {
			res.Meta = decodeMeta(r.Meta, path+".meta", ps, what)
		}
		res.Utilization = decodeUtilization(r.Utilization, path+".utilization", ps, what)
		if cl := r.Clone; cl != nil {
			res.Clone = &cib.Clone{ID: cl.ID, Max: cl.Max, NodeMax: cl.NodeMax, Interleave: cl.Interleave, GloballyUnique: cl.GloballyUnique,
				Promotable: cl.Promotable, PromotedMax: cl.PromotedMax, PromotedNodeMax: cl.PromotedNodeMax, Notify: cl.Notify}
			if res.Clone.ID == "" {
				res.Clone.ID = r.ID + cib.CloneSuffix
			}
		}
		for j, o := range r.Ops {
			opPath := fmt.Sprintf("%s.op[%d]", path, j)
			op := cib.Op{Name: o.Name}
			op.Interval = decodeDuration(o.Interval, opPath+".interval", ps, what+" op "+o.Name+" interval")
			op.Timeout = decodeDuration(o.Timeout, opPath+".timeout", ps, what+" op "+o.Name+" timeout")
			res.Ops = append(res.Ops, op)
		}
		c.Resources = append(c.Resources, res)
	}
	for i, g := range f.Groups {
		path := fmt.Sprintf("group[%d]", i)
		grp := cib.Group{ID: g.ID, Resources: g.Resources}
		if g.Meta != nil {
			grp.Meta = decodeMeta(g.Meta, path+".meta", ps, fmt.Sprintf("group %q", g.ID))
		}
		if cl := g.Clone; cl != nil {
			grp.Clone = &cib.Clone{ID: cl.ID, Max: cl.Max, NodeMax: cl.NodeMax, Interleave: cl.Interleave, GloballyUnique: cl.GloballyUnique,
				Promotable: cl.Promotable, PromotedMax: cl.PromotedMax, PromotedNodeMax: cl.PromotedNodeMax, Notify: cl.Notify}
			if grp.Clone.ID == "" {
				grp.Clone.ID = g.ID + cib.CloneSuffix
			}
		}
		c.Groups = append(c.Groups, grp)
	}
	for _, o := range f.Orders {
		ord := cib.Order{ID: o.ID, First: o.First, Then: o.Then, FirstAction: cib.Action(o.FirstAction),
			ThenAction: cib.Action(o.ThenAction), Kind: cib.OrderKind(o.Kind), Sets: decodeSets(o.Sets)}
		if ord.FirstAction == "" && ord.Sets == nil {
			ord.FirstAction = cib.ActionStart
		}
		if ord.ThenAction == "" && ord.Sets == nil {
			ord.ThenAction = ord.FirstAction
		}
		if ord.Kind == "" {
			ord.Kind = cib.Mandatory
		}
		ord.Symmetrical = cib.DefaultSymmetrical(ord.Kind)
		if o.Symmetrical != nil {
			ord.Symmetrical = *o.Symmetrical
		}
		switch {
		case ord.ID != "":
		case ord.Sets != nil:
			ord.ID = cib.DefaultOrderSetID(ord.Sets)
		default:
			ord.ID = cib.DefaultOrderID(ord)
		}
		c.Orders = append(c.Orders, ord)
	}
	for i, co := range f.Colocations {
		col := cib.Colocation{ID: co.ID, Rsc: co.Rsc, With: co.With, Sets: decodeSets(co.Sets)}
		what := fmt.Sprintf("colocation %s with %s", co.Rsc, co.With)
		if col.Sets != nil {
			what = "colocation " + cib.SetsText(col.Sets)
		}
		col.Score = decodeScore(co.Score, cib.Infinity, fmt.Sprintf("colocation[%d].score", i), ps, what)
		for _, r := range []struct {
			key  string
			text string
			to   *string
		}{{"rsc-role", co.RscRole, &col.RscRole}, {"with-rsc-role", co.WithRole, &col.WithRole}} {
			if r.text == "" {
				continue
			}
			role, err := cib.ParseConstraintRole(r.text)
			if err != nil {
				ps.at(fmt.Sprintf("colocation[%d].%s", i, r.key), "%s: %s: %v", what, r.key, err)
			}
			*r.to = role
		}
		switch {
		case col.ID != "":
		case col.Sets != nil:
			col.ID = cib.DefaultColocationSetID(col.Sets)
		default:
			col.ID = cib.DefaultColocationID(col)
		}
		c.Colocations = append(c.Colocations, col)
	}
	for i, lo := range f.Locations {
		loc := cib.Location{ID: lo.ID, Rsc: lo.Rsc, Node: lo.Node, ScoreAttribute: lo.ScoreAttribute, Role: lo.Role}
		what := fmt.Sprintf("location %s on %s", lo.Rsc, lo.Node)
		if lo.Rule != "" {
			what = fmt.Sprintf("location %s rule %q", lo.Rsc, lo.Rule)
			r, err := cib.ParseRule(lo.Rule)
			if err != nil {
				ps.at(fmt.Sprintf("location[%d].rule", i), "%s: %v", what, err)
			}
			loc.Rule = r
			if loc.Rule == nil {
				loc.Rule = &cib.Rule{} // reported above; keeps "node is missing" away
			}
		}
		if loc.Role != "" {
			role, err := cib.ParseConstraintRole(loc.Role)
			if err != nil {
				ps.at(fmt.Sprintf("location[%d].role", i), "%s: %v", what, err)
			}
			loc.Role = role
		}
		loc.Score = decodeScore(lo.Score, cib.Infinity, fmt.Sprintf("location[%d].score", i), ps, what)
		if loc.ID == "" {
			loc.ID = cib.DefaultLocationID(loc)
			// Several rules for one resource: location-db, location-db-1,
			// ... (as pcs names them).
			for n, base := 1, loc.ID; loc.Rule != nil && slices.ContainsFunc(c.Locations, func(x cib.Location) bool { return x.ID == loc.ID }); n++ {
				loc.ID = fmt.Sprintf("%s-%d", base, n)
			}
		}
		c.Locations = append(c.Locations, loc)
	}
	for i, ft := range f.Tickets {
		t := cib.Ticket{ID: ft.ID, Ticket: ft.Ticket, Rsc: ft.Rsc, Sets: decodeSets(ft.Sets)}
		what := fmt.Sprintf("ticket %s for %s", ft.Ticket, ft.Rsc)
		if t.Sets != nil {
			what = fmt.Sprintf("ticket %s for %s", ft.Ticket, cib.SetsText(t.Sets))
		}
		if ft.RscRole != "" {
			role, err := cib.ParseConstraintRole(ft.RscRole)
			switch {
			case err != nil:
				ps.at(fmt.Sprintf("ticket[%d].rsc-role", i), "%s: %v", what, err)
			case role == cib.RolePromoted || role == cib.RoleStarted:
			default:
				ps.at(fmt.Sprintf("ticket[%d].rsc-role", i), "%s: rsc-role %q: Tandem takes Started (the default) or Promoted for a ticket", what, ft.RscRole)
			}
			if role != cib.RoleStarted {
				t.RscRole = role
			}
		}
		if ft.LossPolicy != "" {
			lp, err := cib.ParseLossPolicy(ft.LossPolicy)
			if err != nil {
				ps.at(fmt.Sprintf("ticket[%d].loss-policy", i), "%s: %v", what, err)
			}
			if lp != cib.LossStop {
				t.LossPolicy = lp
			}
		}
		if t.ID == "" {
			t.ID = cib.DefaultTicketID(t)
		}
		c.Tickets = append(c.Tickets, t)
	}
	decodeAlerts(f.Alerts, c, ps)
	out.CIB = c
	return out, ps
}

func decodeSets(fs []fileSet) []cib.ResourceSet {
	var out []cib.ResourceSet
	for _, f := range fs {
		role := f.Role
		if r, err := cib.ParseConstraintRole(role); err == nil {
			role = r // else kept as written: validation names it
		}
		if role == cib.RoleStarted {
			role = ""
		}
		out = append(out, cib.ResourceSet{Resources: f.Resources, Sequential: f.Sequential, RequireAll: f.RequireAll, Action: cib.Action(f.Action), Role: role})
	}
	return out
}

// decodeTopology reads the bootstrap settings and applies their defaults:
// the one place where a member's ports, the data directory and the
// credentials file get a value the file left out.
func decodeTopology(f *fileConfig, ps *problems) *bus.Topology {
	checkPort := func(path, what string, port int) {
		if port < 0 || port > 65535 {
			ps.at(path, "%s %d is not a TCP port (1-65535)", what, port)
		}
	}
	checkPort("bus.client_port", "[bus] client_port", f.Bus.ClientPort)
	checkPort("bus.cluster_port", "[bus] cluster_port", f.Bus.ClusterPort)
	top := &bus.Topology{
		Cluster:     f.Cluster.Name,
		ClientPort:  pick(f.Bus.ClientPort, DefaultClientPort),
		ClusterPort: pick(f.Bus.ClusterPort, DefaultClusterPort),
		DataDir:     pickString(f.Bus.DataDir, DefaultDataDir),
		Credentials: pickString(f.Bus.Credentials, DefaultCredentials),
	}
	switch f.Bus.Leases {
	case "", bus.LeasesBucket:
	case bus.LeasesGrants:
		top.Leases = bus.LeasesGrants
	default:
		ps.at("bus.leases", "[bus] leases = %q: give %q (the default: leases are keys of the lease bucket) or %q (granted by a majority of the voters, no stream leader needed; docs/leases.md)",
			f.Bus.Leases, bus.LeasesBucket, bus.LeasesGrants)
	}
	if t := f.Bus.TLS; t != nil {
		top.TLS = &bus.TLS{Dir: t.Dir, Cert: t.Cert, Key: t.Key, CA: t.CA}
	}
	// checkListen checks a host:port a member serves on.
	checkListen := func(table, key, v, example string) {
		if v == "" {
			return
		}
		if _, port, err := net.SplitHostPort(v); err != nil {
			ps.at(table+"."+key, "[%s] %s %q: %v; write it host:port, like \"%s\"", table, key, v, err, example)
		} else if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			ps.at(table+"."+key, "[%s] %s %q: port %q is not a TCP port (1-65535)", table, key, v, port)
		}
	}
	if mt := f.Metrics; mt != nil {
		checkListen("metrics", "listen", mt.Listen, "127.0.0.1:9464")
		checkListen("metrics", "nats_monitor", mt.NATSMonitor, "127.0.0.1:9464")
		if mt.Listen != "" && mt.Listen == mt.NATSMonitor {
			ps.at("metrics.nats_monitor", "[metrics] nats_monitor is the same address as listen (%s): give each its own port", mt.Listen)
		}
		top.Metrics = bus.Metrics{Listen: mt.Listen, Monitor: mt.NATSMonitor}
	}
	if sp := f.StatusPage; sp != nil {
		checkListen("status_page", "listen", sp.Listen, "127.0.0.1:9465")
		if m := f.Metrics; m != nil && sp.Listen != "" && (sp.Listen == m.Listen || sp.Listen == m.NATSMonitor) {
			ps.at("status_page.listen", "[status_page] listen is the same address as a [metrics] endpoint (%s): give each its own port", sp.Listen)
		}
		top.StatusPage = sp.Listen
	}
	member := func(m fileMember, path string, witness bool) bus.Member {
		what := fmt.Sprintf("%s %q", memberKind(witness), m.Name)
		checkPort(path+".client_port", what+" client_port", m.ClientPort)
		checkPort(path+".cluster_port", what+" cluster_port", m.ClusterPort)
		return bus.Member{Name: m.Name, Address: m.Address, Witness: witness,
			ClientPort: pick(m.ClientPort, top.ClientPort), ClusterPort: pick(m.ClusterPort, top.ClusterPort)}
	}
	for i, n := range f.Nodes {
		top.Members = append(top.Members, member(n, fmt.Sprintf("node[%d]", i), false))
	}
	if w := f.Witness; w != nil {
		if w.Standby || w.Maintenance || w.Attributes != nil {
			ps.at("witness", "witness %q: standby, maintenance and attributes apply to nodes only; the witness runs no resources", w.Name)
		}
		top.Members = append(top.Members, member(*w, "witness", true))
	}
	chooseVoters(f, top, ps)
	return top
}

// DefaultVoterCount is how many members vote when [bus] does not say.
const DefaultVoterCount = 3

// chooseVoters marks the members that do not vote: all but those [bus]
// voters names, or all but the first voter_count (default 3) of the
// witness and then the nodes in configuration order. A cluster of up to
// three members has them all vote.
func chooseVoters(f *fileConfig, top *bus.Topology, ps *problems) {
	b := f.Bus
	switch {
	case b.Voters != nil && b.VoterCount != 0:
		ps.at("bus.voter_count", "[bus] gives both voters and voter_count: name the voters, or say how many, not both")
		return
	case b.Voters != nil:
		named := map[string]bool{}
		for _, v := range b.Voters {
			if _, ok := top.Member(v); !ok {
				ps.at("bus.voters", "[bus] voters names %q, which is neither a [[node]] nor the [witness]: %s", v, suggestMember(top, v))
				continue
			}
			if named[v] {
				ps.at("bus.voters", "[bus] voters names %q twice", v)
			}
			named[v] = true
		}
		if w := top.Witness(); w != nil && !named[w.Name] {
			ps.at("bus.voters", "[bus] voters leaves out the witness %q: voting is all a witness does; add it, or remove the [witness] table", w.Name)
		}
		if n := len(named); len(top.Members) > 1 && (n < 3 || n%2 == 0) {
			ps.at("bus.voters", "[bus] voters names %d members: name an odd number, 3 or more (3 tolerates one failure, 5 two)", n)
		}
		for i := range top.Members {
			top.Members[i].NonVoter = !named[top.Members[i].Name]
		}
	default:
		count := b.VoterCount
		if count == 0 {
			count = DefaultVoterCount
		} else if count < 3 || count%2 == 0 {
			ps.at("bus.voter_count", "[bus] voter_count = %d: give an odd number, 3 or more (3 tolerates one failure, 5 two)", count)
			return
		}
		markVoters(top, count)
	}
}

// markVoters makes voters of the witness and then the first nodes, count
// in all (fewer if there are not that many members, and odd).
func markVoters(top *bus.Topology, count int) {
	n := min(count, len(top.Members))
	if n%2 == 0 {
		n--
	}
	order := make([]int, 0, len(top.Members))
	for i, m := range top.Members {
		if m.Witness {
			order = append([]int{i}, order...)
		} else {
			order = append(order, i)
		}
	}
	for k, i := range order {
		top.Members[i].NonVoter = k >= n
	}
}

// suggestMember says which members there are.
func suggestMember(top *bus.Topology, name string) string {
	var names []string
	for _, m := range top.Members {
		names = append(names, m.Name)
	}
	return "the members are " + strings.Join(names, ", ")
}

func memberKind(witness bool) string {
	if witness {
		return "witness"
	}
	return "node"
}

func pick(v, def int) int {
	if v != 0 {
		return v
	}
	return def
}

func pickString(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

func cutLast(path string) (string, string, bool) {
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		return "", "", false
	}
	return path[:i], path[i+1:], true
}

// knownKeys are the keys a table may hold, for "did you mean" hints.
var knownKeys = map[string][]string{
	"":                     {"cluster", "bus", "plugins", "node", "witness", "properties", "defaults", "resource", "group", "order", "colocation", "location", "ticket", "metrics", "status_page", "alert"},
	"metrics":              {"listen", "nats_monitor"},
	"status_page":          {"listen"},
	"cluster":              {"name"},
	"bus":                  {"client_port", "cluster_port", "data_dir", "credentials", "tls"},
	"bus.tls":              {"dir", "cert", "key", "ca"},
	"plugins":              {"dir"},
	"node":                 {"name", "address", "client_port", "cluster_port", "standby", "maintenance", "attributes", "utilization"},
	"witness":              {"name", "address", "client_port", "cluster_port"},
	"properties":           cib.PropertyKeys,
	"defaults":             cib.MetaKeys,
	"resource":             {"id", "agent", "params", "meta", "clone", "op", "utilization"},
	"resource.meta":        cib.MetaKeys,
	"resource.clone":       append([]string{"id"}, cib.CloneKeys...),
	"resource.op":          {"name", "interval", "timeout"},
	"group":                cib.GroupKeys,
	"group.meta":           cib.MetaKeys,
	"group.clone":          append([]string{"id"}, cib.CloneKeys...),
	"order":                {"id", "first", "then", "first-action", "then-action", "kind", "symmetrical", "set"},
	"order.set":            append([]string{"resources"}, cib.SetKeys...),
	"colocation":           {"id", "rsc", "with", "score", "set", "rsc-role", "with-rsc-role"},
	"colocation.set":       append([]string{"resources"}, cib.ColocationSetKeys...),
	"location":             {"id", "rsc", "node", "score", "rule", "score-attribute", "role"},
	"ticket":               cib.TicketKeys,
	"ticket.set":           append([]string{"resources"}, cib.TicketSetKeys...),
	"alert":                {"id", "path", "webhook", "description", "options", "meta", "recipient"},
	"alert.meta":           cib.AlertMetaKeys,
	"alert.recipient":      {"id", "value", "meta"},
	"alert.recipient.meta": cib.AlertMetaKeys,
}

func suggest(plain string) string {
	parent, key, ok := cutLast(plain)
	if !ok {
		parent, key = "", plain
	}
	known := knownKeys[parent]
	if hint := cib.DidYouMean(key, known); hint != "" {
		return hint
	}
	if len(known) > 0 {
		where := "[" + parent + "]"
		if parent == "" {
			where = "the top level"
		}
		return fmt.Sprintf(" (%s takes: %s)", where, strings.Join(known, ", "))
	}
	return ""
}

// decodeUtilization reads a [node.utilization] or [resource.utilization]
// table: integers from 0 up, as Pacemaker takes them.
func decodeUtilization(m map[string]any, path string, ps *problems, what string) map[string]int {
	if len(m) == 0 {
		return nil
	}
	out := map[string]int{}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		n, ok := m[k].(int64)
		if !ok {
			ps.at(path+"."+k, "%s: utilization %q = %v: want an integer from 0 up (e.g. cpu = 2, memory = 2048)", what, k, m[k])
			continue
		}
		if n < 0 || n > math.MaxInt32 {
			ps.at(path+"."+k, "%s: utilization %q = %d: want an integer from 0 to %d", what, k, n, math.MaxInt32)
			continue
		}
		out[k] = int(n)
	}
	return out
}

func paramString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return "", fmt.Errorf("must be a string, number or boolean, not %T", v)
}

func decodeMeta(m *fileMeta, path string, ps *problems, what string) cib.Meta {
	var out cib.Meta
	intScore := func(v any, key string) *int {
		if v == nil {
			return nil
		}
		s := decodeScore(v, 0, path+"."+key, ps, what+" "+key)
		n := int(s)
		return &n
	}
	out.Stickiness = intScore(m.Stickiness, "resource-stickiness")
	out.MigrationThreshold = intScore(m.MigrationThreshold, "migration-threshold")
	out.Priority = intScore(m.Priority, "priority")
	if m.FailureTimeout != nil {
		d := decodeDuration(m.FailureTimeout, path+".failure-timeout", ps, what+" failure-timeout")
		out.FailureTimeout = &d
	}
	if m.TargetRole != "" {
		role, err := cib.ParseRole(m.TargetRole)
		if err != nil {
			ps.at(path+".target-role", "%s: %v", what, err)
		}
		out.TargetRole = role
	}
	return out
}

func decodeScore(v any, def cib.Score, path string, ps *problems, what string) cib.Score {
	switch x := v.(type) {
	case nil:
		return def
	case int64:
		return cib.ClampScore(x)
	case string:
		s, err := cib.ParseScore(x)
		if err != nil {
			ps.at(path, "%s: %v", what, err)
		}
		return s
	case float64:
		if x == math.Trunc(x) && !math.IsInf(x, 0) && !math.IsNaN(x) {
			return cib.ClampScore(int64(math.Max(math.Min(x, 2e6), -2e6)))
		}
	}
	ps.at(path, "%s: score %v is not INFINITY, -INFINITY or an integer", what, v)
	return def
}

func decodeDuration(v any, path string, ps *problems, what string) time.Duration {
	switch x := v.(type) {
	case nil:
		return 0
	case int64:
		if x < 0 || x > math.MaxInt64/int64(time.Second) {
			ps.at(path, "%s: %d seconds is out of range", what, x)
			return 0
		}
		return time.Duration(x) * time.Second
	case string:
		d, err := cib.ParseDuration(x)
		if err != nil {
			ps.at(path, "%s: %v", what, err)
		}
		return d
	}
	ps.at(path, "%s: %v is not a duration (write it like \"30s\")", what, v)
	return 0
}

// decodeAlerts reads the [[alert]] tables into c; a recipient without an
// id gets pcs's default ("<alert>-recipient", "-1", ...).
func decodeAlerts(fa []fileAlert, c *cib.CIB, ps *problems) {
	for i, a := range fa {
		path := fmt.Sprintf("alert[%d]", i)
		what := fmt.Sprintf("alert %q", a.ID)
		al := cib.Alert{ID: a.ID, Path: a.Path, Webhook: a.Webhook, Description: a.Description, Select: a.Select}
		for _, k := range slices.Sorted(maps.Keys(a.Options)) {
			v, err := paramString(a.Options[k])
			if err != nil {
				ps.at(path+".options."+k, "%s: option %q: %v", what, k, err)
				continue
			}
			if al.Options == nil {
				al.Options = map[string]string{}
			}
			al.Options[k] = v
		}
		al.Meta = decodeAlertMeta(a.Meta, path+".meta", ps, what)
		for j, r := range a.Recipients {
			rpath := fmt.Sprintf("%s.recipient[%d]", path, j)
			al.Recipients = append(al.Recipients, cib.Recipient{ID: r.ID, Value: r.Value,
				Meta: decodeAlertMeta(r.Meta, rpath+".meta", ps, fmt.Sprintf("%s recipient %q", what, r.Value))})
		}
		c.Alerts = append(c.Alerts, al)
	}
	taken := map[string]bool{}
	for _, a := range c.Alerts {
		for _, r := range a.Recipients {
			taken[r.ID] = true
		}
	}
	for i := range c.Alerts {
		a := &c.Alerts[i]
		for j := range a.Recipients {
			if a.Recipients[j].ID != "" {
				continue
			}
			id := a.ID + "-recipient"
			for n := 1; taken[id] || c.Alert(id) != nil; n++ {
				id = fmt.Sprintf("%s-recipient-%d", a.ID, n)
			}
			taken[id] = true
			a.Recipients[j].ID = id
		}
	}
}

func decodeAlertMeta(m *fileAlertMeta, path string, ps *problems, what string) cib.AlertMeta {
	var out cib.AlertMeta
	if m == nil {
		return out
	}
	out.Timeout = decodeDuration(m.Timeout, path+".timeout", ps, what+" meta timeout")
	out.TimestampFormat = m.TimestampFormat
	out.Enabled = m.Enabled
	return out
}
