package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/policies/cib"
)

const grammarBase = `
[cluster]
name = "t"
[[node]]
name = "holly"
address = "198.18.0.22"
[[node]]
name = "benji"
address = "198.18.0.24"
[witness]
name = "director"
address = "198.18.0.30"
`

func grammarFile(t *testing.T) *config.File {
	t.Helper()
	f, err := config.Parse("base.toml", []byte(grammarBase))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// The seed's lines build the reference scenario; the result is valid and
// encodes like a hand-written file.
func TestSeedCommandsBuildTheScenario(t *testing.T) {
	f := grammarFile(t)
	c := f.CIB
	add := func(id, agent string, args ...string) {
		t.Helper()
		spec, err := parseResourceSpec(args)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.AddResource(id, agent, spec); err != nil {
			t.Fatal(err)
		}
	}
	add("VIP-10.10.10.23", "vip", "ip=10.10.10.23", "cidr_netmask=24", "op", "monitor", "interval=10s")
	add("httpd", "systemd:apache2", "configfile=/etc/apache2/apache2.conf", "op", "monitor", "interval=30s", "clone")
	add("haproxy", "systemd:haproxy", "op", "monitor", "interval=15s", "clone")
	for _, args := range [][]string{{"VIP-10.10.10.23", "then", "haproxy-clone"}, {"start", "httpd-clone", "then", "start", "haproxy-clone"}} {
		o, err := parseOrder(c, args)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddOrder(o); err != nil {
			t.Fatal(err)
		}
	}
	co, err := parseColocation(c, []string{"VIP-10.10.10.23", "with", "haproxy-clone"})
	if err != nil || c.AddColocation(co) != nil {
		t.Fatal(err)
	}
	if err := c.Validate().Err(); err != nil {
		t.Fatal(err)
	}
	r, _ := c.Resource("httpd-clone")
	if r == nil || r.Params["configfile"] != "/etc/apache2/apache2.conf" || r.Ops[0].Interval != 30*time.Second || r.Clone.ID != "httpd-clone" {
		t.Fatalf("httpd: got %+v, want configfile, a 30s monitor and clone httpd-clone", r)
	}
	want := "colocation-VIP-10.10.10.23-haproxy-clone-INFINITY order-VIP-10.10.10.23-haproxy-clone-mandatory order-httpd-clone-haproxy-clone-mandatory"
	if got := strings.Join(c.ConstraintIDs(), " "); got != want {
		t.Errorf("constraint ids: got %q, want %q", got, want)
	}
	if o := c.Orders[1]; o.FirstAction != cib.ActionStart || o.ThenAction != cib.ActionStart || !o.Symmetrical || o.Kind != cib.Mandatory {
		t.Errorf("order: got %+v, want start then start, symmetrical, Mandatory", o)
	}
	text, err := config.Encode(f.Topology, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Parse("encoded", text); err != nil {
		t.Fatalf("encoded edit does not parse: %v\n%s", err, text)
	}
}

func TestResourceSpecErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"configfile"}, `unexpected "configfile": parameters are name=value`},
		{[]string{"a=1", "a=2"}, `param "a" is given twice`},
		{[]string{"op", "interval=30s"}, `"interval=30s" comes before an operation name`},
		{[]string{"op", "monitr", "interval=30s"}, `malformed op clause: "monitr" is not an operation (did you mean "monitor"?)`},
		{[]string{"op", "monitor", "intervl=30s"}, `takes interval= and timeout=, not "intervl" (did you mean "interval"?)`},
		{[]string{"op", "monitor"}, "op monitor needs interval="},
		{[]string{"op", "monitor", "interval=soon"}, `op monitor interval: duration "soon"`},
		{[]string{"op", "monitor", "interval=30s", "depth=0"}, `takes interval= and timeout=, not "depth"`},
		{[]string{"op", "start", "interval=30s"}, "op start: only monitor takes an interval"},
		{[]string{"meta", "stickiness=10"}, `unknown meta attribute "stickiness"`},
		{[]string{"meta", "target-role=Paused"}, "must be Started or Stopped"},
		{[]string{"meta", "resource-stickiness"}, `"resource-stickiness" is not name=value`},
		{[]string{"clone", "clone-max=x"}, `clone-max="x": want a number`},
		{[]string{"clone", "clonemax=2"}, `unknown clone option "clonemax" (did you mean "clone-max"?)`},
		{[]string{"clone", "clone", "x"}, `"clone" is given twice`},
	}
	for _, tc := range cases {
		_, err := parseResourceSpec(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	spec, err := parseResourceSpec([]string{"a=1", "op", "monitor", "interval=10s", "timeout=5", "start", "timeout=1m", "meta", "resource-stickiness=INFINITY", "clone", "web", "clone-max=2", "interleave=true"})
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Ops) != 2 || spec.Ops[0].Timeout != 5*time.Second || spec.Ops[1].Name != "start" || spec.Ops[1].Timeout != time.Minute ||
		spec.Clone.ID != "web" || spec.Clone.Max != 2 || !spec.Clone.Interleave || spec.Meta["resource-stickiness"] != "INFINITY" {
		t.Errorf("spec: got %+v clone %+v", spec, spec.Clone)
	}
	spec, err = parseResourceSpec([]string{"ip=198.18.0.50", "clone", "globally-unique=true", "clone-node-max=2", "clone-max=4"})
	if err != nil {
		t.Fatal(err)
	}
	if !spec.Clone.GloballyUnique || spec.Clone.NodeMax != 2 || spec.Clone.Max != 4 {
		t.Errorf("globally-unique clone: got %+v", spec.Clone)
	}
	if opts := cloneOptionText(spec.Clone); opts != "clone-max=4 clone-node-max=2 globally-unique=true" {
		t.Errorf("clone options as pcs prints them: %q", opts)
	}
}

func TestConstraintGrammarErrorsChangeNothing(t *testing.T) {
	f := grammarFile(t)
	c := f.CIB
	spec, _ := parseResourceSpec([]string{"clone"})
	if _, err := c.AddResource("web", "systemd:apache2", spec); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddResource("db", "systemd:postgresql", cib.ResourceSpec{}); err != nil {
		t.Fatal(err)
	}
	before, _ := json.Marshal(c)
	cases := []struct {
		name string
		edit func() error
		want string
	}{
		{"unknown order rsc", func() error { _, err := parseOrder(c, []string{"nope", "then", "db"}); return err }, `no resource or clone "nope" (defined: db, web, web-clone)`},
		{"order names primitive of clone", func() error { _, err := parseOrder(c, []string{"web", "then", "db"}); return err }, `"web" is cloned; constraints name the clone: use "web-clone"`},
		{"order without then", func() error { _, err := parseOrder(c, []string{"db", "web-clone"}); return err }, `expected "then" after "db"`},
		{"order bad kind", func() error { _, err := parseOrder(c, []string{"db", "then", "web-clone", "kind=Always"}); return err }, `kind="Always"`},
		{"colocation score", func() error { _, err := parseColocation(c, []string{"db", "with", "web-clone", "lots"}); return err }, `score "lots"`},
		{"location witness", func() error {
			_, err := parseLocation(c, f.Topology, []string{"db", "prefers", "director"})
			return err
		}, `"director" is the witness`},
		{"location unknown node", func() error { _, err := parseLocation(c, f.Topology, []string{"db", "prefers", "bob=50"}); return err }, `no node "bob" (nodes: holly, benji)`},
		{"standby witness", func() error { return checkNode(c, f.Topology, "director") }, "is the witness"},
		{"set without set", func() error { _, err := parseOrderSet(c, []string{"db"}); return err }, `expected "set" before "db"`},
		{"empty set", func() error { _, err := parseOrderSet(c, []string{"set", "db", "set"}); return err }, "set 2 has no resources"},
		{"set option", func() error { _, err := parseOrderSet(c, []string{"set", "db", "sequental=false"}); return err }, `unknown set option "sequental" (did you mean "sequential"?)`},
		{"set names primitive of clone", func() error { _, err := parseOrderSet(c, []string{"set", "db", "web"}); return err }, `use "web-clone"`},
		{"resource after options", func() error {
			_, err := parseOrderSet(c, []string{"set", "db", "sequential=false", "web-clone"})
			return err
		}, `resource "web-clone" after the set's options`},
		{"set after setoptions", func() error {
			_, err := parseOrderSet(c, []string{"set", "db", "setoptions", "kind=Optional", "set", "web-clone"})
			return err
		}, "after setoptions"},
		{"order setoption", func() error { _, err := parseOrderSet(c, []string{"set", "db", "setoptions", "score=5"}); return err }, `unknown order option "score"`},
		{"colocation set option", func() error {
			_, err := parseColocationSet(c, []string{"set", "db", "require-all=false"})
			return err
		}, `unknown set option "require-all" (a set takes sequential, role)`},
	}
	for _, tc := range cases {
		err := tc.edit()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
		if after, _ := json.Marshal(c); string(after) != string(before) {
			t.Errorf("%s changed the model", tc.name)
		}
	}
	// An order that closes a loop parses; validation names the cycle.
	for _, args := range [][]string{{"db", "then", "web-clone"}, {"web-clone", "then", "db"}} {
		o, err := parseOrder(c, args)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddOrder(o); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Validate().Err(); err == nil || !strings.Contains(err.Error(), "ordering cycle: start db then start web-clone then start db") {
		t.Errorf("cycle: got %v, want it named", err)
	}
}

// pcs's set sentences: the sets with their options, the constraint's
// options after setoptions, pcs's default ids.
func TestSetSentences(t *testing.T) {
	c := grammarFile(t).CIB
	for _, id := range []string{"A", "B", "C"} {
		if _, err := c.AddResource(id, "systemd:"+id, cib.ResourceSpec{}); err != nil {
			t.Fatal(err)
		}
	}
	o, err := parseOrderSet(c, []string{"set", "A", "B", "sequential=false", "require-all=false", "set", "C", "action=stop", "setoptions", "kind=Optional", "symmetrical=false"})
	if err != nil {
		t.Fatal(err)
	}
	if got := cib.SetsText(o.Sets); got != "set A B require-all=false sequential=false set C action=stop" || o.Kind != cib.Optional || o.Symmetrical || o.ID != "pcs_rsc_order_set_A_B_set_C" {
		t.Errorf("order set: %+v (%s)", o, got)
	}
	co, err := parseColocationSet(c, []string{"set", "A", "set", "B", "C", "sequential=false", "setoptions", "score=-100", "id=apart"})
	if err != nil {
		t.Fatal(err)
	}
	if got := cib.SetsText(co.Sets); got != "set A set B C sequential=false" || co.Score != -100 || co.ID != "apart" {
		t.Errorf("colocation set: %+v (%s)", co, got)
	}
	if err := c.AddOrder(o); err != nil {
		t.Fatal(err)
	}
	if err := c.AddColocation(co); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate().Err(); err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	writeConstraints(&buf, c, true)
	want := `Location Constraints:
Ordering Constraints:
  Resource Sets:
    set A B require-all=false sequential=false set C action=stop setoptions kind=Optional symmetrical=false (id:pcs_rsc_order_set_A_B_set_C)
Colocation Constraints:
  Resource Sets:
    set A set B C sequential=false setoptions score=-100 (id:apart)
`
	if buf.String() != want {
		t.Errorf("constraint list:\n%s\nwant:\n%s", buf.String(), want)
	}
}

// pcs's location rule sentence: options, then the expression.
func TestLocationRuleSentence(t *testing.T) {
	f := grammarFile(t)
	c := f.CIB
	if _, err := c.AddResource("db", "systemd:postgresql", cib.ResourceSpec{}); err != nil {
		t.Fatal(err)
	}
	ls, err := parseLocation(c, f.Topology, strings.Fields("db rule score=100 role=Started ( rack eq r1 and defined ssd ) or #uname eq benji"))
	if err != nil {
		t.Fatal(err)
	}
	l := ls[0]
	if l.ID != "location-db" || l.Score != 100 || l.Role != cib.RoleStarted || l.Rule.String() != "#uname eq benji or ( rack eq r1 and defined ssd )" {
		t.Errorf("location rule: %+v %s", l, l.Rule)
	}
	if err := c.SetLocation(l); err != nil {
		t.Fatal(err)
	}
	// A second rule on the same resource gets an id of its own.
	ls, err = parseLocation(c, f.Topology, strings.Fields("db rule score-attribute=weight defined weight"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetLocation(ls[0]); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate().Err(); err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	writeConstraints(&buf, c, false)
	want := `Location Constraints:
  Resource: db
    Constraint: location-db
      Rule: score=100 role=Started
        Expression: #uname eq benji or ( rack eq r1 and defined ssd )
    Constraint: location-db-1
      Rule: score-attribute=weight
        Expression: defined weight
Ordering Constraints:
Colocation Constraints:
`
	if buf.String() != want {
		t.Errorf("constraint list:\n%s\nwant:\n%s", buf.String(), want)
	}
	for args, want := range map[string]string{
		"db rule":                    "expression is missing",
		"db rule scor=5 #uname eq x": `unknown rule option "scor"`,
		"db rule role=Leader a eq b": "role",
		"db rule a eq":               "needs a value",
	} {
		if _, err := parseLocation(c, f.Topology, strings.Fields(args)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", args, err, want)
		}
	}
}

// The seed tutorial's first resource line, verbatim: an OCF agent of three
// parts is plugin "ocf" with type "heartbeat:IPaddr2".
func TestSeedOCFLineParses(t *testing.T) {
	c := grammarFile(t).CIB
	spec, err := parseResourceSpec(strings.Fields("ip=198.18.0.23 cidr_netmask=24 op monitor interval=30s"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.AddResource("VIP", "ocf:heartbeat:IPaddr2", spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate().Err(); err != nil {
		t.Fatal(err)
	}
	if r.Plugin() != "ocf" || r.AgentType() != "heartbeat:IPaddr2" || r.Params["ip"] != "198.18.0.23" || r.Params["cidr_netmask"] != "24" ||
		len(r.Ops) != 1 || r.Ops[0].Name != "monitor" || r.Ops[0].Interval != 30*time.Second {
		t.Fatalf("got %+v", r)
	}
}

// pcs's promotable sentences: "resource create ... promotable [options]",
// "resource promotable RSC", colocations with roles and orders on
// promote; they build a valid model that encodes and parses back.
func TestPromotableSentences(t *testing.T) {
	f := grammarFile(t)
	c := f.CIB
	spec, err := parseResourceSpec(strings.Fields("op monitor interval=10s promotable promoted-max=1 clone-max=2 notify=true"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddResource("db", "systemd:db", spec); err != nil {
		t.Fatal(err)
	}
	if _, err := parseResourceSpec(strings.Fields("clone notify=maybe")); err == nil || !strings.Contains(err.Error(), `notify="maybe": want true or false`) {
		t.Errorf("clone notify=maybe: %v, want a clear error", err)
	}
	if !c.Promotable("db-clone") || c.Resources[0].Clone.Max != 2 || !c.Resources[0].Clone.Notify {
		t.Fatalf("db's clone: %+v, want promotable with clone-max 2", c.Resources[0].Clone)
	}
	if _, err := c.AddResource("cache", "systemd:cache", cib.ResourceSpec{}); err != nil {
		t.Fatal(err)
	}
	if err := c.MakePromotable("cache", "", map[string]string{"promoted-max": "2", "clone-node-max": "1"}); err != nil {
		t.Fatal(err)
	}
	if !c.Promotable("cache-clone") || c.Resources[1].Clone.PromotedMax != 2 {
		t.Fatalf("cache's clone: %+v, want promotable with promoted-max 2", c.Resources[1].Clone)
	}
	if _, err := c.AddResource("vip", "vip", cib.ResourceSpec{}); err != nil {
		t.Fatal(err)
	}
	co, err := parseColocation(c, strings.Fields("vip with Promoted db-clone INFINITY"))
	if err != nil {
		t.Fatal(err)
	}
	if co.Rsc != "vip" || co.With != "db-clone" || co.WithRole != cib.RolePromoted || co.RscRole != "" {
		t.Fatalf("colocation %+v, want vip with Promoted db-clone", co)
	}
	c.Colocations = append(c.Colocations, co)
	co2, err := parseColocation(c, strings.Fields("master cache-clone with vip 100"))
	if err != nil {
		t.Fatal(err)
	}
	if co2.RscRole != cib.RolePromoted || co2.Score != 100 {
		t.Fatalf("colocation %+v, want Promoted cache-clone with vip 100", co2)
	}
	c.Colocations = append(c.Colocations, co2)
	o, err := parseOrder(c, strings.Fields("promote db-clone then start vip"))
	if err != nil {
		t.Fatal(err)
	}
	if o.FirstAction != cib.ActionPromote || o.ThenAction != cib.ActionStart {
		t.Fatalf("order %+v, want promote db-clone then start vip", o)
	}
	c.Orders = append(c.Orders, o)
	// The Unpromoted role (and Slave, its old name), demote orders, roles
	// on colocation sets, location rules for a role.
	co3, err := parseColocation(c, strings.Fields("Unpromoted cache-clone with Slave db-clone -50 id=u"))
	if err != nil {
		t.Fatal(err)
	}
	if co3.RscRole != cib.RoleUnpromoted || co3.WithRole != cib.RoleUnpromoted || co3.Score != -50 || co3.ID != "u" {
		t.Fatalf("colocation %+v, want Unpromoted cache-clone with Unpromoted db-clone -50", co3)
	}
	c.Colocations = append(c.Colocations, co3)
	o2, err := parseOrder(c, strings.Fields("demote cache-clone then start vip id=o2"))
	if err != nil || o2.FirstAction != cib.ActionDemote || o2.ThenAction != cib.ActionStart {
		t.Fatalf("order %+v, %v; want demote cache-clone then start vip", o2, err)
	}
	c.Orders = append(c.Orders, o2)
	cs, err := parseColocationSet(c, strings.Fields("set vip set db-clone role=Promoted set cache-clone role=unpromoted"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cib.SetsText(cs.Sets); got != "set vip set db-clone role=Promoted set cache-clone role=Unpromoted" {
		t.Fatalf("colocation sets %q", got)
	}
	c.Colocations = append(c.Colocations, cs)
	if _, err := parseColocationSet(c, strings.Fields("set db-clone role=Promoted vip")); err == nil || !strings.Contains(err.Error(), "after the set's options") {
		t.Fatalf("a resource after role=: %v", err)
	}
	if _, err := parseOrderSet(c, strings.Fields("set db-clone role=Promoted set vip")); err == nil || !strings.Contains(err.Error(), "action=promote") {
		t.Fatalf("an order set with role=: %v, want a refusal naming action=promote", err)
	}
	l, err := parseLocationRule(c, "db-clone", strings.Fields("role=Unpromoted score=-100 #uname eq holly"))
	if err != nil || l.Role != cib.RoleUnpromoted {
		t.Fatalf("location rule %+v, %v; want role Unpromoted", l, err)
	}
	c.Locations = append(c.Locations, l)
	if ps := c.Validate(); ps != nil {
		t.Fatalf("invalid: %v", ps)
	}
	data, err := config.Encode(f.Topology, c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := config.Parse("back.toml", data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	a, _ := json.Marshal(c)
	b, _ := json.Marshal(back.CIB)
	if string(a) != string(b) {
		t.Fatalf("round trip changed the model:\n%s\n%s", a, b)
	}
	// Roles only for promotable clones, with a clear error.
	bad := *c
	bad.Colocations = []cib.Colocation{{ID: "x", Rsc: "db-clone", With: "vip", WithRole: cib.RolePromoted, Score: cib.Infinity}}
	if ps := bad.Validate(); ps == nil || !strings.Contains(ps.Error(), `"vip" is not a promotable clone`) {
		t.Fatalf("with-rsc-role Promoted on a primitive: %v", ps)
	}
	bad.Colocations = []cib.Colocation{{ID: "x", Rsc: "vip", RscRole: cib.RoleUnpromoted, With: "db-clone", Score: cib.Infinity}}
	if ps := bad.Validate(); ps == nil || !strings.Contains(ps.Error(), `role Unpromoted: "vip" is not a promotable clone`) {
		t.Fatalf("rsc-role Unpromoted on a primitive: %v", ps)
	}
}
