package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// config validate checks an OCF resource's parameters against the agent's
// own meta-data XML, through the ocf plugin beside tandem: the seed's
// IPaddr2 line (with Debian's resource-agents; only its meta-data runs)
// and the bridge's test agent with a misspelt parameter.
func TestConfigValidateOCFAgents(t *testing.T) {
	const head = `[cluster]
name = "t"
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
	validate := func(t *testing.T, ocfRoot, resources string) (string, string, int) {
		path := filepath.Join(t.TempDir(), "c.toml")
		if err := os.WriteFile(path, []byte(head+resources), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(tandemBin, "config", "validate", path)
		cmd.Env = append(os.Environ(), "OCF_ROOT="+ocfRoot)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		_ = cmd.Run()
		return strings.ReplaceAll(stdout.String(), path, "c.toml"), stderr.String(), cmd.ProcessState.ExitCode()
	}
	t.Run("test agent", func(t *testing.T) {
		root, err := filepath.Abs("../../plugins/ocf/testdata/root")
		if err != nil {
			t.Fatal(err)
		}
		out, errs, code := validate(t, root, `
[[resource]]
id = "w"
agent = "ocf:tandem:Well"
[resource.params]
stat = "/tmp/w"
mode = "fsat"
`)
		if code != 1 || !strings.Contains(out, `c.toml:17: resource "w": unknown parameter "stat": did you mean state?`) ||
			!strings.Contains(out, `c.toml:18: resource "w": mode "fsat"`) || !strings.Contains(out, `state is required`) {
			t.Errorf("exit %d:\n%s%s", code, out, errs)
		}
	})
	t.Run("IPaddr2", func(t *testing.T) {
		if _, err := os.Stat("/usr/lib/ocf/resource.d/heartbeat/IPaddr2"); err != nil {
			if os.Getenv("TANDEM_REQUIRE_PRIV") == "1" {
				t.Fatalf("TANDEM_REQUIRE_PRIV=1 but resource-agents is not installed: %v", err)
			}
			t.Skipf("resource-agents not installed: %v", err)
		}
		seed := `
[[resource]]
id = "VIP"
agent = "ocf:heartbeat:IPaddr2"
params = { ip = "198.18.0.23", cidr_netmask = "24" }
[[resource.op]]
name = "monitor"
interval = "30s"
`
		out, errs, code := validate(t, "/usr/lib/ocf", seed)
		if code != 0 || !strings.Contains(out, "c.toml: valid: cluster \"t\", 2 nodes, witness director, 1 resources") || errs != "" {
			t.Errorf("the seed's IPaddr2: exit %d:\n%s%s", code, out, errs)
		}
		out, errs, code = validate(t, "/usr/lib/ocf", strings.Replace(seed, "cidr_netmask", "cidr_netmsk", 1))
		if code != 1 || !strings.Contains(out, `c.toml:16: resource "VIP": unknown parameter "cidr_netmsk": did you mean cidr_netmask?`) {
			t.Errorf("a typo: exit %d:\n%s%s", code, out, errs)
		}
	})
}
