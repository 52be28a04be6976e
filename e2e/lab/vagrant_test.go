package lab

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/tandem-ha/tandem/e2e/priv"
	"github.com/tandem-ha/tandem/host/config"
)

// The Vagrant lab must describe the same cluster as ../cluster.toml: same
// member names, addresses and roles, and the secret where the file says.
func TestVagrantfileMatchesCluster(t *testing.T) {
	repo := repoRoot(t)
	vf, err := os.ReadFile(filepath.Join(repo, "vagrant", "Vagrantfile"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(repo, "cluster.toml"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`\{\s*name:\s*"([^"]+)",\s*ip:\s*"([^"]+)",\s*role:\s*"([^"]+)"`)
	got := map[string][2]string{}
	for _, m := range re.FindAllStringSubmatch(string(vf), -1) {
		got[m[1]] = [2]string{m[2], m[3]}
	}
	members := cfg.Topology.Members
	if len(got) != len(members) {
		t.Errorf("Vagrantfile defines %d VMs %v, cluster.toml has %d members", len(got), got, len(members))
	}
	for _, m := range members {
		role := "node"
		if m.Witness {
			role = "witness"
		}
		if v, ok := got[m.Name]; !ok || v != [2]string{m.Address, role} {
			t.Errorf("cluster.toml member %s (%s, %s): Vagrantfile has %v", m.Name, m.Address, role, v)
		}
	}
	// node.sh installs the secret at /etc/tandem/cluster.key unless told.
	if c := cfg.Topology.Credentials; c != config.DefaultCredentials {
		t.Errorf("cluster.toml's credentials %s: the Vagrantfile must pass --key-path %s to node.sh", c, c)
	}
}

func TestProvisionScriptSyntax(t *testing.T) {
	out, err := exec.Command("sh", "-n", filepath.Join(repoRoot(t), provisionDir, "node.sh")).CombinedOutput()
	if err != nil {
		t.Fatalf("sh -n node.sh: %v\n%s", err, out)
	}
}

// TestVagrantValidate has Debian's vagrant check the Vagrantfile (no
// provider or box needed). vagrant is required where TANDEM_REQUIRE_PRIV=1.
func TestVagrantValidate(t *testing.T) {
	if _, err := exec.LookPath("vagrant"); err != nil {
		if priv.Required() {
			t.Fatalf("vagrant is not installed (apt-get install vagrant) and %s=1", priv.EnvRequire)
		}
		t.Skip("vagrant is not installed")
	}
	tmp := t.TempDir()
	// The Vagrantfile makes the cluster's certificates with tandem pki init.
	bin := filepath.Join(tmp, "tandem")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/tandem-ha/tandem/host/cmd/tandem").CombinedOutput(); err != nil {
		t.Fatalf("building tandem: %v\n%s", err, out)
	}
	// --ignore-provider: a machine without VirtualBox or libvirt (CI, a
	// fresh Debian host) has no provider, and the file's syntax and
	// structure are what is checked here.
	cmd := exec.Command("vagrant", "validate", "--ignore-provider")
	cmd.Env = append(os.Environ(),
		"VAGRANT_CWD="+filepath.Join(repoRoot(t), "vagrant"),
		"TANDEM_BIN="+bin,
		"VAGRANT_DOTFILE_PATH="+filepath.Join(tmp, "dot"), // not the repo's .vagrant
		"VAGRANT_HOME="+filepath.Join(tmp, "home"),
		"VAGRANT_CHECKPOINT_DISABLE=1", // no update check over the network
	)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("vagrant validate: %v\n%s", err, out)
	}
}
