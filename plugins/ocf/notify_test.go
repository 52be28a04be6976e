package ocf_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// notifyAgent is dumpAgent with a notify action: it writes its
// environment to $OCF_RESKEY_dir/notify-TYPE-OPERATION.env.
var notifyAgent = strings.Replace(strings.Replace(dumpAgent,
	`env > "$OCF_RESKEY_dir/$1.env"`,
	`if [ "$1" = notify ]; then env > "$OCF_RESKEY_dir/notify-$OCF_RESKEY_CRM_meta_notify_type-$OCF_RESKEY_CRM_meta_notify_operation.env"; exit 0; fi
env > "$OCF_RESKEY_dir/$1.env"`, 1),
	`<action name="meta-data" timeout="5s"/>`, `<action name="notify" timeout="5s"/><action name="meta-data" timeout="5s"/>`, 1)

// A clone notification runs the agent's notify action with Pacemaker
// 2.1.5's variables: type and operation (and the key ones), each list of
// instances "rsc:N" with its unames, sorted by instance name as Pacemaker
// sorts them ("db:10" before "db:2"), " " for an empty list, promoted and
// unpromoted also as master and slave. The values are those Pacemaker's
// graph gives the post-start notification of
// policies/testdata/pacemaker/notify-recover, for the first two checks.
func TestNotifyEnvironment(t *testing.T) {
	root := t.TempDir()
	writeAgent(t, root, "tandemtest", "Notify", notifyAgent)
	p, _ := pluginState(t, root)
	dir := t.TempDir()
	ctx, cancel, req := request("db", "tandemtest:Notify", map[string]string{"dir": dir}, 10*time.Second)
	defer cancel()
	req.Instance = sdk.Instance{Node: "holly", CloneIndex: 0, Clone: sdk.CloneMeta{ID: "db-clone", Max: 2, NodeMax: 1, Notify: true}}
	req.Notification = &sdk.Notification{Type: sdk.NotifyPost, Operation: "start",
		Active: []sdk.NotifyEntry{{Instance: 0, Node: "holly"}, {Instance: 1, Node: "benji"}},
		Start:  []sdk.NotifyEntry{{Instance: 1, Node: "benji"}}, Stop: []sdk.NotifyEntry{{Instance: 1, Node: "benji"}},
		Available: []string{"benji", "holly"}, All: []string{"benji", "holly"}}
	if res, err := p.Notify(ctx, req); err != nil || res.Code != sdk.OK {
		t.Fatalf("notify: %v %v", res, err)
	}
	env := readEnv(t, filepath.Join(dir, "notify-post-start.env"))
	want := map[string]string{
		"OCF_RESKEY_CRM_meta_notify": "true", "OCF_RESKEY_CRM_meta_clone": "0",
		"OCF_RESKEY_CRM_meta_notify_type": "post", "OCF_RESKEY_CRM_meta_notify_operation": "start",
		"OCF_RESKEY_CRM_meta_notify_key_type": "post", "OCF_RESKEY_CRM_meta_notify_key_operation": "running",
		"OCF_RESKEY_CRM_meta_notify_active_resource": "db:0 db:1", "OCF_RESKEY_CRM_meta_notify_active_uname": "holly benji",
		"OCF_RESKEY_CRM_meta_notify_start_resource": "db:1", "OCF_RESKEY_CRM_meta_notify_start_uname": "benji",
		"OCF_RESKEY_CRM_meta_notify_stop_resource": "db:1", "OCF_RESKEY_CRM_meta_notify_stop_uname": "benji",
		"OCF_RESKEY_CRM_meta_notify_inactive_resource": " ",
		"OCF_RESKEY_CRM_meta_notify_promote_resource":  " ", "OCF_RESKEY_CRM_meta_notify_promote_uname": " ",
		"OCF_RESKEY_CRM_meta_notify_demote_resource": " ", "OCF_RESKEY_CRM_meta_notify_demote_uname": " ",
		"OCF_RESKEY_CRM_meta_notify_promoted_resource": " ", "OCF_RESKEY_CRM_meta_notify_promoted_uname": " ",
		"OCF_RESKEY_CRM_meta_notify_unpromoted_resource": " ", "OCF_RESKEY_CRM_meta_notify_slave_uname": " ",
		"OCF_RESKEY_CRM_meta_notify_master_resource": " ",
		"OCF_RESKEY_CRM_meta_notify_available_uname": "benji holly", "OCF_RESKEY_CRM_meta_notify_all_uname": "benji holly",
	}
	check := func(env, want map[string]string) {
		t.Helper()
		for k, v := range want {
			if got, ok := env[k]; !ok || got != v {
				t.Errorf("%s=%q (set %t), want %q", k, got, ok, v)
			}
		}
	}
	check(env, want)

	// A promotable clone's pre-promote: roles in both spellings, names
	// sorted as strings, the inactive instances without unames.
	req.Instance.Clone.Promotable = true
	req.Notification = &sdk.Notification{Type: sdk.NotifyPre, Operation: "promote",
		Active:     []sdk.NotifyEntry{{Instance: 2, Node: "carl"}, {Instance: 10, Node: "benji"}},
		Promoted:   []sdk.NotifyEntry{{Instance: 10, Node: "benji"}},
		Unpromoted: []sdk.NotifyEntry{{Instance: 2, Node: "carl"}},
		Inactive:   []sdk.NotifyEntry{{Instance: 0}, {Instance: 1}},
		Promote:    []sdk.NotifyEntry{{Instance: 2, Node: "carl"}},
		Demote:     []sdk.NotifyEntry{{Instance: 10, Node: "benji"}}}
	if res, err := p.Notify(ctx, req); err != nil || res.Code != sdk.OK {
		t.Fatalf("notify: %v %v", res, err)
	}
	check(readEnv(t, filepath.Join(dir, "notify-pre-promote.env")), map[string]string{
		"OCF_RESKEY_CRM_meta_notify_key_operation":   "promote",
		"OCF_RESKEY_CRM_meta_notify_active_resource": "db:10 db:2", "OCF_RESKEY_CRM_meta_notify_active_uname": "benji carl",
		"OCF_RESKEY_CRM_meta_notify_promoted_resource": "db:10", "OCF_RESKEY_CRM_meta_notify_promoted_uname": "benji",
		"OCF_RESKEY_CRM_meta_notify_master_resource": "db:10", "OCF_RESKEY_CRM_meta_notify_master_uname": "benji",
		"OCF_RESKEY_CRM_meta_notify_unpromoted_resource": "db:2", "OCF_RESKEY_CRM_meta_notify_slave_resource": "db:2",
		"OCF_RESKEY_CRM_meta_notify_slave_uname": "carl", "OCF_RESKEY_CRM_meta_notify_inactive_resource": "db:0 db:1",
		"OCF_RESKEY_CRM_meta_notify_promote_resource": "db:2", "OCF_RESKEY_CRM_meta_notify_demote_uname": "benji",
	})
	// A start of a notify clone's instance gets the lists alone, as
	// Pacemaker gives them (no type or operation).
	start := req
	start.Notification = &sdk.Notification{Start: []sdk.NotifyEntry{{Instance: 0, Node: "holly"}}, All: []string{"benji", "holly"}}
	if res, err := p.Start(ctx, start); err != nil || res.Code != sdk.OK {
		t.Fatalf("start: %v %v", res, err)
	}
	env = readEnv(t, filepath.Join(dir, "start.env"))
	check(env, map[string]string{"OCF_RESKEY_CRM_meta_notify_start_resource": "db:0", "OCF_RESKEY_CRM_meta_notify_start_uname": "holly",
		"OCF_RESKEY_CRM_meta_notify_all_uname": "benji holly", "OCF_RESKEY_CRM_meta_notify_stop_resource": " "})
	for _, k := range []string{"OCF_RESKEY_CRM_meta_notify_type", "OCF_RESKEY_CRM_meta_notify_operation", "OCF_RESKEY_CRM_meta_notify_key_type"} {
		if v, ok := env[k]; ok {
			t.Errorf("start got %s=%q", k, v)
		}
	}
	// Other actions carry no notify_* variables.
	start.Notification = nil
	if res, err := p.Stop(ctx, start); err != nil || res.Code != sdk.OK {
		t.Fatalf("stop: %v %v", res, err)
	}
	for k := range readEnv(t, filepath.Join(dir, "stop.env")) {
		if strings.HasPrefix(k, "OCF_RESKEY_CRM_meta_notify_") {
			t.Errorf("stop got %s", k)
		}
	}
}

// An agent without notify answers unimplemented (its own exit code 3, as
// under Pacemaker, which runs it all the same), and the host's
// cluster-view Notify runs nothing.
func TestNotifyWithoutNotifyAction(t *testing.T) {
	root := t.TempDir()
	writeAgent(t, root, "tandemtest", "Dump", dumpAgent)
	p, _ := pluginState(t, root)
	dir := t.TempDir()
	ctx, cancel, req := request("db", "tandemtest:Dump", map[string]string{"dir": dir}, 10*time.Second)
	defer cancel()
	req.Instance = sdk.Instance{Node: "holly", CloneIndex: 0, Clone: sdk.CloneMeta{ID: "db-clone", Max: 2, NodeMax: 1, Notify: true}}
	view := req
	view.Cluster = &sdk.ClusterView{Nodes: []sdk.NodeView{{Name: "holly", Online: true}}}
	if res, err := p.Notify(ctx, view); err != nil || res.Code != sdk.ErrUnimplemented {
		t.Fatalf("cluster-view notify: %v %v, want unimplemented", res, err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.env")); len(m) > 0 {
		t.Fatalf("the cluster-view notify ran the agent: %v", m)
	}
	req.Notification = &sdk.Notification{Type: sdk.NotifyPre, Operation: "stop", Active: []sdk.NotifyEntry{{Instance: 0, Node: "holly"}}}
	if res, err := p.Notify(ctx, req); err != nil || res.Code != sdk.ErrUnimplemented {
		t.Fatalf("notify of an agent without notify: %v %v, want unimplemented", res, err)
	}
	if env := readEnv(t, filepath.Join(dir, "notify.env")); env["OCF_RESKEY_CRM_meta_notify_type"] != "pre" {
		t.Errorf("the agent ran without its notify variables: %v", env["OCF_RESKEY_CRM_meta_notify_type"])
	}
}
