package config

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/policies/cib"
)

// Encode writes the bootstrap settings and a cluster model as cluster.toml
// text; parsing the output yields the same File. A default is written only
// where the value differs from it. The model's nodes must be the topology's
// (the live configuration's node list follows the members' files).
func Encode(top *bus.Topology, c *cib.CIB) ([]byte, error) {
	return EncodeFile(top, "", c, nil)
}

// EncodeWithPlugins is Encode with the host's [plugins] dir (none when "").
func EncodeWithPlugins(top *bus.Topology, pluginDir string, c *cib.CIB) ([]byte, error) {
	return EncodeFile(top, pluginDir, c, nil)
}

// EncodeLike is Encode keeping the durations of prev, a cluster file's
// text, as they are written there ("60s" stays "60s", "2min" stays
// "2min") where the model's value is still the same; prev may be nil.
func EncodeLike(top *bus.Topology, c *cib.CIB, prev []byte) ([]byte, error) {
	return EncodeFile(top, "", c, prev)
}

// EncodeFile writes a whole cluster file: the bootstrap settings, the
// host's [plugins] dir (none when ""), and the model, with the durations of
// prev kept as written (see EncodeLike).
func EncodeFile(top *bus.Topology, pluginDir string, c *cib.CIB, prev []byte) ([]byte, error) {
	if a, b := top.NodeNames(), c.NodeNames(); !slices.Equal(a, b) {
		return nil, fmt.Errorf("the cluster model's nodes (%s) are not the cluster file's (%s): "+
			"the nodes of the live configuration change with `tandem config apply` once every member runs with the new file",
			strings.Join(b, ", "), strings.Join(a, ", "))
	}
	f := fileConfig{
		Cluster: fileCluster{Name: top.Cluster},
		Bus: fileBus{ClientPort: omitDefault(top.ClientPort, DefaultClientPort), ClusterPort: omitDefault(top.ClusterPort, DefaultClusterPort),
			DataDir: omitDefault(top.DataDir, DefaultDataDir), Credentials: omitDefault(top.Credentials, DefaultCredentials)},
		Plugins: filePlugins{Dir: pluginDir},
	}
	if t := top.TLS; t != nil {
		f.Bus.TLS = &fileTLS{Dir: t.Dir, Cert: t.Cert, Key: t.Key, CA: t.CA}
	}
	f.Bus.Voters, f.Bus.VoterCount = encodeVoters(top)
	f.Bus.Leases = top.Leases
	if mt := top.Metrics; mt != (bus.Metrics{}) {
		f.Metrics = &fileMetrics{Listen: mt.Listen, NATSMonitor: mt.Monitor}
	}
	if top.StatusPage != "" {
		f.StatusPage = &fileStatusPage{Listen: top.StatusPage}
	}
	member := func(m bus.Member) fileMember {
		return fileMember{Name: m.Name, Address: m.Address,
			ClientPort: omitDefault(m.ClientPort, top.ClientPort), ClusterPort: omitDefault(m.ClusterPort, top.ClusterPort)}
	}
	for _, m := range top.Nodes() {
		fm := member(m)
		n := c.Node(m.Name)
		fm.Standby, fm.Maintenance, fm.Attributes = n.Standby, n.Maintenance, encodeAttributes(n.Attributes)
		fm.Utilization = encodeUtilization(n.Utilization)
		f.Nodes = append(f.Nodes, fm)
	}
	if w := top.Witness(); w != nil {
		fw := member(*w)
		f.Witness = &fw
	}
	return encode(&f, c, writtenDurations(prev))
}

// encodeVoters says how the file chooses top's voters: not at all when
// the default choice makes them, voter_count when a count does, by name
// otherwise.
func encodeVoters(top *bus.Topology) ([]string, int) {
	same := func(count int) bool {
		t := *top
		t.Members = slices.Clone(top.Members)
		markVoters(&t, count)
		return slices.Equal(t.Members, top.Members)
	}
	if same(DefaultVoterCount) {
		return nil, 0
	}
	for count := DefaultVoterCount + 2; count <= len(top.Members)+1; count += 2 {
		if same(count) {
			return nil, count
		}
	}
	var names []string
	for _, m := range top.Voters() {
		names = append(names, m.Name)
	}
	return names, 0
}

// durationKey names one duration of a cluster file: an op's interval or
// timeout (resource id, op name, which op of that name, field) or a
// failure-timeout.
type durationKey struct {
	owner, op string
	n         int
	field     string
}

// writtenDurations reads the durations of a cluster file's text as written;
// a text that does not decode gives none.
func writtenDurations(text []byte) map[durationKey]any {
	if text == nil {
		return nil
	}
	var f fileConfig
	if _, err := toml.Decode(string(text), &f); err != nil {
		return nil
	}
	out := map[durationKey]any{}
	for _, r := range f.Resources {
		seen := map[string]int{}
		for _, o := range r.Ops {
			n := seen[o.Name]
			seen[o.Name]++
			out[durationKey{r.ID, o.Name, n, "interval"}] = o.Interval
			out[durationKey{r.ID, o.Name, n, "timeout"}] = o.Timeout
		}
		if r.Meta != nil {
			out[durationKey{owner: r.ID, field: "failure-timeout"}] = r.Meta.FailureTimeout
		}
	}
	for _, g := range f.Groups {
		if g.Meta != nil {
			out[durationKey{owner: g.ID, field: "failure-timeout"}] = g.Meta.FailureTimeout
		}
	}
	out[durationKey{field: "failure-timeout"}] = f.Defaults.FailureTimeout
	return out
}

// duration is d as written in the file (kept[k]) when that still reads as
// d, and in FormatDuration's form otherwise.
func duration(kept map[durationKey]any, k durationKey, d time.Duration) any {
	switch raw := kept[k].(type) {
	case string:
		if was, err := cib.ParseDuration(raw); err == nil && was == d {
			return raw
		}
	case int64:
		if time.Duration(raw)*time.Second == d {
			return raw
		}
	}
	return cib.FormatDuration(d)
}

// EncodeModel writes the cluster model alone in cluster.toml's layout: its
// nodes with their attributes only (no addresses), resources, constraints,
// defaults and properties. It is not a whole cluster file; `config apply`
// shows its differences.
func EncodeModel(c *cib.CIB) ([]byte, error) {
	var f fileConfig
	for _, n := range c.Nodes {
		f.Nodes = append(f.Nodes, fileMember{Name: n.Name, Standby: n.Standby, Maintenance: n.Maintenance, Attributes: encodeAttributes(n.Attributes),
			Utilization: encodeUtilization(n.Utilization)})
	}
	return encode(&f, c, nil)
}

// encode adds the model's tables to f and writes it.
func encode(f *fileConfig, c *cib.CIB, kept map[durationKey]any) ([]byte, error) {
	f.Properties = fileProperties{MaintenanceMode: c.Properties.MaintenanceMode, PlacementStrategy: c.Properties.PlacementStrategy}
	f.Defaults = encodeMeta(c.Defaults, kept, "")
	for _, r := range c.Resources {
		fr := fileResource{ID: r.ID, Agent: r.Agent}
		if len(r.Params) > 0 {
			fr.Params = map[string]any{}
			for k, v := range r.Params {
				fr.Params[k] = v
			}
		}
		if m := encodeMeta(r.Meta, kept, r.ID); m != (fileMeta{}) {
			fr.Meta = &m
		}
		fr.Clone = encodeClone(r.Clone, r.ID)
		fr.Utilization = encodeUtilization(r.Utilization)
		seen := map[string]int{}
		for _, o := range r.Ops {
			fo := fileOp{Name: o.Name}
			n := seen[o.Name]
			seen[o.Name]++
			if o.Interval > 0 {
				fo.Interval = duration(kept, durationKey{r.ID, o.Name, n, "interval"}, o.Interval)
			}
			if o.Timeout > 0 {
				fo.Timeout = duration(kept, durationKey{r.ID, o.Name, n, "timeout"}, o.Timeout)
			}
			fr.Ops = append(fr.Ops, fo)
		}
		f.Resources = append(f.Resources, fr)
	}
	for _, g := range c.Groups {
		fg := fileGroup{ID: g.ID, Resources: g.Resources}
		if m := encodeMeta(g.Meta, kept, g.ID); m != (fileMeta{}) {
			fg.Meta = &m
		}
		fg.Clone = encodeClone(g.Clone, g.ID)
		f.Groups = append(f.Groups, fg)
	}
	for _, o := range c.Orders {
		fo := fileOrder{ID: o.ID, First: o.First, Then: o.Then, FirstAction: string(o.FirstAction),
			ThenAction: string(o.ThenAction), Kind: string(o.Kind), Sets: encodeSets(o.Sets)}
		if o.Symmetrical != cib.DefaultSymmetrical(o.Kind) {
			s := o.Symmetrical
			fo.Symmetrical = &s
		}
		f.Orders = append(f.Orders, fo)
	}
	for _, co := range c.Colocations {
		f.Colocations = append(f.Colocations, fileColocation{ID: co.ID, Rsc: co.Rsc, With: co.With, Score: co.Score.String(), Sets: encodeSets(co.Sets),
			RscRole: co.RscRole, WithRole: co.WithRole})
	}
	for _, l := range c.Locations {
		fl := fileLocation{ID: l.ID, Rsc: l.Rsc, Node: l.Node, Score: l.Score.String(), ScoreAttribute: l.ScoreAttribute, Role: l.Role}
		if l.Rule != nil {
			fl.Rule = l.Rule.String()
		}
		if l.ScoreAttribute != "" {
			fl.Score = nil
		}
		f.Locations = append(f.Locations, fl)
	}
	for _, t := range c.Tickets {
		f.Tickets = append(f.Tickets, fileTicket{ID: t.ID, Ticket: t.Ticket, Rsc: t.Rsc, RscRole: t.RscRole, LossPolicy: t.LossPolicy, Sets: encodeSets(t.Sets)})
	}
	for _, a := range c.Alerts {
		fa := fileAlert{ID: a.ID, Path: a.Path, Webhook: a.Webhook, Description: a.Description, Meta: encodeAlertMeta(a.Meta), Select: a.Select}
		if len(a.Options) > 0 {
			fa.Options = map[string]any{}
			for k, v := range a.Options {
				fa.Options[k] = v
			}
		}
		for _, r := range a.Recipients {
			fa.Recipients = append(fa.Recipients, fileRecipient{ID: r.ID, Value: r.Value, Meta: encodeAlertMeta(r.Meta)})
		}
		f.Alerts = append(f.Alerts, fa)
	}
	var buf bytes.Buffer
	enc := toml.NewEncoder(&buf)
	enc.Indent = ""
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// encodeClone writes the clone of resource or group id, leaving out the
// default clone id.
func encodeClone(cl *cib.Clone, id string) *fileClone {
	if cl == nil {
		return nil
	}
	fc := &fileClone{Max: cl.Max, NodeMax: cl.NodeMax, Interleave: cl.Interleave, GloballyUnique: cl.GloballyUnique,
		Promotable: cl.Promotable, PromotedMax: cl.PromotedMax, PromotedNodeMax: cl.PromotedNodeMax, Notify: cl.Notify}
	if cl.ID != id+cib.CloneSuffix {
		fc.ID = cl.ID
	}
	return fc
}

func encodeAttributes(attrs map[string]string) map[string]any {
	if len(attrs) == 0 {
		return nil
	}
	out := make(map[string]any, len(attrs))
	for k, v := range attrs {
		out[k] = v
	}
	return out
}

func encodeUtilization(u map[string]int) map[string]any {
	if len(u) == 0 {
		return nil
	}
	out := make(map[string]any, len(u))
	for k, v := range u {
		out[k] = int64(v)
	}
	return out
}

func encodeSets(sets []cib.ResourceSet) []fileSet {
	var out []fileSet
	for _, s := range sets {
		out = append(out, fileSet{Resources: s.Resources, Sequential: s.Sequential, RequireAll: s.RequireAll, Action: string(s.Action), Role: s.Role})
	}
	return out
}

// omitDefault is the zero value (not written) when v is the default.
func omitDefault[T comparable](v, def T) T {
	var zero T
	if v == def {
		return zero
	}
	return v
}

func encodeMeta(m cib.Meta, kept map[durationKey]any, owner string) fileMeta {
	var f fileMeta
	score := func(p *int) any {
		if p == nil {
			return nil
		}
		if s := cib.Score(*p); s > -cib.Infinity && s < cib.Infinity {
			return int64(s)
		}
		return cib.Score(*p).String()
	}
	f.Stickiness = score(m.Stickiness)
	f.MigrationThreshold = score(m.MigrationThreshold)
	f.Priority = score(m.Priority)
	if m.FailureTimeout != nil {
		f.FailureTimeout = duration(kept, durationKey{owner: owner, field: "failure-timeout"}, *m.FailureTimeout)
	}
	f.TargetRole = m.TargetRole
	return f
}

func encodeAlertMeta(m cib.AlertMeta) *fileAlertMeta {
	if m == (cib.AlertMeta{}) {
		return nil
	}
	fm := &fileAlertMeta{TimestampFormat: m.TimestampFormat, Enabled: m.Enabled}
	if m.Timeout > 0 {
		fm.Timeout = cib.FormatDuration(m.Timeout)
	}
	return fm
}
