package cib

import (
	"strings"
	"testing"
)

// pcs's rule syntax: parsed into the model and written back the same.
func TestParseRule(t *testing.T) {
	for in, want := range map[string]string{
		"#uname eq holly":                                  "#uname eq holly",
		"defined ssd":                                      "defined ssd",
		"rack eq r1 and ssd eq true":                       "rack eq r1 and ssd eq true",
		"rack eq r1 or rack eq r2 or #uname eq carl":       "rack eq r1 or rack eq r2 or #uname eq carl",
		"( rack eq r1 and defined ssd ) or #uname eq carl": "#uname eq carl or ( rack eq r1 and defined ssd )",
		"(kernel gte version 6.1)":                         "( kernel gte version 6.1 )",
		"weight GT integer 10":                             "weight gt integer 10",
		"rack eq string":                                   "rack eq string",
		"NOT_DEFINED ssd and rack ne r2":                   "not_defined ssd and rack ne r2",
	} {
		r, err := ParseRule(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if got := r.String(); got != want {
			t.Errorf("%q: written back as %q, want %q", in, got, want)
		}
		again, err := ParseRule(r.String())
		if err != nil || again.String() != r.String() {
			t.Errorf("%q: does not read back: %v %v", in, again, err)
		}
		if ps := r.problems(); ps != nil {
			t.Errorf("%q: problems %v", in, ps)
		}
	}
	for in, want := range map[string]string{
		"":                                  "empty rule",
		"rack eq r1 and ssd eq 1 or a eq 2": "mixes and and or",
		"rack r1":                           `expected a comparison`,
		"rack eq":                           "needs a value",
		"( rack eq r1":                      "missing )",
		"rack eq r1 )":                      `unexpected ")"`,
		"defined":                           "defined needs a node attribute",
		"date gt 2025-01-01":                "date expressions are not supported",
	} {
		if _, err := ParseRule(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error containing %q", in, err, want)
		}
	}
}

func TestNodeAttributes(t *testing.T) {
	c := base(t)
	if err := c.SetNodeAttribute("holly", "rack", "r1"); err != nil {
		t.Fatal(err)
	}
	if got := c.Node("holly").RuleAttributes(); got["rack"] != "r1" || got[AttrUname] != "holly" || got[AttrKind] != "cluster" {
		t.Errorf("rule attributes of holly: %v", got)
	}
	for name, want := range map[string]string{"#uname": "does not start with #", "standby": "use tandem node standby", "a b": "no spaces"} {
		if err := c.SetNodeAttribute("holly", name, "x"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("attribute %q: got %v, want %q", name, err, want)
		}
	}
	if err := c.SetNodeAttribute("holly", "rack", ""); err != nil || c.Node("holly").Attributes != nil {
		t.Errorf("removing the last attribute: %v, %v", err, c.Node("holly").Attributes)
	}
	if err := c.SetNodeAttribute("bob", "rack", "r1"); err == nil || !strings.Contains(err.Error(), `no node "bob"`) {
		t.Errorf("unknown node: %v", err)
	}
}
