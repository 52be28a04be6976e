// Package cibimport turns a Pacemaker CIB (the XML that `pcs cluster cib`
// or `cibadmin --query` prints) into Tandem's cluster model: nodes and their
// attributes, primitives (ocf and systemd agents) with their parameters,
// operations and meta attributes, groups, clones and promotable clones,
// order, colocation and location constraints (with resource sets and rules),
// resource and operation defaults and the cluster properties Tandem has.
//
// Whatever the model cannot express is never dropped silently: it is listed
// as a Skipped item naming the CIB element, its id and line, and why
// (fencing devices: Tandem fences with leases; date rules; lsb agents; ...).
// What is imported with a difference an admin should know is a Note.
//
// The XML is read within fixed limits (size, depth, attribute length), and a
// DOCTYPE, which could declare expanding entities, is refused. The package
// does no I/O of its own: the CLI reads the file and writes cluster.toml
// with host/config.
package cibimport

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/policies/cib"
)

// Item is one CIB element (or one attribute of it) and what became of it.
type Item struct {
	Element string // the XML element: primitive, nvpair, rsc_location, ...
	ID      string // its id attribute ("" when it has none)
	Line    int
	Why     string
}

func (i Item) String() string {
	if i.ID == "" {
		return fmt.Sprintf("line %d: %s: %s", i.Line, i.Element, i.Why)
	}
	return fmt.Sprintf("line %d: %s %q: %s", i.Line, i.Element, i.ID, i.Why)
}

// Result is an imported CIB.
type Result struct {
	CIB *cib.CIB
	// ClusterName is the cluster-name property ("" when the CIB has none).
	ClusterName string
	// Schema is the CIB's validate-with, e.g. "pacemaker-3.9".
	Schema string
	// Skipped lists what was not imported, and why.
	Skipped []Item
	// Notes lists what was imported with a difference.
	Notes []Item
}

// Parse reads a CIB from r (name is used in errors) and converts it. The
// error matches ErrInput when the document is refused (not well formed,
// over a limit, not a CIB, another schema version).
func Parse(name string, r io.Reader) (*Result, error) {
	root, err := parseTree(name, r)
	if err != nil {
		return nil, err
	}
	if root.name != "cib" {
		return nil, inputError(name, "line %d: the root element is <%s>, not <cib>: give the whole CIB (pcs cluster cib FILE, or cibadmin --query)", root.line, root.name)
	}
	schema := root.attr("validate-with")
	if err := checkSchema(schema); err != nil {
		return nil, inputError(name, "line %d: <cib validate-with=%q>: %v", root.line, schema, err)
	}
	conf := root.child("configuration")
	if conf == nil {
		return nil, inputError(name, "line %d: <cib> has no <configuration> element", root.line)
	}
	im := &importer{res: &Result{CIB: &cib.CIB{}, Schema: schema}, dropped: map[string]string{}, constraintElem: map[string]*elem{}, cloneElem: map[string]*elem{}, nodeIDs: map[string]string{}}
	im.c = im.res.CIB
	if err := im.configuration(conf); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	byLine := func(a, b Item) int { return a.Line - b.Line }
	slices.SortStableFunc(im.res.Skipped, byLine)
	slices.SortStableFunc(im.res.Notes, byLine)
	return im.res, nil
}

// checkSchema accepts the schemas of Pacemaker 2.0 and later (pacemaker-3.x)
// and of Pacemaker 3 (pacemaker-4.x), which this importer reads.
func checkSchema(v string) error {
	major, minor, ok := strings.Cut(strings.TrimPrefix(v, "pacemaker-"), ".")
	maj, err1 := strconv.Atoi(major)
	_, err2 := strconv.Atoi(minor)
	switch {
	case v == "":
		return fmt.Errorf("no schema version; a CIB of Pacemaker 2.0 or later says validate-with=\"pacemaker-3.x\"")
	case !strings.HasPrefix(v, "pacemaker-") || !ok || err1 != nil || err2 != nil:
		return fmt.Errorf("not a released Pacemaker schema; this importer reads pacemaker-3.x and pacemaker-4.x (upgrade the CIB on the cluster: cibadmin --upgrade --force)")
	case maj < 3:
		return fmt.Errorf("a schema older than Pacemaker 2.0; this importer reads pacemaker-3.x and pacemaker-4.x: upgrade the CIB first (on the cluster: cibadmin --upgrade --force; offline: CIB_file=FILE cibadmin --upgrade --force)")
	case maj > 4:
		return fmt.Errorf("a schema newer than this importer knows (pacemaker-3.x and pacemaker-4.x)")
	}
	return nil
}

type importer struct {
	res *Result
	c   *cib.CIB
	// dropped is every resource, group or clone id not imported, with why:
	// the constraints that name one are not imported either.
	dropped map[string]string
	// opDefaults are op_defaults' name=value pairs.
	opDefaults map[string]string
	// constraintElem is the element each imported constraint came from.
	constraintElem map[string]*elem
	// cloneElem is the element of each clone.
	cloneElem map[string]*elem
	// nodeIDs maps the CIB's node ids to the node names: Tandem's #id is
	// the name.
	nodeIDs map[string]string
}

func (im *importer) skip(e *elem, format string, args ...any) {
	im.res.Skipped = append(im.res.Skipped, Item{Element: e.name, ID: e.attr("id"), Line: e.line, Why: fmt.Sprintf(format, args...)})
}

func (im *importer) note(e *elem, format string, args ...any) {
	im.res.Notes = append(im.res.Notes, Item{Element: e.name, ID: e.attr("id"), Line: e.line, Why: fmt.Sprintf(format, args...)})
}

func (im *importer) configuration(conf *elem) error {
	// Defaults first: op_defaults fill the ops' timeouts.
	for _, name := range []string{"crm_config", "nodes", "rsc_defaults", "op_defaults", "resources", "constraints"} {
		for _, e := range conf.children(name) {
			switch name {
			case "crm_config":
				im.properties(e)
			case "nodes":
				im.nodes(e)
			case "rsc_defaults":
				im.rscDefaults(e)
			case "op_defaults":
				im.opDefaultsOf(e)
			case "resources":
				im.resources(e)
			case "constraints":
				im.constraints(e)
			}
		}
	}
	for _, e := range conf.kids {
		switch e.name {
		case "crm_config", "nodes", "rsc_defaults", "op_defaults", "resources", "constraints":
		case "fencing-topology":
			im.skip(e, "fencing levels: Tandem fences with leases (docs/leases.md), it needs no fencing devices")
		case "tags":
			im.skip(e, "tags are not supported: constraints name resources, groups or clones")
		case "acls":
			im.skip(e, "ACLs are not supported: the bus's credentials and TLS certificates decide who may change the cluster (docs/security.md)")
		case "alerts":
			im.skip(e, "alerts are not supported: follow `tandem events` or the metrics (docs/metrics.md)")
		default:
			im.skip(e, "not a configuration section this importer knows")
		}
	}
	im.fitClones()
	return im.check()
}

// fitClones brings clone counts within what the nodes can run, as
// Tandem's model requires; Pacemaker leaves the instances beyond them
// stopped, so placement is the same. A cloned group with clone-node-max
// above 1 cannot be expressed.
func (im *importer) fitClones() {
	n := len(im.c.Nodes)
	fit := func(cl *cib.Clone, group bool) {
		e := im.cloneElem[cl.ID]
		if e == nil {
			e = &elem{name: "clone"}
		}
		if group && cl.NodeMax > 1 {
			im.skip(e, "clone-node-max %d: a cloned group runs one copy per node in Tandem (imported with clone-node-max 1)", cl.NodeMax)
			cl.NodeMax = 0
		}
		if cl.NodeMax > n && n > 0 {
			im.note(e, "clone-node-max %d is more than the %d node(s): written as %d", cl.NodeMax, n, n)
			cl.NodeMax = n
		}
		if most := n * max(cl.NodeMax, 1); cl.Max > most && n > 0 {
			im.note(e, "clone-max %d is more than the %d instance(s) %d node(s) can run: written as %d (Pacemaker leaves the others stopped; raise it when nodes are added)", cl.Max, most, n, most)
			cl.Max = most
		}
		if !cl.Promotable {
			if cl.PromotedMax != 0 || cl.PromotedNodeMax != 0 {
				im.note(e, "promoted-max/promoted-node-max on a clone that is not promotable: left out (Pacemaker ignores them too)")
				cl.PromotedMax, cl.PromotedNodeMax = 0, 0
			}
			return
		}
		if cl.PromotedNodeMax > max(cl.NodeMax, 1) {
			im.note(e, "promoted-node-max %d is more than clone-node-max %d: written as %d", cl.PromotedNodeMax, max(cl.NodeMax, 1), max(cl.NodeMax, 1))
			cl.PromotedNodeMax = max(cl.NodeMax, 1)
		}
		if cl.Max > 0 && cl.PromotedMax > cl.Max {
			im.note(e, "promoted-max %d is more than clone-max %d: written as %d", cl.PromotedMax, cl.Max, cl.Max)
			cl.PromotedMax = cl.Max
		}
	}
	for i := range im.c.Resources {
		if cl := im.c.Resources[i].Clone; cl != nil {
			fit(cl, false)
		}
	}
	for i := range im.c.Groups {
		if cl := im.c.Groups[i].Clone; cl != nil {
			fit(cl, true)
		}
	}
}

// extras lists, as not imported, the attributes of e other than attrs and
// its child elements other than kids: nothing of a CIB goes unmentioned.
func (im *importer) extras(e *elem, attrs, kids []string) {
	for _, a := range e.attrs {
		if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" || slices.Contains(attrs, a.Name.Local) {
			continue
		}
		im.skip(e, "attribute %s=%q is not supported (imported without it)", a.Name.Local, a.Value)
	}
	for _, k := range e.kids {
		if !slices.Contains(kids, k.name) {
			im.skip(k, "a <%s> in a <%s> is not supported", k.name, e.name)
		}
	}
}

// nvpair is one name=value of an attribute set, with its element.
type nvpair struct {
	name, value string
	e           *elem
}

// pairs reads the name=value pairs of the attribute sets of e called set
// (instance_attributes, meta_attributes, cluster_property_set), in document
// order; the first set that names a key wins, as between sets of equal
// score in Pacemaker. Sets with rules or references are skipped.
func (im *importer) pairs(e *elem, set string) []nvpair {
	var out []nvpair
	seen := map[string]*elem{}
	for _, s := range e.children(set) {
		switch {
		case s.has("id-ref"):
			im.skip(s, "references to other attribute sets (id-ref) are not supported: copy the values in")
			continue
		case s.child("rule") != nil:
			im.skip(s, "attribute sets chosen by rules are not supported: the values would differ by node or time")
			continue
		}
		for _, nv := range s.kids {
			if nv.name != "nvpair" {
				im.skip(nv, "not an nvpair")
				continue
			}
			name := nv.attr("name")
			switch {
			case nv.has("id-ref"):
				im.skip(nv, "references to other nvpairs (id-ref) are not supported: copy the value in")
				continue
			case name == "":
				im.skip(nv, "an nvpair without a name")
				continue
			case seen[name] != nil:
				im.note(nv, "%s=%q is set again here; the first set's value (line %d) is kept", name, nv.attr("value"), seen[name].line)
				continue
			}
			seen[name] = nv
			out = append(out, nvpair{name: name, value: nv.attr("value"), e: nv})
		}
	}
	return out
}

// bookkeeping are the properties Pacemaker writes itself.
var bookkeeping = []string{"dc-version", "cluster-infrastructure", "have-watchdog", "last-lrm-refresh", "cluster-recheck-interval", "dc-deadtime", "election-timeout", "shutdown-escalation", "join-integration-timeout", "join-finalization-timeout"}

func (im *importer) properties(sec *elem) {
	im.extras(sec, nil, []string{"cluster_property_set"})
	for _, p := range im.pairs(sec, "cluster_property_set") {
		switch p.name {
		case "cluster-name":
			im.res.ClusterName = p.value
		case "maintenance-mode":
			b, ok := parseBool(p.value)
			if !ok {
				im.skip(p.e, "maintenance-mode=%q is not a boolean", p.value)
				continue
			}
			im.c.Properties.MaintenanceMode = b
		case "stonith-enabled", "fencing-enabled":
			im.note(p.e, "%s=%s: Tandem fences with leases (docs/leases.md): a node that loses the bus majority stops its singletons before another node may start them; no fencing device is needed", p.name, p.value)
		case "no-quorum-policy":
			if p.value != "stop" {
				im.skip(p.e, "no-quorum-policy=%s: Tandem always stops: a node without the bus majority loses its leases and stops its singletons", p.value)
			}
		case "symmetric-cluster":
			if b, ok := parseBool(p.value); !ok || !b {
				im.skip(p.e, "symmetric-cluster=%s: Tandem clusters are symmetric (a resource may run on every node unless a location says not); add -INFINITY locations instead", p.value)
			}
		case "default-resource-stickiness":
			if im.c.Defaults.Stickiness == nil {
				if err := cib.SetMeta(&im.c.Defaults, "resource-stickiness", p.value); err != nil {
					im.skip(p.e, "%v", err)
				}
			}
		default:
			switch {
			case slices.Contains(bookkeeping, p.name):
				im.note(p.e, "%s: Pacemaker's own setting, nothing to import", p.name)
			case strings.HasPrefix(p.name, "stonith-") || strings.Contains(p.name, "fenc"):
				im.skip(p.e, "%s: Tandem fences with leases (docs/leases.md), it has no fencing settings", p.name)
			default:
				im.skip(p.e, "%s=%s: Tandem has no such property (its properties: %s)", p.name, p.value, strings.Join(cib.PropertyKeys, ", "))
			}
		}
	}
}

func parseBool(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "true", "on", "yes", "y", "1":
		return true, true
	case "false", "off", "no", "n", "0":
		return false, true
	}
	return false, false
}

func (im *importer) nodes(sec *elem) {
	for _, e := range sec.kids {
		if e.name != "node" {
			im.skip(e, "not a node")
			continue
		}
		name := e.attr("uname")
		switch t := e.attr("type"); {
		case name == "":
			im.skip(e, "a node without uname")
			continue
		case t != "" && t != "member" && t != "normal":
			im.skip(e, "node type %q: Tandem runs resources on full members only (no remote or ping nodes)", t)
			continue
		case im.c.Node(name) != nil:
			im.skip(e, "node %q is listed twice", name)
			continue
		}
		im.extras(e, []string{"id", "uname", "type", "description", "score"}, []string{"instance_attributes", "utilization"})
		n := cib.Node{Name: name}
		for _, p := range im.pairs(e, "instance_attributes") {
			switch p.name {
			case "standby", "maintenance":
				b, ok := parseBool(p.value)
				if !ok {
					im.skip(p.e, "%s=%q is not a boolean", p.name, p.value)
					continue
				}
				if p.name == "standby" {
					n.Standby = b
				} else {
					n.Maintenance = b
				}
			default:
				if strings.HasPrefix(p.name, "#") {
					im.skip(p.e, "node attribute %s: names starting with # are the cluster's own (#uname, #id, #kind; Pacemaker's #health-*)", p.name)
					continue
				}
				if n.Attributes == nil {
					n.Attributes = map[string]string{}
				}
				n.Attributes[p.name] = p.value
			}
		}
		for _, u := range e.children("utilization") {
			im.skip(u, "utilization is not supported: Tandem places by scores, not capacities")
		}
		if id := e.attr("id"); id != "" {
			im.nodeIDs[id] = name
		}
		im.c.Nodes = append(im.c.Nodes, n)
	}
}

func (im *importer) rscDefaults(sec *elem) {
	im.extras(sec, nil, []string{"meta_attributes"})
	for _, p := range im.pairs(sec, "meta_attributes") {
		im.metaPair(p, &im.c.Defaults)
	}
}

func (im *importer) opDefaultsOf(sec *elem) {
	im.extras(sec, nil, []string{"meta_attributes"})
	for _, p := range im.pairs(sec, "meta_attributes") {
		switch p.name {
		case "timeout":
			if _, err := cib.ParseDuration(p.value); err != nil {
				im.skip(p.e, "op_defaults timeout: %v", err)
				continue
			}
			if im.opDefaults == nil {
				im.opDefaults = map[string]string{}
			}
			im.opDefaults["timeout"] = p.value
			im.note(p.e, "op_defaults timeout=%s is written into every op that has no timeout of its own (Tandem has no op defaults)", p.value)
		default:
			im.skip(p.e, "op_defaults %s: Tandem's ops take interval and timeout only", p.name)
		}
	}
}

// metaPair sets one meta attribute on m.
func (im *importer) metaPair(p nvpair, m *cib.Meta) {
	switch p.name {
	case "target-role":
		switch strings.ToLower(p.value) {
		case "promoted", "master":
			im.note(p.e, "target-role=%s: Started, under which a promotable clone is promoted as usual", p.value)
			return
		case "unpromoted", "slave":
			im.skip(p.e, "target-role=%s (never promote) is not supported: add a -INFINITY location with role Promoted instead", p.value)
			return
		}
	case "is-managed", "maintenance":
		b, ok := parseBool(p.value)
		if (p.name == "is-managed" && ok && b) || (p.name == "maintenance" && ok && !b) {
			return
		}
		im.skip(p.e, "%s=%s: unmanaged resources are not supported; use node maintenance or the maintenance-mode property", p.name, p.value)
		return
	case "resource-stickiness", "migration-threshold", "failure-timeout", "priority":
	case "notify":
		im.skip(p.e, "notify=%s: clone notifications are not bridged (docs/ocf.md)", p.value)
		return
	case "globally-unique":
		if b, ok := parseBool(p.value); ok && !b {
			return
		}
		im.skip(p.e, "globally-unique=%s: Tandem's clone instances are anonymous (imported as an anonymous clone)", p.value)
		return
	default:
		im.skip(p.e, "meta attribute %s: Tandem's meta attributes are %s", p.name, strings.Join(cib.MetaKeys, ", "))
		return
	}
	if err := cib.SetMeta(m, p.name, p.value); err != nil {
		im.skip(p.e, "%v", err)
	}
}

// cloneKeys maps the clone meta attributes (with their pre-2.0 names) to
// cib's clone options.
var cloneKeys = map[string]string{
	"clone-max": "clone-max", "clone-node-max": "clone-node-max", "interleave": "interleave", "promotable": "promotable",
	"promoted-max": "promoted-max", "promoted-node-max": "promoted-node-max", "master-max": "promoted-max", "master-node-max": "promoted-node-max",
}

func (im *importer) resources(sec *elem) {
	for _, e := range sec.kids {
		switch e.name {
		case "primitive":
			im.primitive(e, nil, nil)
		case "group":
			im.group(e, nil, nil)
		case "clone":
			im.clone(e, false)
		case "master":
			im.clone(e, true)
		case "bundle":
			im.drop(e, "bundles (containers) are not supported: run the container from a systemd unit and use systemd:UNIT")
		case "template":
			im.drop(e, "resource templates are not supported: write the agent into each primitive")
		default:
			im.drop(e, "not a resource element this importer knows")
		}
	}
}

// drop skips resource element e and remembers its id (and its children's)
// so that constraints naming them are skipped too.
func (im *importer) drop(e *elem, format string, args ...any) {
	why := fmt.Sprintf(format, args...)
	im.skip(e, "%s", why)
	var mark func(x *elem)
	mark = func(x *elem) {
		if id := x.attr("id"); id != "" && (x.name == "primitive" || x.name == "group" || x.name == "clone" || x.name == "master" || x.name == "bundle" || x.name == "template") {
			im.dropped[id] = fmt.Sprintf("%s %q was not imported (line %d)", e.name, e.attr("id"), e.line)
		}
		for _, k := range x.kids {
			mark(k)
		}
	}
	mark(e)
}

// agentOf is the Tandem agent of a primitive, or why there is none.
func agentOf(e *elem) (string, string) {
	class, provider, typ := e.attr("class"), e.attr("provider"), e.attr("type")
	switch class {
	case "ocf":
		if provider == "pacemaker" && typ == "remote" {
			return "", "Pacemaker Remote connections are not supported: Tandem runs resources on full members"
		}
		return "ocf:" + provider + ":" + typ, ""
	case "systemd":
		return "systemd:" + strings.TrimSuffix(typ, ".service"), ""
	case "stonith":
		return "", fmt.Sprintf("fencing device stonith:%s: Tandem fences with leases (docs/leases.md): a node that loses the bus majority stops its singletons before another node may start them, so no fencing device is needed", typ)
	case "lsb", "service", "upstart":
		return "", fmt.Sprintf("%s:%s agents are not bridged: on a systemd host use systemd:%s (systemd runs /etc/init.d scripts as units)", class, typ, typ)
	case "":
		return "", "a primitive without a class"
	}
	return "", fmt.Sprintf("%s agents are not supported (Tandem runs ocf and systemd agents and its own plugins)", class)
}

// primitive imports e, in clone cl (nil: none) whose meta attributes are
// inherited (a clone's meta attributes are its children's defaults).
func (im *importer) primitive(e *elem, cl *cib.Clone, inherited []nvpair) bool {
	id := e.attr("id")
	if e.has("template") {
		im.drop(e, "primitive from template %q: resource templates are not supported", e.attr("template"))
		return false
	}
	agent, why := agentOf(e)
	if why != "" {
		im.drop(e, "%s", why)
		return false
	}
	im.extras(e, []string{"id", "class", "provider", "type", "description"}, []string{"instance_attributes", "meta_attributes", "operations", "utilization"})
	spec := cib.ResourceSpec{Params: map[string]string{}, Clone: cl}
	for _, p := range im.pairs(e, "instance_attributes") {
		spec.Params[p.name] = p.value
	}
	for _, u := range e.children("utilization") {
		im.skip(u, "utilization is not supported: Tandem places by scores, not capacities")
	}
	var meta cib.Meta
	own := im.pairs(e, "meta_attributes")
	for _, p := range inherited {
		if !slices.ContainsFunc(own, func(o nvpair) bool { return o.name == p.name }) {
			im.metaPair(p, &meta)
		}
	}
	for _, p := range own {
		im.metaPair(p, &meta)
	}
	if ops := e.child("operations"); ops != nil {
		spec.Ops = im.ops(ops)
	}
	r, err := im.c.AddResource(id, agent, spec)
	if err != nil {
		im.drop(e, "%v", err)
		return false
	}
	r.Meta = meta
	return true
}

// opAttrs are the op attributes imported or deliberately left out.
var opAttrs = []string{"id", "name", "interval", "timeout", "role", "on-fail", "enabled", "description"}

func (im *importer) ops(sec *elem) []cib.Op {
	if sec.has("id-ref") {
		im.skip(sec, "references to other operations (id-ref) are not supported: copy the ops in")
		return nil
	}
	var out []cib.Op
	for _, e := range sec.kids {
		if e.name != "op" {
			im.skip(e, "not an op")
			continue
		}
		name := e.attr("name")
		if !slices.Contains(cib.OpNames, name) {
			im.skip(e, "op %s: Tandem runs %s%s", name, strings.Join(cib.OpNames, ", "), cib.DidYouMean(name, cib.OpNames))
			continue
		}
		if b, ok := parseBool(e.attr("enabled")); ok && !b {
			im.skip(e, "a disabled op (enabled=false): not imported")
			continue
		}
		interval, err := cib.ParseDuration(orDefault(e.attr("interval"), "0"))
		if err != nil {
			im.skip(e, "op %s interval: %v", name, err)
			continue
		}
		if name == "monitor" && interval == 0 {
			im.note(e, "a monitor with interval 0 (the probe): Tandem probes every resource itself")
			continue
		}
		if name != "monitor" {
			interval = 0
		}
		if role := e.attr("role"); role != "" && name == "monitor" {
			im.skip(e, "monitor for role %s: Tandem monitors every instance of a clone with one op, whatever its role", role)
			continue
		}
		timeout := e.attr("timeout")
		if timeout == "" && im.opDefaults["timeout"] != "" {
			timeout = im.opDefaults["timeout"]
		}
		var to time.Duration
		if timeout != "" {
			if to, err = cib.ParseDuration(timeout); err != nil {
				im.skip(e, "op %s timeout: %v", name, err)
				continue
			}
		}
		if of := e.attr("on-fail"); of != "" && of != "restart" {
			im.skip(e, "on-fail=%s: Tandem restarts a failed resource, and moves it after migration-threshold failures (imported without on-fail)", of)
		}
		for _, a := range e.attrs {
			if !slices.Contains(opAttrs, a.Name.Local) {
				im.skip(e, "op attribute %s=%s is not supported (imported without it)", a.Name.Local, a.Value)
			}
		}
		for _, k := range e.kids {
			im.skip(k, "op %s's %s (e.g. OCF_CHECK_LEVEL) are not supported (imported without them)", name, k.name)
		}
		if slices.ContainsFunc(out, func(o cib.Op) bool { return o.Name == name }) {
			im.skip(e, "a second %s op: Tandem runs one op of each name", name)
			continue
		}
		out = append(out, cib.Op{Name: name, Interval: interval, Timeout: to})
	}
	return out
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// clone imports a clone (or, master, the pre-2.0 promotable clone) of a
// primitive or a group.
func (im *importer) clone(e *elem, master bool) {
	id := e.attr("id")
	cl := &cib.Clone{ID: id, Promotable: master}
	im.cloneElem[id] = e
	if master {
		im.note(e, "<master> is the pre-2.0 promotable clone: imported as a promotable clone")
	}
	var inherited []nvpair
	for _, p := range im.pairs(e, "meta_attributes") {
		if opt, ok := cloneKeys[p.name]; ok {
			v := p.value
			if opt == "interleave" || opt == "promotable" {
				if b, ok := parseBool(v); ok {
					v = strconv.FormatBool(b)
				}
			}
			if err := cib.SetCloneOption(cl, opt, v); err != nil {
				im.skip(p.e, "%v", err)
			}
			continue
		}
		switch p.name {
		case "ordered":
			if b, ok := parseBool(p.value); !ok || b {
				im.skip(p.e, "ordered=%s: Tandem starts clone instances in parallel", p.value)
			}
			continue
		case "globally-unique", "notify":
			im.metaPair(p, &cib.Meta{})
			continue
		}
		inherited = append(inherited, p)
	}
	var kids []*elem
	for _, k := range e.kids {
		if k.name == "primitive" || k.name == "group" {
			kids = append(kids, k)
		} else if k.name != "meta_attributes" {
			im.skip(k, "not part of a clone")
		}
	}
	if len(kids) != 1 {
		im.drop(e, "a clone holds one primitive or group, this one %d", len(kids))
		return
	}
	var ok bool
	if kids[0].name == "primitive" {
		ok = im.primitive(kids[0], cl, inherited)
	} else {
		if cl.Promotable {
			im.drop(e, "a promotable clone of a group is not supported: make the group's promotable member a promotable clone of its own")
			return
		}
		ok = im.group(kids[0], cl, inherited)
	}
	if !ok {
		im.dropped[id] = fmt.Sprintf("its %s %q was not imported", kids[0].name, kids[0].attr("id"))
	}
}

// group imports a group, in clone cl (nil: none).
func (im *importer) group(e *elem, cl *cib.Clone, inherited []nvpair) bool {
	id := e.attr("id")
	var members []string
	var meta cib.Meta
	own := im.pairs(e, "meta_attributes")
	for _, p := range inherited {
		if !slices.ContainsFunc(own, func(o nvpair) bool { return o.name == p.name }) {
			im.metaPair(p, &meta)
		}
	}
	for _, p := range own {
		im.metaPair(p, &meta)
	}
	for _, k := range e.kids {
		switch k.name {
		case "meta_attributes", "instance_attributes":
			if k.name == "instance_attributes" {
				im.skip(k, "a group's instance attributes are not supported: set the parameters on its primitives")
			}
		case "primitive":
			if im.primitive(k, nil, nil) {
				members = append(members, k.attr("id"))
			} else {
				im.note(k, "group %q goes on without it", id)
			}
		default:
			im.skip(k, "not part of a group")
		}
	}
	if len(members) == 0 {
		im.drop(e, "no member of the group was imported")
		return false
	}
	if _, err := im.c.GroupAdd(id, members, cib.GroupPosition{}); err != nil {
		im.drop(e, "%v", err)
		for _, m := range members {
			_, _ = im.c.DeleteResource(m)
		}
		return false
	}
	g, _ := im.c.Group(id)
	g.Meta = meta
	if cl != nil {
		c := *cl
		g.Clone = &c
	}
	return true
}

// ref resolves a constraint's reference to a resource, group or clone: ""
// and a skip when it names something not imported.
func (im *importer) ref(e *elem, id string) (string, bool) {
	if why, ok := im.dropped[id]; ok {
		im.skip(e, "names %q: %s", id, why)
		return "", false
	}
	if id == "" {
		im.skip(e, "names no resource")
		return "", false
	}
	return id, true
}

func (im *importer) constraints(sec *elem) {
	for _, e := range sec.kids {
		switch e.name {
		case "rsc_location":
			im.location(e)
		case "rsc_colocation":
			im.colocation(e)
		case "rsc_order":
			im.order(e)
		case "rsc_ticket":
			im.skip(e, "tickets (multi-site clusters with booth) are not supported")
		default:
			im.skip(e, "not a constraint this importer knows")
		}
	}
}

func (im *importer) score(e *elem, attr string, def cib.Score) (cib.Score, bool) {
	v := e.attr(attr)
	if v == "" {
		return def, true
	}
	s, err := cib.ParseScore(v)
	if err != nil {
		im.skip(e, "%s: %v", attr, err)
		return 0, false
	}
	return s, true
}

func (im *importer) location(e *elem) {
	id := e.attr("id")
	im.extras(e, []string{"id", "rsc", "rsc-pattern", "node", "score", "role", "resource-discovery"}, []string{"rule", "resource_set"})
	switch {
	case e.has("rsc-pattern"):
		im.skip(e, "rsc-pattern (a regular expression over resource ids) is not supported: write one location per resource")
		return
	case e.child("resource_set") != nil:
		im.skip(e, "a location over resource sets is not supported: write one location per resource")
		return
	}
	rsc, ok := im.ref(e, e.attr("rsc"))
	if !ok {
		return
	}
	if rd := e.attr("resource-discovery"); rd != "" && rd != "always" {
		im.skip(e, "resource-discovery=%s: Tandem probes every resource on every node", rd)
	}
	role := ""
	if r := e.attr("role"); r != "" {
		var err error
		if role, err = cib.ParseConstraintRole(r); err != nil {
			im.skip(e, "%v", err)
			return
		}
	}
	rules := e.children("rule")
	if len(rules) == 0 {
		node := e.attr("node")
		if node == "" {
			im.skip(e, "a location with neither node nor rule")
			return
		}
		s, ok := im.score(e, "score", cib.Infinity)
		if !ok {
			return
		}
		im.addConstraint(e, id, func() error {
			return im.c.SetLocation(cib.Location{ID: id, Rsc: rsc, Node: node, Score: s, Role: role})
		})
		return
	}
	for i, re := range rules {
		lid := id
		if len(rules) > 1 {
			lid = fmt.Sprintf("%s-%d", id, i)
		}
		rule, why := im.rule(re, 0)
		if why != "" {
			im.skip(re, "location %s: %s", id, why)
			continue
		}
		l := cib.Location{ID: lid, Rsc: rsc, Rule: rule, Role: role}
		if r := re.attr("role"); r != "" {
			var err error
			if l.Role, err = cib.ParseConstraintRole(r); err != nil {
				im.skip(re, "%v", err)
				continue
			}
		}
		if sa := re.attr("score-attribute"); sa != "" {
			l.ScoreAttribute = sa
		} else {
			s, ok := im.score(re, "score", cib.Infinity)
			if !ok {
				continue
			}
			l.Score = s
		}
		if len(rules) > 1 {
			im.note(re, "rule %d of location %s becomes location %s (Tandem's locations take one rule each)", i+1, id, lid)
		}
		im.addConstraint(re, lid, func() error { return im.c.SetLocation(l) })
	}
}

// rule converts a <rule>: "" or why it cannot be.
func (im *importer) rule(e *elem, depth int) (*cib.Rule, string) {
	if e.has("id-ref") {
		return nil, "references to other rules (id-ref) are not supported"
	}
	r := &cib.Rule{}
	switch op := strings.ToLower(e.attr("boolean-op")); op {
	case "", "and":
	case "or":
		r.BooleanOp = "or"
	default:
		return nil, fmt.Sprintf("boolean-op %q is not and or or", op)
	}
	for _, k := range e.kids {
		switch k.name {
		case "expression":
			x := cib.Expression{Attribute: k.attr("attribute"), Operation: k.attr("operation"), Value: k.attr("value"), Type: k.attr("type")}
			switch {
			case k.attr("value-source") != "" && k.attr("value-source") != "literal":
				return nil, fmt.Sprintf("expression %q: value-source=%s (values from resource parameters) is not supported", k.attr("id"), k.attr("value-source"))
			case !slices.Contains(cib.RuleComparisons, x.Operation) && !slices.Contains(cib.RuleUnary, x.Operation):
				return nil, fmt.Sprintf("expression %q: operation %q is not supported (%s, %s)", k.attr("id"), x.Operation, strings.Join(cib.RuleComparisons, ", "), strings.Join(cib.RuleUnary, ", "))
			case x.Type != "" && !slices.Contains(cib.RuleTypes, x.Type):
				return nil, fmt.Sprintf("expression %q: type %q is not supported (%s)", k.attr("id"), x.Type, strings.Join(cib.RuleTypes, ", "))
			case x.Attribute == "" || strings.ContainsAny(x.Attribute+x.Value, " \t()"):
				return nil, fmt.Sprintf("expression %q: an attribute or value that is empty or holds spaces or parentheses cannot be written as a Tandem rule", k.attr("id"))
			}
			if strings.HasPrefix(x.Attribute, "#") && !slices.Contains([]string{cib.AttrUname, cib.AttrID, cib.AttrKind}, x.Attribute) {
				return nil, fmt.Sprintf("expression %q: node attribute %s is Pacemaker's own; Tandem's built-in attributes are #uname, #id and #kind", k.attr("id"), x.Attribute)
			}
			if x.Attribute == cib.AttrID {
				// Pacemaker's node ids are corosync's; Tandem's #id is the
				// node's name.
				name, ok := im.nodeIDs[x.Value]
				if !ok || (x.Operation != "eq" && x.Operation != "ne") {
					return nil, fmt.Sprintf("expression %q: #id %s %s: Tandem's node ids are the node names; only #id eq/ne a node id of this CIB can be converted", k.attr("id"), x.Operation, x.Value)
				}
				x.Attribute, x.Value = cib.AttrUname, name
			}
			if x.Type == "string" {
				x.Type = "" // the default
			}
			if slices.Contains(cib.RuleUnary, x.Operation) {
				x.Value = ""
			}
			r.Expressions = append(r.Expressions, x)
		case "rule":
			sub, why := im.rule(k, depth+1)
			if why != "" {
				return nil, why
			}
			r.Rules = append(r.Rules, *sub)
		case "date_expression":
			return nil, fmt.Sprintf("date_expression %q: date and time rules are not supported; location rules test node attributes", k.attr("id"))
		default:
			return nil, fmt.Sprintf("%s %q is not supported in a location rule", k.name, k.attr("id"))
		}
	}
	if len(r.Expressions)+len(r.Rules) == 0 {
		return nil, "an empty rule"
	}
	return r, ""
}

// addConstraint adds one constraint through add, remembering its element;
// a refusal (such as a taken id) is a skip.
func (im *importer) addConstraint(e *elem, id string, add func() error) {
	if err := add(); err != nil {
		im.skip(e, "%v", err)
		return
	}
	im.constraintElem[id] = e
}

// sets reads the resource_sets of an order or colocation.
func (im *importer) sets(e *elem, forOrder bool) ([]cib.ResourceSet, bool) {
	var out []cib.ResourceSet
	for _, se := range e.children("resource_set") {
		if se.has("id-ref") {
			im.skip(e, "resource set %q: references to other sets (id-ref) are not supported", se.attr("id-ref"))
			return nil, false
		}
		var s cib.ResourceSet
		for _, a := range se.attrs {
			switch k, v := a.Name.Local, a.Value; k {
			case "id":
			case "sequential", "require-all", "action":
				if b, ok := parseBool(v); ok && k != "action" {
					v = strconv.FormatBool(b)
				}
				if k == "require-all" && !forOrder {
					continue // Pacemaker ignores it there too
				}
				if err := s.SetOption(k, v, forOrder); err != nil {
					im.skip(e, "resource set %q: %v", se.attr("id"), err)
					return nil, false
				}
			default:
				im.skip(e, "resource set %q: %s=%s is not supported on a set", se.attr("id"), k, v)
				return nil, false
			}
		}
		for _, rr := range se.children("resource_ref") {
			id, ok := im.ref(e, rr.attr("id"))
			if !ok {
				return nil, false
			}
			s.Resources = append(s.Resources, id)
		}
		if len(s.Resources) == 0 {
			im.skip(e, "resource set %q is empty", se.attr("id"))
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func (im *importer) colocation(e *elem) {
	id := e.attr("id")
	im.extras(e, []string{"id", "rsc", "with-rsc", "score", "rsc-role", "with-rsc-role", "node-attribute", "influence", "score-attribute"}, []string{"resource_set"})
	co := cib.Colocation{ID: id}
	if na := e.attr("node-attribute"); na != "" && na != "#uname" {
		im.skip(e, "node-attribute=%s: Tandem colocates on the same node (#uname) only", na)
		return
	}
	for _, a := range []string{"influence", "score-attribute"} {
		if e.has(a) {
			im.skip(e, "%s is not supported", a)
			return
		}
	}
	s, ok := im.score(e, "score", cib.Infinity)
	if !ok {
		return
	}
	co.Score = s
	if e.child("resource_set") != nil {
		if co.Sets, ok = im.sets(e, false); !ok {
			return
		}
	} else {
		if co.Rsc, ok = im.ref(e, e.attr("rsc")); !ok {
			return
		}
		if co.With, ok = im.ref(e, e.attr("with-rsc")); !ok {
			return
		}
		for _, r := range []struct {
			attr string
			to   *string
		}{{"rsc-role", &co.RscRole}, {"with-rsc-role", &co.WithRole}} {
			v := e.attr(r.attr)
			if v == "" || strings.EqualFold(v, cib.RoleStarted) {
				continue
			}
			role, err := cib.ParseConstraintRole(v)
			if err != nil {
				im.skip(e, "%s: %v", r.attr, err)
				return
			}
			*r.to = role
		}
	}
	im.addConstraint(e, id, func() error { return im.c.AddColocation(co) })
}

func (im *importer) order(e *elem) {
	id := e.attr("id")
	im.extras(e, []string{"id", "first", "then", "first-action", "then-action", "kind", "symmetrical", "score"}, []string{"resource_set"})
	o := cib.Order{ID: id, Kind: cib.Mandatory}
	if k := e.attr("kind"); k != "" {
		switch strings.ToLower(k) {
		case "mandatory":
		case "optional":
			o.Kind = cib.Optional
		case "serialize":
			o.Kind = cib.Serialize
		default:
			im.skip(e, "kind %q is not Mandatory, Optional or Serialize", k)
			return
		}
	} else if sc := e.attr("score"); sc != "" {
		// Before kind, a score of 0 made an order optional.
		if s, err := cib.ParseScore(sc); err == nil && s == 0 {
			o.Kind = cib.Optional
		}
	}
	o.Symmetrical = cib.DefaultSymmetrical(o.Kind)
	if v := e.attr("symmetrical"); v != "" {
		b, ok := parseBool(v)
		if !ok {
			im.skip(e, "symmetrical=%q is not a boolean", v)
			return
		}
		o.Symmetrical = b
	}
	var ok bool
	if e.child("resource_set") != nil {
		if o.Sets, ok = im.sets(e, true); !ok {
			return
		}
	} else {
		if o.First, ok = im.ref(e, e.attr("first")); !ok {
			return
		}
		if o.Then, ok = im.ref(e, e.attr("then")); !ok {
			return
		}
		o.FirstAction = cib.Action(orDefault(e.attr("first-action"), "start"))
		o.ThenAction = cib.Action(orDefault(e.attr("then-action"), string(o.FirstAction)))
		for _, a := range []cib.Action{o.FirstAction, o.ThenAction} {
			if !slices.Contains(cib.OrderActions, string(a)) {
				im.skip(e, "action %q: Tandem orders %s", a, strings.Join(cib.OrderActions, ", "))
				return
			}
		}
	}
	im.addConstraint(e, id, func() error { return im.c.AddOrder(o) })
}

// check validates the imported model. A constraint the model refuses (one
// that names a primitive of a clone, say) is skipped with the reason;
// anything else wrong is an error: nothing is written.
func (im *importer) check() error {
	for range 8 {
		ps := im.c.Validate()
		if len(ps) == 0 {
			return nil
		}
		drop := map[string]string{}
		var rest []string
		for _, p := range ps {
			kind, idx, ok := constraintIndex(p.Path)
			if !ok {
				rest = append(rest, p.String())
				continue
			}
			var id string
			switch kind {
			case "order":
				id = im.c.Orders[idx].ID
			case "colocation":
				id = im.c.Colocations[idx].ID
			case "location":
				id = im.c.Locations[idx].ID
			}
			if _, seen := drop[id]; !seen {
				drop[id] = p.Text(func(path string) string { return path })
			}
		}
		if len(rest) > 0 {
			return fmt.Errorf("%w: the imported configuration is not valid:\n  %s", ErrInput, strings.Join(rest, "\n  "))
		}
		for _, id := range slices.Sorted(maps.Keys(drop)) {
			e := im.constraintElem[id]
			if e == nil {
				e = &elem{name: "constraint", attrs: nil}
			}
			im.res.Skipped = append(im.res.Skipped, Item{Element: e.name, ID: id, Line: e.line, Why: drop[id]})
			_ = im.c.RemoveConstraint(id)
		}
	}
	return fmt.Errorf("%w: the imported configuration did not settle to a valid one", ErrInput)
}

// constraintIndex reads "order[3]..." as ("order", 3).
func constraintIndex(path string) (string, int, bool) {
	for _, kind := range []string{"order", "colocation", "location"} {
		rest, ok := strings.CutPrefix(path, kind+"[")
		if !ok {
			continue
		}
		n, _, ok := strings.Cut(rest, "]")
		if !ok {
			return "", 0, false
		}
		i, err := strconv.Atoi(n)
		return kind, i, err == nil
	}
	return "", 0, false
}
