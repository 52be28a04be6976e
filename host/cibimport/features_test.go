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

// testdata/pcs/features.xml, built by testdata/features-pcs.sh with the real
// pcs: a group, an lsb primitive, a promotable ocf:pacemaker:Stateful clone
// with notify, a clone with clone-max, node attributes, a location rule, a
// Promoted colocation, a promote order, colocation and order sets. It
// imports whole, but for the second of the role monitors pcs gives
// Stateful; the notify and reload-agent ops pcs writes from the agents'
// meta-data are notes, not items left out.
func TestFeaturesImport(t *testing.T) {
	checkFeatures(t, parseFile(t, "testdata/pcs/features.xml"))
}

func checkFeatures(t *testing.T, res *Result) {
	t.Helper()
	if len(res.Skipped) != 1 || !skippedWith(res, "db-monitor-interval-11s", "monitor for role Unpromoted: Tandem monitors every instance of a clone with one op") {
		t.Errorf("skipped:\n%s", items(res.Skipped))
	}
	for _, n := range []struct{ id, why string }{
		{"db-monitor-interval-10s", "monitor for role Promoted is imported as the monitor of every instance"},
		{"db-notify-interval-0s", "op notify (timeout=5s) is not stored: Tandem runs the agent's notify for a clone with notify=true"},
		{"db-reload-agent-interval-0s", "op reload-agent is imported as op reload"},
		{"ping-reload-agent-interval-0s", "op reload-agent is imported as op reload"},
	} {
		if !slices.ContainsFunc(res.Notes, func(it Item) bool { return it.ID == n.id && strings.Contains(it.Why, n.why) }) {
			t.Errorf("no note %q on %s:\n%s", n.why, n.id, items(res.Notes))
		}
	}
	c := res.CIB
	if res.ClusterName != "features" || !slices.Equal(c.NodeNames(), []string{"holly", "benji", "ivy"}) || c.Nodes[0].Attributes["rack"] != "r1" {
		t.Errorf("cluster %q nodes %+v", res.ClusterName, c.Nodes)
	}
	if g, _ := c.Group("app"); g == nil || !slices.Equal(g.Resources, []string{"fs", "ip", "web"}) {
		t.Errorf("group app: %+v", g)
	}
	if r, _ := c.Resource("legacy"); r == nil || r.Agent != "lsb:tandemtest" || r.Meta.MigrationThreshold == nil || *r.Meta.MigrationThreshold != 2 {
		t.Errorf("legacy: %+v", r)
	}
	db, _ := c.Resource("db")
	if db == nil || db.Agent != "ocf:pacemaker:Stateful" || db.Clone == nil || db.Clone.ID != "db-clone" || !db.Clone.Promotable || db.Clone.PromotedMax != 1 || !db.Clone.Notify {
		t.Fatalf("db: %+v", db)
	}
	if mon, ok := db.Op("monitor"); !ok || mon.Interval != 10*time.Second {
		t.Errorf("db's monitor: %+v", db.Ops)
	}
	if rl, ok := db.Op("reload"); !ok || rl.Timeout != 10*time.Second {
		t.Errorf("db's reload: %+v", db.Ops)
	}
	if ping, _ := c.Resource("ping"); ping == nil || ping.Clone == nil || ping.Clone.Max != 2 || ping.Params["host_list"] != "198.18.0.129" {
		t.Errorf("ping: %+v", ping)
	}
	// op defaults timeout=40s: written into the ops without one.
	if web, _ := c.Resource("web"); web == nil || len(web.Ops) != 1 || web.Ops[0] != (cib.Op{Name: "monitor", Interval: 30 * time.Second, Timeout: 40 * time.Second}) {
		t.Errorf("web: %+v", web)
	}
	var locs []string
	for _, l := range c.Locations {
		s := l.Rsc + " " + l.Node + " " + l.Score.String()
		if l.Rule != nil {
			s += " rule " + l.Rule.String()
		}
		locs = append(locs, s)
	}
	if got, want := strings.Join(locs, "|"), "app  100 rule rack eq r1|legacy ivy -INFINITY"; got != want {
		t.Errorf("locations %q, want %q", got, want)
	}
	if len(c.Colocations) != 2 || c.Colocations[0].Rsc != "app" || c.Colocations[0].With != "db-clone" || c.Colocations[0].WithRole != cib.RolePromoted ||
		c.Colocations[1].Score != -cib.Infinity || len(c.Colocations[1].Sets) != 1 || !slices.Equal(c.Colocations[1].Sets[0].Resources, []string{"fs", "legacy"}) {
		t.Errorf("colocations %+v", c.Colocations)
	}
	if len(c.Orders) != 2 || c.Orders[0].First != "db-clone" || c.Orders[0].FirstAction != cib.ActionPromote || c.Orders[0].Then != "app" ||
		len(c.Orders[1].Sets) != 2 || !slices.Equal(c.Orders[1].Sets[0].Resources, []string{"ping-clone"}) {
		t.Errorf("orders %+v", c.Orders)
	}
	if *c.Defaults.Stickiness != 50 {
		t.Errorf("defaults %+v", c.Defaults)
	}
}

// With pcs installed, testdata/features-pcs.sh builds the CIB again with
// the real pcs commands, and it imports as the committed copy does.
func TestFeaturesFromPCS(t *testing.T) {
	if testing.Short() {
		t.Skip("pcs takes a few seconds a command (-short)")
	}
	priv.Tools(t, "pcs", "pcs", "cibadmin", "crm_attribute")
	out := filepath.Join(t.TempDir(), "features.xml")
	cmd := exec.Command("sh", "testdata/features-pcs.sh", out)
	cmd.Env = append(os.Environ(), "CIB_file=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("features-pcs.sh: %v\n%s", err, b)
	}
	fresh, committed := parseFile(t, out), parseFile(t, "testdata/pcs/features.xml")
	a, _ := json.Marshal(fresh.CIB)
	b, _ := json.Marshal(committed.CIB)
	if string(a) != string(b) {
		t.Errorf("pcs built a CIB that imports differently from testdata/pcs/features.xml:\n%s\n%s", a, b)
	}
	checkFeatures(t, fresh)
}
