package policies

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tandem-ha/tandem/policies/cib"
)

// Location rules, evaluated as Pacemaker 2.1.5 does (lib/pengine/rules.c):
// a rule holds on a node when all (and) or any (or) of its expressions and
// nested rules hold on the node's attributes; comparisons follow
// compare_attr_expr_vals and accept_attr_expr.

// applyRule adds location l's score on every node where its rule holds
// (Pacemaker's generate_location_rule): the location's score, or the
// node's value of the score attribute (-INFINITY where it has none). A
// rule with a role applies only to a resource whose target-role is set to
// that role: Pacemaker compares the role filter with the role the
// configuration asks for, which is unknown when target-role is not set
// (scenario rule-role-started). A rule for the Unpromoted role applies to
// every role (Pacemaker's unpack_rsc_location_rule).
func (s *scheduler) applyRule(u *unit, l *cib.Location) {
	if l.Role != "" && l.Role != cib.RoleUnpromoted && l.Role != s.explicitTargetRole(u) {
		return
	}
	for n := range s.nodes {
		score, holds := s.ruleScore(l, n)
		if !holds {
			continue
		}
		s.addPart(u.base, u.baseParts, n, score, named("location", l.ID)+" (rule "+l.Rule.String()+")")
		if u.base[n] < 0 {
			u.why1(n, fmt.Sprintf("%s scores it %s (rule %s)", named("location", l.ID), score, l.Rule))
		}
	}
}

// ruleScore is what location l's rule gives node n, and whether it holds
// there.
func (s *scheduler) ruleScore(l *cib.Location, n int) (cib.Score, bool) {
	if s.attrs == nil {
		s.attrs = make([]map[string]string, len(s.nodes))
		for i := range s.nodes {
			s.attrs[i] = s.cfg.Node(s.nodes[i].name).RuleAttributes()
		}
	}
	if !ruleHolds(l.Rule, s.attrs[n]) {
		return 0, false
	}
	if l.ScoreAttribute == "" {
		return l.Score, true
	}
	if v, ok := s.attrs[n][l.ScoreAttribute]; ok {
		return attributeScore(v), true
	}
	return negInf, true
}

// ruleHolds says whether r holds for a node with attributes attrs.
func ruleHolds(r *cib.Rule, attrs map[string]string) bool {
	or := r.BooleanOp == "or"
	for _, e := range r.Expressions {
		if expressionHolds(e, attrs) == or {
			return or
		}
	}
	for i := range r.Rules {
		if ruleHolds(&r.Rules[i], attrs) == or {
			return or
		}
	}
	return !or
}

func expressionHolds(e cib.Expression, attrs map[string]string) bool {
	v, defined := attrs[e.Attribute]
	switch e.Operation {
	case "defined":
		return defined
	case "not_defined":
		return !defined
	}
	var left *string
	if defined {
		left = &v
	}
	cmp := compareAttr(left, &e.Value, e.Type, e.Operation)
	switch e.Operation {
	case "eq":
		return cmp == 0
	case "ne":
		return cmp != 0
	}
	if !defined {
		return false // an order is meaningless without a value
	}
	switch e.Operation {
	case "lt":
		return cmp < 0
	case "lte":
		return cmp <= 0
	case "gt":
		return cmp > 0
	case "gte":
		return cmp >= 0
	}
	return false
}

// compareAttr compares a node's value l (nil: not set) with r: -1, 0, 1.
// Without a type, eq and ne compare strings, the others numbers (number
// when either value has a '.', integer otherwise). A value that does not
// parse as the type is compared as a string, case-insensitively, as in
// Pacemaker.
func compareAttr(l, r *string, typ, op string) int {
	switch {
	case l == nil && r == nil:
		return 0
	case l == nil:
		return -1
	case r == nil:
		return 1
	}
	if typ == "" {
		switch op {
		case "lt", "lte", "gt", "gte":
			typ = "integer"
			if strings.Contains(*l, ".") || strings.Contains(*r, ".") {
				typ = "number"
			}
		default:
			typ = "string"
		}
	}
	switch typ {
	case "integer":
		a, okA := leadingInt(*l)
		b, okB := leadingInt(*r)
		if okA && okB {
			return compareOrdered(a, b)
		}
	case "number":
		a, okA := leadingFloat(*l)
		b, okB := leadingFloat(*r)
		if okA && okB {
			return compareOrdered(a, b)
		}
	case "version":
		return compareVersion(*l, *r)
	}
	return compareOrdered(strings.ToLower(*l), strings.ToLower(*r))
}

func compareOrdered[T int64 | float64 | string](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// leadingInt reads an integer at the start of s, as strtoll does (spaces,
// a sign, digits; what follows is ignored); false when there is none or it
// overflows.
func leadingInt(s string) (int64, bool) {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	end := 0
	if end < len(s) && (s[end] == '+' || s[end] == '-') {
		end++
	}
	digits := end
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	if end == digits {
		return 0, false
	}
	n, err := strconv.ParseInt(s[:end], 10, 64)
	return n, err == nil
}

// leadingFloat reads a decimal number at the start of s, as strtod does
// for decimal notation (hexadecimal, inf and nan are not numbers here).
func leadingFloat(s string) (float64, bool) {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	end := 0
	if end < len(s) && (s[end] == '+' || s[end] == '-') {
		end++
	}
	mantissa := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end, mantissa = end+1, mantissa+1
	}
	if end < len(s) && s[end] == '.' {
		end++
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end, mantissa = end+1, mantissa+1
		}
	}
	if mantissa == 0 {
		return 0, false
	}
	if end < len(s) && (s[end] == 'e' || s[end] == 'E') {
		exp := end + 1
		if exp < len(s) && (s[exp] == '+' || s[exp] == '-') {
			exp++
		}
		digits := exp
		for exp < len(s) && s[exp] >= '0' && s[exp] <= '9' {
			exp++
		}
		if exp > digits {
			end = exp
		}
	}
	f, err := strconv.ParseFloat(s[:end], 64)
	return f, err == nil
}

// compareVersion compares dotted versions component by component, as
// Pacemaker's compare_version does: a missing component is 0.
func compareVersion(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int64
		if i < len(as) {
			x, _ = leadingInt(as[i])
		}
		if i < len(bs) {
			y, _ = leadingInt(bs[i])
		}
		if c := compareOrdered(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// attributeScore is a node attribute's value as a score
// (score-attribute), as Pacemaker's char2score reads it: INFINITY forms,
// else the leading integer (0 when there is none).
func attributeScore(v string) cib.Score {
	switch v {
	case "INFINITY", "+INFINITY":
		return inf
	case "-INFINITY":
		return negInf
	}
	n, _ := leadingInt(v)
	return cib.ClampScore(n)
}

// explicitTargetRole is the target-role u's configuration sets (its own,
// its group's or the defaults'), "" when none does.
func (s *scheduler) explicitTargetRole(u *unit) string {
	role := s.cfg.Defaults.TargetRole
	if u.group != nil && u.group.g.Meta.TargetRole != "" {
		role = u.group.g.Meta.TargetRole
	}
	if u.r.Meta.TargetRole != "" {
		role = u.r.Meta.TargetRole
	}
	return role
}
