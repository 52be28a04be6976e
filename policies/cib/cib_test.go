package cib

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// base is a two-node model with a cloned web server and a database.
func base(t *testing.T) *CIB {
	t.Helper()
	c := &CIB{Nodes: []Node{{Name: "holly"}, {Name: "benji"}}}
	if _, err := c.AddResource("web", "systemd:apache2", ResourceSpec{Clone: &Clone{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddResource("db", "systemd:postgresql", ResourceSpec{}); err != nil {
		t.Fatal(err)
	}
	return c
}

func encoded(t *testing.T, c *CIB) string {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseScore(t *testing.T) {
	for in, want := range map[string]Score{"INFINITY": Infinity, "-INFINITY": -Infinity, "+INFINITY": Infinity, "42": 42, "-7": -7, "5000000": Infinity} {
		got, err := ParseScore(in)
		if err != nil || got != want {
			t.Errorf("ParseScore(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "inf1", "1.5", "INFINITE"} {
		if _, err := ParseScore(bad); err == nil {
			t.Errorf("ParseScore(%q) accepted", bad)
		}
	}
}

// Score arithmetic is Pacemaker's: -INFINITY wins, then INFINITY, finite
// sums and products saturate, a nonzero score never scales to zero.
func TestScoreArithmetic(t *testing.T) {
	add := []struct{ a, b, want Score }{
		{1, 2, 3}, {Infinity, -Infinity, -Infinity}, {-Infinity, Infinity, -Infinity}, {Infinity, 5, Infinity},
		{999999, 999999, Infinity}, {-999999, -999999, -Infinity}, {-5, 3, -2},
	}
	for _, tc := range add {
		if got := tc.a.Add(tc.b); got != tc.want {
			t.Errorf("%v + %v = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	scale := []struct {
		s      Score
		factor float64
		want   Score
	}{
		{100, 0.5, 50}, {3, 0.5, 2}, {-3, 0.5, -2}, {1, 0.001, 1}, {1, -0.001, -1}, {0, 0.5, 0}, {Infinity, 1, Infinity}, {Infinity, -1, -Infinity},
	}
	for _, tc := range scale {
		if got := tc.s.Scale(tc.factor); got != tc.want {
			t.Errorf("%v scaled by %v = %v, want %v", tc.s, tc.factor, got, tc.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"30": 30 * time.Second, "2min": 2 * time.Minute, "500ms": 500 * time.Millisecond, "90sec": 90 * time.Second, "1hr": time.Hour} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"soon", "-5s", "99999999999999999"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}

func TestEffectiveMeta(t *testing.T) {
	c := base(t)
	hundred, two := 100, 2
	minute := time.Minute
	c.Defaults = Meta{Stickiness: &hundred, FailureTimeout: &minute}
	r, _ := c.Resource("db")
	r.Meta = Meta{MigrationThreshold: &two, TargetRole: RoleStopped}
	got := c.Effective(r)
	want := EffectiveMeta{Stickiness: 100, MigrationThreshold: 2, FailureTimeout: time.Minute, TargetRole: RoleStopped}
	if got != want {
		t.Errorf("effective meta: got %+v, want %+v", got, want)
	}
	web, _ := c.Resource("web")
	if got := c.Effective(web); got.MigrationThreshold != DefaultMigrationThreshold || got.TargetRole != RoleStarted {
		t.Errorf("defaults of web: got %+v, want migration-threshold %d, Started", got, DefaultMigrationThreshold)
	}
}

func TestEditErrorsChangeNothing(t *testing.T) {
	c := base(t)
	before := encoded(t, c)
	cases := []struct {
		name string
		edit func() error
		want string
	}{
		{"duplicate id", func() error { _, err := c.AddResource("web", "vip", ResourceSpec{}); return err }, `id "web" is already used by a resource`},
		{"clone id taken", func() error { _, err := c.AddResource("web-clone", "vip", ResourceSpec{}); return err }, `already used by the clone of resource "web"`},
		{"bad id", func() error { _, err := c.AddResource("-x", "vip", ResourceSpec{}); return err }, `resource id "-x": an id starts with`},
		{"bad agent", func() error { _, err := c.AddResource("x", "Sys temd", ResourceSpec{}); return err }, `agent "Sys temd" is not PLUGIN, PLUGIN:TYPE or ocf:PROVIDER:TYPE`},
		{"bad meta", func() error {
			_, err := c.AddResource("x", "vip", ResourceSpec{Meta: map[string]string{"migration-threshold": "lots"}})
			return err
		}, `migration-threshold: score "lots"`},
		{"remove unknown", func() error { return c.RemoveConstraint("order-x") }, `no constraint "order-x" (constraints: none`},
		{"move a clone", func() error { _, err := c.Move("web", "holly"); return err }, "is a clone"},
		{"move to nowhere", func() error { _, err := c.Move("db", "bob"); return err }, `no node "bob" (nodes: holly, benji)`},
		{"ban unknown", func() error { _, err := c.Ban("nope", "holly"); return err }, `no resource or clone "nope" (defined: db, web, web-clone)`},
		{"update unknown", func() error { return c.UpdateResource("nope", ResourceSpec{}) }, `no resource or clone "nope"`},
		{"update half bad", func() error {
			return c.UpdateResource("db", ResourceSpec{Params: map[string]string{"port": "5433"}, Meta: map[string]string{"priority": "x"}})
		}, `priority: score "x"`},
		{"clone options of a primitive", func() error {
			return c.UpdateResource("db", ResourceSpec{Clone: &Clone{}, CloneOptions: map[string]string{"clone-max": "1"}})
		}, `resource "db" is not cloned`},
		{"bad clone option", func() error {
			return c.UpdateResource("web", ResourceSpec{Clone: &Clone{}, CloneOptions: map[string]string{"clonemax": "1"}})
		}, `unknown clone option "clonemax" (did you mean "clone-max"?)`},
		{"standby unknown", func() error { return c.SetStandby("director", true) }, `no node "director"`},
		{"unknown property", func() error { return c.SetProperty("maintenance_mode", "true") }, `unknown property "maintenance_mode" (did you mean "maintenance-mode"?)`},
		{"property value", func() error { return c.SetProperty("maintenance-mode", "yes please") }, "want true or false"},
		{"target role", func() error { return c.SetTargetRole("db", "Paused") }, `target-role "Paused": must be Started or Stopped`},
	}
	for _, tc := range cases {
		err := tc.edit()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
		if after := encoded(t, c); after != before {
			t.Errorf("%s changed the model:\n got %s\nwant %s", tc.name, after, before)
		}
	}
}

func TestMoveBanClearUpdate(t *testing.T) {
	c := base(t)
	if _, err := c.AddResource("vip1", "vip", ResourceSpec{Params: map[string]string{"ip": "198.18.0.99"}, Ops: []Op{{Name: "monitor", Interval: 10 * time.Second}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Move("vip1", "holly"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Move("vip1", "benji"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ban("vip1", "holly"); err != nil {
		t.Fatal(err)
	}
	want := []Location{{ID: "cli-prefer-vip1", Rsc: "vip1", Node: "benji", Score: Infinity}, {ID: "cli-ban-vip1-on-holly", Rsc: "vip1", Node: "holly", Score: -Infinity}}
	if !reflect.DeepEqual(c.Locations, want) {
		t.Errorf("locations: got %+v, want %+v", c.Locations, want)
	}
	if ps := c.Validate(); ps != nil {
		t.Fatal(ps)
	}
	removed, err := c.Clear("vip1")
	if err != nil || len(removed) != 2 || len(c.Locations) != 0 {
		t.Errorf("clear: removed %v (err %v), left %+v; want both removed", removed, err, c.Locations)
	}
	up := ResourceSpec{Params: map[string]string{"cidr_netmask": "24", "ip": "198.18.0.98"}, Ops: []Op{{Name: "monitor", Interval: 20 * time.Second}},
		Meta: map[string]string{"target-role": "stopped"}}
	if err := c.UpdateResource("vip1", up); err != nil {
		t.Fatal(err)
	}
	r, _ := c.Resource("vip1")
	if r.Params["ip"] != "198.18.0.98" || r.Params["cidr_netmask"] != "24" || len(r.Ops) != 1 || r.Ops[0].Interval != 20*time.Second || r.Meta.TargetRole != RoleStopped {
		t.Errorf("updated: got %+v, want ip .98/24, one monitor of 20s, Stopped", r)
	}
	if err := c.UpdateResource("vip1", ResourceSpec{Params: map[string]string{"cidr_netmask": ""}, Meta: map[string]string{"target-role": ""}}); err != nil {
		t.Fatal(err)
	}
	r, _ = c.Resource("vip1")
	if _, ok := r.Params["cidr_netmask"]; ok || r.Meta.TargetRole != "" {
		t.Errorf("emptied: got %+v, want no cidr_netmask and no target-role", r)
	}
	if err := c.UpdateResource("web-clone", ResourceSpec{Clone: &Clone{}, CloneOptions: map[string]string{"clone-max": "1", "interleave": "true"}}); err != nil {
		t.Fatal(err)
	}
	if web, _ := c.Resource("web"); web.Clone.Max != 1 || !web.Clone.Interleave || web.Clone.ID != "web-clone" {
		t.Errorf("clone options: got %+v, want clone-max 1, interleave", web.Clone)
	}
	if err := c.SetStandby("benji", true); err != nil || !c.Node("benji").Standby {
		t.Errorf("standby: %v, node %+v", err, c.Node("benji"))
	}
	if err := c.SetNodeMaintenance("holly", true); err != nil || !c.Node("holly").Maintenance {
		t.Errorf("maintenance: %v, node %+v", err, c.Node("holly"))
	}
	if err := c.SetProperty("maintenance-mode", "true"); err != nil || !c.Properties.MaintenanceMode {
		t.Errorf("property: %v", err)
	}
}

func TestDeleteResourceTakesItsConstraints(t *testing.T) {
	c := base(t)
	for _, err := range []error{
		c.AddOrder(Order{ID: "o1", First: "db", Then: "web-clone", FirstAction: ActionStart, ThenAction: ActionStart, Kind: Mandatory, Symmetrical: true}),
		c.AddColocation(Colocation{ID: "c1", Rsc: "db", With: "web-clone", Score: Infinity}),
		c.SetLocation(Location{ID: "l1", Rsc: "web-clone", Node: "holly", Score: 50}),
		c.SetLocation(Location{ID: "l2", Rsc: "db", Node: "benji", Score: 10}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	removed, err := c.DeleteResource("web-clone")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(removed, " "), "o1 c1 l1"; got != want {
		t.Errorf("removed %q, want %q", got, want)
	}
	if got, want := strings.Join(c.ConstraintIDs(), " "), "l2"; got != want || len(c.Resources) != 1 {
		t.Errorf("left constraints %q (want %q) and %d resources (want 1)", got, want, len(c.Resources))
	}
	// A second location on the same resource and node replaces the first.
	if err := c.SetLocation(Location{ID: "l3", Rsc: "db", Node: "benji", Score: -10}); err != nil {
		t.Fatal(err)
	}
	if len(c.Locations) != 1 || c.Locations[0].Score != -10 {
		t.Errorf("locations after replacing: %+v, want one of -10", c.Locations)
	}
}

func TestValidateNamesPaths(t *testing.T) {
	c := base(t)
	c.Resources = append(c.Resources, Resource{ID: "db", Agent: "Systemd x", Ops: []Op{{Name: "monitor"}, {Name: "probe"}, {Name: "start", Interval: time.Second}}})
	c.Orders = []Order{
		{ID: "o1", First: "db", Then: "web", FirstAction: ActionStart, ThenAction: ActionStart, Kind: Mandatory},
		{ID: "o2", First: "db", Then: "nope", FirstAction: "begin", ThenAction: ActionStart, Kind: "Always"},
	}
	c.Colocations = []Colocation{{ID: "o1", Rsc: "db", With: "db", Score: Infinity}}
	c.Locations = []Location{{ID: "l1", Rsc: "web-clone", Node: "director", Score: 5}}
	c.Nodes = append(c.Nodes, Node{Name: "holly"})
	want := []string{
		`node[2].name: node "holly": duplicate name (also defined at node[0].name)`,
		`resource[2].id: resource "db": duplicate id "db" (also defined at resource[1].id); ids of resources, clones and constraints must be unique`,
		`resource[2].agent: resource "db": agent "Systemd x" is not PLUGIN, PLUGIN:TYPE or ocf:PROVIDER:TYPE`,
		`resource[2].op[0]: resource "db": op monitor needs an interval > 0`,
		`resource[2].op[1]: resource "db": op "probe" is not one of start, stop, monitor, reload, promote, demote`,
		`resource[2].op[2]: resource "db": op start: only monitor takes an interval`,
		`colocation[0]: colocation: duplicate id "o1" (also defined at order[0])`,
		`order[0].then: order db then web: "web" is cloned; constraints name the clone: use "web-clone"`,
		`order[1].then: order db then nope: no resource or clone "nope" (defined: db, db, web-clone)`,
		`order[1].first-action: order db then nope: first-action "begin" is not start, stop, promote or demote`,
		`order[1].kind: order db then nope: kind "Always" is not Mandatory, Optional or Serialize`,
		`colocation[0]: colocation db with db: a resource cannot be colocated with itself`,
		`location[0].node: location web-clone on director: no node "director" (nodes: holly, benji, holly)`,
	}
	got := c.Validate().Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
}

// An order that closes a loop is named by Validate, with the orders along it.
func TestOrderCycles(t *testing.T) {
	c := base(t)
	add := func(id, first, then string, fa, ta Action, sym bool) {
		t.Helper()
		if err := c.AddOrder(Order{ID: id, First: first, Then: then, FirstAction: fa, ThenAction: ta, Kind: Mandatory, Symmetrical: sym}); err != nil {
			t.Fatal(err)
		}
	}
	add("o1", "db", "web-clone", ActionStart, ActionStart, true)
	if ps := c.Validate(); ps != nil {
		t.Fatalf("one order: %v", ps)
	}
	// o1 being symmetrical, it also stops web-clone before db: stopping db
	// before web-clone closes a loop.
	add("o2", "db", "web-clone", ActionStop, ActionStop, false)
	cycles := c.OrderCycles()
	if len(cycles) != 1 || strings.Join(cycles[0].Steps, " then ") != "stop db then stop web-clone then stop db" {
		t.Fatalf("cycles: got %+v, want stop db then stop web-clone then stop db", cycles)
	}
	if got := strings.Join(cycles[0].Orders, ","); got != "o2,o1" && got != "o1,o2" {
		t.Errorf("orders along the cycle: %s, want o1 and o2", got)
	}
	if err := c.Validate().Err(); err == nil || !strings.Contains(err.Error(), "order[1]: ordering cycle: stop db then stop web-clone then stop db") &&
		!strings.Contains(err.Error(), "order[0]: ordering cycle: stop db then stop web-clone then stop db") {
		t.Errorf("validate: got %v, want the cycle named", err)
	}
	c.Orders[1].Kind = Serialize
	if cyc := c.OrderCycles(); len(cyc) != 0 {
		t.Errorf("a Serialize order has no direction, got cycles %+v", cyc)
	}
}

// The model's JSON form is what the live configuration stores: it must
// round-trip exactly.
func TestJSONRoundTrip(t *testing.T) {
	c := base(t)
	hundred := 100
	minute := time.Minute
	c.Defaults = Meta{Stickiness: &hundred, FailureTimeout: &minute}
	c.Nodes[1].Standby = true
	c.Properties.MaintenanceMode = true
	_ = c.AddOrder(Order{ID: "o1", First: "db", Then: "web-clone", FirstAction: ActionStart, ThenAction: ActionStart, Kind: Optional})
	_ = c.AddColocation(Colocation{ID: "c1", Rsc: "db", With: "web-clone", Score: -Infinity})
	r, _ := c.Resource("db")
	r.Ops = []Op{{Name: "monitor", Interval: 10 * time.Second, Timeout: 20 * time.Second}}
	r.Params = map[string]string{"port": "5432"}
	var back CIB
	if err := json.Unmarshal([]byte(encoded(t, c)), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, &back) {
		t.Errorf("round trip:\n got %+v\nwant %+v", &back, c)
	}
}

func TestFingerprint(t *testing.T) {
	two := 2
	base := Resource{ID: "httpd", Agent: "systemd:apache2", Params: map[string]string{"a": "1", "b": "2"},
		Ops: []Op{{Name: "monitor", Interval: 30 * time.Second}}, Clone: &Clone{ID: "httpd-clone"}}
	same := base
	same.Params = map[string]string{"b": "2", "a": "1"}
	if Fingerprint(&base) != Fingerprint(&same) || Fingerprint(&base) == "" {
		t.Fatalf("equal definitions: %q and %q", Fingerprint(&base), Fingerprint(&same))
	}
	disabled := base
	disabled.Meta.TargetRole = RoleStopped
	prio := base
	prio.Meta.Priority = &two
	timeout := base
	timeout.Ops = []Op{{Name: "monitor", Interval: 30 * time.Second}, {Name: "stop", Timeout: time.Minute}}
	for name, r := range map[string]*Resource{"disabled": &disabled, "priority": &prio, "stop timeout": &timeout, "deleted": nil} {
		if Fingerprint(r) == Fingerprint(&base) {
			t.Errorf("%s: same fingerprint as before the change", name)
		}
	}
	if Fingerprint(nil) != "" {
		t.Errorf("no resource: %q", Fingerprint(nil))
	}
}

// Agent names: PLUGIN, PLUGIN:TYPE, and OCF's three parts (the plugin
// "ocf", the type "PROVIDER:TYPE"); an OCF provider or type that could be a
// path is refused with a message naming the agent.
func TestAgentNames(t *testing.T) {
	for _, tc := range []struct{ agent, plugin, typ string }{
		{"vip", "vip", "vip"},
		{"systemd:apache2", "systemd", "apache2"},
		{"systemd:srv-data.mount", "systemd", "srv-data.mount"},
		{"ocf:heartbeat:IPaddr2", "ocf", "heartbeat:IPaddr2"},
		{"ocf:pacemaker:Dummy", "ocf", "pacemaker:Dummy"},
		{"ocf:linbit:drbd", "ocf", "linbit:drbd"},
		{"ocf:my_corp:app-2.1", "ocf", "my_corp:app-2.1"},
	} {
		if msg := AgentProblem(tc.agent); msg != "" {
			t.Errorf("%s refused: %s", tc.agent, msg)
			continue
		}
		r := Resource{Agent: tc.agent}
		if r.Plugin() != tc.plugin || r.AgentType() != tc.typ {
			t.Errorf("%s: plugin %q type %q, want %q %q", tc.agent, r.Plugin(), r.AgentType(), tc.plugin, tc.typ)
		}
	}
	for _, tc := range []struct{ agent, want string }{
		{"ocf:../../bin:sh", `agent "ocf:../../bin:sh" is not ocf:PROVIDER:TYPE`},
		{"ocf:heartbeat:../../../bin/sh", `never paths`},
		{"ocf:..:sh", `is not ocf:PROVIDER:TYPE`},
		{"ocf:heartbeat:.ocf-shellfuncs", `not starting with '.'`},
		{"ocf:heartbeat", `agent "ocf:heartbeat" is not ocf:PROVIDER:TYPE (e.g. ocf:heartbeat:IPaddr2)`},
		{"ocf", `is not ocf:PROVIDER:TYPE`},
		{"ocf:a:b:c", `is not ocf:PROVIDER:TYPE`},
		{"systemd:a:b", `agent "systemd:a:b" is not PLUGIN, PLUGIN:TYPE or ocf:PROVIDER:TYPE`},
		{"Sys temd", `is not PLUGIN, PLUGIN:TYPE or ocf:PROVIDER:TYPE`},
	} {
		if msg := AgentProblem(tc.agent); !strings.Contains(msg, tc.want) {
			t.Errorf("%s: %q, want %q", tc.agent, msg, tc.want)
		}
	}
	c := base(t)
	if _, err := c.AddResource("VIP", "ocf:heartbeat:IPaddr2", ResourceSpec{Params: map[string]string{"ip": "198.18.0.23", "cidr_netmask": "24"}}); err != nil {
		t.Fatal(err)
	}
	if ps := c.Validate(); ps != nil {
		t.Fatal(ps)
	}
}
