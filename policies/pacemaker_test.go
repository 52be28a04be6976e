package policies

import (
	"bytes"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/policies/cib"
)

// The agreement with Pacemaker is checked against stored crm_simulate
// results, so that CI needs no Pacemaker. With -pacemaker.update (and
// crm_simulate installed: apt-get install pacemaker-cli-utils), every
// scenario's CIB is regenerated and crm_simulate is run again:
//
//	go test ./policies -run TestPacemakerAgreement -pacemaker.update
var updatePacemaker = flag.Bool("pacemaker.update", false, "regenerate testdata/pacemaker with crm_simulate")

// pmNow is the time every scenario runs at.
var pmNow = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const twoNodes = `
[cluster]
name = "pm"
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

const threeNodes = twoNodes + `
[[node]]
name = "carl"
address = "198.18.0.26"
`

type pmScenario struct {
	name  string
	about string
	// config is TOML; "reference" means testdata/reference.toml, and
	// "reference+" followed by TOML appends to it.
	config string
	state  State
	tweak  func(*cib.CIB) // an edit TOML cannot express briefly
	// build makes config and state in code (then config and state are
	// unused).
	build func(testing.TB) (*cib.CIB, State)
	// differs lists, exactly as compare reports them, the deliberate
	// differences between Tandem and Pacemaker 2.1.5 in this scenario
	// (each is explained in docs/scheduler.md).
	differs []string
}

func both() []NodeState { return []NodeState{{"holly", Online}, {"benji", Online}} }

// refSettled is the reference cluster after its first transition.
func refSettled() []InstanceState {
	return []InstanceState{
		{Resource: "VIP-10.10.10.23", Node: "benji"},
		{Resource: "httpd", Instance: 0, Node: "holly"},
		{Resource: "httpd", Instance: 1, Node: "benji"},
		{Resource: "haproxy", Instance: 0, Node: "benji"},
		{Resource: "haproxy", Instance: 1, Node: "holly"},
	}
}

func withFailed(ins []InstanceState, rsc, node string) []InstanceState {
	return marked(ins, rsc, node, func(in *InstanceState) { in.Failed = true })
}

// marked copies ins with set applied to rsc's instances on node.
func marked(ins []InstanceState, rsc, node string, set func(*InstanceState)) []InstanceState {
	out := append([]InstanceState(nil), ins...)
	for i := range out {
		if out[i].Resource == rsc && out[i].Node == node {
			set(&out[i])
		}
	}
	return out
}

func without(ins []InstanceState, rsc, node string) []InstanceState {
	var out []InstanceState
	for _, in := range ins {
		if in.Resource != rsc || in.Node != node {
			out = append(out, in)
		}
	}
	return out
}

func movedVIP(ins []InstanceState, to string) []InstanceState {
	out := append([]InstanceState(nil), ins...)
	for i := range out {
		if out[i].Resource == "VIP-10.10.10.23" {
			out[i].Node = to
		}
	}
	return out
}

const cascade = "orders add no restarts"

func pmScenarios() []pmScenario {
	return append(append(append(append(append(append(basicScenarios(), groupScenarios()...), setScenarios()...), ruleScenarios()...), utilizationScenarios()...), ticketScenarios()...), uniqueCloneScenarios()...)
}

func basicScenarios() []pmScenario {
	return []pmScenario{
		{name: "ref-start", about: "reference, nothing running: VIP on one node, httpd and haproxy on both, haproxy after VIP and httpd",
			config: "reference", state: State{Nodes: both()}},
		{name: "ref-settled", about: "reference, everything running: nothing to do",
			config: "reference", state: State{Nodes: both(), Instances: refSettled()}},
		{name: "ref-benji-down", about: "reference, benji (VIP's node) dies: VIP starts on holly",
			config: "reference", state: State{Nodes: []NodeState{{"holly", Online}, {"benji", Offline}}, Instances: refSettled()},
			differs: []string{"pacemaker restarts haproxy on holly (due to required VIP-10.10.10.23 start): " + cascade}},
		{name: "ref-holly-down", about: "reference, holly (not the VIP's node) dies: nothing moves",
			config: "reference", state: State{Nodes: []NodeState{{"holly", Offline}, {"benji", Online}}, Instances: refSettled()}},
		{name: "ref-haproxy-failed-once", about: "reference, haproxy fails once on the VIP's node: recovered in place",
			config: "reference", state: State{Nodes: both(), Instances: withFailed(refSettled(), "haproxy", "benji"),
				Failures: []Failure{{"haproxy", "benji", 1, pmNow.Add(-10 * time.Second)}}}},
		{name: "ref-haproxy-threshold", about: "reference, haproxy reaches migration-threshold on the VIP's node: haproxy stops there, VIP moves",
			config: "reference", state: State{Nodes: both(), Instances: withFailed(refSettled(), "haproxy", "benji"),
				Failures: []Failure{{"haproxy", "benji", 3, pmNow.Add(-10 * time.Second)}}},
			differs: []string{"pacemaker restarts haproxy on holly (due to required VIP-10.10.10.23 start): " + cascade}},
		{name: "ref-haproxy-nowhere", about: "reference, haproxy banned on both nodes: haproxy stops, then the VIP stops",
			config: "reference", state: State{Nodes: both(), Instances: withFailed(withFailed(refSettled(), "haproxy", "benji"), "haproxy", "holly"),
				Failures: []Failure{{"haproxy", "benji", 3, pmNow.Add(-10 * time.Second)}, {"haproxy", "holly", 3, pmNow.Add(-10 * time.Second)}}}},
		{name: "ref-failure-expired", about: "reference, haproxy's failures on benji are older than failure-timeout: haproxy starts there again, VIP stays",
			config: "reference", state: State{Nodes: both(), Instances: without(movedVIP(refSettled(), "holly"), "haproxy", "benji"),
				Failures: []Failure{{"haproxy", "benji", 3, pmNow.Add(-61 * time.Second)}}}},
		{name: "ref-failure-fresh", about: "reference, same but the failures are 30 s old: benji stays banned",
			config: "reference", state: State{Nodes: both(), Instances: without(movedVIP(refSettled(), "holly"), "haproxy", "benji"),
				Failures: []Failure{{"haproxy", "benji", 3, pmNow.Add(-30 * time.Second)}}}},
		{name: "ref-failure-boundary", about: "reference, the failures are exactly failure-timeout (60 s) old: they still count",
			config: "reference", state: State{Nodes: both(), Instances: without(movedVIP(refSettled(), "holly"), "haproxy", "benji"),
				Failures: []Failure{{"haproxy", "benji", 3, pmNow.Add(-60 * time.Second)}}}},
		{name: "ref-holly-standby", about: "reference, holly (VIP's node) goes standby: haproxy stops before the VIP and httpd, VIP moves",
			config: "reference", state: State{Nodes: []NodeState{{"holly", Standby}, {"benji", Online}}, Instances: movedVIP(refSettled(), "holly")},
			differs: []string{"pacemaker restarts haproxy on benji (due to required VIP-10.10.10.23 start): " + cascade}},
		{name: "ref-httpd-stopped", about: "reference with httpd target-role=Stopped: haproxy stops (Mandatory order), so the VIP stops (INFINITY colocation)",
			config: "reference", state: State{Nodes: both(), Instances: refSettled()},
			tweak: func(c *cib.CIB) {
				r, _ := c.Resource("httpd")
				r.Meta.TargetRole = cib.RoleStopped
			}},
		{name: "ref-maintenance-node", about: "reference, holly in maintenance with haproxy failed there: nothing is done on holly",
			config: "reference", state: State{Nodes: []NodeState{{"holly", Maintenance}, {"benji", Online}}, Instances: withFailed(refSettled(), "haproxy", "holly"),
				Failures: []Failure{{"haproxy", "holly", 1, pmNow.Add(-10 * time.Second)}}}},
		{name: "stickiness", about: "a location preference of 50 moves a resource with stickiness 0, not one with stickiness 100",
			config: twoNodes + `
[[resource]]
id = "sticky"
agent = "vip"
params = { ip = "198.18.0.40" }
meta = { resource-stickiness = 100 }
[[resource]]
id = "loose"
agent = "vip"
params = { ip = "198.18.0.41" }
meta = { resource-stickiness = 0 }
[[location]]
rsc = "sticky"
node = "benji"
score = 50
[[location]]
rsc = "loose"
node = "benji"
score = 50
`, state: State{Nodes: both(), Instances: []InstanceState{{Resource: "sticky", Node: "holly"}, {Resource: "loose", Node: "holly"}}}},
		{name: "stickiness-zero-balance", about: "without stickiness, equal nodes share the resources: one of two moves",
			config: twoNodes + `
[[resource]]
id = "R1"
agent = "vip"
params = { ip = "198.18.0.40" }
[[resource]]
id = "R2"
agent = "vip"
params = { ip = "198.18.0.41" }
`, state: State{Nodes: both(), Instances: []InstanceState{{Resource: "R1", Node: "holly"}, {Resource: "R2", Node: "holly"}}}},
		{name: "interleave-start", about: "interleaved clones start: an instance of p waits only for h on its own node",
			config: twoNodes + interleaved(true), state: State{Nodes: both()},
			differs: []string{
				"pacemaker orders start p@benji after start h@holly; tandem does not",
				"pacemaker orders start p@holly after start h@benji; tandem does not",
			}},
		{name: "interleave-recover", about: "interleaved clones: h recovers on holly; p keeps running",
			config: twoNodes + interleaved(true), state: State{Nodes: both(),
				Instances: []InstanceState{{Resource: "h", Node: "holly", Failed: true}, {Resource: "p", Node: "holly"}, {Resource: "h", Node: "benji"}, {Resource: "p", Node: "benji"}},
				Failures:  []Failure{{"h", "holly", 1, pmNow.Add(-10 * time.Second)}}},
			differs: []string{"pacemaker restarts p on holly (due to required h:0 start): " + cascade}},
		{name: "noninterleave-recover", about: "clones without interleave: h recovers on holly; p keeps running on both nodes",
			config: twoNodes + interleaved(false), state: State{Nodes: both(),
				Instances: []InstanceState{{Resource: "h", Node: "holly", Failed: true}, {Resource: "p", Node: "holly"}, {Resource: "h", Node: "benji"}, {Resource: "p", Node: "benji"}},
				Failures:  []Failure{{"h", "holly", 1, pmNow.Add(-10 * time.Second)}}},
			differs: []string{
				"pacemaker restarts p on benji (due to required h-clone running): " + cascade,
				"pacemaker restarts p on holly (due to required h-clone running): " + cascade,
			}},
		{name: "anti-colocation", about: "A with B -INFINITY: A goes to the node B does not use",
			config: twoNodes + antiColocation, state: State{Nodes: both(), Instances: []InstanceState{{Resource: "B", Node: "holly"}}}},
		{name: "anti-colocation-one-node", about: "A with B -INFINITY and only B's node online: A cannot run",
			config: twoNodes + antiColocation, state: State{Nodes: []NodeState{{"holly", Online}, {"benji", Offline}}, Instances: []InstanceState{{Resource: "B", Node: "holly"}}}},
		{name: "colocation-finite", about: "a finite colocation score is a preference: C follows D when nothing else matters, E does not follow D against a stronger location",
			config: threeNodes + `
[[resource]]
id = "D"
agent = "vip"
params = { ip = "198.18.0.40" }
[[resource]]
id = "C"
agent = "vip"
params = { ip = "198.18.0.41" }
[[resource]]
id = "E"
agent = "vip"
params = { ip = "198.18.0.42" }
[[colocation]]
rsc = "C"
with = "D"
score = 50
[[colocation]]
rsc = "E"
with = "D"
score = 50
[[location]]
rsc = "D"
node = "carl"
score = 10
[[location]]
rsc = "E"
node = "benji"
score = 100
`, state: State{Nodes: []NodeState{{"holly", Online}, {"benji", Online}, {"carl", Online}}}},
		{name: "optional-order", about: "Optional order: A and B start together, B after A; C and D stop together, D before C (symmetrical)",
			config: twoNodes + fourVIPs + `
[[order]]
first = "A"
then = "B"
kind = "Optional"
[[order]]
first = "C"
then = "D"
kind = "Optional"
`, state: State{Nodes: both(), Instances: []InstanceState{{Resource: "C", Node: "holly"}, {Resource: "D", Node: "holly"}},
				Failures: []Failure{{"C", "holly", int(cib.Infinity), pmNow}, {"D", "holly", int(cib.Infinity), pmNow}}}},
		{name: "serialize-order", about: "Serialize order: B starts after A; not symmetrical, so C and D stop concurrently",
			config: twoNodes + fourVIPs + `
[[order]]
first = "A"
then = "B"
kind = "Serialize"
[[order]]
first = "C"
then = "D"
kind = "Serialize"
`, state: State{Nodes: both(), Instances: []InstanceState{{Resource: "C", Node: "holly"}, {Resource: "D", Node: "holly"}},
				Failures: []Failure{{"C", "holly", int(cib.Infinity), pmNow}, {"D", "holly", int(cib.Infinity), pmNow}}}},
		{name: "mandatory-first-stopped", about: "Mandatory order with first target-role=Stopped: then stops",
			config: twoNodes + `
[[resource]]
id = "A"
agent = "vip"
params = { ip = "198.18.0.40" }
meta = { target-role = "Stopped" }
[[resource]]
id = "B"
agent = "vip"
params = { ip = "198.18.0.41" }
[[order]]
first = "A"
then = "B"
`, state: State{Nodes: both(), Instances: []InstanceState{{Resource: "B", Node: "holly"}}}},
		{name: "asymmetric-first-stopped", about: "order A then B symmetrical=false, A target-role=Stopped, both running: only A stops",
			config: twoNodes + asymmetricOrder(false, `meta = { target-role = "Stopped" }`),
			state:  State{Nodes: both(), Instances: []InstanceState{{Resource: "A", Node: "holly"}, {Resource: "B", Node: "holly"}}}},
		{name: "asymmetric-then-not-running", about: "order A then B symmetrical=false, A target-role=Stopped, B stopped: B does not start",
			config: twoNodes + asymmetricOrder(false, `meta = { target-role = "Stopped" }`),
			state:  State{Nodes: both()}},
		{name: "asymmetric-then-moves", about: "order A then B symmetrical=false, A cannot run, B's node goes standby: B cannot start elsewhere",
			config: twoNodes + asymmetricOrder(false, `meta = { target-role = "Stopped" }`),
			state:  State{Nodes: []NodeState{{"holly", Standby}, {"benji", Online}}, Instances: []InstanceState{{Resource: "B", Node: "holly"}}}},
		{name: "asymmetric-then-recovers", about: "order A then B symmetrical=false, A cannot run, B failed: B is stopped, not recovered",
			config: twoNodes + asymmetricOrder(false, `meta = { target-role = "Stopped" }`),
			state: State{Nodes: both(), Instances: []InstanceState{{Resource: "B", Node: "holly", Failed: true}},
				Failures: []Failure{{"B", "holly", 1, pmNow.Add(-10 * time.Second)}}}},
		{name: "asymmetric-clones-first-stopped", about: "clones a then b symmetrical=false, a target-role=Stopped, both running on both nodes: only a stops",
			config: twoNodes + asymmetricOrder(true, `meta = { target-role = "Stopped" }`),
			state: State{Nodes: both(), Instances: []InstanceState{{Resource: "A", Node: "holly"}, {Resource: "A", Instance: 1, Node: "benji"},
				{Resource: "B", Node: "holly"}, {Resource: "B", Instance: 1, Node: "benji"}}}},
		{name: "asymmetric-clones-then-not-running", about: "clones a then b symmetrical=false, a target-role=Stopped, b running on holly only: b does not start on benji",
			config: twoNodes + asymmetricOrder(true, `meta = { target-role = "Stopped" }`),
			state:  State{Nodes: both(), Instances: []InstanceState{{Resource: "B", Node: "holly"}}}},
		{name: "random-8x100-node-failure", about: "the benchmark generator's 8 nodes, 100 resources (2 clones), 50 constraints, settled, then one node fails",
			build: func(tb testing.TB) (*cib.CIB, State) {
				cfg := bigCluster(8, 100, 50)
				return cfg, nodeFailure(settledState(tb, cfg))
			},
			differs: []string{"pacemaker restarts rsc00042 on node007 (due to required rsc00035 start): " + cascade}},
		{name: "clone-move-and-recover", about: "clone-max=1 clone moves to a preferred node; a failed clone instance recovers while a new one starts (after the stop)",
			config: twoNodes + `
[[resource]]
id = "c"
agent = "systemd:c"
[resource.clone]
clone-max = 1
[[resource]]
id = "d"
agent = "systemd:d"
[resource.clone]
[[location]]
rsc = "c-clone"
node = "benji"
score = 500
`, state: State{Nodes: both(), Instances: []InstanceState{{Resource: "c", Node: "holly"}, {Resource: "d", Node: "holly", Failed: true}},
				Failures: []Failure{{"d", "holly", 1, pmNow.Add(-time.Second)}}}},
	}
}

const fourVIPs = `
[[resource]]
id = "A"
agent = "vip"
params = { ip = "198.18.0.40" }
[[resource]]
id = "B"
agent = "vip"
params = { ip = "198.18.0.41" }
[[resource]]
id = "C"
agent = "vip"
params = { ip = "198.18.0.42" }
[[resource]]
id = "D"
agent = "vip"
params = { ip = "198.18.0.43" }
`

const antiColocation = `
[[resource]]
id = "B"
agent = "vip"
params = { ip = "198.18.0.40" }
meta = { resource-stickiness = 100 }
[[resource]]
id = "A"
agent = "vip"
params = { ip = "198.18.0.41" }
[[colocation]]
rsc = "A"
with = "B"
score = "-INFINITY"
`

// asymmetricOrder is A then B, symmetrical=false; firstMeta is A's meta
// line; cloned clones both.
func asymmetricOrder(cloned bool, firstMeta string) string {
	clone, first, then := "", "A", "B"
	if cloned {
		clone, first, then = "[resource.clone]\n", "A-clone", "B-clone"
	}
	return fmt.Sprintf(`
[[resource]]
id = "A"
agent = "systemd:a"
%[1]s
%[2]s[[resource]]
id = "B"
agent = "systemd:b"
%[2]s[[order]]
first = "%[3]s"
then = "%[4]s"
symmetrical = false
`, firstMeta, clone, first, then)
}

func interleaved(on bool) string {
	return fmt.Sprintf(`
[[resource]]
id = "h"
agent = "systemd:h"
[resource.clone]
interleave = %[1]t
[[resource]]
id = "p"
agent = "systemd:p"
[resource.clone]
interleave = %[1]t
[[order]]
first = "h-clone"
then = "p-clone"
`, on)
}

func (sc pmScenario) load(t testing.TB) *cib.CIB {
	t.Helper()
	if sc.build != nil {
		cfg, _ := sc.build(t)
		return cfg
	}
	src := sc.config
	if rest, ok := strings.CutPrefix(src, "reference"); ok {
		ref, err := os.ReadFile("testdata/reference.toml")
		if err != nil {
			t.Fatal(err)
		}
		src = string(ref) + strings.TrimPrefix(rest, "+")
	}
	f, err := config.Parse(sc.name+".toml", []byte(src))
	if err != nil {
		t.Fatalf("%s: %v", sc.name, err)
	}
	cfg := f.CIB
	if sc.tweak != nil {
		sc.tweak(cfg)
	}
	return cfg
}

func TestPacemakerAgreement(t *testing.T) {
	for _, sc := range pmScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			cfg := sc.load(t)
			if sc.build != nil {
				cfg, sc.state = sc.build(t)
			}
			dir := filepath.Join("testdata", "pacemaker", sc.name)
			cib := cibXML(cfg, sc.state)
			if *updatePacemaker {
				runCrmSimulate(t, dir, cib)
			}
			stored, err := os.ReadFile(filepath.Join(dir, "cib.xml"))
			if err != nil {
				t.Fatalf("%v (run with -pacemaker.update where crm_simulate is installed)", err)
			}
			if string(stored) != cib {
				t.Fatalf("%s/cib.xml no longer matches the scenario: regenerate with -pacemaker.update", dir)
			}
			pm := loadPacemaker(t, dir)
			res, err := Schedule(Input{CIB: cfg, State: sc.state, Now: pmNow})
			if err != nil {
				t.Fatal(err)
			}
			got := compareWithPacemaker(pm, &res.Transition)
			if strings.Join(got, "\n") != strings.Join(sc.differs, "\n") {
				t.Errorf("differences with Pacemaker:\n  got:  %s\n  want: %s\npacemaker: %s\ntandem:\n%s",
					strings.Join(got, "\n        "), strings.Join(sc.differs, "\n        "), pm.summary, describe(&res.Transition))
			}
		})
	}
}

func describe(t *Transition) string {
	var b strings.Builder
	for _, a := range t.Actions {
		fmt.Fprintf(&b, "  %s after %v\n", a.ID, a.After)
	}
	return b.String()
}

func runCrmSimulate(t *testing.T, dir, cib string) {
	t.Helper()
	if _, err := exec.LookPath("crm_simulate"); err != nil {
		t.Fatal("-pacemaker.update needs crm_simulate (apt-get install pacemaker-cli-utils)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cibPath := filepath.Join(dir, "cib.xml")
	if err := os.WriteFile(cibPath, []byte(cib), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("crm_simulate", "--xml-file", cibPath, "--run", "--show-scores",
		"--set-datetime", pmNow.Format(time.RFC3339), "--save-graph", filepath.Join(dir, "graph.xml"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("crm_simulate: %v\n%s", err, out.String())
	}
	version, _ := exec.Command("crm_simulate", "--version").Output()
	head := fmt.Sprintf("# %s\n# crm_simulate --xml-file cib.xml --run --show-scores --set-datetime %s --save-graph graph.xml\n",
		strings.SplitN(string(version), "\n", 2)[0], pmNow.Format(time.RFC3339))
	if err := os.WriteFile(filepath.Join(dir, "crm_simulate.txt"), []byte(head+out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// pmAction is a start or stop in Pacemaker's transition graph.
type pmAction struct{ op, rsc, inst, node string }

func (a pmAction) String() string { return a.op + " " + a.rsc + "@" + a.node }

type pmResult struct {
	actions  map[string]pmAction // graph id -> action (starts and stops only)
	inputs   map[string][]string // graph id -> ids it waits for directly (any action)
	cascades map[string]string   // "instance@node" -> Pacemaker's reason, for "due to required" restarts
	summary  string
}

// before maps each graph id to the ids it waits for, transitively, through
// any action except those in skip.
func (pm *pmResult) before(skip map[string]bool) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	var walk func(id string) map[string]bool
	walk = func(id string) map[string]bool {
		if b, ok := out[id]; ok {
			return b
		}
		b := map[string]bool{}
		out[id] = b
		for _, in := range pm.inputs[id] {
			if skip[in] {
				continue
			}
			b[in] = true
			for x := range walk(in) {
				b[x] = true
			}
		}
		return b
	}
	for id := range pm.inputs {
		walk(id)
	}
	return out
}

var summaryLineRE = regexp.MustCompile(`(?m)^\s*(?:\* )?(?:Start|Stop|Move|Recover|Restart|Migrate|Promote|Demote|Reload)\s+\S+\s+\(.*$`)

var summaryRE = regexp.MustCompile(`(?m)^\s*(?:\* )?Restart\s+(\S+)\s+\(\s*(\S+)\s*\)\s+(due to required .*)$`)

func loadPacemaker(t *testing.T, dir string) *pmResult {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(dir, "crm_simulate.txt"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "graph.xml"))
	if err != nil {
		t.Fatal(err)
	}
	type event struct {
		ID        string `xml:"id,attr"`
		Operation string `xml:"operation,attr"`
		Node      string `xml:"on_node,attr"`
		Primitive *struct {
			ID     string `xml:"id,attr"`
			LongID string `xml:"long-id,attr"`
		} `xml:"primitive"`
	}
	type anyEvent struct {
		Events []event `xml:",any"`
	}
	var g struct {
		Synapses []struct {
			Action anyEvent   `xml:"action_set"`
			Inputs []anyEvent `xml:"inputs>trigger"`
		} `xml:"synapse"`
	}
	if err := xml.Unmarshal(data, &g); err != nil {
		t.Fatalf("%s/graph.xml: %v", dir, err)
	}
	res := &pmResult{actions: map[string]pmAction{}, cascades: map[string]string{}, inputs: map[string][]string{}}
	res.summary = strings.Join(summaryLineRE.FindAllString(string(text), -1), "\n")
	inputs := res.inputs
	for _, syn := range g.Synapses {
		if len(syn.Action.Events) != 1 {
			t.Fatalf("%s/graph.xml: a synapse with %d actions", dir, len(syn.Action.Events))
		}
		e := syn.Action.Events[0]
		for _, in := range syn.Inputs {
			for _, ie := range in.Events {
				inputs[e.ID] = append(inputs[e.ID], ie.ID)
			}
		}
		if e.Primitive != nil && (e.Operation == "start" || e.Operation == "stop") {
			inst := e.Primitive.LongID
			if inst == "" {
				inst = e.Primitive.ID
			}
			res.actions[e.ID] = pmAction{op: e.Operation, rsc: e.Primitive.ID, inst: inst, node: e.Node}
		}
	}
	for _, m := range summaryRE.FindAllStringSubmatch(string(text), -1) {
		res.cascades[m[1]+"@"+m[2]] = m[3]
	}
	return res
}

// compareWithPacemaker lists how Tandem's transition differs from
// Pacemaker's: restarts Pacemaker adds because of an order ("due to
// required ..."), actions only one of them has, and pairs of common actions
// that one orders (directly or through other actions) and the other does
// not. Clone instance numbers are ignored: actions compare by op, primitive
// and node.
//
// Orderings are followed through every Pacemaker action except the
// restarts it adds because of orders that Tandem does not do: an ordering
// that only exists through them is part of that difference. (Inside a
// group Tandem restarts as Pacemaker does; those restarts compare like any
// action.)
func compareWithPacemaker(pm *pmResult, t *Transition) []string {
	var diffs []string
	// The instances of a globally-unique clone are distinct resources
	// (rsc:0, rsc:1, ... in Pacemaker's graph): they compare with their
	// instance number.
	unique := map[string]bool{}
	for _, a := range pm.actions {
		if base, _, ok := strings.Cut(a.rsc, ":"); ok && a.inst == a.rsc {
			unique[base] = true
		}
	}
	tByKey := map[string]Action{}
	for _, a := range t.Actions {
		rsc := a.Resource
		if unique[rsc] {
			rsc = fmt.Sprintf("%s:%d", rsc, a.Instance)
		}
		tByKey[fmt.Sprintf("%s %s@%s", a.Op, rsc, a.Node)] = a
	}
	keep := map[string]pmAction{} // Pacemaker actions that are not cascade restarts Tandem leaves out, by graph id
	skip := map[string]bool{}
	for id, a := range pm.actions {
		if why, ok := pm.cascades[a.inst+"@"+a.node]; ok {
			if _, both := tByKey[fmt.Sprintf("start %s@%s", a.rsc, a.node)]; !both {
				if a.op == "start" {
					diffs = append(diffs, fmt.Sprintf("pacemaker restarts %s on %s (%s): %s", a.rsc, a.node, why, cascade))
				}
				skip[id] = true
				continue
			}
		}
		keep[id] = a
	}
	before := pm.before(skip)
	pmByKey := map[string]string{}
	for id, a := range keep {
		pmByKey[a.String()] = id
	}
	var common []string
	for k := range pmByKey {
		if _, ok := tByKey[k]; ok {
			common = append(common, k)
		} else {
			diffs = append(diffs, "only pacemaker does "+k)
		}
	}
	for k := range tByKey {
		if _, ok := pmByKey[k]; !ok {
			diffs = append(diffs, "only tandem does "+k)
		}
	}
	sort.Strings(common)
	closure := tandemClosure(t)
	for _, a := range common {
		for _, b := range common {
			if a == b {
				continue
			}
			pmOrders := before[pmByKey[b]][pmByKey[a]]
			tOrders := closure[tByKey[b].ID][tByKey[a].ID]
			switch {
			case pmOrders && !tOrders:
				diffs = append(diffs, fmt.Sprintf("pacemaker orders %s after %s; tandem does not", b, a))
			case tOrders && !pmOrders:
				diffs = append(diffs, fmt.Sprintf("tandem orders %s after %s; pacemaker does not", b, a))
			}
		}
	}
	sort.Strings(diffs)
	return diffs
}

// tandemClosure maps each action id to every action it waits for,
// directly or not.
func tandemClosure(t *Transition) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, a := range t.Actions { // topological order: predecessors are done
		b := map[string]bool{}
		for _, d := range a.After {
			b[d] = true
			for x := range out[d] {
				b[x] = true
			}
		}
		out[a.ID] = b
	}
	return out
}
