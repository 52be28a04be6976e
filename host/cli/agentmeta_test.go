package cli

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/policies/cib"
)

// The example agent's meta-data drives the cluster: describe prints it, a
// resource created without op monitor gets the advertised monitor (and is
// monitored), a required parameter is enforced, and an update of a running
// resource reloads it when the change is reloadable and restarts it (with
// what is ordered after it) when not.
func TestMetaDataDrivesResources(t *testing.T) {
	lc := newLiveCluster(t)

	desc := lc.must("resource", "describe", "example:process")
	for _, w := range []string{"example:process - Runs a program as a resource", "  command (required): absolute path",
		"  stop_grace (reloadable): how long", "default: 5s", "  monitor: interval=10s timeout=10s", "  reload: timeout=10s"} {
		if !strings.Contains(desc, w) {
			t.Errorf("describe lacks %q:\n%s", w, desc)
		}
	}
	var dj struct {
		Agent      string `json:"agent"`
		ShortDesc  string `json:"shortdesc"`
		Parameters []struct {
			Name       string `json:"name"`
			Required   bool   `json:"required"`
			Reloadable bool   `json:"reloadable"`
			Default    string `json:"default"`
		} `json:"parameters"`
		Actions []opJSON `json:"actions"`
	}
	lc.json(&dj, "resource", "describe", "example:process")
	params := map[string]string{}
	for _, p := range dj.Parameters {
		params[p.Name] = fmt.Sprintf("%t %t %s", p.Required, p.Reloadable, p.Default)
	}
	if dj.Agent != "example:process" || !strings.HasPrefix(dj.ShortDesc, "Runs a program") ||
		params["command"] != "true false " || params["stop_grace"] != "false true 5s" ||
		!slices.Contains(dj.Actions, opJSON{Name: "monitor", Interval: "10s", Timeout: "10s"}) {
		t.Errorf("describe --output json: %+v", dj)
	}
	lc.refuse(`unknown agent "nosuch:thing"`, "resource", "describe", "nosuch:thing")
	lc.refuse(`resource x: parameter command is required by example:process (absolute path of the program to run): add command=VALUE`,
		"resource", "create", "x", "example:process", "args=1")

	out := lc.must(append([]string{"resource", "create", "greeting", "example:process"}, lc.params()...)...)
	if want := "Added default operation of greeting: monitor interval=10s timeout=10s (from the meta-data of example:process)\n"; out != want {
		t.Errorf("create printed %q, want %q", out, want)
	}
	if cfg := lc.must("resource", "config", "greeting"); !strings.Contains(cfg, "Operations: monitor interval=10s timeout=10s") {
		t.Errorf("resource config greeting:\n%s", cfg)
	}
	lc.must(append([]string{"resource", "create", "dep", "example:process"}, lc.params()...)...)
	lc.must("constraint", "order", "greeting", "then", "dep")
	lc.must("constraint", "colocation", "add", "dep", "with", "greeting")
	var node string
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		g, d := lc.Where("greeting"), lc.Where("dep")
		if len(g) != 1 || strings.Join(g, " ") != strings.Join(d, " ") {
			return fmt.Errorf("greeting on %v, dep on %v", g, d)
		}
		node = g[0]
		return nil
	})

	// Monitored at the advertised interval: a process killed behind the
	// cluster's back is found and recovered.
	pid := lc.Pids(node)[node+"/greeting"]
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 40*time.Second, 100*time.Millisecond, func() error {
		p := lc.Pids("")
		for k, v := range p {
			if strings.HasSuffix(k, "/greeting") && v != pid {
				return nil
			}
		}
		return fmt.Errorf("greeting not restarted after its process was killed (pids %v)", p)
	})
	lc.must("resource", "cleanup")
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		g, d := lc.Where("greeting"), lc.Where("dep")
		if len(g) != 1 || strings.Join(g, " ") != strings.Join(d, " ") {
			return fmt.Errorf("greeting on %v, dep on %v", g, d)
		}
		node = g[0]
		return nil
	})

	// Reloadable: the same process, new parameters.
	pids := lc.Pids(node)
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		if l := lc.must("resource", "list"); !strings.Contains(l, "greeting\t(example:process):\t Started "+node) || !strings.Contains(l, "dep\t(example:process):\t Started "+node) {
			return fmt.Errorf("not both started:\n%s", l)
		}
		return nil
	})
	out = lc.must("resource", "update", "greeting", "stop_grace=2s")
	if want := "Reloaded greeting on " + node + "\n"; out != want {
		t.Errorf("update stop_grace printed %q, want %q", out, want)
	}
	if after := lc.Pids(node); after[node+"/greeting"] != pids[node+"/greeting"] || after[node+"/dep"] != pids[node+"/dep"] {
		t.Errorf("a reload restarted something: pids %v, then %v", pids, after)
	}

	// Not reloadable: restarted, and dep (ordered after it) with it.
	out = lc.must("resource", "update", "greeting", "args=3601")
	if want := "Restarting greeting on " + node + " (parameter args is not reloadable)...Stopped, starting with the new parameters\n"; out != want {
		t.Errorf("update args printed %q, want %q", out, want)
	}
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		p := lc.Pids("")
		var g, d int
		for k, v := range p {
			switch {
			case strings.HasSuffix(k, "/greeting"):
				g = v
			case strings.HasSuffix(k, "/dep"):
				d = v
			}
		}
		if g == 0 || d == 0 || g == pids[node+"/greeting"] || d == pids[node+"/dep"] {
			return fmt.Errorf("greeting and dep not both restarted: pids before %v, now %v", pids, p)
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", g))
		if err != nil || !strings.Contains(string(cmdline), "3601") {
			return fmt.Errorf("greeting runs %q (%v), want args 3601", cmdline, err)
		}
		return nil
	})
}

func TestCheckDeclared(t *testing.T) {
	c := &cib.CIB{Resources: []cib.Resource{{ID: "a", Agent: "vip", Params: map[string]string{"ip": "198.18.0.23"}}}}
	md := sdk.MetaData{Params: []sdk.ParamSpec{{Name: "ip", Required: true, Unique: true}, {Name: "nic", Required: true, Default: "eth0"}}}
	if err := checkDeclared(c, "b", "vip", md, map[string]string{"ip": "198.18.0.23"}); err == nil ||
		err.Error() != "resource b: parameter ip=198.18.0.23 is unique for vip, and resource a already has it" {
		t.Errorf("unique: %v", err)
	}
	if err := checkDeclared(c, "a", "vip", md, map[string]string{"ip": "198.18.0.23"}); err != nil {
		t.Errorf("its own value: %v", err)
	}
	if err := checkDeclared(c, "b", "vip", md, map[string]string{"ip": ""}); err == nil || err.Error() != "resource b: parameter ip is required by vip: add ip=VALUE" {
		t.Errorf("required: %v", err)
	}
}

func TestPluginListSaysWhy(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"tandem-plugin-vip": 0o755, "tandem-plugin-x": 0o644, "tandem-plugin-Foo": 0o755} {
		if err := os.WriteFile(dir+"/"+name, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir+"/"+name, mode); err != nil {
			t.Fatal(err)
		}
	}
	root := NewRoot()
	var out strings.Builder
	root.SetOut(&out)
	root.SetArgs([]string{"plugin", "list", "--plugin-dir", dir})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	want := "Plugin directory: " + dir + "\n" +
		"PLUGIN  FILE               STATUS\n" +
		"vip     tandem-plugin-vip  used\n" +
		"-       tandem-plugin-Foo  not used: \"Foo\" is not a plugin name (lower-case letters, digits, - and _, starting with a letter or digit)\n" +
		"x       tandem-plugin-x    not used: not executable (mode 0644; chmod 755 it)\n"
	if out.String() != want {
		t.Errorf("plugin list:\n%s\nwant:\n%s", out.String(), want)
	}
}
