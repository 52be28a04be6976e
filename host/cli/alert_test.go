package cli

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/host/liveconfig"
)

// The pcs-shaped alert commands on a live cluster: create, recipients,
// update, config, remove; bad input refused with exit 2, naming the alert,
// and nothing changed; an agent the nodes cannot run named per node.
func TestLiveAlerts(t *testing.T) {
	lc := newLiveCluster(t)
	dir := t.TempDir()
	agent := filepath.Join(dir, "agent.sh")
	if err := os.WriteFile(agent, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain.sh")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun := func(args ...string) (string, string) {
		t.Helper()
		out, errs, code := lc.run(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errs)
		}
		return out, errs
	}
	refused := func(want string, args ...string) {
		t.Helper()
		out, errs, code := lc.run(args...)
		if code != ExitConfig || !strings.Contains(errs, want) {
			t.Errorf("%v: exit %d, want %d with %q\n%s%s", args, code, ExitConfig, want, out, errs)
		}
	}
	_, errs := mustRun("alert", "create", "id=log", "path="+agent, "description=to a file", "options", "debug_exec_order=false", "meta", "timeout=15s", "timestamp-format=%H:%M:%S.%06N")
	if strings.Contains(errs, "Warning") {
		t.Errorf("an agent every node can run gave warnings: %s", errs)
	}
	mustRun("alert", "recipient", "add", "log", "value=/var/log/alerts.log", "meta", "timestamp-format=%c")
	mustRun("alert", "recipient", "add", "log", "value=/tmp/second.log", "id=second")
	_, errs = mustRun("alert", "create", "id=nothere", "path="+plain)
	for _, node := range []string{"holly", "benji"} {
		if !strings.Contains(errs, "Warning: "+node+`: alert "nothere": agent `+plain+" is not executable") {
			t.Errorf("create of a non-executable agent: no warning naming %s:\n%s", node, errs)
		}
	}
	mustRun("alert", "create", "id=hook", "webhook=https://alerts.example.com/tandem?token=x", "select=nodes,resources")

	refused(`alert "rel": path "bin/alert.sh" is not absolute`, "alert", "create", "id=rel", "path=bin/alert.sh")
	refused(`alert "url": webhook "ftp://x/y": want an http:// or https:// URL`, "alert", "create", "id=url", "webhook=ftp://x/y")
	refused(`alert "url": webhook "https://user:pw@h/" holds a user or password`, "alert", "create", "id=url", "webhook=https://user:pw@h/")
	refused(`alert "log": meta timestamp-format: "%H:%Q": unknown specifier %Q`, "alert", "update", "log", "meta", "timestamp-format=%H:%Q")
	refused(`unknown alert meta attribute "timout" (did you mean "timeout"?)`, "alert", "update", "log", "meta", "timout=3s")
	refused(`id "log" is already used by an alert`, "alert", "create", "id=log", "path="+agent)
	refused(`no alert "lgo" (did you mean "log"?)`, "alert", "recipient", "add", "lgo", "value=x")
	refused(`option "CRM_alert_kind": CRM_* variables are the event's`, "alert", "update", "log", "options", "CRM_alert_kind=x")
	refused(`alert "hook": select "fencing": Tandem raises no fencing alerts`, "alert", "update", "hook", "select=fencing")
	mustRun("alert", "update", "hook", "select=nodes")

	mustRun("alert", "update", "log", "meta", "timeout=20s", "options", "debug_exec_order=")
	out, _ := mustRun("alert", "config")
	want := `Alerts:
 Alert: log (path=` + agent + `)
  Description: to a file
  Meta options: timeout=20s timestamp-format=%H:%M:%S.%06N
  Recipients:
   Recipient: log-recipient (value=/var/log/alerts.log)
    Meta options: timestamp-format=%c
   Recipient: second (value=/tmp/second.log)
 Alert: nothere (path=` + plain + `)
 Alert: hook (webhook=https://alerts.example.com/tandem?token=x)
  Select: nodes
`
	if out != want {
		t.Errorf("alert config:\n%s\nwant:\n%s", out, want)
	}
	// The live configuration as a cluster file carries the alerts, and
	// reads back.
	toml, _ := mustRun("config", "show", "--toml")
	for _, w := range []string{"[[alert]]", `id = "log"`, "[[alert.recipient]]", `value = "/var/log/alerts.log"`, `webhook = "https://alerts.example.com/tandem?token=x"`} {
		if !strings.Contains(toml, w) {
			t.Errorf("config show --toml lacks %s:\n%s", w, toml)
		}
	}
	if show, _ := mustRun("config", "show"); !strings.Contains(show, "\nAlerts:\n Alert: log (path="+agent+")\n") {
		t.Errorf("config show lacks the alerts:\n%s", show)
	}
	if r := lc.live(); r.Format != liveconfig.FormatCIBAlerts {
		t.Errorf("live configuration with alerts stored in format %d, want %d (a build that does not know alerts must refuse it, not drop them)", r.Format, liveconfig.FormatCIBAlerts)
	}
	// Completion offers the live alert and recipient ids.
	for args, want := range map[string]string{
		"alert remove":           "hook\nlog\nnothere\n:4\n",
		"alert recipient remove": "log-recipient\nsecond\n:4\n",
	} {
		root := NewRoot()
		var comp bytes.Buffer
		root.SetOut(&comp)
		root.SetErr(io.Discard)
		root.SetArgs(append(append([]string{"__complete"}, strings.Fields(args)...), "--config", lc.Conf, ""))
		if err := root.Execute(); err != nil || comp.String() != want {
			t.Errorf("completing %s: %v %q, want %q", args, err, comp.String(), want)
		}
	}
	mustRun("alert", "recipient", "remove", "second")
	mustRun("alert", "remove", "nothere", "hook")
	refused(`no alert "gone"`, "alert", "remove", "log", "gone")
	out, _ = mustRun("alert")
	if strings.Contains(out, "nothere") || strings.Contains(out, "second") || !strings.Contains(out, "Alert: log") {
		t.Errorf("after removals:\n%s", out)
	}
}
