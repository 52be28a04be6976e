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

func TestPKIRevoke(t *testing.T) {
	dir := t.TempDir()
	conf := daemontest.WriteFiles(t, dir, "")
	pki := filepath.Join(dir, "pki")
	tandem := func(args ...string) (string, error) {
		t.Helper()
		out, err := exec.Command(tandemBin, args...).CombinedOutput()
		return string(out), err
	}
	if out, err := tandem("pki", "init", "--config", conf, "--dir", pki, "--monitor", "grafana"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	crl := filepath.Join(pki, "ca.crl")
	grafana, err := bus.LoadMaterial(filepath.Join(pki, "grafana.crt"), filepath.Join(pki, "grafana.key"), filepath.Join(pki, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	serial := bus.FormatSerial(grafana.Cert.Leaf.SerialNumber)

	// By name.
	out, err := tandem("pki", "revoke", "--dir", pki, "grafana")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if want := "revoked grafana (serial " + serial + ") in " + crl; !strings.Contains(out, want) {
		t.Errorf("revoke says %q, want %q", out, want)
	}
	if _, err := bus.LoadMaterial(filepath.Join(pki, "grafana.crt"), filepath.Join(pki, "grafana.key"), filepath.Join(pki, "ca.crt")); err == nil || !strings.Contains(err.Error(), "revoked by "+crl) {
		t.Errorf("loading the revoked certificate: %v", err)
	}
	fi1, err := os.Stat(crl)
	if err != nil {
		t.Fatal(err)
	}
	// Again, by name and by serial (with colons, lower case): nothing changes.
	withColons := strings.ToLower(serial[:2] + ":" + serial[2:])
	for _, arg := range []string{"grafana", withColons} {
		out, err = tandem("pki", "revoke", "--dir", pki, arg)
		if err != nil || !strings.Contains(out, "already revoked in "+crl+"; nothing changed") {
			t.Errorf("revoking %s twice: %v\n%s", arg, err, out)
		}
	}
	if fi2, _ := os.Stat(crl); !fi2.ModTime().Equal(fi1.ModTime()) || fi2.Size() != fi1.Size() {
		t.Error("revoking twice rewrote the list")
	}
	// A certificate replaced by issue, by its serial: the list grows.
	holly, err := bus.LoadMaterial(filepath.Join(pki, "holly.crt"), filepath.Join(pki, "holly.key"), filepath.Join(pki, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := tandem("pki", "issue", "--dir", pki, "--role", "member", "holly"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	old := bus.FormatSerial(holly.Cert.Leaf.SerialNumber)
	out, err = tandem("pki", "revoke", "--dir", pki, old)
	if err != nil || !strings.Contains(out, "revoked serial "+old+" in "+crl) {
		t.Errorf("revoking a serial: %v\n%s", err, out)
	}
	// The new holly certificate is not revoked; the list shows grafana as revoked.
	out, err = tandem("pki", "list", "--dir", pki)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "grafana "):
			if !strings.Contains(line, serial) || !strings.Contains(line, "INVALID: revoked") {
				t.Errorf("pki list shows grafana as %q", line)
			}
		case strings.HasPrefix(line, "holly "):
			if !strings.HasSuffix(line, "  ok") {
				t.Errorf("pki list shows the re-issued holly as %q", line)
			}
		}
	}
	// An unknown name is an error naming it and the file looked for.
	out, err = tandem("pki", "revoke", "--dir", pki, "mallory")
	if err == nil || !strings.Contains(out, `"mallory": there is no `+filepath.Join(pki, "mallory.crt")+" and it is not a serial number") {
		t.Errorf("revoking an unknown name: %v\n%s", err, out)
	}
	// A corrupt list is refused, naming it, and left alone.
	if err := os.WriteFile(crl, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = tandem("pki", "revoke", "--dir", pki, "benji")
	if err == nil || !strings.Contains(out, crl+": not a certificate revocation list") {
		t.Errorf("revoking with a corrupt list: %v\n%s", err, out)
	}
	if data, _ := os.ReadFile(crl); string(data) != "garbage" {
		t.Error("a corrupt list was replaced")
	}
}
