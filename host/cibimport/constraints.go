package cibimport

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/tandem-ha/tandem/policies/cib"
)

// The constraints section: order, colocation and location constraints, with
// resource sets and rules, and the final check against the model.

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
			im.ticket(e)
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
		if role == cib.RoleStarted {
			role = "" // Pacemaker: a simple location for Started applies to every role
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

// endsOrSets reads the two ends of an order or colocation (attributes a
// and b), or its resource sets when it has them.
func (im *importer) endsOrSets(e *elem, a, b string, forOrder bool) (first, then string, sets []cib.ResourceSet, ok bool) {
	if e.child("resource_set") != nil {
		sets, ok = im.sets(e, forOrder)
		return "", "", sets, ok
	}
	if first, ok = im.ref(e, e.attr(a)); !ok {
		return "", "", nil, false
	}
	then, ok = im.ref(e, e.attr(b))
	return first, then, nil, ok
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
			case "role":
				if forOrder {
					// Pacemaker 2.1.5 reads no role on an order's set.
					im.note(se, "role=%s on an order's set: Pacemaker ignores it, and so does the import (order an action with action=)", v)
					continue
				}
				if strings.EqualFold(v, cib.RoleStarted) {
					continue // any role
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
	if co.Rsc, co.With, co.Sets, ok = im.endsOrSets(e, "rsc", "with-rsc", false); !ok {
		return
	}
	if co.Sets == nil {
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
	if o.First, o.Then, o.Sets, ok = im.endsOrSets(e, "first", "then", true); !ok {
		return
	}
	if o.Sets == nil {
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

// ticket imports an rsc_ticket. The tickets' state (granted, standby) is
// cluster state, in the CIB's status section, which is not imported: every
// ticket starts revoked (tandem ticket grant).
func (im *importer) ticket(e *elem) {
	id := e.attr("id")
	im.extras(e, []string{"id", "ticket", "rsc", "rsc-role", "loss-policy", "rsc-instance"}, []string{"resource_set"})
	t := cib.Ticket{ID: id, Ticket: e.attr("ticket")}
	promoted := false // the constraint binds a Promoted role
	if e.child("resource_set") != nil {
		sets, ok := im.ticketSets(e)
		if !ok {
			return
		}
		t.Sets = sets
		promoted = slices.ContainsFunc(sets, func(s cib.ResourceSet) bool { return s.Role == cib.RolePromoted })
	} else {
		if e.has("rsc-instance") {
			im.skip(e, "rsc-instance (deprecated in Pacemaker 2.1.5) is not supported")
			return
		}
		rsc, ok := im.ref(e, e.attr("rsc"))
		if !ok {
			return
		}
		t.Rsc = rsc
		if v := e.attr("rsc-role"); v != "" && !strings.EqualFold(v, cib.RoleStarted) {
			role, err := cib.ParseConstraintRole(v)
			if err != nil || role != cib.RolePromoted {
				im.skip(e, "rsc-role %s: a ticket takes Started or Promoted", v)
				return
			}
			t.RscRole, promoted = role, true
		}
	}
	if v := e.attr("loss-policy"); v != "" {
		lp, err := cib.ParseLossPolicy(v)
		if err != nil {
			im.skip(e, "%v", err)
			return
		}
		if lp == cib.LossDemote && !promoted {
			// Pacemaker stops a resource whose role is not Promoted on
			// loss of the ticket: that is stop.
			im.note(e, "loss-policy demote without the Promoted role (rsc-role or a set's role): imported as stop, what Pacemaker does with it")
			lp = cib.LossStop
		}
		t.LossPolicy = lp
	}
	im.addConstraint(e, id, func() error {
		_, err := im.c.AddTicket(t)
		return err
	})
}

// ticketSets reads the resource sets of an rsc_ticket: each set's
// resources need the ticket in the set's role (Pacemaker's
// unpack_rsc_ticket_set reads only the role of a set).
func (im *importer) ticketSets(e *elem) ([]cib.ResourceSet, bool) {
	if e.has("rsc") || e.has("rsc-role") {
		im.skip(e, "rsc or rsc-role beside resource sets: Pacemaker reads only the sets; write one or the other")
		return nil, false
	}
	sets, ok := im.sets(e, false)
	if !ok {
		return nil, false
	}
	for i := range sets {
		if sets[i].Sequential != nil {
			im.note(e, "sequential on a ticket's resource set: Pacemaker ignores it, and so does the import")
			sets[i].Sequential = nil
		}
		if sets[i].Role != "" && sets[i].Role != cib.RolePromoted {
			im.skip(e, "resource set role %s: a ticket takes Started or Promoted", sets[i].Role)
			return nil, false
		}
	}
	return sets, true
}

// check validates the imported model. A constraint or an alert the model
// refuses (a constraint that names a primitive of a clone, an alert whose
// description holds a newline) is skipped with the reason; anything else
// wrong is an error: nothing is written.
func (im *importer) check() error {
	for range 8 {
		ps := im.c.Validate()
		if len(ps) == 0 {
			return nil
		}
		drop := map[string]string{}
		var rest []string
		dropAlert := map[string]string{}
		for _, p := range ps {
			if i, ok := alertIndex(p.Path); ok && i < len(im.c.Alerts) {
				id := im.c.Alerts[i].ID
				if _, seen := dropAlert[id]; !seen {
					dropAlert[id] = p.Text(func(path string) string { return path })
				}
				continue
			}
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
			case "ticket":
				id = im.c.Tickets[idx].ID
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
		for _, id := range slices.Sorted(maps.Keys(dropAlert)) {
			e := im.alertElem[id]
			if e == nil {
				e = &elem{name: "alert"}
			}
			im.res.Skipped = append(im.res.Skipped, Item{Element: e.name, ID: id, Line: e.line, Why: trimAlert(id, dropAlert[id])})
			_ = im.c.RemoveAlert(id)
		}
	}
	return fmt.Errorf("%w: the imported configuration did not settle to a valid one", ErrInput)
}

// constraintIndex reads "order[3]..." as ("order", 3).
// alertIndex is N of a problem's path "alert[N]...".
func alertIndex(path string) (int, bool) {
	rest, ok := strings.CutPrefix(path, "alert[")
	if !ok {
		return 0, false
	}
	n, _, ok := strings.Cut(rest, "]")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(n)
	return i, err == nil
}

func constraintIndex(path string) (string, int, bool) {
	for _, kind := range []string{"order", "colocation", "location", "ticket"} {
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
