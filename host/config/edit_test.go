package config

import (
	"strings"
	"testing"
	"time"
)

func editBase(t *testing.T) *Config {
	t.Helper()
	c, err := Parse("base.toml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The seed's lines build the reference scenario; the result is valid and
// encodes like a hand-written file.
func TestSeedCommandsBuildTheScenario(t *testing.T) {
	c := editBase(t)
	add := func(id, agent string, args ...string) {
		t.Helper()
		spec, err := ParseResourceSpec(args)
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
	o, err := c.ParseOrder([]string{"VIP-10.10.10.23", "then", "haproxy-clone"})
	if err != nil || c.AddOrder(o) != nil {
		t.Fatal(err)
	}
	o, err = c.ParseOrder([]string{"start", "httpd-clone", "then", "start", "haproxy-clone"})
	if err != nil || c.AddOrder(o) != nil {
		t.Fatal(err)
	}
	co, err := c.ParseColocation([]string{"VIP-10.10.10.23", "with", "haproxy-clone"})
	if err != nil || c.AddColocation(co) != nil {
		t.Fatal(err)
	}
	if err := Validate(c); err != nil {
		t.Fatal(err)
	}
	r, _ := c.Resource("httpd-clone")
	if r == nil || r.Params["configfile"] != "/etc/apache2/apache2.conf" || r.Ops[0].Interval != 30*time.Second || r.Clone.ID != "httpd-clone" {
		t.Fatalf("httpd: %+v", r)
	}
	if got := c.ConstraintIDs(); strings.Join(got, " ") != "colocation-VIP-10.10.10.23-haproxy-clone-INFINITY order-VIP-10.10.10.23-haproxy-clone-mandatory order-httpd-clone-haproxy-clone-mandatory" {
		t.Errorf("constraint ids: %v", got)
	}
	if o := c.Orders[1]; o.FirstAction != ActionStart || o.ThenAction != ActionStart || !o.Symmetrical || o.Kind != Mandatory {
		t.Errorf("order: %+v", o)
	}
	text, err := Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse("encoded", text); err != nil {
		t.Fatalf("encoded edit does not parse: %v\n%s", err, text)
	}

	removed, err := c.DeleteResource("haproxy")
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 3 || len(c.Orders)+len(c.Colocations) != 0 || len(c.Resources) != 2 {
		t.Errorf("delete haproxy removed %v; left %d orders, %d colocations, %d resources", removed, len(c.Orders), len(c.Colocations), len(c.Resources))
	}
	if err := Validate(c); err != nil {
		t.Fatal(err)
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
		{[]string{"op", "monitr", "interval=30s"}, `malformed op clause: "monitr" is not an operation`},
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
		_, err := ParseResourceSpec(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	spec, err := ParseResourceSpec([]string{"a=1", "op", "monitor", "interval=10s", "timeout=5", "start", "timeout=1m", "meta", "resource-stickiness=INFINITY", "clone", "web", "clone-max=2", "interleave=true"})
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Ops) != 2 || spec.Ops[0].Timeout != 5*time.Second || spec.Ops[1].Name != "start" || spec.Ops[1].Timeout != time.Minute ||
		spec.Clone.ID != "web" || spec.Clone.Max != 2 || !spec.Clone.Interleave || spec.Meta["resource-stickiness"] != "INFINITY" {
		t.Errorf("spec: %+v clone %+v", spec, spec.Clone)
	}
}

func TestEditErrorsChangeNothing(t *testing.T) {
	c := editBase(t)
	spec, _ := ParseResourceSpec([]string{"clone"})
	if _, err := c.AddResource("web", "systemd:apache2", spec); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddResource("db", "systemd:postgresql", ResourceSpec{}); err != nil {
		t.Fatal(err)
	}
	before, _ := Encode(c)
	cases := []struct {
		name string
		edit func() error
		want string
	}{
		{"duplicate id", func() error { _, err := c.AddResource("web", "vip", ResourceSpec{}); return err }, `id "web" is already used by a resource`},
		{"clone id taken", func() error { _, err := c.AddResource("web-clone", "vip", ResourceSpec{}); return err }, `already used by the clone of resource "web"`},
		{"bad agent", func() error { _, err := c.AddResource("x", "Sys temd", ResourceSpec{}); return err }, `agent "Sys temd" is not PLUGIN or PLUGIN:TYPE`},
		{"unknown order rsc", func() error { _, err := c.ParseOrder([]string{"nope", "then", "db"}); return err }, `no resource or clone "nope" (defined: db, web, web-clone)`},
		{"order names primitive of clone", func() error { _, err := c.ParseOrder([]string{"web", "then", "db"}); return err }, `"web" is cloned; constraints name the clone: use "web-clone"`},
		{"order without then", func() error { _, err := c.ParseOrder([]string{"db", "web-clone"}); return err }, `expected "then" after "db"`},
		{"order bad kind", func() error { _, err := c.ParseOrder([]string{"db", "then", "web-clone", "kind=Always"}); return err }, `kind="Always"`},
		{"colocation score", func() error { _, err := c.ParseColocation([]string{"db", "with", "web-clone", "lots"}); return err }, `score "lots"`},
		{"location witness", func() error { _, err := c.ParseLocation([]string{"db", "prefers", "director"}); return err }, `"director" is the witness`},
		{"location unknown node", func() error { _, err := c.ParseLocation([]string{"db", "prefers", "bob=50"}); return err }, `no node "bob" (nodes: holly, benji)`},
		{"remove unknown", func() error { return c.RemoveConstraint("order-x") }, `no constraint "order-x"`},
		{"move a clone", func() error { _, err := c.Move("web", "holly"); return err }, "is a clone"},
		{"update unknown", func() error { return c.UpdateResource("nope", ResourceSpec{}) }, `no resource or clone "nope"`},
		{"standby witness", func() error { return c.SetStandby("director", true) }, "is the witness"},
		{"unknown property", func() error { return c.SetProperty("maintenance_mode", "true") }, `unknown property "maintenance_mode" (did you mean "maintenance-mode"?)`},
		{"property value", func() error { return c.SetProperty("maintenance-mode", "yes please") }, "want true or false"},
	}
	for _, tc := range cases {
		err := tc.edit()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if after, _ := Encode(c); string(after) != string(before) {
			t.Errorf("%s changed the configuration", tc.name)
		}
	}
}

// An order that closes a loop parses, and Validate names the cycle.
func TestOrderCycleRefused(t *testing.T) {
	c := editBase(t)
	for _, id := range []string{"a", "b"} {
		if _, err := c.AddResource(id, "vip", ResourceSpec{Params: map[string]string{"ip": "198.18.0.99"}}); err != nil {
			t.Fatal(err)
		}
	}
	o, _ := c.ParseOrder([]string{"a", "then", "b"})
	if err := c.AddOrder(o); err != nil {
		t.Fatal(err)
	}
	o, _ = c.ParseOrder([]string{"b", "then", "a"})
	if err := c.AddOrder(o); err != nil {
		t.Fatal(err)
	}
	err := Validate(c)
	if err == nil || !strings.Contains(err.Error(), "ordering cycle: start a then start b then start a") {
		t.Errorf("cycle: %v", err)
	}
}

func TestMoveBanClearUpdate(t *testing.T) {
	c := editBase(t)
	spec, _ := ParseResourceSpec([]string{"ip=198.18.0.99", "op", "monitor", "interval=10s"})
	if _, err := c.AddResource("vip1", "vip", spec); err != nil {
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
	if len(c.Locations) != 2 || c.Locations[0].Node != "benji" || c.Locations[1].Score != -Infinity {
		t.Errorf("locations: %+v", c.Locations)
	}
	if err := Validate(c); err != nil {
		t.Fatal(err)
	}
	removed, err := c.Clear("vip1")
	if err != nil || len(removed) != 2 || len(c.Locations) != 0 {
		t.Errorf("clear: %v %v %+v", removed, err, c.Locations)
	}
	up, _ := ParseResourceSpec([]string{"cidr_netmask=24", "ip=198.18.0.98", "op", "monitor", "interval=20s", "meta", "target-role=Stopped"})
	if err := c.UpdateResource("vip1", up); err != nil {
		t.Fatal(err)
	}
	r, _ := c.Resource("vip1")
	if r.Params["ip"] != "198.18.0.98" || r.Params["cidr_netmask"] != "24" || len(r.Ops) != 1 || r.Ops[0].Interval != 20*time.Second || r.Meta.TargetRole != RoleStopped {
		t.Errorf("updated: %+v", r)
	}
	up, _ = ParseResourceSpec([]string{"cidr_netmask=", "meta", "target-role="})
	if err := c.UpdateResource("vip1", up); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Params["cidr_netmask"]; ok || r.Meta.TargetRole != "" {
		t.Errorf("emptied: %+v", r)
	}
	if err := c.SetStandby("benji", true); err != nil || !c.Node("benji").Standby {
		t.Errorf("standby: %v", err)
	}
	if err := c.SetProperty("maintenance-mode", "true"); err != nil || !c.Properties.MaintenanceMode {
		t.Errorf("property: %v", err)
	}
}
