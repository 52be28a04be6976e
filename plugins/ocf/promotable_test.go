package ocf_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/sdk/sdktest"
)

// promotableAgent is a promotable OCF agent in plain sh: its state file
// ($OCF_RESKEY_state, {node} standing for the node's name) holds "slave"
// or "master". It sets its promotion score as agents do: crm_master in
// start and demote, crm_attribute --promotion in promote, reads it back
// with crm_master -G, and deletes it in stop. A monitor sets the score
// $OCF_RESKEY_score when that parameter is set (a replica that learns it
// is the most up to date).
const promotableAgent = `#!/bin/sh
state=$(printf '%s' "$OCF_RESKEY_state" | sed "s/{node}/$OCF_RESKEY_CRM_meta_on_node/g")
case "$1" in
meta-data) cat <<END
<?xml version="1.0"?>
<resource-agent name="Promo" version="1.0">
<version>1.1</version>
<parameters>
<parameter name="state" required="1"><content type="string"/></parameter>
<parameter name="score"><content type="integer"/></parameter>
</parameters>
<actions><action name="start" timeout="20s"/><action name="stop" timeout="20s"/>
<action name="monitor" timeout="20s" interval="10s" role="Unpromoted"/><action name="monitor" timeout="20s" interval="9s" role="Promoted"/>
<action name="promote" timeout="20s"/><action name="demote" timeout="20s"/><action name="meta-data" timeout="5s"/></actions>
</resource-agent>
END
	exit 0 ;;
start)
	[ "$(cat "$state" 2>/dev/null)" = master ] && exit 8
	echo slave > "$state"
	crm_master -l reboot -v 5 || exit 1
	exit 0 ;;
promote)
	[ -f "$state" ] || exit 7
	echo master > "$state"
	crm_attribute --promotion -l reboot -v 10 || exit 1
	[ "$(crm_master -q -G)" = 10 ] || { echo "ocf-exit-reason:crm_master -G says $(crm_master -q -G 2>&1)"; exit 1; }
	exit 0 ;;
demote)
	[ -f "$state" ] || exit 7
	echo slave > "$state"
	"$HA_SBIN_DIR/crm_attribute" -p -v 5 || exit 1
	exit 0 ;;
stop)
	crm_master -l reboot -D || exit 1
	rm -f "$state"
	exit 0 ;;
monitor)
	if [ -n "$OCF_RESKEY_score" ]; then crm_master -l reboot -v "$OCF_RESKEY_score" || exit 1; fi
	case "$(cat "$state" 2>/dev/null)" in
	master) exit 8 ;;
	slave) exit 0 ;;
	failed) exit 9 ;;
	esac
	exit 7 ;;
esac
exit 3
`

// promotableRoot is an OCF_ROOT with promotableAgent as ocf:tandemtest:Promo.
func promotableRoot(t *testing.T) string {
	root := t.TempDir()
	writeAgent(t, root, "tandemtest", "Promo", promotableAgent)
	return root
}

func promotableRequest(id, agentType string, params map[string]string) (context.Context, context.CancelFunc, sdk.Request) {
	ctx, cancel, req := request(id, agentType, params, 20*time.Second)
	req.Instance = sdk.Instance{Node: "n1", CloneIndex: 0,
		Clone: sdk.CloneMeta{ID: id + "-clone", Max: 2, NodeMax: 1, Promotable: true, PromotedMax: 1, PromotedNodeMax: 1}}
	return ctx, cancel, req
}

func score(r sdk.Result) string {
	if r.PromotionScore == nil {
		return "none"
	}
	return strconv.Itoa(*r.PromotionScore)
}

// The bridge runs a promotable agent's promote and demote; its monitor's
// OCF_RUNNING_PROMOTED and OCF_FAILED_PROMOTED are the host's
// RunningPromoted and FailedPromoted; and the score the agent sets with
// crm_master or crm_attribute (found first in PATH, or as
// $HA_SBIN_DIR/crm_attribute) is the monitor's promotion score, kept across
// a restart of the plugin, gone once the agent deletes it.
func TestPromotable(t *testing.T) {
	root := promotableRoot(t)
	stateDir := filepath.Join(t.TempDir(), "state")
	launch := func() *sdk.Process {
		return sdkLaunch(t, root, stateDir)
	}
	p := launch()
	state := filepath.Join(t.TempDir(), "promo.state")
	ctx, cancel, req := promotableRequest("db", "tandemtest:Promo", map[string]string{"state": state})
	defer cancel()
	step := func(name string, f func(context.Context, sdk.Request) (sdk.Result, error), wantCode sdk.Code) sdk.Result {
		t.Helper()
		res, err := f(ctx, req)
		if err != nil || res.Code != wantCode {
			t.Fatalf("%s: %v %v; want %v", name, res, err, wantCode)
		}
		return res
	}
	if res := step("probe", p.Monitor, sdk.NotRunning); res.PromotionScore != nil {
		t.Errorf("probe before start: score %s, want none", score(res))
	}
	step("start", p.Start, sdk.OK)
	if res := step("monitor", p.Monitor, sdk.OK); score(res) != "5" {
		t.Errorf("monitor after start: score %s, want 5 (crm_master -v 5)", score(res))
	}
	step("promote", p.Promote, sdk.OK)
	if res := step("monitor", p.Monitor, sdk.RunningPromoted); score(res) != "10" {
		t.Errorf("monitor after promote: score %s, want 10 (crm_attribute --promotion -v 10)", score(res))
	}
	// The score outlives the plugin (the agent sets it in promote only).
	p.Kill()
	p = launch()
	if res := step("monitor after a plugin restart", p.Monitor, sdk.RunningPromoted); score(res) != "10" {
		t.Errorf("monitor after a plugin restart: score %s, want 10", score(res))
	}
	step("demote", p.Demote, sdk.OK)
	if res := step("monitor", p.Monitor, sdk.OK); score(res) != "5" {
		t.Errorf("monitor after demote: score %s, want 5 ($HA_SBIN_DIR/crm_attribute -p -v 5)", score(res))
	}
	// Another node's instance keeps its own score: the attribute is the
	// node's.
	other := req
	other.Instance.Node, other.Instance.CloneIndex = "n2", 1
	other.Params = map[string]string{"state": state + ".n2", "score": "-INFINITY"}
	if res, err := p.Monitor(ctx, other); err != nil || res.Code != sdk.NotRunning || score(res) != "-1000000" {
		t.Errorf("n2's monitor setting -INFINITY: %v %v, score %s; want not running, -1000000", res, err, score(res))
	}
	if res := step("monitor", p.Monitor, sdk.OK); score(res) != "5" {
		t.Errorf("n1's score after n2 set its own: %s, want 5", score(res))
	}
	// A primitive's monitor reports no score, even if one is set.
	prim := req
	prim.Instance = sdk.Instance{Node: "n1", CloneIndex: -1}
	if res, err := p.Monitor(ctx, prim); err != nil || res.PromotionScore != nil {
		t.Errorf("a primitive's monitor: %v %v, score %s; want none", res, err, score(res))
	}
	if err := os.WriteFile(state, []byte("failed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	step("monitor of a failed promoted instance", p.Monitor, sdk.FailedPromoted)
	step("stop", p.Stop, sdk.OK)
	if res := step("monitor", p.Monitor, sdk.NotRunning); res.PromotionScore != nil {
		t.Errorf("monitor after stop (crm_master -D): score %s, want none", score(res))
	}
}

// sdkLaunch launches the plugin with OCF_ROOT root and state directory
// stateDir (kept across launches).
func sdkLaunch(t *testing.T, root, stateDir string) *sdk.Process {
	t.Helper()
	return sdktest.Launch(t, pluginBin(t), "OCF_ROOT="+root, "TANDEM_OCF_STATE_DIR="+stateDir)
}

// The shim refuses what it cannot do, naming the option, and a query of
// an unset attribute fails as Pacemaker's does (or prints the default).
func TestAttributeShim(t *testing.T) {
	root := t.TempDir()
	writeAgent(t, root, "tandemtest", "Shim", `#!/bin/sh
[ "$1" = meta-data ] && { echo '<resource-agent name="Shim"><parameters/><actions/></resource-agent>'; exit 0; }
out=$OCF_RESKEY_out
{
crm_attribute -n foo -G; echo "rc=$?"
crm_attribute -n foo -G -q -d dflt; echo "rc=$?"
crm_attribute -n foo -v bar; echo "rc=$?"
crm_attribute --name=foo --query --quiet; echo "rc=$?"
crm_attribute -n foo -G; echo "rc=$?"
crm_attribute -n ../../etc/x -v 1; echo "rc=$?"
crm_attribute -n foo -v 1 --frobnicate; echo "rc=$?"
crm_node -n; echo "rc=$?"
} > "$out" 2>&1
exit 0
`)
	p, _ := pluginState(t, root)
	out := filepath.Join(t.TempDir(), "out")
	ctx, cancel, req := request("s", "tandemtest:Shim", map[string]string{"out": out}, 20*time.Second)
	defer cancel()
	if res, err := p.Start(ctx, req); err != nil || res.Code != sdk.OK {
		t.Fatalf("start: %v %v", res, err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Error performing operation: No such device or address", "rc=105",
		"dflt", "rc=0",
		"rc=0",
		"bar", "rc=0",
		"scope=status  name=foo value=bar", "rc=0",
		"crm_attribute: attribute name ../../etc/x or node node1 cannot be a file name", "rc=64",
		"crm_attribute (Tandem OCF bridge): option --frobnicate is not supported", "rc=64",
		"node1", "rc=0",
	}
	if got := strings.Split(strings.TrimSpace(string(b)), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the shim said:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Debian's resource-agents ship a promotable agent, ocf:heartbeat:Stateful,
// which sets its score with ocf_promotion_score (crm_master, or
// $HA_SBIN_DIR/crm_attribute -p): it runs through the bridge unchanged.
func TestHeartbeatStateful(t *testing.T) {
	if _, err := os.Stat("/usr/lib/ocf/resource.d/heartbeat/Stateful"); err != nil {
		if os.Getenv("TANDEM_REQUIRE_PRIV") == "1" {
			t.Fatalf("TANDEM_REQUIRE_PRIV=1 but resource-agents is not installed (apt-get install resource-agents): %v", err)
		}
		t.Skipf("resource-agents not installed: %v", err)
	}
	p, _ := pluginState(t, "/usr/lib/ocf")
	state := filepath.Join(t.TempDir(), "stateful.state")
	ctx, cancel, req := promotableRequest("st", "heartbeat:Stateful", map[string]string{"state": state})
	defer cancel()
	for _, s := range []struct {
		name  string
		f     func(context.Context, sdk.Request) (sdk.Result, error)
		code  sdk.Code
		score string
	}{
		{"probe", p.Monitor, sdk.NotRunning, "none"},
		{"start", p.Start, sdk.OK, ""},
		{"monitor", p.Monitor, sdk.OK, "5"},
		{"promote", p.Promote, sdk.OK, ""},
		{"monitor", p.Monitor, sdk.RunningPromoted, "10"},
		{"demote", p.Demote, sdk.OK, ""},
		{"monitor", p.Monitor, sdk.OK, "5"},
		{"stop", p.Stop, sdk.OK, ""},
		{"monitor", p.Monitor, sdk.NotRunning, "none"},
	} {
		res, err := s.f(ctx, req)
		if err != nil || res.Code != s.code || s.score != "" && score(res) != s.score {
			t.Fatalf("Stateful %s: %v %v, score %s; want %v, score %s", s.name, res, err, score(res), s.code, s.score)
		}
	}
}

// The promote and demote timeouts the agent advertises are the host's
// defaults for those actions (Stateful's role monitors are Pacemaker's,
// not listed).
func TestPromotableMetaData(t *testing.T) {
	p := plugin(t, promotableRoot(t))
	md, err := p.MetaData(context.Background(), "tandemtest:Promo")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]time.Duration{}
	for _, a := range md.Actions {
		got[a.Name] = a.Timeout
	}
	for _, name := range []string{"promote", "demote"} {
		if got[name] != 20*time.Second {
			t.Errorf("%s: timeout %v, want the advertised 20s (actions %v)", name, got[name], md.Actions)
		}
	}
	if _, ok := got["monitor"]; ok {
		t.Errorf("role monitors listed as the monitor: %v", md.Actions)
	}
}

// A state directory others can write is not used: the plugin logs it once
// and runs the agents without the shim, so an agent that needs crm_master
// fails, saying so (not found, or Pacemaker's own crm_master, where
// pacemaker-cli-utils is installed, finding no CIB); nothing is written
// there.
func TestStateDirOthersCanWriteRefused(t *testing.T) {
	root := promotableRoot(t)
	stateDir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(stateDir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(stateDir, 0o777); err != nil {
		t.Fatal(err)
	}
	p := sdkLaunch(t, root, stateDir)
	ctx, cancel, req := promotableRequest("db", "tandemtest:Promo", map[string]string{"state": filepath.Join(t.TempDir(), "s")})
	defer cancel()
	res, err := p.Start(ctx, req)
	if err != nil || res.Code != sdk.ErrGeneric || !strings.Contains(res.Message, "crm_") {
		t.Errorf("start without the shim: %v %v; want an error naming crm_master or crm_attribute", res, err)
	}
	if entries, _ := os.ReadDir(stateDir); len(entries) != 0 {
		t.Errorf("the plugin wrote %d entries into a state directory others can write", len(entries))
	}
}
