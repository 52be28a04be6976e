package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/policies/cib"
)

// runTandem runs the tandem binary with extra environment; it returns
// stdout, stderr and the exit code.
func runTandem(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(tandemBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	_ = cmd.Run()
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// resource agents and providers list what is installed: the built-in
// plugins' agents and the OCF agents under OCF_ROOT.
func TestResourceAgentsAndProviders(t *testing.T) {
	root, err := filepath.Abs("../../plugins/ocf/testdata/root")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"OCF_ROOT=" + root}
	noCfg := "--config=" + filepath.Join(t.TempDir(), "none.toml")
	out, _, code := runTandem(t, env, "resource", "agents", "ocf:tandem", noCfg)
	if code != 0 || !strings.Contains(out, "ocf:tandem:Well\n") || !strings.Contains(out, "ocf:tandem:Hanging\n") || strings.Contains(out, "vip") {
		t.Errorf("agents ocf:tandem: exit %d\n%s", code, out)
	}
	out, _, code = runTandem(t, env, "resource", "agents", noCfg)
	for _, want := range []string{"vip\n", "systemd:UNIT", "health:http, health:tcp", "lsb:NAME", "ocf:tandem:Well\n"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("agents: exit %d, lacks %q:\n%s", code, want, out)
		}
	}
	initDir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"frob": 0o755, "README": 0o644, ".hidden": 0o755} {
		if err := os.WriteFile(filepath.Join(initDir, name), []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	out, _, code = runTandem(t, append(env, "TANDEM_LSB_INIT_DIR="+initDir), "resource", "agents", "lsb", noCfg)
	if code != 0 || out != "lsb:NAME (an init script of /etc/init.d)\nlsb:frob\n" {
		t.Errorf("agents lsb: exit %d\n%s", code, out)
	}
	out, _, code = runTandem(t, append(env, "TANDEM_LSB_INIT_DIR="+initDir), "resource", "agents", "lsb", "-o", "json", noCfg)
	if code != 0 || !strings.Contains(out, `"lsb": [`) || !strings.Contains(out, `"lsb:frob"`) {
		t.Errorf("agents lsb -o json: exit %d\n%s", code, out)
	}
	_, errOut, code := runTandem(t, env, "resource", "agents", "sytemd", noCfg)
	if code != ExitConfig || !strings.Contains(errOut, `no agent class "sytemd" (did you mean "systemd"?)`) {
		t.Errorf("agents sytemd: exit %d, %s", code, errOut)
	}
	out, _, code = runTandem(t, env, "resource", "providers")
	if code != 0 || out != "tandem\n" {
		t.Errorf("providers: exit %d, %q", code, out)
	}
	_, errOut, code = runTandem(t, []string{"OCF_ROOT=" + t.TempDir()}, "resource", "providers")
	if code != 0 || !strings.Contains(errOut, "apt-get install resource-agents") {
		t.Errorf("providers without agents: exit %d, %q", code, errOut)
	}
}

// stonith answers pcs habits with what Tandem does instead; the fencing
// property is accepted with a note, without a cluster to store it in.
func TestStonithHabits(t *testing.T) {
	out, errOut, code := runTandem(t, nil, "stonith", "status")
	if code != 0 || !strings.Contains(out, "NO stonith devices") || !strings.Contains(errOut, "Tandem fences with leases") {
		t.Errorf("stonith status: exit %d\n%s%s", code, out, errOut)
	}
	for _, args := range [][]string{{"stonith", "-o", "json"}, {"stonith", "list", "--output=json"}, {"stonith", "config", "--output-format", "json"}, {"stonith", "status", "-ojson"}} {
		out, _, code = runTandem(t, nil, args...)
		var v struct {
			Devices []string `json:"devices"`
			Fencing string   `json:"fencing"`
		}
		if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v.Devices == nil || len(v.Devices) != 0 || v.Fencing != "leases" {
			t.Errorf("%v: exit %d, %v\n%s", args, code, err, out)
		}
	}
	if _, errOut, code := runTandem(t, nil, "stonith", "list", "-o", "yaml"); code != ExitConfig || !strings.Contains(errOut, `--output "yaml"`) {
		t.Errorf("stonith list -o yaml: exit %d\n%s", code, errOut)
	}
	_, errOut, code = runTandem(t, nil, "stonith", "create", "fence-holly", "fence_ipmilan", "ip=198.18.0.1", "--force")
	if code != ExitConfig || !strings.Contains(errOut, "stonith create is not supported") || !strings.Contains(errOut, "Tandem fences with leases") {
		t.Errorf("stonith create: exit %d\n%s", code, errOut)
	}
	noCfg := "--config=" + filepath.Join(t.TempDir(), "none.toml")
	_, errOut, code = runTandem(t, nil, "property", "set", "stonith-enabled=false", noCfg)
	if code != 0 || !strings.Contains(errOut, "stonith-enabled=false accepted and not stored") {
		t.Errorf("property set stonith-enabled=false: exit %d\n%s", code, errOut)
	}
}

// pcs's `resource update httpd-clone clone-max=1`: clone options given to
// a clone id go to the clone; parameters stay parameters; a primitive id
// keeps them all as parameters.
func TestCloneParamsAsOptions(t *testing.T) {
	c := &cib.CIB{Nodes: []cib.Node{{Name: "holly"}, {Name: "benji"}}}
	if _, err := c.AddResource("httpd", "systemd:apache2", cib.ResourceSpec{Clone: &cib.Clone{}}); err != nil {
		t.Fatal(err)
	}
	spec, err := parseResourceSpec([]string{"clone-max=1", "configfile=/etc/apache2/apache2.conf"})
	if err != nil {
		t.Fatal(err)
	}
	cloneParamsAsOptions(c, "httpd-clone", &spec)
	if err := c.UpdateResource("httpd-clone", spec); err != nil {
		t.Fatal(err)
	}
	r, _ := c.Resource("httpd")
	if r.Clone.Max != 1 || r.Params["configfile"] != "/etc/apache2/apache2.conf" || r.Params["clone-max"] != "" {
		t.Errorf("after update httpd-clone clone-max=1: clone %+v, params %v", r.Clone, r.Params)
	}
	spec, _ = parseResourceSpec([]string{"clone-max=2"})
	cloneParamsAsOptions(c, "httpd", &spec)
	if spec.Clone != nil || spec.Params["clone-max"] != "2" {
		t.Errorf("a primitive id's clone-max became a clone option: %+v", spec)
	}
}
