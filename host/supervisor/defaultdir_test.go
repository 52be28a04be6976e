package supervisor

import (
	"os"
	"path/filepath"
	"testing"
)

// An installed PREFIX/bin/tandem finds its plugins in
// PREFIX/lib/tandem/plugins when that directory exists (the Debian
// package's layout); otherwise, and for a tandem not in a bin directory,
// they are beside the executable.
func TestDefaultDirFor(t *testing.T) {
	prefix := t.TempDir()
	bin := filepath.Join(prefix, "bin")
	build := filepath.Join(prefix, "build")
	for _, d := range []string{bin, build} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if got := defaultDirFor(filepath.Join(bin, "tandem")); got != bin {
		t.Errorf("no PREFIX/lib/tandem/plugins: %s, want %s", got, bin)
	}
	plugins := filepath.Join(prefix, "lib", "tandem", "plugins")
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := defaultDirFor(filepath.Join(bin, "tandem")); got != plugins {
		t.Errorf("packaged layout: %s, want %s", got, plugins)
	}
	if got := defaultDirFor(filepath.Join(build, "tandem")); got != build {
		t.Errorf("tandem outside a bin directory: %s, want %s", got, build)
	}
}
