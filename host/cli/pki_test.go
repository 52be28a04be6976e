package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
)

func TestPKIInitIssueList(t *testing.T) {
	dir := t.TempDir()
	conf := daemontest.WriteFiles(t, dir, "")
	pki := filepath.Join(dir, "pki")
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(tandemBin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("tandem %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := run("pki", "init", "--config", conf, "--dir", pki, "--monitor", "grafana")
	for _, want := range []string{"holly  ", "member", "director", "witness", "admin", "grafana", "monitor"} {
		if !strings.Contains(out, want) {
			t.Errorf("pki init output lacks %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"ca.key", "holly.key", "benji.key", "director.key", "admin.key", "grafana.key"} {
		fi, err := os.Stat(filepath.Join(pki, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o", f, fi.Mode().Perm())
		}
	}
	holly, err := bus.LoadMaterial(filepath.Join(pki, "holly.crt"), filepath.Join(pki, "holly.key"), filepath.Join(pki, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if holly.Identity != (bus.Identity{Role: bus.RoleMember, Name: "holly"}) || holly.Cert.Leaf.Subject.CommonName != "holly" {
		t.Errorf("holly's certificate says %v (CN %s)", holly.Identity, holly.Cert.Leaf.Subject.CommonName)
	}
	// A second init would orphan every certificate: refused.
	if out, err := exec.Command(tandemBin, "pki", "init", "--config", conf, "--dir", pki).CombinedOutput(); err == nil || !strings.Contains(string(out), "already exists") {
		t.Errorf("second init: %v\n%s", err, out)
	}
	// Rotation: issue replaces holly's certificate.
	run("pki", "issue", "--dir", pki, "--role", "member", "holly")
	again, err := bus.LoadMaterial(filepath.Join(pki, "holly.crt"), filepath.Join(pki, "holly.key"), filepath.Join(pki, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if again.Cert.Leaf.SerialNumber.Cmp(holly.Cert.Leaf.SerialNumber) == 0 {
		t.Error("issue did not replace holly's certificate")
	}
	if out, err := exec.Command(tandemBin, "pki", "issue", "--dir", pki, "--role", "boss", "x").CombinedOutput(); err == nil || !strings.Contains(string(out), "want member, witness, admin or monitor") {
		t.Errorf("issue with a bad role: %v\n%s", err, out)
	}
	// A certificate from elsewhere shows as invalid.
	other := t.TempDir()
	if err := bus.InitCA(other, "x"); err != nil {
		t.Fatal(err)
	}
	if err := bus.Issue(other, bus.Identity{Role: bus.RoleMember, Name: "stray"}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(other, "stray.crt"))
	os.WriteFile(filepath.Join(pki, "stray.crt"), data, 0o644)
	out = run("pki", "list", "--dir", pki)
	if !strings.Contains(out, "stray") || !strings.Contains(out, "INVALID") || strings.Count(out, "  ok\n") != 5 {
		t.Errorf("pki list:\n%s", out)
	}
	// A key others can read is refused, naming the fix.
	os.Chmod(filepath.Join(pki, "holly.key"), 0o644)
	_, err = bus.LoadMaterial(filepath.Join(pki, "holly.crt"), filepath.Join(pki, "holly.key"), filepath.Join(pki, "ca.crt"))
	if err == nil || !strings.Contains(err.Error(), "chmod 600 "+filepath.Join(pki, "holly.key")) {
		t.Errorf("a 0644 key: %v", err)
	}
}
