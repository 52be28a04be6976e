package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// The cluster.toml file format. Tandem's own keys are snake_case; the names
// Pacemaker admins know (resource-stickiness, clone-max, first-action, ...)
// keep Pacemaker's spelling. Every key is documented in docs/config.md.

type fileConfig struct {
	Cluster     fileCluster      `toml:"cluster"`
	Bus         fileBus          `toml:"bus"`
	Nodes       []fileMember     `toml:"node"`
	Witness     *fileMember      `toml:"witness,omitempty,omitzero"`
	Properties  fileProperties   `toml:"properties"`
	Defaults    fileMeta         `toml:"defaults"`
	Resources   []fileResource   `toml:"resource"`
	Orders      []fileOrder      `toml:"order"`
	Colocations []fileColocation `toml:"colocation"`
	Locations   []fileLocation   `toml:"location"`
}

type fileCluster struct {
	Name string `toml:"name"`
}

type fileBus struct {
	ClientPort  int      `toml:"client_port,omitempty,omitzero"`
	ClusterPort int      `toml:"cluster_port,omitempty,omitzero"`
	DataDir     string   `toml:"data_dir,omitempty,omitzero"`
	Credentials string   `toml:"credentials,omitempty,omitzero"`
	TLS         *fileTLS `toml:"tls,omitempty,omitzero"`
}

type fileTLS struct {
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
	CA   string `toml:"ca"`
}

type fileMember struct {
	Name        string `toml:"name"`
	Address     string `toml:"address"`
	ClientPort  int    `toml:"client_port,omitempty,omitzero"`
	ClusterPort int    `toml:"cluster_port,omitempty,omitzero"`
	Standby     bool   `toml:"standby,omitempty,omitzero"`
	Maintenance bool   `toml:"maintenance,omitempty,omitzero"`
}

type fileProperties struct {
	MaintenanceMode bool `toml:"maintenance-mode,omitempty,omitzero"`
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
}

type fileOrder struct {
	ID          string `toml:"id,omitempty,omitzero"`
	First       string `toml:"first"`
	Then        string `toml:"then"`
	FirstAction string `toml:"first-action,omitempty,omitzero"`
	ThenAction  string `toml:"then-action,omitempty,omitzero"`
	Kind        string `toml:"kind,omitempty,omitzero"`
	Symmetrical *bool  `toml:"symmetrical,omitempty,omitzero"`
}

type fileColocation struct {
	ID    string `toml:"id,omitempty,omitzero"`
	Rsc   string `toml:"rsc"`
	With  string `toml:"with"`
	Score any    `toml:"score,omitempty,omitzero"`
}

type fileLocation struct {
	ID    string `toml:"id,omitempty,omitzero"`
	Rsc   string `toml:"rsc"`
	Node  string `toml:"node"`
	Score any    `toml:"score,omitempty,omitzero"`
}

// Load reads, parses and validates a cluster file. On failure the error is a
// Problems listing everything wrong, each with file:line.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading cluster configuration: %w", err)
	}
	return Parse(path, data)
}

// Parse parses and validates a cluster file's contents; name is used in
// problem locations.
func Parse(name string, data []byte) (*Config, error) {
	c, ps := decode(name, data)
	if c != nil {
		ps.list = append(ps.list, validate(c, name)...)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// decode turns TOML into a Config, recording syntax errors, unknown keys and
// values that cannot be read. It returns a nil Config only when the document
// could not be decoded at all.
func decode(name string, data []byte) (*Config, *problems) {
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
			ps.at(0, "TOML: %v", err)
		}
		return nil, ps
	}
	lines := scanKeyLines(string(data))

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
		ps.at(lines.at(path), "unknown key %q%s", plain, suggest(plain))
	}

	c := &Config{
		Cluster:    Cluster{Name: f.Cluster.Name},
		Properties: Properties{MaintenanceMode: f.Properties.MaintenanceMode},
		Bus: Bus{
			ClientPort: f.Bus.ClientPort, ClusterPort: f.Bus.ClusterPort,
			DataDir: f.Bus.DataDir, Credentials: f.Bus.Credentials,
		},
	}
	if t := f.Bus.TLS; t != nil {
		c.Bus.TLS = &TLS{Cert: t.Cert, Key: t.Key, CA: t.CA}
	}
	pos := func(path string) Pos {
		p := Pos{File: name, Line: lines.at(path), Keys: map[string]int{}}
		prefix := path + "."
		for _, k := range lines.order {
			if rest, ok := strings.CutPrefix(k, prefix); ok && !strings.ContainsAny(rest, ".[") {
				p.Keys[rest] = lines.at(k)
			}
		}
		return p
	}
	for i, n := range f.Nodes {
		c.Nodes = append(c.Nodes, Node{Name: n.Name, Address: n.Address, ClientPort: n.ClientPort,
			ClusterPort: n.ClusterPort, Standby: n.Standby, Maintenance: n.Maintenance,
			Pos: pos(fmt.Sprintf("node[%d]", i))})
	}
	if w := f.Witness; w != nil {
		p := pos("witness")
		if w.Standby || w.Maintenance {
			ps.at(p.Line, "witness %q: standby and maintenance apply to nodes only; the witness runs no resources", w.Name)
		}
		c.Witness = &Witness{Name: w.Name, Address: w.Address, ClientPort: w.ClientPort, ClusterPort: w.ClusterPort, Pos: p}
	}
	c.Defaults = decodeMeta(&f.Defaults, pos("defaults"), ps, "[defaults]")
	for i, r := range f.Resources {
		path := fmt.Sprintf("resource[%d]", i)
		p := pos(path)
		res := Resource{ID: r.ID, Agent: r.Agent, Pos: p}
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
					ps.at(lines.within(path+".params."+k), "%s: param %q: %v", what, k, err)
					continue
				}
				res.Params[k] = v
			}
		}
		if r.Meta != nil {
			res.Meta = decodeMeta(r.Meta, pos(path+".meta"), ps, what)
		}
		if cl := r.Clone; cl != nil {
			res.Clone = &Clone{ID: cl.ID, Max: cl.Max, NodeMax: cl.NodeMax, Interleave: cl.Interleave}
			if res.Clone.ID == "" {
				res.Clone.ID = r.ID + CloneSuffix
			}
		}
		for j, o := range r.Ops {
			opPath := fmt.Sprintf("%s.op[%d]", path, j)
			op := Op{Name: o.Name, Pos: pos(opPath)}
			op.Interval = decodeDuration(o.Interval, lines.within(opPath+".interval"), ps, what+" op "+o.Name+" interval")
			op.Timeout = decodeDuration(o.Timeout, lines.within(opPath+".timeout"), ps, what+" op "+o.Name+" timeout")
			res.Ops = append(res.Ops, op)
		}
		c.Resources = append(c.Resources, res)
	}
	for i, o := range f.Orders {
		p := pos(fmt.Sprintf("order[%d]", i))
		ord := Order{ID: o.ID, First: o.First, Then: o.Then, FirstAction: Action(o.FirstAction),
			ThenAction: Action(o.ThenAction), Kind: OrderKind(o.Kind), Pos: p}
		if ord.FirstAction == "" {
			ord.FirstAction = ActionStart
		}
		if ord.ThenAction == "" {
			ord.ThenAction = ord.FirstAction
		}
		if ord.Kind == "" {
			ord.Kind = Mandatory
		}
		// Pacemaker: symmetrical defaults to true, except for Serialize
		// where it has no meaning.
		ord.Symmetrical = ord.Kind != Serialize
		if o.Symmetrical != nil {
			ord.Symmetrical = *o.Symmetrical
		}
		if ord.ID == "" {
			ord.ID = DefaultOrderID(ord)
		}
		c.Orders = append(c.Orders, ord)
	}
	for i, co := range f.Colocations {
		p := pos(fmt.Sprintf("colocation[%d]", i))
		col := Colocation{ID: co.ID, Rsc: co.Rsc, With: co.With, Pos: p}
		col.Score = decodeScore(co.Score, Infinity, p.KeyLine("score"), ps, fmt.Sprintf("colocation %s with %s", co.Rsc, co.With))
		if col.ID == "" {
			col.ID = DefaultColocationID(col)
		}
		c.Colocations = append(c.Colocations, col)
	}
	for i, lo := range f.Locations {
		p := pos(fmt.Sprintf("location[%d]", i))
		loc := Location{ID: lo.ID, Rsc: lo.Rsc, Node: lo.Node, Pos: p}
		loc.Score = decodeScore(lo.Score, Infinity, p.KeyLine("score"), ps, fmt.Sprintf("location %s on %s", lo.Rsc, lo.Node))
		if loc.ID == "" {
			loc.ID = DefaultLocationID(loc)
		}
		c.Locations = append(c.Locations, loc)
	}
	return c, ps
}

// DefaultOrderID names an order constraint the way pcs does.
func DefaultOrderID(o Order) string {
	return fmt.Sprintf("order-%s-%s-%s", o.First, o.Then, strings.ToLower(string(o.Kind)))
}

// DefaultColocationID names a colocation constraint the way pcs does.
func DefaultColocationID(c Colocation) string {
	return fmt.Sprintf("colocation-%s-%s-%s", c.Rsc, c.With, c.Score)
}

// DefaultLocationID names a location constraint the way pcs does.
func DefaultLocationID(l Location) string {
	return fmt.Sprintf("location-%s-%s-%s", l.Rsc, l.Node, l.Score)
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
	"":               {"cluster", "bus", "node", "witness", "properties", "defaults", "resource", "order", "colocation", "location"},
	"cluster":        {"name"},
	"bus":            {"client_port", "cluster_port", "data_dir", "credentials", "tls"},
	"bus.tls":        {"cert", "key", "ca"},
	"node":           {"name", "address", "client_port", "cluster_port", "standby", "maintenance"},
	"witness":        {"name", "address", "client_port", "cluster_port"},
	"properties":     {"maintenance-mode"},
	"defaults":       {"resource-stickiness", "migration-threshold", "failure-timeout", "target-role", "priority"},
	"resource":       {"id", "agent", "params", "meta", "clone", "op"},
	"resource.meta":  {"resource-stickiness", "migration-threshold", "failure-timeout", "target-role", "priority"},
	"resource.clone": {"id", "clone-max", "clone-node-max", "interleave"},
	"resource.op":    {"name", "interval", "timeout"},
	"order":          {"id", "first", "then", "first-action", "then-action", "kind", "symmetrical"},
	"colocation":     {"id", "rsc", "with", "score"},
	"location":       {"id", "rsc", "node", "score"},
}

func suggest(plain string) string {
	parent, key, ok := cutLast(plain)
	if !ok {
		parent, key = "", plain
	}
	known := knownKeys[parent]
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(key), k); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
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

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
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

func decodeMeta(m *fileMeta, p Pos, ps *problems, what string) Meta {
	var out Meta
	intScore := func(v any, key string) *int {
		if v == nil {
			return nil
		}
		s := decodeScore(v, 0, p.KeyLine(key), ps, what+" "+key)
		n := int(s)
		return &n
	}
	out.Stickiness = intScore(m.Stickiness, "resource-stickiness")
	out.MigrationThreshold = intScore(m.MigrationThreshold, "migration-threshold")
	out.Priority = intScore(m.Priority, "priority")
	if m.FailureTimeout != nil {
		d := decodeDuration(m.FailureTimeout, p.KeyLine("failure-timeout"), ps, what+" failure-timeout")
		out.FailureTimeout = &d
	}
	switch m.TargetRole {
	case "", RoleStarted, RoleStopped:
		out.TargetRole = m.TargetRole
	case "started", "stopped":
		out.TargetRole = strings.ToUpper(m.TargetRole[:1]) + m.TargetRole[1:]
	default:
		ps.at(p.KeyLine("target-role"), "%s: target-role %q: must be Started or Stopped", what, m.TargetRole)
	}
	return out
}

func decodeScore(v any, def Score, line int, ps *problems, what string) Score {
	switch x := v.(type) {
	case nil:
		return def
	case int64:
		return ClampScore(x)
	case string:
		s, err := ParseScore(x)
		if err != nil {
			ps.at(line, "%s: %v", what, err)
		}
		return s
	case float64:
		if x == math.Trunc(x) && !math.IsInf(x, 0) && !math.IsNaN(x) {
			return ClampScore(int64(math.Max(math.Min(x, 2e6), -2e6)))
		}
	}
	ps.at(line, "%s: score %v is not INFINITY, -INFINITY or an integer", what, v)
	return def
}

// ParseDuration reads an interval or timeout as Pacemaker admins write them:
// Go durations ("30s", "1m30s", "500ms"), a bare number of seconds ("30"),
// or Pacemaker's "min" and "sec" suffixes ("2min").
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		if n < 0 || n > math.MaxInt64/int64(time.Second) {
			return 0, fmt.Errorf("duration %q is out of range", s)
		}
		return time.Duration(n) * time.Second, nil
	}
	t = strings.NewReplacer("mins", "m", "min", "m", "secs", "s", "sec", "s", "hr", "h").Replace(t)
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("duration %q: write it like 30s, 500ms, 2m or a number of seconds", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return d, nil
}

func decodeDuration(v any, line int, ps *problems, what string) time.Duration {
	switch x := v.(type) {
	case nil:
		return 0
	case int64:
		if x < 0 || x > math.MaxInt64/int64(time.Second) {
			ps.at(line, "%s: %d seconds is out of range", what, x)
			return 0
		}
		return time.Duration(x) * time.Second
	case string:
		d, err := ParseDuration(x)
		if err != nil {
			ps.at(line, "%s: %v", what, err)
		}
		return d
	}
	ps.at(line, "%s: %v is not a duration (write it like \"30s\")", what, v)
	return 0
}

// Encode writes a configuration as cluster.toml text. Parsing the output
// yields the same configuration.
func Encode(c *Config) ([]byte, error) {
	f := fileConfig{
		Cluster:    fileCluster{Name: c.Cluster.Name},
		Properties: fileProperties{MaintenanceMode: c.Properties.MaintenanceMode},
		Bus: fileBus{ClientPort: c.Bus.ClientPort, ClusterPort: c.Bus.ClusterPort,
			DataDir: c.Bus.DataDir, Credentials: c.Bus.Credentials},
		Defaults: encodeMeta(c.Defaults),
	}
	if t := c.Bus.TLS; t != nil {
		f.Bus.TLS = &fileTLS{Cert: t.Cert, Key: t.Key, CA: t.CA}
	}
	for _, n := range c.Nodes {
		f.Nodes = append(f.Nodes, fileMember{Name: n.Name, Address: n.Address, ClientPort: n.ClientPort,
			ClusterPort: n.ClusterPort, Standby: n.Standby, Maintenance: n.Maintenance})
	}
	if w := c.Witness; w != nil {
		f.Witness = &fileMember{Name: w.Name, Address: w.Address, ClientPort: w.ClientPort, ClusterPort: w.ClusterPort}
	}
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
		if cl := r.Clone; cl != nil {
			fr.Clone = &fileClone{Max: cl.Max, NodeMax: cl.NodeMax, Interleave: cl.Interleave}
			if cl.ID != r.ID+CloneSuffix {
				fr.Clone.ID = cl.ID
			}
		}
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
	for _, o := range c.Orders {
		fo := fileOrder{ID: o.ID, First: o.First, Then: o.Then, FirstAction: string(o.FirstAction),
			ThenAction: string(o.ThenAction), Kind: string(o.Kind)}
		if o.Symmetrical != (o.Kind != Serialize) {
			s := o.Symmetrical
			fo.Symmetrical = &s
		}
		f.Orders = append(f.Orders, fo)
	}
	for _, co := range c.Colocations {
		f.Colocations = append(f.Colocations, fileColocation{ID: co.ID, Rsc: co.Rsc, With: co.With, Score: co.Score.String()})
	}
	for _, l := range c.Locations {
		f.Locations = append(f.Locations, fileLocation{ID: l.ID, Rsc: l.Rsc, Node: l.Node, Score: l.Score.String()})
	}
	var buf bytes.Buffer
	enc := toml.NewEncoder(&buf)
	enc.Indent = ""
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func encodeMeta(m Meta) fileMeta {
	var f fileMeta
	score := func(p *int) any {
		if p == nil {
			return nil
		}
		if s := Score(*p); s > -Infinity && s < Infinity {
			return int64(s)
		}
		return Score(*p).String()
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
