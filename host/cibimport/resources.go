package cibimport

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/policies/cib"
)

// The resources section: primitives, groups, clones and what they carry
// (parameters, meta attributes, operations).

// fitClones brings clone counts within what the nodes can run, as
// Tandem's model requires; Pacemaker leaves the instances beyond them
// stopped, so placement is the same. A promotable cloned group with
// clone-node-max above 1 cannot be expressed.
func (im *importer) fitClones() {
	n := len(im.c.Nodes)
	fit := func(cl *cib.Clone, group bool) {
		e := im.cloneElem[cl.ID]
		if e == nil {
			e = &elem{name: "clone"}
		}
		if group && cl.Notify {
			im.skip(e, "notify=true on a cloned group: Tandem notifies only clones of a primitive (imported without notifications)")
			cl.Notify = false
		}
		switch {
		case group && cl.Promotable && cl.NodeMax > 1:
			im.skip(e, "clone-node-max %d: a promotable cloned group runs one copy per node in Tandem (imported with clone-node-max 1)", cl.NodeMax)
			cl.NodeMax = 0
		case !cl.GloballyUnique && cl.NodeMax > 1 && !im.uniqueSet[cl.ID]:
			// Pacemaker 2.1 ignores clone-node-max for an anonymous
			// clone; 3.0 makes globally-unique default to true with it,
			// which is what such a configuration means.
			im.note(e, "clone-node-max %d without globally-unique: written with globally-unique = true (Pacemaker 3.0's default for it; 2.1 ignores clone-node-max for an anonymous clone)", cl.NodeMax)
			cl.GloballyUnique = true
		case !cl.GloballyUnique && cl.NodeMax > 1:
			im.note(e, "clone-node-max %d on an anonymous clone (globally-unique=false): written as 1 (Pacemaker ignores it: an anonymous clone runs one instance per node)", cl.NodeMax)
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
		if cl.NodeMax > 1 && cl.Promotable {
			im.note(e, "clone-node-max %d on a promotable clone: tandem simulate runs it, but a live cluster of this version refuses more than one instance of a promotable clone per node", cl.NodeMax)
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
		// A clone's notify is a clone option (cloneKeys); on a primitive
		// Pacemaker has no use for it either.
		if b, ok := parseBool(p.value); ok && !b {
			return
		}
		im.skip(p.e, "notify=%s on a resource that is not a clone: only a clone's notify has an effect (set it on the clone)", p.value)
		return
	case "globally-unique":
		if b, ok := parseBool(p.value); ok && !b {
			return
		}
		im.skip(p.e, "globally-unique=%s outside a clone's meta attributes: left out (it is a clone option, Pacemaker reads it on the clone)", p.value)
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
	"clone-max": "clone-max", "clone-node-max": "clone-node-max", "globally-unique": "globally-unique", "interleave": "interleave", "promotable": "promotable",
	"promoted-max": "promoted-max", "promoted-node-max": "promoted-node-max", "master-max": "promoted-max", "master-node-max": "promoted-node-max",
	"notify": "notify",
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
	case "lsb":
		return "lsb:" + typ, ""
	case "service", "upstart":
		return "", fmt.Sprintf("%s:%s agents are not bridged: use systemd:%s on a systemd host, or lsb:%s for an /etc/init.d script", class, typ, typ, typ)
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
	utilization := im.utilization(e)
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
	r.Utilization = utilization
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
		switch name {
		case "reload-agent":
			// OCF 1.1's reload (Pacemaker 2.1 and pcs write it for
			// every agent that advertises it): Tandem's reload runs the
			// agent's reload-agent when it has one (docs/ocf.md).
			im.note(e, "op reload-agent is imported as op reload: Tandem's reload runs the agent's reload-agent")
			name = "reload"
		case "notify":
			// pcs writes it for every agent that advertises notify,
			// with the advertised timeout.
			im.note(e, "op notify%s is not stored: Tandem runs the agent's notify for a clone with notify=true, with the timeout the agent's meta-data gives it", opTimeoutText(e))
			continue
		}
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
			// pcs gives a promotable agent's two role monitors from its
			// meta-data (ocf:pacemaker:Stateful: 10s Promoted, 11s
			// Unpromoted): the first becomes the one monitor.
			if slices.ContainsFunc(out, func(o cib.Op) bool { return o.Name == "monitor" }) {
				im.skip(e, "monitor for role %s: Tandem monitors every instance of a clone with one op, whatever its role (the monitor before it)", role)
				continue
			}
			im.note(e, "monitor for role %s is imported as the monitor of every instance, whatever its role (Tandem has one monitor op)", role)
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

// opTimeoutText is " (timeout=T)" for an op with a timeout, else "".
func opTimeoutText(e *elem) string {
	if t := e.attr("timeout"); t != "" {
		return " (timeout=" + t + ")"
	}
	return ""
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
			if opt == "interleave" || opt == "promotable" || opt == "notify" || opt == "globally-unique" {
				if b, ok := parseBool(v); ok {
					v = strconv.FormatBool(b)
				}
			}
			if err := cib.SetCloneOption(cl, opt, v); err != nil {
				im.skip(p.e, "%v", err)
			} else if opt == "globally-unique" {
				im.uniqueSet[id] = true
			}
			continue
		}
		switch p.name {
		case "ordered":
			if b, ok := parseBool(p.value); !ok || b {
				im.skip(p.e, "ordered=%s: Tandem starts clone instances in parallel", p.value)
			}
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
