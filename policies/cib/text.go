package cib

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// What the model holds ends up in files the agents write (haproxy.cfg, a
// systemd drop-in), in log lines and on terminals, all of them line
// based: a newline in a value is an injected line. The model refuses every
// control character in every name and value, in one place, so that no
// agent and no printer has to be trusted to escape them.

// controlChar is the first control character of s and its byte offset, or
// -1.
func controlChar(s string) (rune, int) {
	for i, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' { // and the line and paragraph separators
			return r, i
		}
	}
	return 0, -1
}

// CheckText is nil when s holds no control character (newline, carriage
// return, tab, NUL, escape, ...), and otherwise an error saying which and
// where; what names the value ("resource \"web\": param \"chroot\"").
func CheckText(what, s string) error {
	r, i := controlChar(s)
	if i < 0 {
		return nil
	}
	return fmt.Errorf("%s: %s holds the control character %s at byte %d; names and values are single-line printable text",
		what, strconv.Quote(s), strconv.QuoteRune(r), i)
}

// LeaseKey is the bus key of the lease a singleton resource id is held
// by: the id with every byte a KV key cannot hold replaced by '_'. Two ids
// with the same lease key would share one lease, so Validate refuses them.
func LeaseKey(resource string) string { return keySafe("rsc." + resource) }

// PromotedLeaseKey is the bus key of the lease of promoted slot slot
// (0 to promoted-max-1) of promotable clone clone: an instance is promoted
// only while its node holds one of its clone's slots. The "promoted."
// prefix keeps them apart from singletons' ("rsc.") and the coordinator's
// lease; two clone ids with the same key Validate refuses.
func PromotedLeaseKey(clone string, slot int) string {
	return keySafe("promoted."+clone) + "." + strconv.Itoa(slot)
}

// PromotedMemberLeaseKey is the bus key of the lease of promoted slot
// slot of member, a member of the promotable cloned group whose clone is
// clone: each member's instances take slots of their own (promoted-max of
// them), so that the members promoted together on a node do not contend
// for one slot, and no member is ever promoted on more than promoted-max
// nodes. ('/' is in no resource id: these keys never meet a clone's.)
func PromotedMemberLeaseKey(clone, member string, slot int) string {
	return keySafe("promoted."+clone+"/"+member) + "." + strconv.Itoa(slot)
}

// keySafe replaces every byte a KV key cannot hold by '_'.
func keySafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-/_=.", c) >= 0
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}

// text checks every name and value of the model for control characters.
func (v *validator) text() {
	check := func(path, what, s string) {
		if err := CheckText(what, s); err != nil {
			v.at(path, "%v", err)
		}
	}
	for i, n := range v.c.Nodes {
		path := fmt.Sprintf("node[%d]", i)
		check(path+".name", "node name", n.Name)
		for _, k := range sortedKeys(n.Attributes) {
			check(path+".attributes", fmt.Sprintf("node %q: attribute name", n.Name), k)
			check(path+".attributes."+k, fmt.Sprintf("node %q: attribute %q", n.Name, k), n.Attributes[k])
		}
	}
	meta := func(path, what string, m Meta) {
		check(path+".target-role", what+": meta target-role", m.TargetRole)
	}
	meta("defaults", "[defaults]", v.c.Defaults)
	for i, r := range v.c.Resources {
		path := fmt.Sprintf("resource[%d]", i)
		what := fmt.Sprintf("resource %q", r.ID)
		check(path+".id", "resource id", r.ID)
		check(path+".agent", what+": agent", r.Agent)
		for _, k := range sortedKeys(r.Params) {
			check(path+".params", what+": param name", k)
			check(path+".params."+k, fmt.Sprintf("%s: param %q", what, k), r.Params[k])
		}
		meta(path+".meta", what, r.Meta)
		for j, o := range r.Ops {
			check(fmt.Sprintf("%s.op[%d]", path, j), what+": op name", o.Name)
		}
		if r.Clone != nil {
			check(path+".clone", what+": clone id", r.Clone.ID)
		}
	}
	refs := func(path, what string, ids ...string) {
		for _, id := range ids {
			check(path, what, id)
		}
	}
	setRefs := func(path, what string, sets []ResourceSet) {
		for j, s := range sets {
			refs(fmt.Sprintf("%s.set[%d].resources", path, j), what+": set member", s.Resources...)
		}
	}
	for i, g := range v.c.Groups {
		path := fmt.Sprintf("group[%d]", i)
		check(path+".id", "group id", g.ID)
		refs(path+".resources", fmt.Sprintf("group %q: member", g.ID), g.Resources...)
		meta(path+".meta", fmt.Sprintf("group %q", g.ID), g.Meta)
		if g.Clone != nil {
			check(path+".clone", fmt.Sprintf("group %q: clone id", g.ID), g.Clone.ID)
		}
	}
	for i, o := range v.c.Orders {
		path := fmt.Sprintf("order[%d]", i)
		check(path, "order id", o.ID)
		refs(path, fmt.Sprintf("order %q", o.ID), o.First, o.Then)
		setRefs(path, fmt.Sprintf("order %q", o.ID), o.Sets)
	}
	for i, co := range v.c.Colocations {
		path := fmt.Sprintf("colocation[%d]", i)
		check(path, "colocation id", co.ID)
		refs(path, fmt.Sprintf("colocation %q", co.ID), co.Rsc, co.With)
		setRefs(path, fmt.Sprintf("colocation %q", co.ID), co.Sets)
	}
	var rule func(path, what string, r *Rule)
	rule = func(path, what string, r *Rule) {
		for _, e := range r.Expressions {
			refs(path, what+": rule", e.Attribute, e.Operation, e.Value, e.Type)
		}
		for i := range r.Rules {
			rule(path, what, &r.Rules[i])
		}
	}
	for i, l := range v.c.Locations {
		path := fmt.Sprintf("location[%d]", i)
		what := fmt.Sprintf("location %q", l.ID)
		check(path, "location id", l.ID)
		refs(path, what, l.Rsc, l.Node, l.Role, l.ScoreAttribute)
		if l.Rule != nil {
			rule(path+".rule", what, l.Rule)
		}
	}
	for i, t := range v.c.Tickets {
		path := fmt.Sprintf("ticket[%d]", i)
		check(path, "ticket constraint id", t.ID)
		refs(path, fmt.Sprintf("ticket constraint %q", t.ID), t.Ticket, t.Rsc, t.RscRole, t.LossPolicy)
		setRefs(path, fmt.Sprintf("ticket constraint %q", t.ID), t.Sets)
	}
	v.alertText(check)
}

// leaseKeys refuses two resources whose ids map to one lease key.
func (v *validator) leaseKeys() {
	seen := map[string]string{} // lease key -> id
	for i, r := range v.c.Resources {
		if !ValidID(r.ID) {
			continue
		}
		k := LeaseKey(r.ID)
		if prev, dup := seen[k]; dup && prev != r.ID {
			v.at(fmt.Sprintf("resource[%d].id", i), "resource %q: its lease key %q is also resource %q's (':' and other characters a bus key cannot hold become '_'); rename one of them", r.ID, k, prev)
			continue
		}
		seen[k] = r.ID
	}
	promoted := map[string]string{} // promoted lease key of slot 0 -> clone id
	for i, r := range v.c.Resources {
		if r.Clone == nil || !r.Clone.Promotable || !ValidID(r.Clone.ID) {
			continue
		}
		k := PromotedLeaseKey(r.Clone.ID, 0)
		if prev, dup := promoted[k]; dup && prev != r.Clone.ID {
			v.at(fmt.Sprintf("resource[%d].clone.id", i), "clone %q: its promoted role's lease keys (%q, ...) are also clone %q's (':' and other characters a bus key cannot hold become '_'); rename one of them", r.Clone.ID, k, prev)
			continue
		}
		promoted[k] = r.Clone.ID
	}
	for i, g := range v.c.Groups {
		if g.Clone == nil || !g.Clone.Promotable || !ValidID(g.Clone.ID) {
			continue
		}
		// Its members' keys (PromotedMemberLeaseKey) differ when the
		// clone's do and the members' own lease keys do.
		k := PromotedLeaseKey(g.Clone.ID, 0)
		if prev, dup := promoted[k]; dup && prev != g.Clone.ID {
			v.at(fmt.Sprintf("group[%d].clone.id", i), "clone %q: its promoted role's lease keys (%q, ...) are also clone %q's (':' and other characters a bus key cannot hold become '_'); rename one of them", g.Clone.ID, k, prev)
			continue
		}
		promoted[k] = g.Clone.ID
	}
}
