package builtin_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/plugins/builtin"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/sdk/sdktest"
)

// Every first-party plugin folder (plugins/<name>/cmd/tandem-plugin-<name>,
// what `make build` links to tandem) is built in, and nothing else.
func TestEveryFirstPartyPluginIsBuiltIn(t *testing.T) {
	dirs, err := filepath.Glob("../*/cmd/" + sdk.PluginPrefix + "*")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range dirs {
		names = append(names, strings.TrimPrefix(filepath.Base(d), sdk.PluginPrefix))
	}
	if got, want := strings.Join(builtin.Names(), " "), strings.Join(names, " "); got != want {
		t.Fatalf("built in: %s; plugin folders: %s", got, want)
	}
}

func TestPluginNames(t *testing.T) {
	if _, ok, err := builtin.Plugin("/opt/tandem/bin/tandem"); ok || err != nil {
		t.Errorf("tandem itself taken for a plugin: %v %v", ok, err)
	}
	if m, ok, err := builtin.Plugin("/opt/tandem/bin/tandem-plugin-vip"); !ok || err != nil || m == nil {
		t.Errorf("tandem-plugin-vip: %v %v", ok, err)
	}
	_, ok, err := builtin.Plugin("/usr/lib/tandem/tandem-plugin-hello")
	if !ok || err == nil || !strings.Contains(err.Error(), `"hello" is not a plugin built into tandem`) || !strings.Contains(err.Error(), "haproxy, health, lsb, ocf, systemd, vip") {
		t.Errorf("tandem-plugin-hello: %v %v", ok, err)
	}
}

// The tandem binary, launched by the host through a tandem-plugin-<name>
// link, is that plugin: it handshakes and says who it is; under a name
// that is not built in it refuses with a message naming it.
func TestTandemServesItsPluginsThroughLinks(t *testing.T) {
	tandem := sdktest.Build(t, "github.com/tandem-ha/tandem/host/cmd/tandem")
	dir := t.TempDir()
	for _, name := range builtin.Names() {
		link := filepath.Join(dir, sdk.PluginPrefix+name)
		if err := os.Symlink(tandem, link); err != nil {
			t.Fatal(err)
		}
		p := sdktest.Launch(t, link, "TANDEM_VIP_STATE_DIR="+t.TempDir(), "TANDEM_HAPROXY_STATE_DIR="+t.TempDir(), "TANDEM_HEALTH_STATE_DIR="+t.TempDir())
		if p.PluginInfo.Name != name || len(p.PluginInfo.Types) == 0 {
			t.Errorf("%s reported %+v", link, p.PluginInfo)
		}
		p.Kill()
	}
	bogus := filepath.Join(dir, sdk.PluginPrefix+"hello")
	if err := os.Symlink(tandem, bogus); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bogus).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), `"hello" is not a plugin built into tandem`) {
		t.Errorf("tandem as tandem-plugin-hello: %v\n%s", err, out)
	}
}
