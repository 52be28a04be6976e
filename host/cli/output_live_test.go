package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/status"
	"github.com/tandem-ha/tandem/policies/cib"
)

// json runs a command with --output json against the live cluster and
// decodes what it printed into v.
func (lc *liveCluster) json(v any, args ...string) {
	lc.t.Helper()
	out := lc.must(append(args, "--output", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		lc.t.Fatalf("tandem %v --output json: %v\n%s", args, err, out)
	}
}

// Every listing command's --output json, decoded into the shape its help
// documents, holds what was just configured.
func TestLiveListingJSON(t *testing.T) {
	lc := newLiveCluster(t)
	lc.must(append(append([]string{"resource", "create", "web", "example:process"}, lc.params()...),
		"op", "monitor", "interval=500ms", "timeout=20s", "meta", "resource-stickiness=100")...)
	lc.must(append(append([]string{"resource", "create", "db", "example:process"}, lc.params()...), "--group", "grp")...)
	lc.must("constraint", "location", "web", "prefers", "holly=50")
	lc.must("constraint", "order", "grp", "then", "web")
	lc.must("node", "attribute", "holly", "rack=r1")
	lc.must("alert", "create", "id=hook", "webhook=https://alerts.example.com/tandem", "meta", "timeout=10s")
	lc.must("alert", "recipient", "add", "hook", "value=ops", "id=hook-ops")

	// resource list: web is reported Started on one node.
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		var l struct {
			Resources []status.Resource `json:"resources"`
		}
		lc.json(&l, "resource", "list")
		for _, r := range l.Resources {
			if r.ID == "web" && r.Agent == "example:process" && len(r.Nodes) == 1 {
				for _, st := range r.Nodes {
					if st == "Started" {
						return nil
					}
				}
			}
		}
		return fmt.Errorf("web not listed Started: %+v", l.Resources)
	})

	var rc struct {
		Resources []struct {
			ID     string            `json:"id"`
			Agent  string            `json:"agent"`
			Group  string            `json:"group"`
			Params map[string]string `json:"params"`
			Meta   map[string]string `json:"meta"`
			Ops    []struct {
				Name     string `json:"name"`
				Interval string `json:"interval"`
				Timeout  string `json:"timeout"`
			} `json:"ops"`
		} `json:"resources"`
		Groups []struct {
			ID        string   `json:"id"`
			Resources []string `json:"resources"`
		} `json:"groups"`
	}
	lc.json(&rc, "resource", "config")
	found := false
	for _, r := range rc.Resources {
		if r.ID != "web" {
			continue
		}
		found = true
		if r.Agent != "example:process" || r.Params["command"] != "/bin/sleep" || r.Meta["resource-stickiness"] != "100" || r.Group != "" {
			t.Errorf("resource config web: %+v", r)
		}
		if len(r.Ops) != 1 || r.Ops[0].Name != "monitor" || r.Ops[0].Interval != "500ms" || r.Ops[0].Timeout != "20s" {
			t.Errorf("resource config web ops: %+v", r.Ops)
		}
	}
	if !found || len(rc.Groups) != 1 || rc.Groups[0].ID != "grp" || fmt.Sprint(rc.Groups[0].Resources) != "[db]" {
		t.Errorf("resource config: %+v", rc)
	}
	// One group id: the group and its member.
	lc.json(&rc, "resource", "config", "grp")
	if len(rc.Resources) != 1 || rc.Resources[0].ID != "db" || rc.Resources[0].Group != "grp" || len(rc.Groups) != 1 {
		t.Errorf("resource config grp: %+v", rc)
	}

	var gl struct {
		Groups []struct {
			ID        string   `json:"id"`
			Resources []string `json:"resources"`
		} `json:"groups"`
	}
	lc.json(&gl, "resource", "group", "list")
	if len(gl.Groups) != 1 || gl.Groups[0].ID != "grp" || fmt.Sprint(gl.Groups[0].Resources) != "[db]" {
		t.Errorf("group list: %+v", gl)
	}

	var cl struct {
		Locations   []cib.Location   `json:"locations"`
		Orders      []cib.Order      `json:"orders"`
		Colocations []cib.Colocation `json:"colocations"`
	}
	lc.json(&cl, "constraint", "list")
	if len(cl.Locations) != 1 || cl.Locations[0].Rsc != "web" || cl.Locations[0].Node != "holly" || cl.Locations[0].Score != 50 ||
		len(cl.Orders) != 1 || cl.Orders[0].First != "grp" || cl.Orders[0].Then != "web" || cl.Colocations == nil {
		t.Errorf("constraint list: %+v", cl)
	}

	// pcs's constraint location|order|colocation|ticket [config]: one
	// kind, in text and in JSON.
	var locs struct {
		Locations []cib.Location `json:"locations"`
	}
	lc.json(&locs, "constraint", "location", "config")
	var ords map[string][]cib.Order
	lc.json(&ords, "constraint", "order")
	var cols map[string][]cib.Colocation
	lc.json(&cols, "constraint", "colocation", "show")
	var tks map[string][]cib.Ticket
	lc.json(&tks, "constraint", "ticket")
	if len(locs.Locations) != 1 || locs.Locations[0].Rsc != "web" || len(ords) != 1 || len(ords["orders"]) != 1 || ords["orders"][0].First != "grp" ||
		len(cols) != 1 || cols["colocations"] == nil || len(cols["colocations"]) != 0 || len(tks) != 1 || tks["tickets"] == nil {
		t.Errorf("constraint KIND --output json: %+v %+v %+v %+v", locs, ords, cols, tks)
	}
	if out := lc.must("constraint", "location", "-o", "text"); out != "Location Constraints:\n  Resource: web\n    Enabled on: holly (score:50)\n" {
		t.Errorf("constraint location:\n%s", out)
	}
	if out := lc.must("constraint", "order", "config", "--full"); !strings.HasPrefix(out, "Ordering Constraints:\n  start grp then start web") || strings.Contains(out, "Location") || strings.Contains(out, "Colocation") {
		t.Errorf("constraint order config --full:\n%s", out)
	}
	if out := lc.must("constraint", "colocation"); out != "Colocation Constraints:\n" {
		t.Errorf("constraint colocation:\n%s", out)
	}
	lc.refuse(`--output "yaml"`, "constraint", "location", "config", "-o", "yaml")

	var pl struct {
		Properties map[string]any `json:"properties"`
	}
	lc.json(&pl, "property")
	if pl.Properties["maintenance-mode"] != false || pl.Properties["cluster-name"] == "" || pl.Properties["cluster-name"] == nil {
		t.Errorf("property: %+v", pl)
	}

	var al struct {
		Alerts []struct {
			ID         string            `json:"id"`
			Webhook    string            `json:"webhook"`
			Meta       map[string]string `json:"meta"`
			Recipients []struct {
				ID    string `json:"id"`
				Value string `json:"value"`
			} `json:"recipients"`
		} `json:"alerts"`
	}
	lc.json(&al, "alert", "config")
	if len(al.Alerts) != 1 || al.Alerts[0].ID != "hook" || al.Alerts[0].Webhook != "https://alerts.example.com/tandem" ||
		al.Alerts[0].Meta["timeout"] != "10s" || len(al.Alerts[0].Recipients) != 1 || al.Alerts[0].Recipients[0].Value != "ops" {
		t.Errorf("alert config: %+v", al)
	}

	var na struct {
		Nodes []struct {
			Name       string            `json:"name"`
			Attributes map[string]string `json:"attributes"`
		} `json:"nodes"`
	}
	lc.json(&na, "node", "attribute", "holly")
	if len(na.Nodes) != 1 || na.Nodes[0].Name != "holly" || na.Nodes[0].Attributes["rack"] != "r1" {
		t.Errorf("node attribute holly: %+v", na)
	}
	lc.json(&na, "node", "attribute")
	if len(na.Nodes) != 2 {
		t.Errorf("node attribute: %+v", na)
	}

	var hist struct {
		Revisions []struct {
			Rev     uint64    `json:"rev"`
			Time    time.Time `json:"time"`
			By      string    `json:"by"`
			Summary string    `json:"summary"`
			Current bool      `json:"current"`
		} `json:"revisions"`
	}
	lc.json(&hist, "config", "history")
	if n := len(hist.Revisions); n < 2 || !hist.Revisions[n-1].Current || hist.Revisions[0].Current ||
		hist.Revisions[n-1].Summary != "alert recipient add hook value=ops id=hook-ops" || hist.Revisions[n-1].Rev != lc.live().Rev {
		t.Errorf("config history: %+v", hist)
	}

	var plug struct {
		Dir     string `json:"dir"`
		Plugins []struct {
			Plugin string `json:"plugin"`
			File   string `json:"file"`
		} `json:"plugins"`
	}
	lc.json(&plug, "plugin", "list", "--plugin-dir", lc.Plugins)
	if plug.Dir != lc.Plugins || len(plug.Plugins) == 0 || plug.Plugins[0].File != "tandem-plugin-example" {
		t.Errorf("plugin list: %+v", plug)
	}

	var pki struct {
		Certificates []struct {
			Name, Role, Status string
		} `json:"certificates"`
	}
	lc.json(&pki, "pki", "list")
	if len(pki.Certificates) == 0 || pki.Certificates[0].Status != "ok" {
		t.Errorf("pki list: %+v", pki)
	}

	var cs struct {
		Revision uint64 `json:"revision"`
		Cluster  string `json:"cluster"`
		Witness  string `json:"witness"`
		Nodes    []struct {
			Name       string            `json:"name"`
			Attributes map[string]string `json:"attributes"`
		} `json:"nodes"`
		Resources []struct {
			ID, Agent, Group string
		} `json:"resources"`
		Groups      []struct{ ID string } `json:"groups"`
		Constraints struct {
			Orders []cib.Order `json:"orders"`
		} `json:"constraints"`
		Alerts     []struct{ ID string } `json:"alerts"`
		Properties map[string]any        `json:"properties"`
	}
	lc.json(&cs, "config", "show")
	if cs.Revision != lc.live().Rev || cs.Witness != "director" || len(cs.Nodes) != 2 || len(cs.Resources) != 2 || len(cs.Groups) != 1 ||
		len(cs.Constraints.Orders) != 1 || len(cs.Alerts) != 1 || cs.Properties["cluster-name"] != cs.Cluster {
		t.Errorf("config show: %+v", cs)
	}
	for _, n := range cs.Nodes {
		if n.Name == "holly" && n.Attributes["rack"] != "r1" {
			t.Errorf("config show: holly's attributes %v", n.Attributes)
		}
	}
	lc.refuse("--toml and --output json: choose one", "config", "show", "--toml", "--output", "json")

	// The output flag is refused with exit 2 when a listing is not asked.
	lc.refuse(`--output json goes with listing`, "node", "attribute", "holly", "rack=r2", "--output", "json")
}
