package policies

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/policies/cib"
)

func TestActionJSON(t *testing.T) {
	prim := Action{ID: "start/VIP@benji", Resource: "VIP", Node: "benji", Op: OpStart}
	inst0 := Action{ID: "stop/haproxy#0@holly", Resource: "haproxy", Clone: "haproxy-clone", Instance: 0, Node: "holly", Op: OpStop, After: []string{"x"}}
	for _, c := range []struct {
		a    Action
		want string
	}{
		{prim, `{"id":"start/VIP@benji","resource":"VIP","node":"benji","op":"start"}`},
		{inst0, `{"id":"stop/haproxy#0@holly","resource":"haproxy","clone":"haproxy-clone","instance":0,"node":"holly","op":"stop","after":["x"]}`},
	} {
		got, err := json.Marshal(c.a)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
		var back Action
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		if back.ID != c.a.ID || back.Clone != c.a.Clone || back.Instance != c.a.Instance || len(back.After) != len(c.a.After) {
			t.Errorf("round trip: %+v != %+v", back, c.a)
		}
	}
	if got, _ := json.Marshal(Assignment{Resource: "httpd", Clone: "httpd-clone", Instance: 0, Node: "holly"}); string(got) != `{"resource":"httpd","clone":"httpd-clone","instance":0,"node":"holly"}` {
		t.Errorf("assignment JSON %s", got)
	}
}

func TestTransitionValidate(t *testing.T) {
	a := Action{ID: "stop/VIP@holly", Resource: "VIP", Node: "holly", Op: OpStop}
	b := Action{ID: "start/VIP@benji", Resource: "VIP", Node: "benji", Op: OpStart, After: []string{a.ID}}
	for _, c := range []struct {
		name string
		t    Transition
		want string
	}{
		{"ok", Transition{Version: 1, Actions: []Action{a, b}}, ""},
		{"version", Transition{Version: 2, Actions: []Action{a}}, "version 2"},
		{"order", Transition{Version: 1, Actions: []Action{b, a}}, "not listed before it"},
		{"missing", Transition{Version: 1, Actions: []Action{b}}, "not in the transition"},
		{"dup", Transition{Version: 1, Actions: []Action{a, a}}, "listed twice"},
		{"bad id", Transition{Version: 1, Actions: []Action{{ID: "x", Resource: "VIP", Node: "holly", Op: OpStop}}}, "does not match"},
		{"bad op", Transition{Version: 1, Actions: []Action{{ID: "x", Resource: "VIP", Node: "holly", Op: "reload"}}}, "not start, stop, promote, demote or notify"},
	} {
		data, _ := json.Marshal(c.t)
		_, err := DecodeTransition(data)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.want)
		}
	}
	if _, err := DecodeTransition([]byte("{")); err == nil {
		t.Error("bad JSON accepted")
	}
}

func TestTransitionForNodeReady(t *testing.T) {
	cfg := loadReference(t)
	res := schedule(t, cfg, State{Nodes: both()})
	holly := res.Transition.ForNode("holly")
	if len(holly) != 2 { // httpd and haproxy
		t.Fatalf("holly's actions: %v", holly)
	}
	done := map[string]bool{}
	succeeded := func(id string) bool { return done[id] }
	var hap Action
	for _, a := range holly {
		if a.Resource == "haproxy" {
			hap = a
		}
	}
	if hap.Ready(succeeded) {
		t.Fatal("haproxy is ready before the VIP and httpd started")
	}
	for _, id := range hap.After {
		done[id] = true
	}
	if !hap.Ready(succeeded) {
		t.Fatal("haproxy is not ready once what it waits for succeeded")
	}
	if _, ok := res.Transition.Action(hap.ID); !ok {
		t.Error("Action(id) does not find it")
	}
	dot := res.Transition.DOT()
	if !strings.Contains(dot, `"start/httpd#0@holly" -> "start/haproxy#1@holly"`) || !strings.HasPrefix(dot, "digraph transition {") {
		t.Errorf("DOT:\n%s", dot)
	}
}

func TestApply(t *testing.T) {
	cfg := loadReference(t)
	st := State{Nodes: both(), Instances: withFailed(refSettled(), "haproxy", "benji"),
		Failures: []Failure{{"haproxy", "benji", 1, pmNow}}}
	res := schedule(t, cfg, st)
	next := Apply(cfg, st, &res.Transition)
	if len(next.Instances) != len(st.Instances) || len(next.Failures) != 1 {
		t.Fatalf("after recovery: %+v", next)
	}
	for _, in := range next.Instances {
		if in.Failed {
			t.Errorf("%s on %s still failed after its restart", in.Resource, in.Node)
		}
	}
}

func TestNormalizeInstances(t *testing.T) {
	cfg := loadReference(t)
	// A source that does not number instances reports 0 everywhere.
	st := State{Nodes: both(), Instances: []InstanceState{
		{Resource: "haproxy", Node: "holly"}, {Resource: "haproxy", Node: "benji"},
		{Resource: "httpd", Node: "holly"}, {Resource: "httpd", Node: "benji"}, {Resource: vip, Node: "benji"}}}
	res := schedule(t, cfg, st)
	if !res.Transition.Empty() {
		t.Fatalf("a running cluster reported without instance numbers is rescheduled: %v", ops(res))
	}
	got := normalizeInstances(indexResources(cfg), st.Instances, nil)
	seen := map[string]bool{}
	for _, in := range got {
		k := in.Resource + "#" + string(rune('0'+in.Instance))
		if seen[k] {
			t.Errorf("instance %s twice", k)
		}
		seen[k] = true
	}
}

func TestInvalidInput(t *testing.T) {
	cfg := loadReference(t)
	for _, c := range []struct {
		st   State
		want string
	}{
		{State{Nodes: []NodeState{{"holly", "up"}}}, `status "up"`},
		{State{Nodes: []NodeState{{"holly", Online}, {"holly", Online}}}, "listed twice"},
		{State{Instances: []InstanceState{{Resource: "haproxy-clone", Node: "holly"}}}, "clone id"},
		{State{Instances: []InstanceState{{Resource: vip, Node: "holly"}, {Resource: vip, Node: "holly"}}}, "listed twice"},
		{State{Instances: []InstanceState{{Resource: vip}}}, "required"},
		{State{Failures: []Failure{{vip, "holly", -1, pmNow}}}, "negative"},
	} {
		_, err := Schedule(Input{CIB: cfg, State: c.st, Now: pmNow})
		if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want ErrInvalidInput saying %q", c.st, err, c.want)
		}
	}
	if _, err := Schedule(Input{}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("no config: %v", err)
	}
}

func TestOrphansAndUnknownNodes(t *testing.T) {
	cfg := loadReference(t)
	st := State{Nodes: both(), Instances: append(refSettled(),
		InstanceState{Resource: "old", Clone: "old-clone", Node: "holly"},
		InstanceState{Resource: "gone", Node: "nowhere"})}
	res := schedule(t, cfg, st)
	if got := strings.Join(ops(res), ","); got != "stop old@holly" {
		t.Errorf("actions %s, want the orphan stopped", got)
	}
	if a := res.Transition.Actions[0]; a.Clone != "old-clone" {
		t.Errorf("orphan stop lost its clone: %+v", a)
	}
	if !hasNote(res, "gone", "not a configured node") || !hasNote(res, "old", "not in the configuration") {
		t.Errorf("notes %v", res.Notes)
	}
}

func TestExplainAndRecheck(t *testing.T) {
	cfg := loadReference(t)
	st := State{Nodes: []NodeState{{"holly", Online}, {"benji", Standby}}, Instances: refSettled(),
		Failures: []Failure{{"httpd", "holly", 3, pmNow.Add(-50 * time.Second)}}}
	res, err := Schedule(Input{CIB: cfg, State: st, Now: pmNow, Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"benji": "node is standby", "holly": "httpd failed 3 times on holly (migration-threshold 3)"}
	for _, rs := range res.Scores {
		if rs.Resource != "httpd-clone" {
			continue
		}
		for _, ns := range rs.Nodes {
			if ns.Score != -cib.Infinity || len(ns.Parts) == 0 || ns.Parts[0].Reason != want[ns.Node] {
				t.Errorf("httpd-clone on %s: %+v", ns.Node, ns)
			}
		}
	}
	if res.RecheckAt != pmNow.Add(11*time.Second) {
		t.Errorf("recheck at %v", res.RecheckAt)
	}
	// The VIP must follow haproxy; haproxy waits for httpd, which runs
	// nowhere: everything stops, and the notes say why.
	if len(res.Placement) != 0 || !hasNote(res, "haproxy-clone", "httpd-clone must start first") {
		t.Errorf("placement %v notes %v", res.Placement, res.Notes)
	}
}

func blocked(ins []InstanceState, rsc, node string) []InstanceState {
	return marked(ins, rsc, node, func(in *InstanceState) { in.Blocked = true })
}

// A blocked instance (its stop failed) is left where it is, whatever
// else asks for it to stop, and a blocked singleton is started nowhere
// else; only its node going offline (self-fencing) releases it. The same
// instance merely failed is recovered.
func TestBlockedInstanceIsLeftAlone(t *testing.T) {
	const vip = "VIP-10.10.10.23"
	cfg := loadReference(t)
	res := schedule(t, cfg, State{Nodes: both(), Instances: withFailed(refSettled(), vip, "benji")})
	if got := strings.Join(ops(res), ","); got != "start VIP-10.10.10.23@benji,stop VIP-10.10.10.23@benji" {
		t.Fatalf("a failed VIP: %s, want it recovered in place", got)
	}

	res = schedule(t, cfg, State{Nodes: both(), Instances: blocked(refSettled(), vip, "benji")})
	if !res.Transition.Empty() || where(res)[vip] != "benji" {
		t.Fatalf("a blocked VIP: actions %v, placed on %q; want nothing done, left on benji", ops(res), where(res)[vip])
	}
	if !hasNote(res, vip, "blocked on benji: its stop failed") {
		t.Errorf("notes %v", res.Notes)
	}

	// Disabled (or deleted): still nothing can be done to it.
	disabled := loadReference(t)
	if err := disabled.SetTargetRole(vip, cib.RoleStopped); err != nil {
		t.Fatal(err)
	}
	if res := schedule(t, disabled, State{Nodes: both(), Instances: blocked(refSettled(), vip, "benji")}); !res.Transition.Empty() {
		t.Fatalf("a blocked, disabled VIP: %v, want nothing", ops(res))
	}
	orphan := State{Nodes: both(), Instances: append(refSettled(), InstanceState{Resource: "old", Node: "holly", Blocked: true})}
	if res := schedule(t, cfg, orphan); !res.Transition.Empty() || !hasNote(res, "old", "blocked on holly") {
		t.Fatalf("a blocked orphan: %v, notes %v; want nothing done", ops(res), res.Notes)
	}

	// Its clone's instance on benji blocked: the haproxy it needs there is
	// left alone too, and nothing moves.
	res = schedule(t, cfg, State{Nodes: both(), Instances: blocked(refSettled(), "haproxy", "benji")})
	if !res.Transition.Empty() {
		t.Fatalf("a blocked haproxy instance: %v, want nothing", ops(res))
	}

	// benji goes offline: what it ran is stopped (its lease expires), the
	// VIP starts on holly.
	res = schedule(t, cfg, State{Nodes: []NodeState{{"holly", Online}, {"benji", Offline}}, Instances: blocked(refSettled(), vip, "benji")})
	if got := where(res)[vip]; got != "holly" {
		t.Fatalf("benji offline with a blocked VIP: placed on %q, want holly", got)
	}
}
