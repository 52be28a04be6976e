package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/host/cibimport"
	"github.com/tandem-ha/tandem/host/config"
)

const seedCIB = "../cibimport/testdata/pcs/seed.xml"

func importCIB(t *testing.T, src string, o importCIBOptions) (stdout, stderr string, err error) {
	t.Helper()
	var out, errw bytes.Buffer
	err = runImportCIB(strings.NewReader(""), &out, &errw, src, o)
	return out.String(), errw.String(), err
}

func exitCode(err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return -1
}

// The seed's CIB, built with pcs, becomes a cluster file that loads and
// validates; rewriting it keeps the previous file.
func TestImportCIBWritesAValidClusterFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cluster.toml")
	o := importCIBOptions{addresses: []string{"holly=198.18.0.22", "benji=198.18.0.24"}, witness: "director=198.18.0.30", out: out}
	_, stderr, err := importCIB(t, seedCIB, o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "stonith-enabled=false: Tandem fences with leases") || !strings.Contains(stderr, "Wrote "+out) {
		t.Errorf("stderr: %s", stderr)
	}
	f, err := config.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if f.Topology.Cluster != "mycluster" || len(f.CIB.Resources) != 3 || f.Topology.Witness() == nil {
		t.Errorf("loaded %+v", f.Topology)
	}
	if _, _, err := importCIB(t, seedCIB, o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(out + ".bak"); err != nil {
		t.Errorf("no backup of the previous file: %v", err)
	}
}

// What the CIB cannot say, and what the admin must give, is an error with
// the fix; nothing is written.
func TestImportCIBRefusals(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "cluster.toml")
	fenced := filepath.Join(dir, "fenced.xml")
	seed, err := os.ReadFile(seedCIB)
	if err != nil {
		t.Fatal(err)
	}
	withFence := strings.Replace(string(seed), "<resources>", `<resources><primitive id="fence-holly" class="stonith" type="fence_ipmilan"/>`, 1)
	if err := os.WriteFile(fenced, []byte(withFence), 0o644); err != nil {
		t.Fatal(err)
	}
	bomb := filepath.Join(dir, "bomb.xml")
	if err := os.WriteFile(bomb, []byte(`<!DOCTYPE cib [<!ENTITY a "aaaa">]><cib validate-with="pacemaker-3.9"/>`), 0o644); err != nil {
		t.Fatal(err)
	}
	both := []string{"holly=198.18.0.22", "benji=198.18.0.24"}
	cases := []struct {
		name string
		src  string
		o    importCIBOptions
		want string
	}{
		{"no addresses", seedCIB, importCIBOptions{witness: "w=198.18.0.30"}, "give them with --addresses holly=IP,benji=IP"},
		{"one address", seedCIB, importCIBOptions{addresses: both[:1], witness: "w=198.18.0.30"}, "--addresses benji=IP"},
		{"unknown node", seedCIB, importCIBOptions{addresses: append(both, "carl=198.18.0.26"), witness: "w=198.18.0.30"}, `"carl" is not a node of the CIB (its nodes: holly, benji)`},
		{"bad address", seedCIB, importCIBOptions{addresses: []string{"holly=10.0.0.300", "benji=198.18.0.24"}, witness: "w=198.18.0.30"}, "holly=10.0.0.300: not an IP address"},
		{"no witness", seedCIB, importCIBOptions{addresses: both}, "a two-node cluster needs a witness"},
		{"strict", fenced, importCIBOptions{addresses: both, witness: "w=198.18.0.30", strict: true}, "1 item(s) of the CIB cannot be imported"},
		{"bomb", bomb, importCIBOptions{addresses: both, witness: "w=198.18.0.30"}, "<!DOCTYPE ...> refused"},
		{"missing file", filepath.Join(dir, "nope.xml"), importCIBOptions{}, "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.out = out
			_, _, err := importCIB(t, tc.src, tc.o)
			if err == nil || exitCode(err) != ExitConfig || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v (exit %d), want exit %d with %q", err, exitCode(err), ExitConfig, tc.want)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s was written", out)
			}
		})
	}
	// Without --strict the fencing device is listed, the rest written.
	stdout, stderr, err := importCIB(t, fenced, importCIBOptions{addresses: both, witness: "w=198.18.0.30"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, `not imported: line 13: primitive "fence-holly": fencing device stonith:fence_ipmilan: Tandem fences with leases`) ||
		!strings.Contains(stdout, `#   line 13: primitive "fence-holly"`) || !strings.Contains(stdout, `agent = "ocf:heartbeat:IPaddr2"`) {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
}

// The whole path through the binary: the CIB from stdin, the file on
// stdout, and config validate of it asks the agents (IPaddr2's own
// meta-data when Debian's resource-agents is installed).
func TestImportCIBThenValidate(t *testing.T) {
	xml, err := os.ReadFile(seedCIB)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tandemBin, "config", "import-cib", "-", "--addresses", "holly=198.18.0.22,benji=198.18.0.24", "--witness", "director=198.18.0.30", "--strict")
	cmd.Stdin = bytes.NewReader(xml)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("import-cib: %v\n%s", err, stderr.String())
	}
	out := filepath.Join(t.TempDir(), "cluster.toml")
	if err := os.WriteFile(out, stdout.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"config", "validate", out}
	if _, err := os.Stat("/usr/lib/ocf/resource.d/heartbeat/IPaddr2"); err != nil {
		args = append(args, "--no-agents")
	}
	b, err := exec.Command(tandemBin, args...).CombinedOutput()
	if err != nil || !strings.Contains(string(b), `valid: cluster "mycluster", 2 nodes, witness director, 3 resources, 3 constraints`) {
		t.Errorf("config validate of the imported file: %v\n%s", err, b)
	}
}

// A CIB whose node names Tandem cannot take (a domain in the name) is
// refused naming the node, nothing written.
func TestImportCIBInvalidResult(t *testing.T) {
	seed, err := os.ReadFile(seedCIB)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "fqdn.xml")
	if err := os.WriteFile(src, []byte(strings.ReplaceAll(string(seed), `uname="holly"`, `uname="holly.example.com"`)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "cluster.toml")
	_, _, err = importCIB(t, src, importCIBOptions{addresses: []string{"holly.example.com=198.18.0.22", "benji=198.18.0.24"}, witness: "director=198.18.0.30", out: out})
	if exitCode(err) != ExitConfig || !strings.Contains(err.Error(), `node "holly.example.com": a name is letters, digits`) || !strings.Contains(err.Error(), "nothing written") {
		t.Errorf("got %v", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s was written", out)
	}
}

const alertsCIB = "../cibimport/testdata/alerts.xml"

// A CIB's alerts are written as [[alert]] tables that read back as the
// alerts imported: options, meta, recipients and their meta. What differs
// is listed on stderr (<select> kinds Tandem has no events of, the refusals), and
// --strict refuses the whole file for it.
func TestImportCIBAlerts(t *testing.T) {
	three := []string{"holly=198.18.0.22", "benji=198.18.0.24", "director=198.18.0.30"}
	out := filepath.Join(t.TempDir(), "cluster.toml")
	_, _, err := importCIB(t, alertsCIB, importCIBOptions{addresses: three, out: out, strict: true})
	if exitCode(err) != ExitConfig || !strings.Contains(err.Error(), "11 item(s) of the CIB cannot be imported") {
		t.Fatalf("--strict: got %v (exit %d)", err, exitCode(err))
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("--strict wrote %s", out)
	}

	_, stderr, err := importCIB(t, alertsCIB, importCIBOptions{addresses: three, out: out})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`note: line 39: select_fencing: Tandem has no fencing alerts`,
		`not imported: line 58: alert "attrs-only": its <select> (line 59) chooses only node-attribute events`,
		`not imported: line 64: alert "refused": path "alerts/relative.sh" is not absolute`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	text, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	f, err := config.Parse(out, text)
	if err != nil {
		t.Fatalf("the written file: %v\n%s", err, text)
	}
	fh, err := os.Open(alertsCIB)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	res, err := cibimport.Parse("alerts.xml", fh)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.CIB.Alerts, res.CIB.Alerts) {
		t.Errorf("read back:\n%+v\nimported:\n%+v\n%s", f.CIB.Alerts, res.CIB.Alerts, text)
	}
	var ids []string
	for _, a := range f.CIB.Alerts {
		ids = append(ids, a.ID)
	}
	other := f.CIB.Alert("file").Recipients[1]
	if strings.Join(ids, ",") != "file,snmp,watch,mail" || other.Meta.Enabled == nil || *other.Meta.Enabled || other.Meta.TimestampFormat != "%c" ||
		f.CIB.Alert("file").Meta.Timeout != 15*time.Second {
		t.Errorf("alerts %v, file-other %+v\n%s", ids, other, text)
	}
	if !strings.Contains(string(text), "[[alert.recipient]]") || !strings.Contains(string(text), `select = ["nodes"]`) ||
		!strings.Contains(string(text), `#   line 53: select_attributes: Tandem has no node-attribute alerts`) {
		t.Errorf("the file:\n%s", text)
	}
}
