package policies

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/policies/cib"
)

const vip = "VIP-10.10.10.23"

func loadReference(t testing.TB) *cib.CIB {
	t.Helper()
	data, err := os.ReadFile("testdata/reference.toml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := config.Parse("reference.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	return f.CIB
}

func schedule(t testing.TB, cfg *cib.CIB, st State) *Result {
	t.Helper()
	res, err := Schedule(Input{CIB: cfg, State: st, Now: pmNow})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Transition.Validate(); err != nil {
		t.Fatalf("invalid transition: %v", err)
	}
	return res
}

// where lists the nodes each resource (primitive id) is placed on.
func where(res *Result) map[string]string {
	m := map[string][]string{}
	for _, a := range res.Placement {
		m[a.Resource] = append(m[a.Resource], a.Node)
	}
	out := map[string]string{}
	for r, ns := range m {
		sort.Strings(ns)
		out[r] = strings.Join(ns, " ")
	}
	return out
}

// ops lists the actions as "op resource@node", sorted.
func ops(res *Result) []string {
	var out []string
	for _, a := range res.Transition.Actions {
		out = append(out, fmt.Sprintf("%s %s@%s", a.Op, a.Resource, a.Node))
	}
	sort.Strings(out)
	return out
}

// waits says whether the action "op rsc@node" a waits, directly or not,
// for b.
func waits(t *testing.T, res *Result, a, b string) bool {
	t.Helper()
	ids := map[string]string{}
	for _, x := range res.Transition.Actions {
		ids[fmt.Sprintf("%s %s@%s", x.Op, x.Resource, x.Node)] = x.ID
	}
	ia, ib := ids[a], ids[b]
	if ia == "" || ib == "" {
		t.Fatalf("no action %q or %q in %v", a, b, ops(res))
	}
	return tandemClosure(&res.Transition)[ia][ib]
}

func TestReference(t *testing.T) {
	cfg := loadReference(t)
	settled := refSettled() // VIP on benji

	t.Run("all up", func(t *testing.T) {
		res := schedule(t, cfg, State{Nodes: both()})
		w := where(res)
		if w[vip] != "benji" && w[vip] != "holly" {
			t.Fatalf("VIP placed on %q", w[vip])
		}
		for _, r := range []string{"httpd", "haproxy"} {
			if w[r] != "benji holly" {
				t.Errorf("%s on %q, want both nodes", r, w[r])
			}
		}
		for _, n := range []string{"holly", "benji"} {
			hap := "start haproxy@" + n
			if !waits(t, res, hap, "start "+vip+"@"+w[vip]) {
				t.Errorf("%s does not wait for the VIP", hap)
			}
			for _, m := range []string{"holly", "benji"} { // httpd-clone is not interleaved: all of it
				if !waits(t, res, hap, "start httpd@"+m) {
					t.Errorf("%s does not wait for httpd on %s", hap, m)
				}
			}
		}
		// Applying the transition settles the cluster.
		again := schedule(t, cfg, Apply(cfg, State{Nodes: both()}, &res.Transition))
		if !again.Transition.Empty() {
			t.Errorf("after applying: %v", ops(again))
		}
	})

	t.Run("benji down from scratch", func(t *testing.T) {
		res := schedule(t, cfg, State{Nodes: []NodeState{{"holly", Online}, {"benji", Offline}}})
		for r, n := range map[string]string{vip: "holly", "httpd": "holly", "haproxy": "holly"} {
			if where(res)[r] != n {
				t.Errorf("%s on %q, want %q", r, where(res)[r], n)
			}
		}
	})

	t.Run("benji down", func(t *testing.T) {
		res := schedule(t, cfg, State{Nodes: []NodeState{{"holly", Online}, {"benji", Offline}}, Instances: settled})
		if w := where(res); w[vip] != "holly" || w["httpd"] != "holly" || w["haproxy"] != "holly" {
			t.Errorf("placement %v, want everything on holly", w)
		}
		// The VIP starts; haproxy on holly keeps running (no restart).
		if got := strings.Join(ops(res), ", "); got != "start "+vip+"@holly" {
			t.Errorf("actions %s, want only the VIP's start on holly", got)
		}
	})

	t.Run("haproxy past migration-threshold on the VIP's node", func(t *testing.T) {
		st := State{Nodes: both(), Instances: withFailed(settled, "haproxy", "benji"),
			Failures: []Failure{{"haproxy", "benji", 3, pmNow.Add(-5 * time.Second)}}}
		res := schedule(t, cfg, st)
		if w := where(res); w[vip] != "holly" || w["haproxy"] != "holly" || w["httpd"] != "benji holly" {
			t.Errorf("placement %v", w)
		}
		want := []string{"start " + vip + "@holly", "stop " + vip + "@benji", "stop haproxy@benji"}
		if got := ops(res); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("actions %v, want %v", got, want)
		}
		if !waits(t, res, "stop "+vip+"@benji", "stop haproxy@benji") {
			t.Error("the VIP stops before haproxy (reverse of start VIP then haproxy)")
		}
		if !waits(t, res, "start "+vip+"@holly", "stop "+vip+"@benji") {
			t.Error("the VIP starts on holly before it stopped on benji")
		}
		if res.RecheckAt != pmNow.Add(56*time.Second) { // failed 5 s ago, forgotten after 60 s

			t.Errorf("recheck at %v, want when the failures expire", res.RecheckAt)
		}
	})

	t.Run("haproxy below migration-threshold recovers in place", func(t *testing.T) {
		st := State{Nodes: both(), Instances: withFailed(settled, "haproxy", "benji"),
			Failures: []Failure{{"haproxy", "benji", 2, pmNow.Add(-5 * time.Second)}}}
		res := schedule(t, cfg, st)
		if got := strings.Join(ops(res), ", "); got != "start haproxy@benji, stop haproxy@benji" {
			t.Errorf("actions %s", got)
		}
		if !waits(t, res, "start haproxy@benji", "stop haproxy@benji") {
			t.Error("restart is not stop then start")
		}
	})

	t.Run("haproxy unable to run anywhere", func(t *testing.T) {
		st := State{Nodes: both(), Instances: settled, Failures: []Failure{
			{"haproxy", "benji", int(cib.Infinity), pmNow}, {"haproxy", "holly", int(cib.Infinity), pmNow}}}
		res := schedule(t, cfg, st)
		if w := where(res); w[vip] != "" || w["haproxy"] != "" || w["httpd"] != "benji holly" {
			t.Errorf("placement %v: the VIP must stop with haproxy", w)
		}
		if !waits(t, res, "stop "+vip+"@benji", "stop haproxy@benji") || !waits(t, res, "stop "+vip+"@benji", "stop haproxy@holly") {
			t.Error("the VIP must stop after every haproxy instance")
		}
		if !hasNote(res, vip, "haproxy-clone") {
			t.Errorf("no note explains why the VIP is stopped: %v", res.Notes)
		}
	})

	t.Run("stopping follows the reverse order", func(t *testing.T) {
		stopAll := loadReference(t)
		stopAll.Defaults.TargetRole = cib.RoleStopped
		res := schedule(t, stopAll, State{Nodes: both(), Instances: settled})
		if len(res.Placement) != 0 || len(res.Transition.Actions) != 5 {
			t.Fatalf("placement %v, actions %v", res.Placement, ops(res))
		}
		for _, n := range []string{"holly", "benji"} {
			if !waits(t, res, "stop "+vip+"@benji", "stop haproxy@"+n) {
				t.Errorf("VIP stops before haproxy on %s", n)
			}
			for _, m := range []string{"holly", "benji"} {
				if !waits(t, res, "stop httpd@"+n, "stop haproxy@"+m) {
					t.Errorf("httpd on %s stops before haproxy on %s", n, m)
				}
			}
		}
	})

	t.Run("holly standby", func(t *testing.T) {
		st := State{Nodes: []NodeState{{"holly", Standby}, {"benji", Online}}, Instances: movedVIP(settled, "holly")}
		res := schedule(t, cfg, st)
		if w := where(res); w[vip] != "benji" || w["haproxy"] != "benji" || w["httpd"] != "benji" {
			t.Errorf("placement %v", w)
		}
		if !waits(t, res, "stop httpd@holly", "stop haproxy@holly") || !waits(t, res, "stop "+vip+"@holly", "stop haproxy@holly") {
			t.Error("haproxy must stop first")
		}
	})

	t.Run("maintenance mode", func(t *testing.T) {
		m := loadReference(t)
		m.Properties.MaintenanceMode = true
		res := schedule(t, m, State{Nodes: []NodeState{{"holly", Online}, {"benji", Online}}, Instances: withFailed(settled, "haproxy", "holly")})
		if !res.Transition.Empty() || len(res.Placement) != len(settled) {
			t.Errorf("maintenance mode acted: %v / %v", ops(res), res.Placement)
		}
	})

	t.Run("node maintenance", func(t *testing.T) {
		st := State{Nodes: []NodeState{{"holly", Maintenance}, {"benji", Online}}, Instances: withFailed(settled, "haproxy", "holly")}
		res := schedule(t, cfg, st)
		if !res.Transition.Empty() {
			t.Errorf("acted on a node in maintenance: %v", ops(res))
		}
	})
}

func hasNote(res *Result, rsc, text string) bool {
	for _, n := range res.Notes {
		if n.Resource == rsc && strings.Contains(n.Text, text) {
			return true
		}
	}
	return false
}
