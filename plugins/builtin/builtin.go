// Package builtin is the list of first-party plugins the tandem binary
// carries. Installed as links named tandem-plugin-<name> to tandem (what
// `make build` and the packages do), each runs as its own process, exactly
// like a standalone plugin binary, but all of them and the host share one
// executable's pages in memory instead of each mapping a 20 MB binary of
// its own. Every one can still be built standalone from
// plugins/<name>/cmd/tandem-plugin-<name>.
package builtin

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tandem-ha/tandem/plugins/haproxy"
	"github.com/tandem-ha/tandem/plugins/health"
	"github.com/tandem-ha/tandem/plugins/ocf"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/systemd"
	"github.com/tandem-ha/tandem/plugins/vip"
)

var mains = map[string]func(){
	"haproxy": haproxy.Main,
	"health":  health.Main,
	"lsb":     ocf.LSBMain,
	"ocf":     ocf.Main,
	"systemd": systemd.Main,
	"vip":     vip.Main,
}

// Names lists the built-in plugins, sorted.
func Names() []string {
	out := make([]string, 0, len(mains))
	for n := range mains {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Plugin says which plugin a program invoked as argv0 should serve: the
// <name> of a tandem-plugin-<name> link. ok is false when argv0 is not
// such a name (tandem itself); err says so when the name is not a built-in
// plugin.
func Plugin(argv0 string) (main func(), ok bool, err error) {
	name, ok := strings.CutPrefix(filepath.Base(argv0), sdk.PluginPrefix)
	if !ok {
		return nil, false, nil
	}
	if m := mains[name]; m != nil {
		return m, true, nil
	}
	return nil, true, fmt.Errorf("invoked as %s, but %q is not a plugin built into tandem (built in: %s); install that plugin's own executable as %s instead of a link to tandem",
		argv0, name, strings.Join(Names(), ", "), filepath.Base(argv0))
}

// Run serves the built-in plugin argv0 names and exits; it returns only
// when argv0 names no plugin, so tandem goes on as the CLI.
func Run(argv0 string) {
	main, ok, err := Plugin(argv0)
	if !ok {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tandem:", err)
		os.Exit(2)
	}
	main()
	os.Exit(0)
}
