package policies

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Location rules on node attributes, checked against crm_simulate. Names
// that are cases of Pacemaker's regression suite reproduce them.

// attrNodes is a cluster of the named nodes with attributes (a witness for
// two): names[i] gets attrs[names[i]].
func attrNodes(names []string, attrs map[string]map[string]string) string {
	var b strings.Builder
	b.WriteString("[cluster]\nname = \"pm\"\n")
	for i, n := range names {
		fmt.Fprintf(&b, "[[node]]\nname = %q\naddress = \"198.18.0.%d\"\n", n, 40+i)
		if a := attrs[n]; len(a) > 0 {
			var kv []string
			for _, k := range slices.Sorted(maps.Keys(a)) {
				kv = append(kv, fmt.Sprintf("%q = %q", k, a[k]))
			}
			fmt.Fprintf(&b, "attributes = { %s }\n", strings.Join(kv, ", "))
		}
	}
	if len(names) == 2 {
		b.WriteString("[witness]\nname = \"director\"\naddress = \"198.18.0.30\"\n")
	}
	return b.String()
}

// ruleLocation is a [[location]] of rsc with a rule and extra lines.
func ruleLocation(rsc, rule, extra string) string {
	return fmt.Sprintf("[[location]]\nrsc = %q\nrule = %q\n%s", rsc, rule, extra)
}

func ruleScenarios() []pmScenario {
	// cts rule-*: holly has test_val, benji is standby, dummy runs on
	// holly; a -INFINITY rule compares test_val: a match stops dummy.
	cts := []struct{ name, val, op, typ, value string }{
		{"rule-dbl-as-auto-number-match", "10.4", "gt", "", "3.4"},
		{"rule-dbl-as-auto-number-no-match", "3.4", "gt", "", "10.6"},
		{"rule-dbl-as-integer-match", "3.4", "eq", "integer", "3.6"},
		{"rule-dbl-as-integer-no-match", "3.4", "eq", "integer", "4.6"},
		{"rule-dbl-as-number-match", "3.4", "eq", "number", "3.4"},
		{"rule-dbl-as-number-no-match", "3.4", "eq", "number", "3.6"},
		{"rule-dbl-parse-fail-default-str-match", "as2.0", "gt", "number", "as10.0"},
		{"rule-dbl-parse-fail-default-str-no-match", "as10.0", "gt", "number", "as2.0"},
		{"rule-int-as-auto-integer-match", "10", "gt", "", "3"},
		{"rule-int-as-auto-integer-no-match", "3", "gt", "", "10"},
		{"rule-int-as-integer-match", "3", "eq", "integer", "3"},
		{"rule-int-as-integer-no-match", "3", "eq", "integer", "4"},
		{"rule-int-as-number-match", "3", "eq", "number", "3"},
		{"rule-int-as-number-no-match", "3", "eq", "number", "3.6"},
		{"rule-int-parse-fail-default-str-match", "as2", "gt", "integer", "as10"},
		{"rule-int-parse-fail-default-str-no-match", "as10", "gt", "integer", "as2"},
	}
	var out []pmScenario
	for _, c := range cts {
		expr := "test_val " + c.op + " " + strings.TrimSpace(c.typ+" "+c.value)
		out = append(out, pmScenario{name: c.name, about: fmt.Sprintf("cts %s: test_val=%s, rule %s bans the node", c.name, c.val, expr),
			config: attrNodes([]string{"holly", "benji"}, map[string]map[string]string{"holly": {"test_val": c.val}}) + primitives("dummy") +
				ruleLocation("dummy", expr, "score = \"-INFINITY\"\n"),
			state: State{Nodes: []NodeState{{"holly", Online}, {"benji", Standby}}, Instances: onNode("holly", "dummy")}})
	}
	three := []string{"holly", "benji", "carl"}
	racks := map[string]map[string]string{
		"holly": {"rack": "r1", "ssd": "true", "weight": "30", "kernel": "6.1.12"},
		"benji": {"rack": "r1", "weight": "20", "kernel": "6.1.9"},
		"carl":  {"rack": "r2", "ssd": "true", "kernel": "5.10.200"},
	}
	return append(out,
		pmScenario{name: "group5-rules", about: "cts group5 as written, with #uname rules: a group and two primitives move to the node they prefer",
			config: twoNodes + primitives("rsc1", "c1", "c2", "c3", "rsc3") + groupTOML("rsc2", []string{"c1", "c2", "c3"}, "") + `
[[order]]
first = "rsc1"
then = "rsc2"
kind = "Optional"
[[order]]
first = "rsc2"
then = "rsc3"
kind = "Optional"
` + ruleLocation("rsc1", "#uname eq benji", "score = 1\n") + ruleLocation("rsc2", "#uname eq benji", "score = 1\n") +
				ruleLocation("rsc3", "#uname eq benji", "score = 1\n"),
			state: State{Nodes: both(), Instances: onNode("holly", "rsc1", "c1", "c2", "c3", "rsc3")}},
		pmScenario{name: "rule-and-or", about: "a rule with and inside or: ( rack eq r1 and ssd eq true ) or #uname eq carl prefers holly and carl",
			config: attrNodes(three, racks) + primitives("A", "B") +
				ruleLocation("A", "( rack eq r1 and ssd eq true ) or #uname eq carl", "score = 100\n") +
				ruleLocation("B", "rack eq r1 and not_defined ssd", "score = 100\n") + "[[colocation]]\nrsc = \"B\"\nwith = \"A\"\nscore = -50\n",
			state: State{Nodes: online(three...)}},
		pmScenario{name: "rule-defined-ban", about: "defined ssd bans a clone from the nodes with an ssd attribute",
			config: attrNodes(three, racks) + "[[resource]]\nid = \"w\"\nagent = \"systemd:w\"\n[resource.clone]\n" +
				ruleLocation("w-clone", "defined ssd", "score = \"-INFINITY\"\n"),
			state: State{Nodes: online(three...), Instances: []InstanceState{{Resource: "w", Node: "holly"}, {Resource: "w", Instance: 1, Node: "benji"}}}},
		pmScenario{name: "rule-score-attribute", about: "score-attribute=weight: each node scores the resource with its weight attribute (-INFINITY where it has none)",
			config: attrNodes(three, racks) + primitives("A") + ruleLocation("A", "defined rack", "score-attribute = \"weight\"\n"),
			state:  State{Nodes: online(three...)}},
		pmScenario{name: "rule-version", about: "kernel gte version 6.1.10 picks holly (6.1.12), not benji (6.1.9) or carl (5.10.200)",
			config: attrNodes(three, racks) + primitives("A") + ruleLocation("A", "kernel gte version 6.1.10", "score = 200\n"),
			state:  State{Nodes: online(three...)}},
		pmScenario{name: "rule-string-case", about: "eq compares strings case-insensitively (rack eq R2 matches r2)",
			config: attrNodes(three, racks) + primitives("A") + ruleLocation("A", "rack eq R2", "score = 200\n"),
			state:  State{Nodes: online(three...)}},
		pmScenario{name: "rule-role-started", about: "a rule with role=Started applies only to a resource whose target-role says Started",
			config: attrNodes(three, racks) + primitives("A") +
				"[[resource]]\nid = \"B\"\nagent = \"systemd:b\"\nmeta = { target-role = \"Started\" }\n" +
				ruleLocation("A", "#uname eq carl", "score = 300\nrole = \"Started\"\n") +
				ruleLocation("B", "#uname eq carl", "score = 300\nrole = \"Started\"\n"),
			state: State{Nodes: online(three...)}},
	)
}
