package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/policies/cib"
)

const base = `
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

func TestReferenceClusterFiles(t *testing.T) {
	for _, path := range []string{"../../cluster.toml", "../../e2e/cluster.toml"} {
		f, err := Load(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		c := f.CIB
		if got := len(c.Resources); got != 3 {
			t.Errorf("%s: %d resources, want 3", path, got)
		}
		vip, isClone := c.Resource("haproxy-clone")
		if vip == nil || !isClone || vip.ID != "haproxy" {
			t.Errorf("%s: Resource(\"haproxy-clone\"): got %+v (clone %v), want the clone of \"haproxy\"", path, vip, isClone)
		}
		if len(c.Orders) != 2 || len(c.Colocations) != 1 || c.Colocations[0].Score != cib.Infinity {
			t.Errorf("%s: constraints: got orders %+v, colocations %+v; want 2 orders and 1 colocation of score %v", path, c.Orders, c.Colocations, cib.Infinity)
		}
		if c.Orders[0].ID != "order-"+c.Resources[0].ID+"-haproxy-clone-mandatory" || !c.Orders[0].Symmetrical {
			t.Errorf("%s: order defaults: got %+v, want ID %q, symmetrical", path, c.Orders[0], "order-"+c.Resources[0].ID+"-haproxy-clone-mandatory")
		}
		e := c.Effective(&c.Resources[0])
		if e.Stickiness != 100 || e.MigrationThreshold != 3 || e.FailureTimeout != time.Minute || e.TargetRole != cib.RoleStarted {
			t.Errorf("%s: effective meta: got %+v, want stickiness 100, migration-threshold 3, failure-timeout %v, target-role %s", path, e, time.Minute, cib.RoleStarted)
		}
		if got, want := strings.Join(c.NodeNames(), " "), strings.Join(f.Topology.NodeNames(), " "); got != want || got != "holly benji" {
			t.Errorf("%s: model nodes %q, topology nodes %q, want \"holly benji\"", path, got, want)
		}
	}
}

// The lab's copy must be the reference cluster with lab addresses only.
func TestLabClusterMatchesReference(t *testing.T) {
	ref, err := os.ReadFile("../../cluster.toml")
	if err != nil {
		t.Fatal(err)
	}
	lab, err := os.ReadFile("../../e2e/cluster.toml")
	if err != nil {
		t.Fatal(err)
	}
	strip := func(b []byte) string {
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(l, "#") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
	if want := strings.ReplaceAll(strip(ref), "10.10.10.", "198.18.0."); strip(lab) != want {
		t.Errorf("e2e/cluster.toml differs from cluster.toml in more than addresses and comments: %s", firstDifference(strip(lab), want))
	}
}

// firstDifference says where got and want, texts without their comment
// lines, first differ, for a failure message.
func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if i >= len(g) || i >= len(w) || gl != wl {
			return fmt.Sprintf("non-comment line %d: got %q (of %d lines), want %q (of %d lines)", i+1, gl, len(g), wl, len(w))
		}
	}
	return "no line differs"
}

func TestEncodeRoundTrip(t *testing.T) {
	src := base + `
[bus]
client_port = 4300
data_dir = "/srv/tandem"
[bus.tls]
cert = "c.pem"
key = "k.pem"
ca = "ca.pem"
`
	groups := base + `
[[resource]]
id = "a"
agent = "systemd:a"
utilization = { cpu = 2, memory = 0 }
[[resource]]
id = "b"
agent = "systemd:b"
[[group]]
id = "g"
resources = ["b", "a"]
meta = { resource-stickiness = 100 }
[group.clone]
interleave = true
promotable = true
promoted-max = 1
[[group]]
id = "solo"
resources = []
[[resource]]
id = "c"
agent = "systemd:c"
[[order]]
kind = "Optional"
[[order.set]]
resources = ["c"]
sequential = true
[[order.set]]
resources = ["g-clone"]
require-all = false
action = "stop"
[[colocation]]
score = -20
[[colocation.set]]
resources = ["c", "g-clone"]
sequential = false
[[location]]
rsc = "c"
rule = "( rack eq r1 and defined ssd ) or #uname eq benji"
score = 50
role = "Started"
[[location]]
rsc = "g-clone"
rule = "weight gt integer 0"
score-attribute = "weight"
[[resource]]
id = "db"
agent = "systemd:db"
[resource.clone]
promotable = true
notify = true
[[resource]]
id = "ip"
agent = "vip"
[resource.clone]
globally-unique = true
clone-max = 2
clone-node-max = 2
[[colocation]]
[[colocation.set]]
resources = ["c"]
[[colocation.set]]
resources = ["db-clone"]
role = "Unpromoted"
[[colocation]]
rsc = "db-clone"
rsc-role = "Unpromoted"
with = "c"
[[location]]
rsc = "db-clone"
node = "holly"
role = "Unpromoted"
score = 5
`
	groups = strings.Replace(groups, "address = \"198.18.0.22\"\n", "address = \"198.18.0.22\"\nattributes = { rack = \"r1\", ssd = true, weight = 30 }\nutilization = { cpu = 8, memory = 16384 }\n", 1)
	groups = strings.Replace(groups, "[cluster]\n", "[properties]\nplacement-strategy = \"balanced\"\n[cluster]\n", 1)
	groups = strings.Replace(groups, "[[group]]\nid = \"solo\"\nresources = []\n", "", 1)
	groups += "[[ticket]]\nticket = \"site-a\"\nrsc = \"db-clone\"\nrsc-role = \"Promoted\"\nloss-policy = \"demote\"\n[[ticket]]\nid = \"t-c\"\nticket = \"site-a\"\nrsc = \"c\"\nloss-policy = \"freeze\"\n"
	for name, data := range map[string][]byte{"cluster.toml": nil, "groups": []byte(groups), "ports and tls": []byte(strings.Replace(src, `address = "198.18.0.24"`, "address = \"198.18.0.24\"\nclient_port = 4222\nstandby = true", 1))} {
		var f *File
		var err error
		if data == nil {
			f, err = Load("../../cluster.toml")
		} else {
			f, err = Parse(name, data)
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out, err := Encode(f.Topology, f.CIB)
		if err != nil {
			t.Fatal(err)
		}
		f2, err := Parse("encoded", out)
		if err != nil {
			t.Fatalf("%s: re-parse: %v\n%s", name, err, out)
		}
		if name == "groups" && (f2.CIB.Properties.PlacementStrategy != cib.PlacementBalanced || f2.CIB.Node("holly").Utilization["memory"] != 16384 || f2.CIB.Resources[0].Utilization["cpu"] != 2) {
			t.Errorf("groups: placement-strategy or utilization lost: %+v %+v %+v", f2.CIB.Properties, f2.CIB.Nodes, f2.CIB.Resources[0])
		}
		if name == "groups" && (len(f2.CIB.Tickets) != 2 || f2.CIB.Tickets[0].ID != "ticket-site-a-db-clone-Promoted" || f2.CIB.Tickets[1].LossPolicy != cib.LossFreeze) {
			t.Errorf("groups: tickets lost: %+v", f2.CIB.Tickets)
		}
		if !reflect.DeepEqual(f.Topology, f2.Topology) || !reflect.DeepEqual(f.CIB, f2.CIB) {
			t.Errorf("%s: round trip changed the file:\ngot  %+v %+v\nwant %+v %+v", name, f2.Topology, f2.CIB, f.Topology, f.CIB)
		}
	}
}

// Defaults are applied once, when the file is read: every member has its
// ports, the data directory and the credentials file are set; Encode leaves
// them out again.
func TestBootstrapDefaults(t *testing.T) {
	f, err := Parse("d.toml", []byte(strings.Replace(base, `address = "198.18.0.24"`, "address = \"198.18.0.24\"\nclient_port = 5222", 1)))
	if err != nil {
		t.Fatal(err)
	}
	top := f.Topology
	if top.ClientPort != DefaultClientPort || top.ClusterPort != DefaultClusterPort || top.DataDir != DefaultDataDir || top.Credentials != DefaultCredentials {
		t.Errorf("bus defaults: got %+v, want ports %d/%d, data_dir %s, credentials %s", top, DefaultClientPort, DefaultClusterPort, DefaultDataDir, DefaultCredentials)
	}
	for _, m := range top.Members {
		wantClient := DefaultClientPort
		if m.Name == "benji" {
			wantClient = 5222
		}
		if m.ClientPort != wantClient || m.ClusterPort != DefaultClusterPort {
			t.Errorf("member %s: ports %d/%d, want %d/%d", m.Name, m.ClientPort, m.ClusterPort, wantClient, DefaultClusterPort)
		}
	}
	out, err := Encode(top, f.CIB)
	if err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"4222", "6222", DefaultDataDir, DefaultCredentials} {
		if strings.Contains(string(out), absent) {
			t.Errorf("encoded file: got the default %s written, want it left out:\n%s", absent, out)
		}
	}
	if !strings.Contains(string(out), "client_port = 5222") {
		t.Errorf("encoded file: got no %q, want benji's own client_port kept:\n%s", "client_port = 5222", out)
	}
}
func problemsOf(t *testing.T, src string) Problems {
	t.Helper()
	_, err := Parse("c.toml", []byte(src))
	if err == nil {
		return nil
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Parse error: got %v (%T), want Problems", err, err)
	}
	return ps
}

func TestValidationErrors(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []string // each "line: substring"
	}{
		{"syntax", base + "\n[[resource]\nid = 1\n", []string{"c.toml:17:11: TOML: expected end of table array name"}},
		{"tls without a ca", base + "\n[bus.tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n", []string{"[bus.tls] needs dir (the PKI directory of `tandem pki init`), or cert, key and ca"}},
		{"relative plugin dir", base + "\n[plugins]\ndir = \"plugins\"\n", []string{"c.toml:18: [plugins] dir \"plugins\" is not an absolute path"}},
		{"unknown plugins key", base + "\n[plugins]\ndirectory = \"/x\"\n", []string{"c.toml:18: unknown key \"plugins.directory\" ([plugins] takes: dir)"}},
		{"tls dir and files", base + "\n[bus.tls]\ndir = \"/etc/tandem/pki\"\ncert = \"c.pem\"\n", []string{"[bus.tls] gives dir and cert/key/ca"}},
		{"unknown key", base + `
[[resource]]
id = "a"
agent = "vip"
params = { ip = "198.18.0.23" }
agnet = "x"
[resource.meta]
stickiness = 5
`, []string{"c.toml:21: unknown key \"resource.agnet\" (did you mean \"agent\"?)", "c.toml:23: unknown key \"resource.meta.stickiness\""}},
		{"duplicate ids", base + `
[[resource]]
id = "a"
agent = "systemd:x"
[[resource]]
id = "a"
agent = "systemd:y"
[[resource]]
id = "b"
agent = "systemd:y"
[resource.clone]
id = "a"
`, []string{"c.toml:21: resource \"a\": duplicate id \"a\" (also defined at line 18)", "c.toml:23: resource \"b\" clone: duplicate id \"a\""}},
		{"duplicate node", base + `
[[node]]
name = "holly"
address = "198.18.0.25"
`, []string{"c.toml:18: node \"holly\": duplicate name (also defined at line 6)"}},
		{"unknown references", base + `
[[resource]]
id = "a"
agent = "systemd:x"
[[order]]
first = "a"
then = "nope"
[[colocation]]
rsc = "zz"
with = "a"
[[location]]
rsc = "a"
node = "nowhere"
[[location]]
rsc = "a"
node = "director"
`, []string{"c.toml:22: order a then nope: no resource or clone \"nope\" (defined: a)", "c.toml:24: colocation zz with a: no resource",
			"c.toml:28: location a on nowhere: no node \"nowhere\" (nodes: holly, benji)", "c.toml:31: location a on director: \"director\" is the witness"}},
		// Agent parameters are the agent's to check (tandem config validate
		// asks it: host/cli TestConfigValidateAsksTheAgents).
		{"bad addresses", strings.Replace(base, `"198.18.0.24"`, `"198.18.0.300"`, 1), []string{"c.toml:11: node \"benji\": address \"198.18.0.300\" is not an IP address"}},
		{"cycle", base + `
[[resource]]
id = "a"
agent = "systemd:a"
[[resource]]
id = "b"
agent = "systemd:b"
[[resource]]
id = "c"
agent = "systemd:c"
[[order]]
first = "a"
then = "b"
[[order]]
first = "b"
then = "c"
[[order]]
first = "c"
then = "a"
`, []string{"ordering cycle: start a then start b then start c then start a"}},
		{"clone by primitive id", base + `
[[resource]]
id = "httpd"
agent = "systemd:apache2"
[resource.clone]
[[resource]]
id = "v"
agent = "vip"
params = { ip = "198.18.0.23" }
[[colocation]]
rsc = "v"
with = "httpd"
`, []string{"c.toml:27: colocation v with httpd: \"httpd\" is cloned; constraints name the clone: use \"httpd-clone\""}},
		{"bad scores", base + `
[[resource]]
id = "a"
agent = "systemd:a"
[[resource]]
id = "b"
agent = "systemd:b"
[[colocation]]
rsc = "a"
with = "b"
score = "INFINTY"
[[location]]
rsc = "a"
node = "holly"
score = 1.5
`, []string{"c.toml:26: colocation a with b: score \"INFINTY\" is not INFINITY", "c.toml:30: location a on holly: score 1.5 is not INFINITY"}},
		{"two nodes no witness", strings.Split(base, "[witness]")[0], []string{"a two-node cluster needs a witness"}},
		{"ops and meta", base + `
[[resource]]
id = "a"
agent = "systemd:a"
meta = { target-role = "Sleeping", failure-timeout = "soon" }
[[resource.op]]
name = "monitor"
[[resource.op]]
name = "probe"
[[resource.op]]
name = "start"
timeout = "20x"
`, []string{"c.toml:20: resource \"a\": target-role \"Sleeping\"", "c.toml:20: resource \"a\" failure-timeout: duration \"soon\"",
			"c.toml:27: resource \"a\" op start timeout: duration \"20x\"", "c.toml:21: resource \"a\": op monitor needs an interval",
			"c.toml:23: resource \"a\": op \"probe\" is not one of"}},
		{"groups", base + `
[[resource]]
id = "a"
agent = "systemd:a"
[[resource]]
id = "b"
agent = "systemd:b"
[resource.clone]
[[group]]
id = "g"
resources = ["a", "nope"]
meta = { resource-stickness = 5 }
[[group]]
id = "h"
resources = ["a", "b"]
[group.clone]
clone-node-max = 2
notify = true
[[group]]
id = "a"
resources = []
[[order]]
first = "g"
then = "h"
[[colocation]]
rsc = "a"
with = "h-clone"
`, []string{"c.toml:26: group \"g\": no resource \"nope\"", "c.toml:27: unknown key \"group.meta.resource-stickness\" (did you mean \"resource-stickiness\"?)",
			"c.toml:30: group \"h\": resource \"a\" is already in a group (also defined at line 26)",
			"c.toml:30: group \"h\": \"b\" is cloned; only primitives join a group",
			"c.toml:31: group \"h\": clone-node-max 2 needs globally-unique = true",
			"c.toml:31: group \"h\": notify on a cloned group is not supported in Tandem",
			"c.toml:35: group \"a\": duplicate id \"a\" (also defined at line 18)", "c.toml:34: group \"a\" has no resources",
			"c.toml:39: order g then h: group \"h\" is cloned; constraints name the clone: use \"h-clone\""}},
		{"group cycle", base + `
[[resource]]
id = "a"
agent = "systemd:a"
[[resource]]
id = "b"
agent = "systemd:b"
[[group]]
id = "g"
resources = ["a", "b"]
[[order]]
first = "b"
then = "a"
`, []string{"c.toml:25: ordering cycle: start a then start b then start a; remove or reverse one of these orders (group g, order-b-a-mandatory)"}},
		{"sets", base + `
[[resource]]
id = "a"
agent = "systemd:a"
[[resource]]
id = "b"
agent = "systemd:b"
[[order]]
first = "a"
[[order.set]]
resources = ["a", "b", "a"]
sequental = false
[[order.set]]
resources = []
[[colocation]]
[[colocation.set]]
resources = ["a", "nope"]
require-all = false
`, []string{"c.toml:23: order set a b a set: an order has first and then, or sets, not both",
			"c.toml:26: order set a b a set: \"a\" is named twice", "c.toml:27: unknown key \"order.set.sequental\" (did you mean \"sequential\"?)",
			"c.toml:28: order set a b a set: a set without resources", "c.toml:32: colocation set a nope require-all=false: no resource or clone \"nope\"",
			"c.toml:31: colocation set a nope require-all=false: require-all and action apply to order sets only"}},
		{"rules", strings.Replace(base, "name = \"director\"", "name = \"director\"\nattributes = { rack = \"r9\" }", 1) + `
[[resource]]
id = "a"
agent = "systemd:a"
[[location]]
rsc = "a"
rule = "rack eq r1 and ssd eq 1 or x eq 2"
[[location]]
rsc = "a"
node = "holly"
rule = "defined ssd"
[[location]]
rsc = "a"
rule = "defined ssd"
role = "Promoted"
[[location]]
rsc = "a"
node = "holly"
score-attribute = "w"
`, []string{"witness \"director\": standby, maintenance and attributes apply to nodes only",
			"c.toml:23: location a rule \"rack eq r1 and ssd eq 1 or x eq 2\": rule mixes and and or",
			"c.toml:26: location a rule defined ssd: a location has a node or a rule, not both",
			"c.toml:31: location a rule defined ssd: role Promoted: \"a\" is not a promotable clone (promotable = true in its [resource.clone])",
			"c.toml:32: location a on holly: score-attribute and role go with a rule"}},
		{"roles", base + `
[[resource]]
id = "a"
agent = "systemd:a"
[[resource]]
id = "b"
agent = "systemd:b"
[[colocation]]
rsc = "a"
with = "b"
with-rsc-role = "Unpromoted"
[[colocation]]
[[colocation.set]]
resources = ["a"]
role = "Slave"
[[colocation.set]]
resources = ["b"]
[[order]]
[[order.set]]
resources = ["a"]
role = "Promoted"
[[order.set]]
resources = ["b"]
`, []string{"c.toml:26: colocation a with b: role Unpromoted: \"b\" is not a promotable clone (promotable = true in its [resource.clone])",
			"c.toml:30: colocation set a role=Unpromoted set b: role Unpromoted: \"a\" is not a promotable clone (promotable = true in its [resource.clone])",
			"c.toml:36: order set a role=Promoted set b: an order's set takes no role (Pacemaker ignores it); order an action instead: action = \"promote\" or \"demote\""}},
		{"utilization", base + `
[properties]
placement-strategy = "balance"
[[resource]]
id = "a"
agent = "systemd:a"
[resource.utilization]
cpu = 1.5
memory = -1
"x y" = 2
`, []string{"c.toml:18: placement-strategy \"balance\": want default, utilization, balanced, minimal (did you mean \"balanced\"?)",
			"c.toml:23: resource \"a\": utilization \"cpu\" = 1.5: want an integer from 0 up",
			"c.toml:24: resource \"a\": utilization \"memory\" = -1: want an integer from 0 to 2147483647",
			"c.toml:22: resource \"a\": utilization \"x y\": a name is not empty"}},
		{"node utilization", strings.Replace(base, "address = \"198.18.0.24\"\n", "address = \"198.18.0.24\"\n[node.utilization]\ncpu = \"8\"\n", 1),
			[]string{"c.toml:13: node \"benji\": utilization \"cpu\" = 8: want an integer from 0 up"}},
		{"tickets", base + `
[[resource]]
id = "a"
agent = "systemd:a"
[[resource]]
id = "db"
agent = "systemd:db"
[resource.clone]
id = "db-clone"
promotable = true
[[ticket]]
ticket = "T"
rsc = "a"
loss-policy = "fence"
[[ticket]]
ticket = "T"
rsc = "a"
loss-policy = "demote"
id = "t2"
[[ticket]]
ticket = "T"
rsc = "nope"
id = "t3"
[[ticket]]
ticket = "T"
rsc = "db-clone"
rsc-role = "Unpromoted"
id = "t4"
[[ticket]]
ticket = "bad ticket"
rsc = "a"
loss-policy = "freez"
id = "t5"
[[ticket]]
ticket = "T"
rsc = "db-clone"
rsc-role = "Promoted"
loss-policy = "demote"
id = "ok"
`, []string{"c.toml:29: ticket T for a: loss-policy fence: Tandem has no fencing",
			"c.toml:33: ticket T for a: loss-policy demote needs rsc-role = \"Promoted\" on a promotable clone",
			"c.toml:37: ticket T for nope: no resource or clone \"nope\"",
			"c.toml:42: ticket T for db-clone: rsc-role \"Unpromoted\": Tandem takes Started (the default) or Promoted for a ticket",
			"c.toml:45: ticket bad ticket for a: ticket name \"bad ticket\"",
			"c.toml:47: ticket bad ticket for a: loss-policy \"freez\": want stop, demote, freeze (did you mean \"freeze\"?)"}},
		{"bad agent", base + `
[[resource]]
id = "a"
agent = "Systemd httpd"
[[resource]]
id = "b"
agent = "systemd"
`, []string{"c.toml:19: resource \"a\": agent \"Systemd httpd\" is not PLUGIN, PLUGIN:TYPE or ocf:PROVIDER:TYPE (e.g. vip, systemd:apache2, health:http, ocf:heartbeat:IPaddr2)", "c.toml:22: resource \"b\": agent systemd needs a unit"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps := problemsOf(t, tc.src)
			if len(ps) == 0 {
				t.Fatalf("got no problems, want ones containing %q", tc.want)
			}
			all := ps.Error()
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("problems: got\n%s\nwant one containing %q", all, w)
				}
			}
		})
	}
}

func TestValidCases(t *testing.T) {
	src := base + `
[bus]
client_port = 14222

[[resource]]
id = "a"
agent = "acme:widget"
params = { size = 3, on = true, ratio = 0.5 }
meta = { resource-stickiness = "INFINITY", migration-threshold = 2 }
[[resource.op]]
name = "monitor"
interval = 30
timeout = "2min"
[[resource.op]]
name = "monitor"
interval = "1m"
`
	f, err := Parse("ok.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r := f.CIB.Resources[0]
	if r.Params["size"] != "3" || r.Params["on"] != "true" || r.Params["ratio"] != "0.5" {
		t.Errorf("params: got %v, want size 3, on true, ratio 0.5", r.Params)
	}
	if r.Ops[0].Interval != 30*time.Second || r.Ops[0].Timeout != 2*time.Minute {
		t.Errorf("ops: got %+v, want the first with interval %v, timeout %v", r.Ops, 30*time.Second, 2*time.Minute)
	}
	if *r.Meta.Stickiness != int(cib.Infinity) || r.Plugin() != "acme" || r.AgentType() != "widget" {
		t.Errorf("meta/agent: got stickiness %d, plugin %q, type %q (agent %q); want stickiness %d, plugin \"acme\", type \"widget\"", *r.Meta.Stickiness, r.Plugin(), r.AgentType(), r.Agent, int(cib.Infinity))
	}
	if ms := f.Topology.Members; len(ms) != 3 || ms[0].ClientPort != 14222 || !ms[2].Witness {
		t.Errorf("members: got %+v, want 3, the first with client port 14222, the third the witness", ms)
	}
}

func TestKeyLinesMultiline(t *testing.T) {
	src := "a = \"\"\"\nx = 1\n[not]\n\"\"\"\nb = [\n 1,\n 2, # c\n]\n[[t]]\nk = 'v' # x\n[[t]]\n\"q.k\" = 2\n"
	k := scanKeyLines(src)
	for path, line := range map[string]int{"a": 1, "b": 5, "t[0]": 9, "t[0].k": 10, "t[1]": 11, "t[1].q.k": 12} {
		if got := k.at(path); got != line {
			t.Errorf("%s at %d, want %d (%v)", path, got, line, k.line)
		}
	}
	if _, ok := k.line["x"]; ok {
		t.Errorf("key x, inside a multi-line string: got recorded at line %d, want not recorded", k.line["x"])
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"../../cluster.toml", "../../e2e/cluster.toml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(base + "[[order]]\nfirst='a'\nthen='b'\n"))
	f.Add([]byte("a = '''\n[[x]]\n'''\n[[x]]\n[x.y]\nz = { a = [1, {b = 2}] }\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		f, err := Parse("fuzz.toml", data)
		if err == nil {
			if _, err := Encode(f.Topology, f.CIB); err != nil {
				t.Fatalf("valid config does not encode: %v", err)
			}
		}
	})
}

// EncodeLike keeps the durations of the previous file as they were written
// where their value did not change, and writes changed ones as an admin
// would ("90s", not "1m30s").
func TestEncodeLikeKeepsDurationsAsWritten(t *testing.T) {
	prev := base + `
[defaults]
failure-timeout = "2min"
[[resource]]
id = "a"
agent = "systemd:a"
[[resource.op]]
name = "monitor"
interval = "60s"
timeout = 20
[[resource.op]]
name = "monitor"
interval = "10min"
[[resource.op]]
name = "stop"
timeout = "30s"
`
	f, err := Parse("prev", []byte(prev))
	if err != nil {
		t.Fatal(err)
	}
	f.CIB.Resources[0].Ops[2].Timeout = 90 * time.Second // changed since
	out, err := EncodeLike(f.Topology, f.CIB, []byte(prev))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`failure-timeout = "2min"`, `interval = "60s"`, "timeout = 20\n", `interval = "10min"`, `timeout = "90s"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("encoded file lacks %s:\n%s", want, out)
		}
	}
	plain, err := Encode(f.Topology, f.CIB)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`failure-timeout = "2m"`, `interval = "60s"`, `timeout = "20s"`, `interval = "10m"`} {
		if !strings.Contains(string(plain), want) {
			t.Errorf("Encode without a previous file lacks %s:\n%s", want, plain)
		}
	}
}

// [metrics] takes host:port addresses; a bad one is named with its line.
func TestMetricsSettings(t *testing.T) {
	f, err := Parse("m.toml", []byte(base+"[metrics]\nlisten = \"127.0.0.1:9464\"\nnats_monitor = \"127.0.0.1:8222\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Topology.Metrics.Listen != "127.0.0.1:9464" || f.Topology.Metrics.Monitor != "127.0.0.1:8222" {
		t.Errorf("metrics: %+v", f.Topology.Metrics)
	}
	out, err := Encode(f.Topology, f.CIB)
	if err != nil || !strings.Contains(string(out), "[metrics]\nlisten = \"127.0.0.1:9464\"\nnats_monitor = \"127.0.0.1:8222\"\n") {
		t.Errorf("encoded: %v\n%s", err, out)
	}
	for text, want := range map[string]string{
		"[metrics]\nlisten = \"9464\"\n":                            `m.toml:` + fmt.Sprint(strings.Count(base, "\n")+2) + `: [metrics] listen "9464": address 9464: missing port in address; write it host:port`,
		"[metrics]\nlisten = \"127.0.0.1:99999\"\n":                 `[metrics] listen "127.0.0.1:99999": port "99999" is not a TCP port`,
		"[metrics]\nlisten = \":9464\"\nnats_monitor = \":9464\"\n": `nats_monitor is the same address as listen`,
		"[metrics]\nlisen = \":9464\"\n":                            `did you mean "listen"`,
	} {
		_, err := Parse("m.toml", []byte(base+text))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
}

// [status_page] listen is off unless set, takes a host:port (a bad one
// named with its line) and is written back.
func TestStatusPageSettings(t *testing.T) {
	f, err := Parse("s.toml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if f.Topology.StatusPage != "" {
		t.Errorf("status page on by default: %q", f.Topology.StatusPage)
	}
	f, err = Parse("s.toml", []byte(base+"[status_page]\nlisten = \"127.0.0.1:9465\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Topology.StatusPage != "127.0.0.1:9465" {
		t.Errorf("status page: %q", f.Topology.StatusPage)
	}
	out, err := Encode(f.Topology, f.CIB)
	if err != nil || !strings.Contains(string(out), "[status_page]\nlisten = \"127.0.0.1:9465\"\n") {
		t.Errorf("encoded: %v\n%s", err, out)
	}
	line := fmt.Sprint(strings.Count(base, "\n") + 2)
	for text, want := range map[string]string{
		"[status_page]\nlisten = \"9465\"\n":                                 `s.toml:` + line + `: [status_page] listen "9465": address 9465: missing port in address; write it host:port, like "127.0.0.1:9465"`,
		"[status_page]\nlisten = \"127.0.0.1:0\"\n":                          `s.toml:` + line + `: [status_page] listen "127.0.0.1:0": port "0" is not a TCP port`,
		"[metrics]\nlisten = \":9464\"\n[status_page]\nlisten = \":9464\"\n": `[status_page] listen is the same address as a [metrics] endpoint (:9464)`,
		"[status_page]\nlisen = \":9465\"\n":                                 `did you mean "listen"`,
		"[status_pages]\nlisten = \":9465\"\n":                               `did you mean "status_page"`,
	} {
		_, err := Parse("s.toml", []byte(base+text))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
}

// [plugins] dir is read, and written back by EncodeWithPlugins.
func TestPluginDir(t *testing.T) {
	f, err := Parse("c.toml", []byte(base+"\n[plugins]\ndir = \"/usr/local/lib/tandem\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.PluginDir != "/usr/local/lib/tandem" {
		t.Fatalf("PluginDir %q", f.PluginDir)
	}
	text, err := EncodeWithPlugins(f.Topology, f.PluginDir, f.CIB)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Parse("again.toml", text)
	if err != nil || g.PluginDir != f.PluginDir {
		t.Fatalf("round trip: %v, PluginDir %q\n%s", err, g.PluginDir, text)
	}
}
