package cibimport

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/priv"
	"github.com/tandem-ha/tandem/policies/cib"
)

func parseFile(t *testing.T, path string) *Result {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	res, err := Parse(filepath.Base(path), fh)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return res
}

func items(list []Item) string {
	var out []string
	for _, it := range list {
		out = append(out, it.String())
	}
	return strings.Join(out, "\n")
}

// The seed tutorial's CIB, as pcs builds it, imports whole: nothing is left
// out, and the model is the reference cluster's (with the CIB's agents).
func TestSeedImport(t *testing.T) {
	res := parseFile(t, "testdata/pcs/seed.xml")
	if len(res.Skipped) > 0 {
		t.Errorf("skipped:\n%s", items(res.Skipped))
	}
	if res.ClusterName != "mycluster" || res.Schema != "pacemaker-3.9" {
		t.Errorf("cluster name %q, schema %q", res.ClusterName, res.Schema)
	}
	if !strings.Contains(items(res.Notes), `stonith-enabled=false: Tandem fences with leases`) {
		t.Errorf("no note about stonith-enabled:\n%s", items(res.Notes))
	}
	c := res.CIB
	if got := c.NodeNames(); !slices.Equal(got, []string{"holly", "benji"}) {
		t.Errorf("nodes %v", got)
	}
	vip, _ := c.Resource("VIP-10.10.10.23")
	if vip == nil || vip.Agent != "ocf:heartbeat:IPaddr2" || vip.Params["ip"] != "10.10.10.23" || vip.Params["cidr_netmask"] != "24" || vip.Clone != nil {
		t.Fatalf("VIP: %+v", vip)
	}
	wantOps := []cib.Op{{Name: "monitor", Interval: 10 * time.Second}, {Name: "start", Timeout: 20 * time.Second}, {Name: "stop", Timeout: 20 * time.Second}}
	if !slices.Equal(vip.Ops, wantOps) {
		t.Errorf("VIP ops %+v, want %+v", vip.Ops, wantOps)
	}
	for id, agent := range map[string]string{"httpd": "systemd:httpd", "haproxy": "systemd:haproxy"} {
		r, _ := c.Resource(id)
		if r == nil || r.Agent != agent || r.Clone == nil || r.Clone.ID != id+"-clone" {
			t.Errorf("%s: %+v", id, r)
		}
	}
	if r, _ := c.Resource("httpd"); r.Params["configfile"] != "/etc/httpd/conf/httpd.conf" {
		t.Errorf("httpd params %v", r.Params)
	}
	d := c.Effective(vip)
	if d.Stickiness != 100 || d.MigrationThreshold != 3 || d.FailureTimeout != time.Minute {
		t.Errorf("defaults: %+v", d)
	}
	var cons []string
	for _, o := range c.Orders {
		cons = append(cons, string(o.FirstAction)+" "+o.First+" then "+string(o.ThenAction)+" "+o.Then+" "+string(o.Kind))
	}
	for _, co := range c.Colocations {
		cons = append(cons, co.Rsc+" with "+co.With+" "+co.Score.String())
	}
	want := []string{"start VIP-10.10.10.23 then start haproxy-clone Mandatory", "start httpd-clone then start haproxy-clone Mandatory", "VIP-10.10.10.23 with haproxy-clone INFINITY"}
	if !slices.Equal(cons, want) {
		t.Errorf("constraints:\n%s\nwant\n%s", strings.Join(cons, "\n"), strings.Join(want, "\n"))
	}
}

// With pcs installed, the seed's CIB is built again with the real pcs
// commands and must import to the same model as the committed copy.
func TestSeedFromPCS(t *testing.T) {
	if testing.Short() {
		t.Skip("pcs takes a few seconds a command (-short)")
	}
	priv.Tools(t, "pcs", "pcs", "cibadmin", "crm_attribute")
	out := filepath.Join(t.TempDir(), "seed.xml")
	cmd := exec.Command("sh", "testdata/seed-pcs.sh", out)
	cmd.Env = append(os.Environ(), "CIB_file=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("seed-pcs.sh: %v\n%s", err, b)
	}
	fresh, committed := parseFile(t, out), parseFile(t, "testdata/pcs/seed.xml")
	a, _ := json.Marshal(fresh.CIB)
	b, _ := json.Marshal(committed.CIB)
	if string(a) != string(b) {
		t.Errorf("pcs built a CIB that imports differently from testdata/pcs/seed.xml:\n%s\n%s", a, b)
	}
	if len(fresh.Skipped) > 0 {
		t.Errorf("skipped:\n%s", items(fresh.Skipped))
	}
}

// Pacemaker's own regression CIBs: what maps is imported, and everything
// else is listed by element id with why.
func TestRegressionCIBs(t *testing.T) {
	cases := []struct {
		file    string
		skipped map[string]string // element id -> part of why
		check   func(t *testing.T, c *cib.CIB)
	}{
		{file: "coloc-group", check: func(t *testing.T, c *cib.CIB) {
			g, _ := c.Group("group1")
			if g == nil || !slices.Equal(g.Resources, []string{"rsc2", "rsc3", "rsc4"}) {
				t.Errorf("group1: %+v", g)
			}
		}},
		{file: "group7", check: func(t *testing.T, c *cib.CIB) {
			if len(c.Groups) != 2 || len(c.Orders) == 0 || len(c.Colocations) == 0 {
				t.Errorf("groups %d orders %d colocations %d", len(c.Groups), len(c.Orders), len(c.Colocations))
			}
		}},
		{file: "group4"},
		{file: "group15"},
		{file: "colocated-utilization-clone", check: func(t *testing.T, c *cib.CIB) {
			g, _ := c.Group("group1")
			if g == nil || g.Clone == nil || g.Clone.ID != "clone2" {
				t.Errorf("cloned group1: %+v", g)
			}
			r, _ := c.Resource("rsc1")
			if c.Properties.PlacementStrategy != cib.PlacementUtilization || c.Node("node1").Utilization["cpu"] == 0 || r == nil || r.Utilization["cpu"] != 2 {
				t.Errorf("utilization not imported: %+v, node1 %+v, rsc1 %+v", c.Properties, c.Node("node1").Utilization, r)
			}
		}},
		{file: "inc7", check: func(t *testing.T, c *cib.CIB) {
			for _, id := range []string{"rsc1", "rsc2"} {
				r, _ := c.Resource(id)
				if r == nil || !r.Clone.GloballyUnique || r.Clone.Max != 5 || r.Clone.NodeMax != 2 || !r.Clone.Interleave {
					t.Errorf("%s: want a globally-unique clone (clone-max 5, clone-node-max 2, interleave): %+v", id, r)
				}
			}
		}},
		{file: "inc11", check: func(t *testing.T, c *cib.CIB) {
			if !c.Promotable("rsc1") {
				t.Error("rsc1 is not a promotable clone")
			}
		}},
		{file: "promoted-11", check: func(t *testing.T, c *cib.CIB) {
			if !c.Promotable("rsc1") || len(c.Colocations) != 1 || c.Colocations[0].WithRole != cib.RolePromoted {
				t.Errorf("promoted-11: %+v", c.Colocations)
			}
		}},
		{file: "anti-colocation-unpromoted", skipped: map[string]string{"st_sbd": "Tandem fences with leases"}, check: func(t *testing.T, c *cib.CIB) {
			if len(c.Colocations) != 1 || c.Colocations[0].WithRole != cib.RoleUnpromoted || c.Colocations[0].RscRole != "" {
				t.Errorf("colocations: %+v", c.Colocations)
			}
		}},
		{file: "colo_unpromoted_w_native", check: func(t *testing.T, c *cib.CIB) {
			if len(c.Colocations) != 1 || c.Colocations[0].RscRole != cib.RoleUnpromoted {
				t.Errorf("colocations: %+v", c.Colocations)
			}
		}},
		{file: "rsc-sets-promoted", check: func(t *testing.T, c *cib.CIB) {
			if len(c.Colocations) != 1 || cib.SetsText(c.Colocations[0].Sets) != "set rsc1 rsc2 rsc3 sequential=false set ms-rsc role=Promoted" {
				t.Errorf("colocations: %+v", c.Colocations)
			}
		}},
		{file: "template-rsc-sets-2", skipped: map[string]string{"rsc1": "templates are not supported", "template1": "templates", "template1-colo": `names "template1"`}},
		{file: "tags-coloc-order-2", skipped: map[string]string{"": "tags are not supported"}},
		{file: "rsc-defaults", skipped: map[string]string{"fencing": "Tandem fences with leases", "op-unmanaged": "chosen by rules"}},
		{file: "op-defaults", skipped: map[string]string{"fencing": "Tandem fences with leases", "op-monitor-defaults": "chosen by rules", "dummy-rsc-monitor-interval-60s": "on-fail=stop"}},
		{file: "use-after-free-merge", skipped: map[string]string{"fencing-sbd": "Tandem fences with leases", "cli-standby-fencing-sbd": `names "fencing-sbd"`}, check: func(t *testing.T, c *cib.CIB) {
			if len(c.Orders) != 1 || c.Orders[0].ThenAction != cib.ActionPromote {
				t.Errorf("orders: %+v", c.Orders)
			}
		}},
		{file: "stonith-3", skipped: map[string]string{"": "Tandem fences with leases"}},
		{file: "clone-order-primitive", check: func(t *testing.T, c *cib.CIB) {
			if r, _ := c.Resource("smb_lsb"); r == nil || r.Agent != "lsb:smb" {
				t.Errorf("smb_lsb imported as %+v, want agent lsb:smb", r)
			}
		}},
		{file: "date-2", skipped: map[string]string{"overrides": "chosen by rules"}},
		{file: "rsc_dep10"},
		{file: "bug-pm-11", check: func(t *testing.T, c *cib.CIB) {
			g, _ := c.Group("group")
			if g == nil || g.Clone == nil || g.Clone.ID != "ms-sf" || !g.Clone.Promotable || !g.Clone.GloballyUnique || !c.Promotable("ms-sf") ||
				!slices.Equal(g.Resources, []string{"stateful-1", "stateful-2"}) {
				t.Errorf("promotable cloned group: %+v", g)
			}
			if len(c.Locations) != 2 || c.Locations[0].Role != cib.RolePromoted || c.Locations[0].Rsc != "ms-sf" {
				t.Errorf("locations: %+v", c.Locations)
			}
		}},
		{file: "bug-5059", skipped: map[string]string{"ms_stateful": "notify=true on a cloned group"}, check: func(t *testing.T, c *cib.CIB) {
			g, _ := c.Group("g_stateful")
			if g == nil || g.Clone == nil || !g.Clone.Promotable || !g.Clone.Interleave || len(c.Orders) != 1 || c.Orders[0].Then != "ms_stateful" {
				t.Errorf("promotable cloned group: %+v, orders %+v", g, c.Orders)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			res := parseFile(t, "testdata/pacemaker/"+tc.file+".xml")
			for id, why := range tc.skipped {
				if !slices.ContainsFunc(res.Skipped, func(it Item) bool {
					return (id == "" || it.ID == id) && strings.Contains(it.Why, why)
				}) {
					t.Errorf("not listed as skipped: %q (%s); skipped:\n%s", id, why, items(res.Skipped))
				}
			}
			if ps := res.CIB.Validate(); len(ps) > 0 {
				t.Errorf("invalid model: %v", ps)
			}
			if tc.check != nil {
				tc.check(t, res.CIB)
			}
		})
	}
}

// BenchmarkParse imports the seed's CIB as pcs writes it.
func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("testdata/pcs/seed.xml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("seed.xml", strings.NewReader(string(data))); err != nil {
			b.Fatal(err)
		}
	}
}
