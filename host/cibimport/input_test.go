package cibimport

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/policies/cib"
)

func cibDoc(conf string) string {
	return `<cib validate-with="pacemaker-3.9"><configuration><crm_config/>
<nodes><node id="1" uname="holly"/><node id="2" uname="benji"/></nodes>` + conf + `</configuration><status/></cib>`
}

// Every refused document is a clear error naming where, and matches
// ErrInput.
func TestBadInput(t *testing.T) {
	deep := strings.Repeat("<a>", MaxDepth+1) + strings.Repeat("</a>", MaxDepth+1)
	cases := []struct{ name, doc, want string }{
		{"empty", "", "no XML element"},
		{"malformed", `<cib validate-with="pacemaker-3.9"><configuration></cib>`, "not well-formed XML"},
		{"billion laughs", `<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<cib validate-with="pacemaker-3.9"><configuration>&lol2;</configuration></cib>`, "line 2: <!DOCTYPE ...> refused"},
		{"undeclared entity", `<cib validate-with="pacemaker-3.9"><configuration>&lol;</configuration></cib>`, "not well-formed XML"},
		{"deep", `<cib validate-with="pacemaker-3.9">` + deep + `</cib>`, "nested more than 64 elements deep"},
		{"huge attribute", `<cib validate-with="pacemaker-3.9"><configuration><nodes><node id="1" uname="` + strings.Repeat("x", MaxAttrBytes+1) + `"/></nodes></configuration></cib>`, `attribute uname of node "1" (line 1) is 65537 bytes`},
		{"huge file", `<cib validate-with="pacemaker-3.9"><!--` + strings.Repeat("x", MaxSize) + `--></cib>`, "more than 32 MiB"},
		{"not a cib", `<configuration/>`, "the root element is <configuration>, not <cib>"},
		{"old schema", `<cib validate-with="pacemaker-2.10"><configuration/></cib>`, `validate-with="pacemaker-2.10">: a schema older than Pacemaker 2.0`},
		{"no schema", `<cib><configuration/></cib>`, "no schema version"},
		{"schema none", `<cib validate-with="none"><configuration/></cib>`, "not a released Pacemaker schema"},
		{"future schema", `<cib validate-with="pacemaker-5.0"><configuration/></cib>`, "newer than this importer knows"},
		{"no configuration", `<cib validate-with="pacemaker-3.9"><status/></cib>`, "has no <configuration>"},
		{"two roots", `<cib validate-with="pacemaker-3.9"><configuration/></cib><cib/>`, "a second root element"},
		{"processing instruction", `<?xml-stylesheet href="x"?><cib validate-with="pacemaker-3.9"><configuration/></cib>`, "processing instruction"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Parse("cib.xml", strings.NewReader(tc.doc))
			if err == nil || !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "cib.xml: ") {
				t.Fatalf("got %v, %v; want an ErrInput naming cib.xml containing %q", res, err, tc.want)
			}
		})
	}
}

func skippedWith(res *Result, id, why string) bool {
	for _, it := range res.Skipped {
		if it.ID == id && strings.Contains(it.Why, why) {
			return true
		}
	}
	return false
}

// What maps is converted exactly; what does not is listed by id, and what
// names it is listed too.
func TestConversions(t *testing.T) {
	doc := cibDoc(`<resources>
  <primitive id="web" class="systemd" type="apache2.service">
    <meta_attributes id="web-meta"><nvpair id="web-stick" name="resource-stickiness" value="INFINITY"/><nvpair id="web-allow" name="allow-migrate" value="true"/><nvpair id="web-notify" name="notify" value="true"/></meta_attributes>
    <operations>
      <op id="web-mon" name="monitor" interval="20s" timeout="40s"/>
      <op id="web-probe" name="monitor" interval="0"/>
      <op id="web-start" name="start" interval="0s"/>
      <op id="web-typo" name="monitr" interval="10s"/>
      <op id="web-migrate" name="migrate_to" interval="0s"/>
      <op id="web-promoted" name="monitor" interval="11s" role="Promoted"/>
    </operations>
  </primitive>
  <primitive id="old" class="service" type="named"/>
  <primitive id="fence-holly" class="stonith" type="fence_ipmilan"/>
  <clone id="db-clone"><meta_attributes id="dbc-meta"><nvpair id="dbc-p" name="promotable" value="true"/><nvpair id="dbc-n" name="notify" value="true"/><nvpair id="dbc-pm" name="promoted-max" value="1"/></meta_attributes>
    <primitive id="db" class="ocf" provider="heartbeat" type="pgsql"><instance_attributes id="db-ia"><nvpair id="db-port" name="pgport" value="5433"/></instance_attributes></primitive>
  </clone>
  <clone id="g-clone"><meta_attributes id="gc-meta"><nvpair id="gc-n" name="notify" value="true"/></meta_attributes>
    <group id="g"><primitive id="g1" class="systemd" type="g1"/></group>
  </clone>
</resources>
<constraints>
  <rsc_location id="loc-date" rsc="web"><rule id="r-date" score="100"><date_expression id="d1" operation="in_range" start="2025-01-01"/></rule></rsc_location>
  <rsc_location id="loc-id" rsc="web"><rule id="r-id" score="50"><expression id="e-id" attribute="#id" operation="eq" value="2"/></rule></rsc_location>
  <rsc_location id="loc-ssd" rsc="web"><rule id="r-ssd" score="-INFINITY" boolean-op="or"><expression id="e1" attribute="ssd" operation="not_defined"/><expression id="e2" attribute="ram" operation="lt" value="8" type="integer"/></rule></rsc_location>
  <rsc_location id="loc-fence" rsc="fence-holly" node="holly" score="-INFINITY"/>
  <rsc_colocation id="web-with-db" rsc="web" with-rsc="db-clone" with-rsc-role="Promoted" score="INFINITY"/>
  <rsc_order id="old-then-web" first="old" then="web"/>
  <rsc_order id="db-then-web" first="db-clone" first-action="promote" then="web" then-action="start" kind="Optional"/>
  <rsc_order id="sets"><resource_set id="s1" sequential="false"><resource_ref id="db-clone"/></resource_set><resource_set id="s2"><resource_ref id="web"/></resource_set></rsc_order>
  <rsc_ticket id="t1" rsc="web" ticket="site-a"/>
  <rsc_ticket id="t2" rsc="db-clone" rsc-role="Master" ticket="site-a" loss-policy="demote"/>
  <rsc_ticket id="t3" rsc="web" ticket="site-b" loss-policy="fence"/>
  <rsc_ticket id="t4" ticket="site-c" loss-policy="demote"><resource_set id="t4s" sequential="false"><resource_ref id="web"/></resource_set><resource_set id="t4p" role="Master"><resource_ref id="db-clone"/></resource_set></rsc_ticket>
  <rsc_ticket id="t5" ticket="site-c"><resource_set id="t5s" role="Slave"><resource_ref id="db-clone"/></resource_set></rsc_ticket>
</constraints>
<op_defaults><meta_attributes id="opd"><nvpair id="opd-t" name="timeout" value="90s"/><nvpair id="opd-rp" name="record-pending" value="true"/></meta_attributes></op_defaults>
<rsc_defaults><meta_attributes id="rscd"><nvpair id="rscd-s" name="resource-stickiness" value="100"/></meta_attributes></rsc_defaults>
<fencing-topology/>`)
	res, err := Parse("cib.xml", strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	c := res.CIB
	web, _ := c.Resource("web")
	if web == nil || web.Agent != "systemd:apache2" || *web.Meta.Stickiness != int(cib.Infinity) {
		t.Fatalf("web: %+v", web)
	}
	wantOps := []cib.Op{{Name: "monitor", Interval: 20 * time.Second, Timeout: 40 * time.Second}, {Name: "start", Timeout: 90 * time.Second}}
	if len(web.Ops) != 2 || web.Ops[0] != wantOps[0] || web.Ops[1] != wantOps[1] {
		t.Errorf("web ops %+v, want %+v", web.Ops, wantOps)
	}
	db, _ := c.Resource("db")
	if db == nil || db.Clone == nil || db.Clone.ID != "db-clone" || !db.Clone.Promotable || !db.Clone.Notify || db.Clone.PromotedMax != 1 || db.Params["pgport"] != "5433" {
		t.Errorf("db: %+v %+v", db, db.Clone)
	}
	if *c.Defaults.Stickiness != 100 {
		t.Errorf("defaults %+v", c.Defaults)
	}
	if want := []cib.Ticket{{ID: "t1", Ticket: "site-a", Rsc: "web"}, {ID: "t2", Ticket: "site-a", Rsc: "db-clone", RscRole: cib.RolePromoted, LossPolicy: cib.LossDemote},
		{ID: "t4", Ticket: "site-c", LossPolicy: cib.LossDemote, Sets: []cib.ResourceSet{{Resources: []string{"web"}}, {Resources: []string{"db-clone"}, Role: cib.RolePromoted}}}}; !reflect.DeepEqual(c.Tickets, want) {
		t.Errorf("tickets %+v, want %+v", c.Tickets, want)
	}
	for id, why := range map[string]string{
		"web-allow":    "meta attribute allow-migrate",
		"web-typo":     `op monitr: Tandem runs start, stop, monitor, reload, promote, demote (did you mean "monitor"?)`,
		"web-migrate":  "op migrate_to",
		"web-promoted": "monitor for role Promoted",
		"old":          "service:named agents are not bridged: use systemd:named on a systemd host, or lsb:named",
		"fence-holly":  "Tandem fences with leases",
		"r-date":       "date and time rules are not supported",
		"loc-fence":    `names "fence-holly"`,
		"old-then-web": `names "old"`,
		"t3":           "Tandem has no fencing",
		"t5":           "resource set role Unpromoted: a ticket takes Started or Promoted",
		"opd-rp":       "op_defaults record-pending",
		"web-notify":   "notify=true on a resource that is not a clone",
		"g-clone":      "notify=true on a cloned group",
		"":             "fencing levels",
	} {
		if !skippedWith(res, id, why) {
			t.Errorf("%q (%s) not listed as not imported; listed:\n%s", id, why, items(res.Skipped))
		}
	}
	var locs []string
	for _, l := range c.Locations {
		locs = append(locs, l.ID+": "+l.Rule.String()+" "+l.Score.String())
	}
	if want := "loc-id: #uname eq benji 50|loc-ssd: not_defined ssd or ram lt integer 8 -INFINITY"; strings.Join(locs, "|") != want {
		t.Errorf("locations %q, want %q", strings.Join(locs, "|"), want)
	}
	if len(c.Colocations) != 1 || c.Colocations[0].WithRole != cib.RolePromoted {
		t.Errorf("colocations %+v", c.Colocations)
	}
	if len(c.Orders) != 2 || c.Orders[0].FirstAction != cib.ActionPromote || c.Orders[0].Kind != cib.Optional || len(c.Orders[1].Sets) != 2 || c.Orders[1].Sets[0].IsSequential() {
		t.Errorf("orders %+v", c.Orders)
	}
	// Sorted by line, so that the list reads with the file.
	for i := 1; i < len(res.Skipped); i++ {
		if res.Skipped[i].Line < res.Skipped[i-1].Line {
			t.Errorf("skipped items out of line order: %v before %v", res.Skipped[i-1], res.Skipped[i])
		}
	}
}

// A constraint the model refuses (naming a cloned primitive rather than
// its clone) is listed with the model's reason instead of failing the
// whole import.
func TestRefusedConstraintIsListed(t *testing.T) {
	doc := cibDoc(`<resources><clone id="web-clone"><primitive id="web" class="ocf" provider="heartbeat" type="apache"/></clone>
<primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2"/></resources>
<constraints><rsc_colocation id="vip-with-web" rsc="vip" with-rsc="web" score="INFINITY"/></constraints>`)
	res, err := Parse("cib.xml", strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.CIB.Colocations) != 0 || !skippedWith(res, "vip-with-web", "web-clone") {
		t.Errorf("colocations %+v; skipped:\n%s", res.CIB.Colocations, items(res.Skipped))
	}
}

// A globally-unique clone is imported as one, with clone-node-max; an
// anonymous clone's clone-node-max above 1 follows Pacemaker: ignored when
// globally-unique=false is set, and taken as globally unique when it is
// not set (Pacemaker 3.0's default). Each is listed as a note.
func TestGloballyUniqueClones(t *testing.T) {
	clone := func(id, meta string) string {
		return `<clone id="` + id + `"><meta_attributes id="` + id + `-meta">` + meta + `</meta_attributes>` +
			`<primitive id="` + id + `-p" class="ocf" provider="heartbeat" type="IPaddr2"/></clone>`
	}
	nv := func(id, name, value string) string {
		return `<nvpair id="` + id + `" name="` + name + `" value="` + value + `"/>`
	}
	doc := cibDoc(`<resources>` +
		clone("ip", nv("ip-u", "globally-unique", "true")+nv("ip-m", "clone-max", "4")+nv("ip-n", "clone-node-max", "2")) +
		clone("anon", nv("anon-u", "globally-unique", "false")+nv("anon-n", "clone-node-max", "2")) +
		clone("implied", nv("implied-n", "clone-node-max", "2")) +
		clone("prom", nv("prom-u", "globally-unique", "true")+nv("prom-n", "clone-node-max", "2")+nv("prom-p", "promotable", "true")) +
		`</resources><constraints/>`)
	res, err := Parse("cib.xml", strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Skipped) > 0 {
		t.Errorf("skipped:\n%s", items(res.Skipped))
	}
	want := map[string]cib.Clone{
		"ip-p":      {ID: "ip", GloballyUnique: true, Max: 4, NodeMax: 2},
		"anon-p":    {ID: "anon"},
		"implied-p": {ID: "implied", GloballyUnique: true, NodeMax: 2},
		"prom-p":    {ID: "prom", GloballyUnique: true, NodeMax: 2, Promotable: true},
	}
	for id, w := range want {
		r, _ := res.CIB.Resource(id)
		if r == nil || r.Clone == nil || *r.Clone != w {
			t.Errorf("%s: clone %+v, want %+v", id, r, w)
		}
	}
	notes := items(res.Notes)
	for _, n := range []string{"globally-unique=false): written as 1", "clone-node-max 2 without globally-unique: written with globally-unique = true",
		"clone-node-max 2 on a promotable clone: tandem simulate runs it, but a live cluster of this version refuses more than one instance of a promotable clone per node"} {
		if !strings.Contains(notes, n) {
			t.Errorf("notes do not say %q:\n%s", n, notes)
		}
	}
	// A live cluster runs several instances of the others on a node.
	if n := strings.Count(notes, "refuses more than one instance"); n != 1 {
		t.Errorf("%d notes say a live cluster refuses several instances on a node, want 1 (the promotable clone's):\n%s", n, notes)
	}
	if ps := res.CIB.Validate(); ps != nil {
		t.Errorf("imported model is not valid: %v", ps)
	}
}
