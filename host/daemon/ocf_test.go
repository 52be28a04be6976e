package daemon_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
	"github.com/tandem-ha/tandem/plugins/sdk/sdktest"
)

// ocfPromotableAgent is a promotable OCF agent in plain sh, as Pacemaker
// runs them: its role is its state file's content (STATE/<node>.state:
// "slave" or "master"), it sets its promotion score with crm_master (5
// when started, 10 once promoted) and deletes it when stopped, and it
// writes the clone meta it was given to STATE/<node>.meta. Each role change
// is appended to STATE/roles.log (one short write of O_APPEND: the log's
// order is the order of the changes), for the safety checker.
const ocfPromotableAgent = `#!/bin/sh
state=$OCF_RESKEY_dir/$OCF_RESKEY_CRM_meta_on_node.state
case "$1" in
meta-data) cat <<END
<?xml version="1.0"?>
<resource-agent name="Promo" version="1.0">
<version>1.1</version>
<parameters><parameter name="dir" required="1"><content type="string"/></parameter></parameters>
<actions><action name="start" timeout="20s"/><action name="stop" timeout="20s"/>
<action name="monitor" timeout="20s" interval="10s" role="Unpromoted"/><action name="monitor" timeout="20s" interval="9s" role="Promoted"/>
<action name="promote" timeout="20s"/><action name="demote" timeout="20s"/><action name="meta-data" timeout="5s"/>
<action name="validate-all" timeout="5s"/></actions>
</resource-agent>
END
	exit 0 ;;
validate-all) exit 0 ;;
start)
	env | grep '^OCF_RESKEY_CRM_meta_' | sort > "$OCF_RESKEY_dir/$OCF_RESKEY_CRM_meta_on_node.meta"
	echo slave > "$state"
	crm_master -l reboot -v 5 || exit 1
	exit 0 ;;
promote)
	[ -f "$state" ] || exit 7
	echo master > "$state"
	echo "$OCF_RESKEY_CRM_meta_on_node promoted" >> "$OCF_RESKEY_dir/roles.log"
	crm_master -l reboot -v 10 || exit 1
	exit 0 ;;
demote)
	[ -f "$state" ] || exit 7
	[ "$(cat "$state")" = master ] && echo "$OCF_RESKEY_CRM_meta_on_node demoted" >> "$OCF_RESKEY_dir/roles.log"
	echo slave > "$state"
	crm_master -l reboot -v 5 || exit 1
	exit 0 ;;
stop)
	crm_master -l reboot -D
	[ "$(cat "$state" 2>/dev/null)" = master ] && echo "$OCF_RESKEY_CRM_meta_on_node demoted" >> "$OCF_RESKEY_dir/roles.log"
	rm -f "$state"
	exit 0 ;;
monitor)
	case "$(cat "$state" 2>/dev/null)" in
	master) exit 8 ;;
	slave) exit 0 ;;
	esac
	exit 7 ;;
esac
exit 3
`

// roles reads the agent's role of every node from its state files.
func ocfRoles(t *testing.T, dir string, nodes ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range nodes {
		b, err := os.ReadFile(filepath.Join(dir, n+".state"))
		if err == nil {
			out[n] = strings.TrimSpace(string(b))
		}
	}
	return out
}

// promotedOn lists the nodes whose agent runs promoted.
func promotedOn(roles map[string]string) []string {
	var out []string
	for n, r := range roles {
		if r == "master" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// reportedRoles is what the nodes report of resource: node -> role
// ("Promoted" or "" for started unpromoted), for started instances.
func reportedRoles(conn *bus.Conn, resource string) (map[string]string, error) {
	got := map[string]string{}
	err := bus.Gather(conn, bus.SubjectStateRequest, nil, len(daemontest.Reference.Nodes), 2*time.Second, func(data []byte) bool {
		r, _, err := bus.Decode[bus.NodeResources](data)
		if err != nil {
			return false
		}
		for _, rs := range r.Resources {
			if rs.Resource == resource && rs.State == bus.StateStarted {
				got[r.Node] = rs.Role
			}
		}
		return true
	})
	return got, err
}

// checkRoleLog replays the agents' role log: never two promoted at once.
func checkRoleLog(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "roles.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	promoted := map[string]bool{}
	for i, l := range lines {
		node, what, _ := strings.Cut(l, " ")
		promoted[node] = what == "promoted"
		if n := len(promotedOn(map[string]string{"holly": roleOf(promoted["holly"]), "benji": roleOf(promoted["benji"])})); n > 1 {
			t.Errorf("two primaries after line %d of the role log:\n%s", i+1, strings.Join(lines, "\n"))
		}
	}
	return lines
}

func roleOf(promoted bool) string {
	if promoted {
		return "master"
	}
	return "slave"
}

// An OCF promotable agent run through the bridge on a live cluster: both
// nodes run an instance with the clone's meta, the agents' crm_master
// scores reach the scheduler, which promotes exactly one; when the
// promoted node leaves, the other node's instance is promoted. The node
// that left comes back unpromoted; then the primary's node is cut off
// from the bus: its agent is demoted there when its promoted slot's lease
// cannot be renewed (by the host, or by the plugin when the role's hold
// lapses), before the other node is promoted. A log of every role change shows never two primaries.
func TestOCFPromotableOnALiveCluster(t *testing.T) {
	root := filepath.Join(t.TempDir(), "ocf")
	if err := os.MkdirAll(filepath.Join(root, "resource.d", "tandemtest"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "resource.d", "tandemtest", "Promo"), []byte(ocfPromotableAgent), 0o755); err != nil {
		t.Fatal(err)
	}
	// The members' plugins are processes of their own that inherit this
	// environment: the agents' tree, and the bridge's state (the nodes'
	// attributes apart by node name).
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
	c := tc.Connect()
	var primary string
	began := time.Now()
	poll.Until(t, 90*time.Second, 50*time.Millisecond, func() error {
		roles := ocfRoles(t, tc.State, "holly", "benji")
		on := promotedOn(roles)
		if len(on) != 1 || len(roles) != 2 {
			return fmt.Errorf("the agents' roles: %v", roles)
		}
		rep, err := reportedRoles(c, "db")
		if err != nil {
			return err
		}
		if len(rep) != 2 || rep[on[0]] != "Promoted" || rep[otherNode(on[0])] != "" {
			return fmt.Errorf("the nodes report db's roles %v (agents: %v)", rep, roles)
		}
		primary = on[0]
		return nil
	})
	t.Logf("promoted on %s after %s", primary, time.Since(began).Round(time.Millisecond))
	for _, n := range []string{"holly", "benji"} {
		b, err := os.ReadFile(filepath.Join(tc.State, n+".meta"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"OCF_RESKEY_CRM_meta_clone_max=2", "OCF_RESKEY_CRM_meta_clone_node_max=1", "OCF_RESKEY_CRM_meta_promotable=true",
			"OCF_RESKEY_CRM_meta_promoted_max=1", "OCF_RESKEY_CRM_meta_promoted_node_max=1", "OCF_RESKEY_CRM_meta_on_node=" + n,
			"OCF_RESKEY_CRM_meta_interval=0", "OCF_RESKEY_CRM_meta_notify=false", "OCF_RESKEY_CRM_meta_clone="} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s's start was given\n%s\nwithout %s", n, b, want)
			}
		}
	}

	survivor := otherNode(primary)
	left := time.Now()
	tc.Stop(primary)
	poll.Until(t, 60*time.Second, 20*time.Millisecond, func() error {
		roles := ocfRoles(t, tc.State, "holly", "benji")
		if on := promotedOn(roles); len(on) != 1 || on[0] != survivor {
			return fmt.Errorf("the agents' roles: %v, want %s promoted", roles, survivor)
		}
		return nil
	})
	t.Logf("%s left: %s promoted after %s", primary, survivor, time.Since(left).Round(time.Millisecond))
	if roles := ocfRoles(t, tc.State, "holly", "benji"); roles[primary] != "" {
		t.Errorf("%s left, but its agent's role is still %q (want stopped)", primary, roles[primary])
	}

	tc.Start(primary)
	poll.Until(t, 60*time.Second, 50*time.Millisecond, func() error {
		rep, err := reportedRoles(c, "db")
		if err != nil {
			return err
		}
		if len(rep) != 2 || rep[survivor] != "Promoted" || rep[primary] != "" {
			return fmt.Errorf("the nodes report db's roles %v, want %s promoted, %s started", rep, survivor, primary)
		}
		return nil
	})
	cut := time.Now()
	tc.CutOff(survivor)
	poll.Until(t, 60*time.Second, 20*time.Millisecond, func() error {
		roles := ocfRoles(t, tc.State, "holly", "benji")
		if on := promotedOn(roles); len(on) != 1 || on[0] != primary || roles[survivor] != "slave" {
			return fmt.Errorf("the agents' roles: %v, want %s promoted and %s demoted", roles, primary, survivor)
		}
		return nil
	})
	t.Logf("%s cut off: demoted there and %s promoted after %s", survivor, primary, time.Since(cut).Round(time.Millisecond))
	lines := checkRoleLog(t, tc.State)
	if want := []string{primary + " promoted", primary + " demoted", survivor + " promoted", survivor + " demoted", primary + " promoted"}; strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("role log:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// lsbFrob is an init script whose service is a state file: it runs while
// STATE/running.frob exists (init scripts get no OCF variables, so no node
// name: the nodes of the in-process cluster share the one file).
const lsbFrob = `#!/bin/sh
### BEGIN INIT INFO
# Provides:          frob
# Short-Description: frobnicator
### END INIT INFO
state=STATE/running.$(basename "$0")
case "$1" in
start) touch "$state"; exit 0 ;;
stop) rm -f "$state"; exit 0 ;;
status) [ -f "$state" ] && exit 0; exit 3 ;;
esac
exit 2
`

// An LSB init script as a singleton on a live cluster (lsb:frob, the lsb
// plugin): it starts on one node, and moves to the other when that node
// leaves. The nodes of the in-process cluster share one /etc/init.d, so
// the script's state is one file: the test sees where it runs from the
// nodes' reports, and that it runs once.
func TestLSBSingletonOnALiveCluster(t *testing.T) {
	initDir := filepath.Join(t.TempDir(), "init.d")
	if err := os.MkdirAll(initDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TANDEM_LSB_INIT_DIR", initDir)
	tc := daemontest.New(t, `
[[resource]]
id = "frob"
agent = "lsb:frob"
[[resource.op]]
name = "monitor"
interval = "500ms"
`)
	if err := os.MkdirAll(tc.State, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(initDir, "frob"), []byte(strings.ReplaceAll(lsbFrob, "STATE", tc.State)), 0o755); err != nil {
		t.Fatal(err)
	}
	bin := sdktest.Build(t, "github.com/tandem-ha/tandem/plugins/ocf/cmd/tandem-plugin-lsb")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tc.Plugins, "tandem-plugin-lsb"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	tc.StartAll()
	c := tc.Connect()
	state := filepath.Join(tc.State, "running.frob")
	var holder string
	poll.Until(t, 90*time.Second, 50*time.Millisecond, func() error {
		holder = ""
		for _, n := range []string{"holly", "benji"} {
			if daemontest.Reported(c, map[string]string{n + "/frob": bus.StateStarted, otherNode(n) + "/frob": bus.StateStopped}) == nil {
				holder = n
			}
		}
		if holder == "" {
			return errors.New("frob is not reported started on one node and stopped on the other")
		}
		if _, err := os.Stat(state); err != nil {
			return fmt.Errorf("%s reports frob started, but: %v", holder, err)
		}
		return nil
	})
	survivor := otherNode(holder)
	left := time.Now()
	tc.Stop(holder)
	poll.Until(t, 60*time.Second, 50*time.Millisecond, func() error {
		if err := daemontest.Reported(c, map[string]string{survivor + "/frob": bus.StateStarted}); err != nil {
			return err
		}
		if _, err := os.Stat(state); err != nil {
			return fmt.Errorf("%s reports frob started, but: %v", survivor, err)
		}
		return nil
	})
	t.Logf("frob started on %s; %s left: started on %s after %s", holder, holder, survivor, time.Since(left).Round(time.Millisecond))
}
