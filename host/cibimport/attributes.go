package cibimport

import (
	"slices"
	"strings"

	"github.com/tandem-ha/tandem/policies/cib"
)

// Name=value attribute sets, and the sections made of them: cluster
// properties, nodes, rsc_defaults and op_defaults.

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
		case "placement-strategy":
			if err := im.c.SetProperty(p.name, p.value); err != nil {
				im.skip(p.e, "%v", err)
			}
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
		n.Utilization = im.utilization(e)
		if id := e.attr("id"); id != "" {
			im.nodeIDs[id] = name
		}
		im.c.Nodes = append(im.c.Nodes, n)
	}
}

// utilization reads e's utilization sets (a node's capacity, or what a
// primitive uses): integers from 0 up, as Tandem takes them.
func (im *importer) utilization(e *elem) map[string]int {
	var out map[string]int
	for _, p := range im.pairs(e, "utilization") {
		v, err := cib.ParseUtilization(p.name, p.value)
		if err != nil {
			im.skip(p.e, "%v", err)
			continue
		}
		if out == nil {
			out = map[string]int{}
		}
		out[p.name] = v
	}
	return out
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
