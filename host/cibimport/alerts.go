package cibimport

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tandem-ha/tandem/policies/cib"
)

// The alerts section: Pacemaker's alert agents, each with its options
// (instance_attributes), meta attributes (timeout, timestamp-format,
// enabled), recipients and event filter (<select>). Tandem's model has the
// same alerts (docs/alerts.md) but no filter: it sends every alert its node
// and resource events, and has no fencing or node-attribute events.

// alerts imports every <alert> of sec.
func (im *importer) alerts(sec *elem) {
	im.extras(sec, nil, []string{"alert"})
	for _, e := range sec.children("alert") {
		im.alert(e)
	}
}

// alert imports one <alert>: the model decides on its id and path; an
// option, meta attribute or recipient it refuses is listed with the
// model's message and left out, the rest of the alert imported.
func (im *importer) alert(e *elem) {
	id := e.attr("id")
	kinds, ok := im.selectAllows(e)
	if !ok {
		return
	}
	im.extras(e, []string{"id", "path", "description"}, []string{"instance_attributes", "meta_attributes", "select", "recipient"})
	spec := cib.AlertSpec{}
	if kinds != nil {
		spec.Select = &kinds
	}
	path := e.attr("path")
	spec.Path = &path
	if d := e.attr("description"); d != "" {
		spec.Description = &d
	}
	if id == "" {
		im.skip(e, "an alert without an id")
		return
	}
	if _, err := im.c.AddAlert(id, spec); err != nil {
		im.skip(e, "%s", trimAlert(id, err.Error()))
		return
	}
	im.alertElem[id] = e
	for _, p := range im.pairs(e, "instance_attributes") {
		if p.value == "" {
			im.skip(p.e, "option %s has no value: Tandem's alert options are never empty (imported without it)", p.name)
			continue
		}
		if err := cib.CheckText(fmt.Sprintf("alert %q: option %q", id, p.name), p.value); err != nil {
			im.skip(p.e, "%v (imported without it)", err)
			continue
		}
		if err := im.c.UpdateAlert(id, cib.AlertSpec{Options: map[string]string{p.name: p.value}}); err != nil {
			im.skip(p.e, "%v", err)
		}
	}
	a := im.c.Alert(id)
	for _, p := range im.pairs(e, "meta_attributes") {
		if err := setAlertMeta(&a.Meta, p); err != nil {
			im.skip(p.e, "alert %q: %v", id, err)
		}
	}
	for _, r := range e.children("recipient") {
		im.recipient(id, r)
	}
}

// recipient imports one <recipient> of alert alertID. Its description is
// not kept (a note); its own instance attributes, which Pacemaker passes
// to this recipient's calls instead of the alert's, are not supported.
func (im *importer) recipient(alertID string, e *elem) {
	im.extras(e, []string{"id", "value", "description"}, []string{"instance_attributes", "meta_attributes"})
	id, value := e.attr("id"), e.attr("value")
	if id == "" {
		im.skip(e, "a recipient without an id")
		return
	}
	if err := cib.CheckText(fmt.Sprintf("alert %q recipient %q: value", alertID, id), value); err != nil {
		im.skip(e, "%v", err)
		return
	}
	if _, err := im.c.AddRecipient(alertID, id, value, nil); err != nil {
		im.skip(e, "%v", err)
		return
	}
	if e.attr("description") != "" {
		im.note(e, "description %q is not kept: Tandem's recipients have none", e.attr("description"))
	}
	a := im.c.Alert(alertID)
	r := &a.Recipients[len(a.Recipients)-1]
	for _, p := range im.pairs(e, "meta_attributes") {
		if err := setAlertMeta(&r.Meta, p); err != nil {
			im.skip(p.e, "recipient %q: %v", id, err)
		}
	}
	for _, p := range im.pairs(e, "instance_attributes") {
		im.skip(p.e, "option %s=%q of recipient %q: Tandem passes the alert's options to every recipient, a recipient has none of its own (imported without it; for different options, make another alert)", p.name, p.value, id)
	}
}

// selectAllows reads an alert's <select> into the kinds of event it is
// called for (Select: nil for every kind). Tandem raises node and resource
// events; it has no fencing events (it fences with leases) and no
// node-attribute events. An alert that selects neither node nor resource
// events would never be called, so it is not imported (ok false); one that
// selects fencing or attributes besides gets a note for those.
func (im *importer) selectAllows(e *elem) (kinds []string, ok bool) {
	sel := e.children("select")
	if len(sel) == 0 {
		return nil, true
	}
	s := sel[0]
	for _, extra := range sel[1:] {
		im.skip(extra, "a second <select> in an alert (Pacemaker's schema allows one): ignored")
	}
	chosen := map[string]*elem{}
	for _, k := range s.kids {
		switch k.name {
		case "select_nodes", "select_resources", "select_fencing", "select_attributes":
			chosen[k.name] = k
		default:
			im.skip(k, "a <%s> in a <select> is not an event kind (select_nodes, select_resources, select_fencing, select_attributes)", k.name)
		}
	}
	if chosen["select_nodes"] == nil && chosen["select_resources"] == nil {
		var kinds []string
		if chosen["select_fencing"] != nil {
			kinds = append(kinds, "fencing")
		}
		if chosen["select_attributes"] != nil {
			kinds = append(kinds, "node-attribute")
		}
		what := "no event kind"
		if len(kinds) > 0 {
			what = "only " + strings.Join(kinds, " and ") + " events, which Tandem never sends (it has no fencing or node-attribute alerts)"
		}
		im.skip(e, "its <select> (line %d) chooses %s: it would never be called", s.line, what)
		return nil, false
	}
	if chosen["select_nodes"] != nil {
		kinds = append(kinds, "nodes")
	}
	if chosen["select_resources"] != nil {
		kinds = append(kinds, "resources")
	}
	if f := chosen["select_fencing"]; f != nil {
		im.note(f, "Tandem has no fencing alerts: it fences with leases, not fencing devices (docs/leases.md)")
	}
	if a := chosen["select_attributes"]; a != nil {
		var names []string
		for _, at := range a.children("attribute") {
			names = append(names, at.attr("name"))
		}
		which := "node-attribute events"
		if len(names) > 0 {
			which = fmt.Sprintf("node-attribute events (%s)", strings.Join(names, ", "))
		}
		im.skip(a, "Tandem has no node-attribute alerts: alert %q is imported without %s", e.attr("id"), which)
	}
	return kinds, true
}

// trimAlert drops the model's `alert "id": ` prefix from msg, for an item
// that already names the alert.
func trimAlert(id, msg string) string {
	return strings.TrimPrefix(msg, fmt.Sprintf("alert %q: ", id))
}

// setAlertMeta sets one meta attribute of an alert or a recipient; enabled
// takes Pacemaker's booleans (yes, on, y, 1, ...).
func setAlertMeta(m *cib.AlertMeta, p nvpair) error {
	v := p.value
	if p.name == "enabled" {
		if b, ok := parseBool(v); ok {
			v = strconv.FormatBool(b)
		}
	}
	return cib.SetAlertMeta(m, p.name, v)
}
