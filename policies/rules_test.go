package policies

import (
	"testing"

	"github.com/tandem-ha/tandem/policies/cib"
)

// Expressions compare as Pacemaker 2.1.5's compare_attr_expr_vals and
// accept_attr_expr do (the cts rule-* scenarios check some of these
// against crm_simulate; this table covers the rest).
func TestExpressionHolds(t *testing.T) {
	attrs := map[string]string{"n": "10", "f": "3.4", "s": "Rack1", "v": "6.1.12", "junk": "12abc", "neg": " -5"}
	for _, tc := range []struct {
		e    cib.Expression
		want bool
	}{
		{cib.Expression{Attribute: "n", Operation: "gt", Value: "9"}, true},                  // integer: 10 > 9
		{cib.Expression{Attribute: "n", Operation: "gt", Value: "9", Type: "string"}, false}, // "10" < "9"
		{cib.Expression{Attribute: "f", Operation: "lt", Value: "3.5"}, true},                // a '.': number
		{cib.Expression{Attribute: "f", Operation: "eq", Value: "3", Type: "integer"}, true},
		{cib.Expression{Attribute: "s", Operation: "eq", Value: "rack1"}, true}, // strings ignore case
		{cib.Expression{Attribute: "s", Operation: "ne", Value: "rack2"}, true},
		{cib.Expression{Attribute: "v", Operation: "gt", Value: "6.1.9", Type: "version"}, true},
		{cib.Expression{Attribute: "v", Operation: "eq", Value: "6.1.12.0", Type: "version"}, true},
		{cib.Expression{Attribute: "junk", Operation: "eq", Value: "12", Type: "integer"}, true}, // strtoll reads the leading digits
		{cib.Expression{Attribute: "neg", Operation: "lt", Value: "0"}, true},
		{cib.Expression{Attribute: "missing", Operation: "ne", Value: "x"}, true}, // unset differs from any value
		{cib.Expression{Attribute: "missing", Operation: "lt", Value: "x"}, false},
		{cib.Expression{Attribute: "missing", Operation: "not_defined"}, true},
		{cib.Expression{Attribute: "s", Operation: "defined"}, true},
	} {
		if got := expressionHolds(tc.e, attrs); got != tc.want {
			t.Errorf("%s on %v: %v, want %v", tc.e, attrs, got, tc.want)
		}
	}
	or := &cib.Rule{BooleanOp: "or", Expressions: []cib.Expression{{Attribute: "s", Operation: "eq", Value: "x"}},
		Rules: []cib.Rule{{Expressions: []cib.Expression{{Attribute: "n", Operation: "gte", Value: "10"}, {Attribute: "f", Operation: "defined"}}}}}
	if !ruleHolds(or, attrs) {
		t.Errorf("%s should hold", or)
	}
	and := &cib.Rule{Expressions: []cib.Expression{{Attribute: "n", Operation: "gte", Value: "10"}, {Attribute: "missing", Operation: "defined"}}}
	if ruleHolds(and, attrs) {
		t.Errorf("%s should not hold", and)
	}
	for v, want := range map[string]cib.Score{"INFINITY": inf, "-INFINITY": negInf, "250": 250, "12abc": 12, "green": 0, "5000000": inf} {
		if got := attributeScore(v); got != want {
			t.Errorf("score-attribute value %q: %s, want %s", v, got, want)
		}
	}
}
