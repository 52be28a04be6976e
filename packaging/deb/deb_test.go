// Package deb holds the tests of the Debian package that build.sh makes
// (`make deb`); the package itself is built by the shell script.
package deb

import (
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// theDeb is $TANDEM_DEB (a package `make deb` built), else one built now
// into a temporary directory.
func theDeb(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TANDEM_DEB"); p != "" {
		return p
	}
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("no dpkg-deb")
	}
	out := t.TempDir()
	cmd := exec.Command("./build.sh", out)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("build.sh: %v\n%s", err, b)
	}
	return strings.TrimSpace(lastLine(string(b)))
}

// checkStaticStripped fails t unless exe is an ELF executable with no
// program interpreter (static: CGO_ENABLED=0) and no symbol table
// (stripped: -s -w).
func checkStaticStripped(t *testing.T, exe string) {
	t.Helper()
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatalf("%s: %v", exe, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter: not static", exe)
		}
	}
	if f.Section(".symtab") != nil {
		t.Errorf("%s has a symbol table: not stripped", exe)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	b, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, b)
	}
	return string(b)
}

// The package holds what docs/operations.md says, with a valid control
// file; its tandem finds the plugins where the package puts them; its
// example configuration is valid; its maintainer scripts start nothing;
// lintian reports no error or warning.
func TestPackage(t *testing.T) {
	deb := theDeb(t)
	field := func(name string) string {
		return strings.TrimSpace(run(t, "dpkg-deb", "--field", deb, name))
	}
	if got := field("Package"); got != "tandem" {
		t.Errorf("Package: %q", got)
	}
	version := field("Version")
	run(t, "dpkg", "--validate-version", version)
	if !strings.HasPrefix(filepath.Base(deb), "tandem_"+version+"_") {
		t.Errorf("file %s is not named after version %s", deb, version)
	}
	wantArch := map[string]string{"386": "i386", "arm": "armhf", "ppc64le": "ppc64el"}[runtime.GOARCH]
	if wantArch == "" {
		wantArch = runtime.GOARCH
	}
	if got := field("Architecture"); got != wantArch {
		t.Errorf("Architecture: %q, want %q", got, wantArch)
	}
	for _, f := range []string{"Maintainer", "Installed-Size", "Description", "Section", "Priority"} {
		if field(f) == "" {
			t.Errorf("control file without %s", f)
		}
	}

	root := t.TempDir()
	run(t, "dpkg-deb", "--extract", deb, root)
	ctl := t.TempDir()
	run(t, "dpkg-deb", "--control", deb, ctl)

	exe := filepath.Join(root, "usr/bin/tandem")
	if st, err := os.Stat(exe); err != nil || st.Mode().Perm() != 0o755 {
		t.Fatalf("usr/bin/tandem: %v %v", st, err)
	}
	checkStaticStripped(t, exe)
	// Every first-party plugin of the repository, as a link to tandem.
	plugins, _ := filepath.Glob("../../plugins/*/cmd/tandem-plugin-*")
	if len(plugins) == 0 {
		t.Fatal("no plugins/*/cmd/tandem-plugin-* in the repository")
	}
	for _, p := range plugins {
		link := filepath.Join(root, "usr/lib/tandem/plugins", filepath.Base(p))
		if target, err := os.Readlink(link); err != nil || target != "../../../bin/tandem" {
			t.Errorf("%s: link to %q (%v), want ../../../bin/tandem", link, target, err)
		}
	}
	// The installed tandem's default plugin dir is the package's.
	var list struct {
		Dir     string
		Plugins []struct {
			Plugin string
			Used   bool
		}
	}
	out := run(t, exe, "plugin", "list", "--config", filepath.Join(root, "no-such.toml"), "--output", "json")
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("plugin list: %v\n%s", err, out)
	}
	if want := filepath.Join(root, "usr/lib/tandem/plugins"); list.Dir != want {
		t.Errorf("the packaged tandem's plugin dir is %s, want %s", list.Dir, want)
	}
	used := 0
	for _, p := range list.Plugins {
		if p.Used {
			used++
		}
	}
	if used != len(plugins) {
		t.Errorf("the packaged tandem uses %d plugins, want %d: %s", used, len(plugins), out)
	}
	run(t, exe, "config", "validate", filepath.Join(root, "etc/tandem/cluster.toml"))

	for _, f := range []string{
		"lib/systemd/system/tandem.service", "lib/systemd/system/tandem-witness.service",
		"etc/tandem/cluster.toml", "etc/default/tandem",
		"usr/share/man/man1/tandem.1.gz", "usr/share/man/man1/tandem-host.1.gz", "usr/share/man/man1/tandem-resource-create.1.gz",
		"usr/share/bash-completion/completions/tandem", "usr/share/zsh/vendor-completions/_tandem",
		"usr/share/fish/vendor_completions.d/tandem.fish",
		"usr/share/doc/tandem/copyright", "usr/share/doc/tandem/changelog.gz",
	} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("not in the package: %s", f)
		}
	}
	unit, _ := os.ReadFile(filepath.Join(root, "lib/systemd/system/tandem.service"))
	for _, want := range []string{"\nType=notify\n", "\nWatchdogSec=", "\nExecStart=/usr/bin/tandem host --config /etc/tandem/cluster.toml", "\nRestart=on-failure\n", "\nKillMode=process\n"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("tandem.service lacks %q", strings.TrimSpace(want))
		}
	}
	conffiles, _ := os.ReadFile(filepath.Join(ctl, "conffiles"))
	if got := strings.Fields(string(conffiles)); strings.Join(got, " ") != "/etc/default/tandem /etc/tandem/cluster.toml" {
		t.Errorf("conffiles: %q", got)
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		run(t, "sh", "-n", filepath.Join(ctl, s))
		data, _ := os.ReadFile(filepath.Join(ctl, s))
		var code []string // the script less its comments
		for _, l := range strings.Split(string(data), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "#") {
				code = append(code, l)
			}
		}
		text := strings.Join(code, "\n")
		for _, bad := range []string{"invoke start", "invoke restart", "systemctl start", "systemctl restart", "enable --now", "systemctl enable"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s starts or enables a member (%q)", s, bad)
			}
		}
	}

	if _, err := exec.LookPath("lintian"); err != nil {
		if os.Getenv("TANDEM_REQUIRE_PRIV") == "1" {
			t.Fatal("lintian is not installed (apt-get install lintian)")
		}
		t.Log("lintian not installed: not run")
		return
	}
	// Errors and warnings only; the overrides in the package explain theirs.
	b, _ := exec.Command("lintian", "--fail-on", "error,warning", deb).CombinedOutput()
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "E: ") || strings.HasPrefix(l, "W: ") {
			t.Errorf("lintian: %s", l)
		}
	}
}

// build.sh maps git describe to a Debian version: tags with or without
// "v", commits since a tag, pre-releases (sorting before the release), an
// untagged tree, and a dirty one; dpkg accepts each and orders them.
func TestVersionOf(t *testing.T) {
	for _, c := range []struct{ describe, want string }{
		{"v1.2.3", "1.2.3"},
		{"1.2.3", "1.2.3"},
		{"v1.2.3-4-gabc1234", "1.2.3+git4.gabc1234"},
		{"v1.2.3-rc1", "1.2.3~rc1"},
		{"v1.2.3-4-gabc1234-dirty", "1.2.3+git4.gabc1234.dirty"},
		{"7a75681", "0.0~git57.g7a75681"},
		{"7a75681-dirty", "0.0~git57.g7a75681.dirty"},
	} {
		got := strings.TrimSpace(run(t, "./build.sh", "--version-of", c.describe, "57"))
		if got != c.want {
			t.Errorf("%s: %s, want %s", c.describe, got, c.want)
		}
		run(t, "dpkg", "--validate-version", got)
	}
	run(t, "dpkg", "--compare-versions", "1.2.3~rc1", "lt", "1.2.3")
	run(t, "dpkg", "--compare-versions", "1.2.3+git4.gabc1234", "gt", "1.2.3")
	if b, err := exec.Command("./build.sh", "--version-of", "release-1", "57").CombinedOutput(); err == nil || !strings.Contains(string(b), "release-1") {
		t.Errorf("a tag not starting with a digit: %v %s; want an error naming it", err, b)
	}
}
