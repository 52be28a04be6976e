// Package priv decides whether a privileged test (network namespaces,
// systemd-nspawn, raw sockets) runs: it skips without root, except when
// TANDEM_REQUIRE_PRIV=1 (set by .ci/run), where a missing privilege fails
// the test instead of hiding it.
package priv

import (
	"os"
	"os/exec"
	"testing"
)

// EnvRequire is the variable that turns skips into failures.
const EnvRequire = "TANDEM_REQUIRE_PRIV"

// Required reports whether privileged tests must run.
func Required() bool { return os.Getenv(EnvRequire) == "1" }

// Require skips t unless it runs as root; with TANDEM_REQUIRE_PRIV=1 it fails
// instead. Each named tool must be on PATH, under the same rule.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		miss(t, "needs root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			miss(t, "needs "+tool+" on PATH")
		}
	}
}

func miss(t testing.TB, why string) {
	t.Helper()
	if Required() {
		t.Fatalf("privileged test %s: %s, and %s=1 says it must run", t.Name(), why, EnvRequire)
	}
	t.Skipf("%s (set %s=1 to make this a failure)", why, EnvRequire)
}

// Tools skips t unless every named tool is on PATH (no root needed); with
// TANDEM_REQUIRE_PRIV=1 a missing tool fails t instead, naming the package
// that brings it (.ci/run installs them).
func Tools(t testing.TB, pkg string, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			miss(t, "needs "+tool+" on PATH (apt-get install "+pkg+")")
		}
	}
}
