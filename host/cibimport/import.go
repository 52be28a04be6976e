// Package cibimport turns a Pacemaker CIB (the XML that `pcs cluster cib`
// or `cibadmin --query` prints) into Tandem's cluster model: nodes and their
// attributes, primitives (ocf and systemd agents) with their parameters,
// operations and meta attributes, groups, clones and promotable clones,
// order, colocation and location constraints (with resource sets and rules),
// resource and operation defaults, the cluster properties Tandem has, and
// alert agents with their options, meta attributes and recipients.
//
// Whatever the model cannot express is never dropped silently: it is listed
// as a Skipped item naming the CIB element, its id and line, and why
// (fencing devices: Tandem fences with leases; date rules; service agents; ...).
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
	"slices"
	"strconv"
	"strings"

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
	im := &importer{res: &Result{CIB: &cib.CIB{}, Schema: schema}, dropped: map[string]string{}, constraintElem: map[string]*elem{}, cloneElem: map[string]*elem{}, uniqueSet: map[string]bool{}, nodeIDs: map[string]string{}, alertElem: map[string]*elem{}}
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
	// uniqueSet lists the clones whose globally-unique is set (to true
	// or false) in the CIB.
	uniqueSet map[string]bool
	// nodeIDs maps the CIB's node ids to the node names: Tandem's #id is
	// the name.
	nodeIDs map[string]string
	// alertElem is the element each imported alert came from.
	alertElem map[string]*elem
}

func (im *importer) skip(e *elem, format string, args ...any) {
	im.res.Skipped = append(im.res.Skipped, Item{Element: e.name, ID: e.attr("id"), Line: e.line, Why: fmt.Sprintf(format, args...)})
}

func (im *importer) note(e *elem, format string, args ...any) {
	im.res.Notes = append(im.res.Notes, Item{Element: e.name, ID: e.attr("id"), Line: e.line, Why: fmt.Sprintf(format, args...)})
}

func (im *importer) configuration(conf *elem) error {
	// Defaults first: op_defaults fill the ops' timeouts.
	for _, name := range []string{"crm_config", "nodes", "rsc_defaults", "op_defaults", "resources", "constraints", "alerts"} {
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
			case "alerts":
				im.alerts(e)
			}
		}
	}
	for _, e := range conf.kids {
		switch e.name {
		case "crm_config", "nodes", "rsc_defaults", "op_defaults", "resources", "constraints", "alerts":
		case "fencing-topology":
			im.skip(e, "fencing levels: Tandem fences with leases (docs/leases.md), it needs no fencing devices")
		case "tags":
			im.skip(e, "tags are not supported: constraints name resources, groups or clones")
		case "acls":
			im.skip(e, "ACLs are not supported: the bus's credentials and TLS certificates decide who may change the cluster (docs/security.md)")
		default:
			im.skip(e, "not a configuration section this importer knows")
		}
	}
	im.fitClones()
	return im.check()
}
