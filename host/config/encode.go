package config

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/policies/cib"
)

// Encode writes the bootstrap settings and a cluster model as cluster.toml
// text; parsing the output yields the same File. A default is written only
// where the value differs from it. The model's nodes must be the topology's
// (the live configuration's node list follows the members' files).
func Encode(top *bus.Topology, c *cib.CIB) ([]byte, error) {
	if a, b := top.NodeNames(), c.NodeNames(); !slices.Equal(a, b) {
		return nil, fmt.Errorf("the cluster model's nodes (%s) are not the cluster file's (%s): "+
			"the nodes of the live configuration change with `tandem config apply` once every member runs with the new file",
			strings.Join(b, ", "), strings.Join(a, ", "))
	}
	f := fileConfig{
		Cluster: fileCluster{Name: top.Cluster},
		Bus: fileBus{ClientPort: omitDefault(top.ClientPort, DefaultClientPort), ClusterPort: omitDefault(top.ClusterPort, DefaultClusterPort),
			DataDir: omitDefault(top.DataDir, DefaultDataDir), Credentials: omitDefault(top.Credentials, DefaultCredentials)},
	}
	if t := top.TLS; t != nil {
		f.Bus.TLS = &fileTLS{Dir: t.Dir, Cert: t.Cert, Key: t.Key, CA: t.CA}
	}
	member := func(m bus.Member) fileMember {
		return fileMember{Name: m.Name, Address: m.Address,
			ClientPort: omitDefault(m.ClientPort, top.ClientPort), ClusterPort: omitDefault(m.ClusterPort, top.ClusterPort)}
	}
	for _, m := range top.Nodes() {
		fm := member(m)
		n := c.Node(m.Name)
		fm.Standby, fm.Maintenance, fm.Attributes = n.Standby, n.Maintenance, encodeAttributes(n.Attributes)
		f.Nodes = append(f.Nodes, fm)
	}
	if w := top.Witness(); w != nil {
		fw := member(*w)
		f.Witness = &fw
	}
	return encode(&f, c)
}

// EncodeModel writes the cluster model alone in cluster.toml's layout: its
// nodes with their attributes only (no addresses), resources, constraints,
// defaults and properties. It is not a whole cluster file; `config apply`
// shows its differences.
func EncodeModel(c *cib.CIB) ([]byte, error) {
	var f fileConfig
	for _, n := range c.Nodes {
		f.Nodes = append(f.Nodes, fileMember{Name: n.Name, Standby: n.Standby, Maintenance: n.Maintenance, Attributes: encodeAttributes(n.Attributes)})
	}
	return encode(&f, c)
}

// encode adds the model's tables to f and writes it.
func encode(f *fileConfig, c *cib.CIB) ([]byte, error) {
	f.Properties = fileProperties{MaintenanceMode: c.Properties.MaintenanceMode}
	f.Defaults = encodeMeta(c.Defaults)
	for _, r := range c.Resources {
		fr := fileResource{ID: r.ID, Agent: r.Agent}
		if len(r.Params) > 0 {
			fr.Params = map[string]any{}
			for k, v := range r.Params {
				fr.Params[k] = v
			}
		}
		if m := encodeMeta(r.Meta); m != (fileMeta{}) {
			fr.Meta = &m
		}
		fr.Clone = encodeClone(r.Clone, r.ID)
		for _, o := range r.Ops {
			fo := fileOp{Name: o.Name}
			if o.Interval > 0 {
				fo.Interval = o.Interval.String()
			}
			if o.Timeout > 0 {
				fo.Timeout = o.Timeout.String()
			}
			fr.Ops = append(fr.Ops, fo)
		}
		f.Resources = append(f.Resources, fr)
	}
	for _, g := range c.Groups {
		fg := fileGroup{ID: g.ID, Resources: g.Resources}
		if m := encodeMeta(g.Meta); m != (fileMeta{}) {
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
	fc := &fileClone{Max: cl.Max, NodeMax: cl.NodeMax, Interleave: cl.Interleave,
		Promotable: cl.Promotable, PromotedMax: cl.PromotedMax, PromotedNodeMax: cl.PromotedNodeMax}
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

func encodeSets(sets []cib.ResourceSet) []fileSet {
	var out []fileSet
	for _, s := range sets {
		out = append(out, fileSet{Resources: s.Resources, Sequential: s.Sequential, RequireAll: s.RequireAll, Action: string(s.Action)})
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

func encodeMeta(m cib.Meta) fileMeta {
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
		f.FailureTimeout = m.FailureTimeout.String()
	}
	f.TargetRole = m.TargetRole
	return f
}
