package lab

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/host/config"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := findRepo()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRelocateConfig(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "e2e", "cluster.toml"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := RelocateConfig(src, ReferenceSubnet, netip.MustParsePrefix("198.18.0.32/27"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("relocated", out)
	if err != nil {
		t.Fatalf("relocated cluster file does not load: %v", err)
	}
	want := map[string]string{"holly": "198.18.0.54", "benji": "198.18.0.56", "director": "198.18.0.62"}
	for _, m := range cfg.Topology.Members {
		if m.Address != want[m.Name] {
			t.Errorf("%s: address %s, want %s", m.Name, m.Address, want[m.Name])
		}
	}
	text := string(out)
	if strings.Contains(text, "198.18.0.23") || !strings.Contains(text, `ip = "198.18.0.55"`) || !strings.Contains(text, `"198.18.0.55:80"`) {
		t.Errorf("the VIP was not moved to 198.18.0.55 everywhere:\n%s", text)
	}
	if _, err := RelocateConfig(src, ReferenceSubnet, netip.MustParsePrefix("198.18.0.64/28")); err == nil {
		t.Error("relocating .30 into a /28 did not fail")
	}
	keep := []byte(`address = "127.0.0.1" # and 198.18.1.5`)
	if out, _ := RelocateConfig(keep, ReferenceSubnet, netip.MustParsePrefix("198.18.0.32/27")); string(out) != string(keep) {
		t.Errorf("addresses outside the reference subnet changed: %s", out)
	}
}

func TestDefaultsRefuse(t *testing.T) {
	bin := t.TempDir()
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Prefix: "Tandem"}, "lab prefix"},
		{Options{Prefix: "waytoolongprefix"}, "lab prefix"},
		{Options{Prefix: "x", Subnet: netip.MustParsePrefix("10.10.10.0/24")}, "inside 198.18.0.0/24"},
		{Options{Prefix: "x", Subnet: netip.MustParsePrefix("192.168.1.0/27")}, "inside 198.18.0.0/24"},
		{Options{Prefix: "x", Subnet: netip.MustParsePrefix("198.18.0.0/30")}, "/24../29"},
		{Options{Prefix: "x", Subnet: netip.MustParsePrefix("198.18.0.32/27"), Bridge: netip.MustParseAddr("198.18.0.1")}, "bridge address"},
		{Options{Prefix: "x", BinDir: filepath.Join(bin, "missing")}, "make build"},
		{Options{Prefix: "x", Package: filepath.Join(bin, "tandem_1.0_amd64.deb")}, "make deb"},
	} {
		if _, err := tc.o.Defaults(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Defaults(%+v) = %v, want an error about %q", tc.o, err, tc.want)
		}
	}
	if _, err := (Options{Prefix: "x", BinDir: bin}).Defaults(); err == nil || !strings.Contains(err.Error(), "no tandem binary") {
		t.Errorf("bin directory without tandem: %v", err)
	}
	if err := os.WriteFile(filepath.Join(bin, "tandem"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	o, err := Options{Prefix: "tdlab", Subnet: netip.MustParsePrefix("198.18.0.40/27"), BinDir: bin}.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.Subnet.String() != "198.18.0.32/27" || o.Bridge.String() != "198.18.0.33" {
		t.Errorf("subnet %s bridge %s, want 198.18.0.32/27 and .33", o.Subnet, o.Bridge)
	}
}

func TestNames(t *testing.T) {
	n := names{"tandem"}
	for i, node := range []string{"holly", "director", "averylongname"} {
		for _, name := range []string{n.veth(node, i), n.bridge(), n.netns(node)[:min(len(n.netns(node)), ifNameMax)]} {
			if len(name) > ifNameMax {
				t.Errorf("%q is longer than %d characters", name, ifNameMax)
			}
		}
	}
	if v := n.veth("director", 2); v != "tandem-director" {
		t.Errorf("veth of director: %q", v)
	}
	if v := n.veth("averylongname", 2); v != "tandem-n2" {
		t.Errorf("veth of a long name: %q", v)
	}
	// Labs of different prefixes never share a name.
	a, b := names{"tdlab"}, names{"tdla"}
	if strings.HasPrefix(a.bridge(), b.prefix+"-") || strings.HasPrefix(b.bridge(), a.prefix+"-") {
		t.Error("prefix tdla's cleanup would take tdlab's bridge")
	}
}

func TestAptMirror(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sources.list.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := AptMirror(dir, "bookworm"); got != DefaultMirror {
		t.Errorf("no sources: %q", got)
	}
	deb822 := "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\nComponents: main\n\n" +
		"Types: deb deb-src\n# comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n"
	if err := os.WriteFile(filepath.Join(dir, "sources.list.d", "debian.sources"), []byte(deb822), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := AptMirror(dir, "bookworm"); got != "http://mirror.example/debian" {
		t.Errorf("deb822: %q", got)
	}
	oneLine := "# x\ndeb [arch=amd64 signed-by=/k.gpg] https://one.example/debian bookworm main\n"
	if err := os.WriteFile(filepath.Join(dir, "sources.list"), []byte(oneLine), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := AptMirror(dir, "bookworm"); got != "https://one.example/debian" {
		t.Errorf("sources.list: %q", got)
	}
}

func TestRecipe(t *testing.T) {
	r, err := LoadRecipe(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"systemd", "dbus", "iproute2", "apache2", "haproxy", "curl"} {
		found := false
		for _, q := range r.Packages {
			found = found || p == q
		}
		if !found {
			t.Errorf("package list lacks %s", p)
		}
	}
	r2 := r
	r2.Setup += "\n# changed\n"
	if r.Hash() == r2.Hash() {
		t.Error("changing root-setup.sh keeps the root's hash")
	}
	bad := filepath.Join(t.TempDir(), "packages")
	if err := os.WriteFile(bad, []byte("systemd\napache2 haproxy\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readPackages(bad); err == nil || !strings.Contains(err.Error(), "packages:2") {
		t.Errorf("two names on a line: %v, want an error naming line 2", err)
	}
}
