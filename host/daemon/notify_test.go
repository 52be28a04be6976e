package daemon_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
	"github.com/tandem-ha/tandem/plugins/sdk/sdktest"
)

// ocfNotifyAgent is ocfPromotableAgent with a notify action: each
// notification appends "NODE TYPE-OPERATION start=.. promote=.. active=..
// notify=.." to STATE/notify.log (each list's unames joined by commas),
// and each promote "NODE promote".
var ocfNotifyAgent = strings.NewReplacer(
	`<action name="meta-data" timeout="5s"/>`, `<action name="notify" timeout="5s"/><action name="meta-data" timeout="5s"/>`,
	"promote)\n", "promote)\n\techo \"$OCF_RESKEY_CRM_meta_on_node promote\" >> \"$OCF_RESKEY_dir/notify.log\"\n",
	"validate-all) exit 0 ;;\n", "validate-all) exit 0 ;;\n"+
		"notify)\n\tl() { echo $1 | tr ' ' ,; }\n"+
		"\techo \"$OCF_RESKEY_CRM_meta_on_node $OCF_RESKEY_CRM_meta_notify_type-$OCF_RESKEY_CRM_meta_notify_operation"+
		" start=$(l \"$OCF_RESKEY_CRM_meta_notify_start_uname\") promote=$(l \"$OCF_RESKEY_CRM_meta_notify_promote_uname\")"+
		" active=$(l \"$OCF_RESKEY_CRM_meta_notify_active_uname\") notify=$OCF_RESKEY_CRM_meta_notify\" >> \"$OCF_RESKEY_dir/notify.log\"\n"+
		"\texit 0 ;;\n",
).Replace(ocfPromotableAgent)

// A promotable OCF clone with notify = true on a live cluster, end to end
// (coordinator, transitions, LRMs, the OCF bridge): every instance's agent
// is told of its own start after it (post-start), each promote comes after
// a pre-promote notification and before a post-promote one naming the
// promoted node, on both nodes; when the primary's node leaves, the
// survivor's promotion is notified the same way.
func TestOCFNotifyOnALiveCluster(t *testing.T) {
	root := filepath.Join(t.TempDir(), "ocf")
	if err := os.MkdirAll(filepath.Join(root, "resource.d", "tandemtest"), 0o755); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ocfNotifyAgent, "notify)") || !strings.Contains(ocfNotifyAgent, `name="notify"`) || strings.Count(ocfNotifyAgent, "notify.log") != 2 {
		t.Fatal("the notify agent was not made from ocfPromotableAgent")
	}
	if err := os.WriteFile(filepath.Join(root, "resource.d", "tandemtest", "Promo"), []byte(ocfNotifyAgent), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OCF_ROOT", root)
	t.Setenv("TANDEM_OCF_STATE_DIR", filepath.Join(t.TempDir(), "ocf-state"))
	tc := daemontest.New(t, `
[[resource]]
id = "db"
agent = "ocf:tandemtest:Promo"
params = { dir = "STATE" }
[[resource.op]]
name = "monitor"
interval = "500ms"
[resource.clone]
promotable = true
notify = true
`)
	if err := os.MkdirAll(tc.State, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := sdktest.Build(t, "github.com/tandem-ha/tandem/plugins/ocf/cmd/tandem-plugin-ocf")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tc.Plugins, "tandem-plugin-ocf"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	tc.StartAll()
	readLog := func() []string {
		b, _ := os.ReadFile(filepath.Join(tc.State, "notify.log"))
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("notify.log when the test failed:\n%s", strings.Join(readLog(), "\n"))
		}
	})
	var primary string
	poll.Until(t, 90*time.Second, 50*time.Millisecond, func() error {
		on := promotedOn(ocfRoles(t, tc.State, "holly", "benji"))
		if len(on) != 1 {
			return fmt.Errorf("promoted: %v", on)
		}
		primary = on[0]
		return postPromoted(readLog(), primary)
	})
	survivor := otherNode(primary)
	tc.Stop(primary)
	poll.Until(t, 60*time.Second, 50*time.Millisecond, func() error {
		if on := promotedOn(ocfRoles(t, tc.State, "holly", "benji")); len(on) != 1 || on[0] != survivor {
			return fmt.Errorf("promoted: %v, want %s", on, survivor)
		}
		return postPromoted(readLog(), survivor)
	})
	lines := readLog()
	t.Logf("notify.log:\n%s", strings.Join(lines, "\n"))
	for _, n := range []string{"holly", "benji"} {
		if !hasLine(lines, 0, len(lines), func(f []string) bool {
			return f[0] == n && f[1] == "post-start" && slices.Contains(strings.Split(strings.TrimPrefix(f[2], "start="), ","), n)
		}) {
			t.Errorf("%s was never told of its own start (post-start naming it)", n)
		}
	}
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) > 1 && f[1] != "promote" && f[len(f)-1] != "notify=true" {
			t.Errorf("line %d %q: the agent did not get OCF_RESKEY_CRM_meta_notify=true", i+1, l)
		}
		if len(f) != 2 || f[1] != "promote" {
			continue
		}
		// Each promote: a pre-promote naming it before, a post-promote
		// naming it after.
		names := func(g []string, typ string) bool {
			return g[0] == f[0] && g[1] == typ && g[3] == "promote="+f[0]
		}
		if !hasLine(lines, 0, i, func(g []string) bool { return names(g, "pre-promote") }) {
			t.Errorf("line %d %q: no pre-promote notification before it", i+1, l)
		}
		if !hasLine(lines, i+1, len(lines), func(g []string) bool { return names(g, "post-promote") }) {
			t.Errorf("line %d %q: no post-promote notification after it", i+1, l)
		}
	}
}

// postPromoted says whether the log has the promote of node followed by
// its post-promote notification.
func postPromoted(lines []string, node string) error {
	at := -1
	for i, l := range lines {
		if l == node+" promote" {
			at = i
		}
	}
	if at < 0 {
		return fmt.Errorf("no promote of %s in the notify log yet", node)
	}
	if !hasLine(lines, at+1, len(lines), func(f []string) bool {
		return f[0] == node && f[1] == "post-promote" && f[3] == "promote="+node
	}) {
		return fmt.Errorf("no post-promote notification after %s's promote yet", node)
	}
	return nil
}

// hasLine says whether one of lines[from:to], split into fields (at least
// five: node, type-operation, start=, promote=, active=), satisfies ok.
func hasLine(lines []string, from, to int, ok func([]string) bool) bool {
	for _, l := range lines[from:to] {
		if f := strings.Fields(l); len(f) >= 5 && ok(f) {
			return true
		}
	}
	return false
}
