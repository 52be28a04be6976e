package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/policies"
)

const referenceCluster = "../../cluster.toml"

// simulate runs `tandem simulate args...` in process.
func simulate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := NewRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"simulate", "--config", referenceCluster, "--now", "2025-01-01T00:00:00Z"}, args...))
	err := root.Execute()
	return out.String(), err
}

func TestSimulateGolden(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"reference from scratch", nil, `Nodes:
  holly  online
  benji  online

Placement:
  VIP-10.10.10.23  benji
  httpd-clone      holly (#0), benji (#1)
  haproxy-clone    benji (#0), holly (#1)

Transition: 5 action(s), in an order that respects every edge
   1. start VIP-10.10.10.23 on benji
   2. start httpd#0 on holly
   3. start httpd#1 on benji
   4. start haproxy#0 on benji
      after 1, 2, 3
   5. start haproxy#1 on holly
      after 1, 2, 3
`},
		{"settled", []string{"--settled"}, `Nodes:
  holly  online
  benji  online

Placement:
  VIP-10.10.10.23  benji
  httpd-clone      holly (#0), benji (#1)
  haproxy-clone    benji (#0), holly (#1)

Transition: nothing to do
`},
		{"benji down", []string{"--settled", "--node-down", "benji"}, `Nodes:
  holly  online
  benji  offline

Placement:
  VIP-10.10.10.23  holly
  httpd-clone      holly (#0)
  haproxy-clone    holly (#1)

Transition: 1 action(s), in an order that respects every edge
   1. start VIP-10.10.10.23 on holly
`},
		{"haproxy past migration-threshold", []string{"--settled", "--fail", "haproxy-clone@benji=3"}, `Nodes:
  holly  online
  benji  online

Placement:
  VIP-10.10.10.23  holly
  httpd-clone      holly (#0), benji (#1)
  haproxy-clone    holly (#1)

Transition: 3 action(s), in an order that respects every edge
   1. stop  haproxy#0 on benji  (cannot run on benji: haproxy failed 3 times on benji (migration-threshold 3))
   2. stop  VIP-10.10.10.23 on benji  (move to holly)
      after 1
   3. start VIP-10.10.10.23 on holly  (move from benji)
      after 2

Recheck at 2025-01-01T00:01:01Z (a failure expires)
`},
		{"haproxy nowhere, with scores", []string{"--settled", "--fail", "haproxy@benji=INFINITY", "--fail", "haproxy@holly=INFINITY", "--show-scores"}, `Nodes:
  holly  online
  benji  online

Placement:
  VIP-10.10.10.23  stopped
  httpd-clone      holly (#0), benji (#1)
  haproxy-clone    stopped

Transition: 3 action(s), in an order that respects every edge
   1. stop  haproxy#0 on benji  (no node can run it: holly: haproxy failed INFINITY times on holly (migration-threshold 3); benji: haproxy failed INFINITY times on benji (migration-threshold 3))
   2. stop  haproxy#1 on holly  (no node can run it: holly: haproxy failed INFINITY times on holly (migration-threshold 3); benji: haproxy failed INFINITY times on benji (migration-threshold 3))
   3. stop  VIP-10.10.10.23 on benji  (it must run with haproxy-clone (INFINITY), which runs nowhere)
      after 1, 2

Notes:
  VIP-10.10.10.23: not running: it must run with haproxy-clone (INFINITY), which runs nowhere
  haproxy-clone: not running: no node can run it: holly: haproxy failed INFINITY times on holly (migration-threshold 3); benji: haproxy failed INFINITY times on benji (migration-threshold 3)

Recheck at 2025-01-01T00:01:01Z (a failure expires)

Scores:
  VIP-10.10.10.23
    holly      -INFINITY  = -INFINITY colocation-VIP-10.10.10.23-haproxy-clone-INFINITY (VIP-10.10.10.23 with haproxy-clone, INFINITY): haproxy-clone is not here
    benji      -INFINITY  = 100 resource-stickiness (running here); -INFINITY colocation-VIP-10.10.10.23-haproxy-clone-INFINITY (VIP-10.10.10.23 with haproxy-clone, INFINITY): haproxy-clone is not here
  httpd-clone
    holly              0
    benji              0
  haproxy-clone
    holly      -INFINITY  = -INFINITY haproxy failed INFINITY times on holly (migration-threshold 3)
    benji      -INFINITY  = -INFINITY haproxy failed INFINITY times on benji (migration-threshold 3)
`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := simulate(t, c.args...)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("tandem simulate %s:\n--- got\n%s--- want\n%s", strings.Join(c.args, " "), got, c.want)
			}
		})
	}
}

func TestSimulateJSONAndDOT(t *testing.T) {
	out, err := simulate(t, "--settled", "--node-down", "benji", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Nodes      []policies.NodeState  `json:"nodes"`
		Placement  []policies.Assignment `json:"placement"`
		Transition json.RawMessage       `json:"transition"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	tr, err := policies.DecodeTransition(got.Transition)
	if err != nil {
		t.Fatalf("the transition in the JSON output does not decode: %v", err)
	}
	if len(tr.Actions) != 1 || tr.Actions[0].ID != "start/VIP-10.10.10.23@holly" {
		t.Errorf("transition %+v", tr.Actions)
	}
	if len(got.Placement) != 3 || got.Nodes[1].Status != policies.Offline {
		t.Errorf("placement %v nodes %v", got.Placement, got.Nodes)
	}

	dot, err := simulate(t, "--output", "dot")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dot, "digraph transition {") || !strings.Contains(dot, `"start/VIP-10.10.10.23@benji" -> "start/haproxy#0@benji";`) {
		t.Errorf("DOT output:\n%s", dot)
	}
}

func TestSimulateStateFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// haproxy failed once on holly: recovered in place; no "nodes": all online.
	good := write("state.json", `{
  "now": "2025-06-01T12:00:00Z",
  "instances": [
    {"resource": "VIP-10.10.10.23", "node": "holly"},
    {"resource": "httpd", "instance": 0, "node": "holly"},
    {"resource": "httpd", "instance": 1, "node": "benji"},
    {"resource": "haproxy", "instance": 0, "node": "holly", "failed": true},
    {"resource": "haproxy", "instance": 1, "node": "benji"}
  ],
  "failures": [{"resource": "haproxy", "node": "holly", "count": 1, "last": "2025-06-01T11:59:50Z"}]
}`)
	out, err := simulate(t, "--state", good, "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Transition policies.Transition `json:"transition"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range res.Transition.Actions {
		ids = append(ids, a.ID)
	}
	if strings.Join(ids, " ") != "stop/haproxy#0@holly start/haproxy#0@holly" {
		t.Errorf("recovery in place: %v", ids)
	}

	bad := write("bad.json", "{\n  \"instances\": [\n    {\"resource\": \"haproxy\" \"node\": \"holly\"}\n  ]\n}\n")
	unknown := write("unknown.json", `{"instance": []}`)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--output", "xml"}, `--output "xml": want text, json or dot`},
		{[]string{"--now", "yesterday"}, `--now "yesterday": want an RFC 3339 time`},
		{[]string{"--node-down", "bob"}, `--node-down "bob": no such node (nodes: holly, benji)`},
		{[]string{"--fail", "haproxy"}, `--fail "haproxy": want RESOURCE@NODE or RESOURCE@NODE=COUNT`},
		{[]string{"--fail", "nginx@holly"}, `--fail "nginx@holly": no resource or clone "nginx"`},
		{[]string{"--fail", "haproxy@bob"}, `--fail "haproxy@bob": no node "bob" (nodes: holly, benji)`},
		{[]string{"--fail", "haproxy@holly=0"}, `count "0" is not a positive number or INFINITY`},
		{[]string{"--state", filepath.Join(dir, "missing.json")}, "--state: open"},
		{[]string{"--state", bad}, "--state: " + bad + ":3: invalid character"},
		{[]string{"--state", unknown}, `unknown field "instance"`},
	} {
		_, err := simulate(t, c.args...)
		var exit *ExitError
		if !errors.As(err, &exit) || exit.Code != ExitConfig || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want exit %d saying %q", c.args, err, ExitConfig, c.want)
		}
	}
}

// simulate with a promotable clone: the state file carries roles and
// promotion scores; the placement shows the promoted instance and the
// transition promotes the survivor before the VIP that needs it starts.
func TestSimulatePromotable(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "p.toml")
	state := filepath.Join(dir, "p.json")
	if err := os.WriteFile(cfg, []byte(`[cluster]
name = "p"
[[node]]
name = "holly"
address = "198.18.0.22"
[[node]]
name = "benji"
address = "198.18.0.24"
[witness]
name = "director"
address = "198.18.0.30"
[[resource]]
id = "db"
agent = "systemd:postgresql"
[resource.clone]
promotable = true
[[resource]]
id = "vip"
agent = "vip"
params = { ip = "198.18.0.50" }
[[colocation]]
rsc = "vip"
with = "db-clone"
with-rsc-role = "Promoted"
[[order]]
first = "db-clone"
first-action = "promote"
then = "vip"
then-action = "start"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, []byte(`{"nodes": [{"name": "holly", "status": "online"}, {"name": "benji", "status": "online"}],
 "instances": [{"resource": "db", "instance": 0, "node": "holly", "role": "Promoted"}, {"resource": "db", "instance": 1, "node": "benji"},
   {"resource": "vip", "node": "holly"}],
 "promotion": [{"resource": "db", "node": "holly", "score": 10}, {"resource": "db", "node": "benji", "score": 5}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := simulate(t, "--config", cfg, "--state", state, "--node-down", "holly")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"db-clone  benji (#1, Promoted)\n", "vip       benji\n", "1. promote db#1 on benji", "2. start vip on benji\n      after 1\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// simulate on a promotable cloned group: the members are promoted on the
// node the group's copy is promoted on, the first member first, after the
// clone's starts; when that node goes down, on the other.
func TestSimulatePromotableGroup(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "g.toml")
	state := filepath.Join(dir, "g.json")
	if err := os.WriteFile(cfg, []byte(`[cluster]
name = "p"
[[node]]
name = "holly"
address = "198.18.0.22"
[[node]]
name = "benji"
address = "198.18.0.24"
[witness]
name = "director"
address = "198.18.0.30"
[[resource]]
id = "fs"
agent = "systemd:fs"
[[resource]]
id = "db"
agent = "systemd:postgresql"
[[group]]
id = "stack"
resources = ["fs", "db"]
[group.clone]
promotable = true
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, []byte(`{"nodes": [{"name": "holly", "status": "online"}, {"name": "benji", "status": "online"}],
 "instances": [{"resource": "fs", "instance": 0, "node": "holly", "role": "Promoted"}, {"resource": "db", "instance": 0, "node": "holly", "role": "Promoted"},
   {"resource": "fs", "instance": 1, "node": "benji"}, {"resource": "db", "instance": 1, "node": "benji"}],
 "promotion": [{"resource": "db", "node": "holly", "score": 10}, {"resource": "db", "node": "benji", "score": 5}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := simulate(t, "--config", cfg, "--state", state)
	if err != nil || !strings.Contains(out, "Transition: nothing to do") || !strings.Contains(out, "fs (group stack-clone)  holly (#0, Promoted), benji (#1)\n") {
		t.Fatalf("settled: %v\n%s", err, out)
	}
	out, err = simulate(t, "--config", cfg, "--state", state, "--node-down", "holly")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"fs (group stack-clone)  benji (#1, Promoted)\n", "db (group stack-clone)  benji (#1, Promoted)\n",
		"1. promote fs#1 on benji", "2. promote db#1 on benji  (promote)\n      after 1\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
