package skeleton_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/plugins/sdk/skeleton"
)

func TestWriteRendersTheProject(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p")
	repo, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	written, err := skeleton.Write(dir, skeleton.Options{Name: "marker", Module: "example.org/m", Tandem: repo})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Makefile", "README.md", "agent/agent.go", "agent/agent_test.go", "cmd/tandem-plugin-marker/main.go", "go.mod", "go.sum"}
	if strings.Join(written, " ") != strings.Join(want, " ") {
		t.Errorf("wrote %v, want %v", written, want)
	}
	mod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	for _, w := range []string{"module example.org/m\n", "replace github.com/tandem-ha/tandem => " + repo + "\n", "github.com/hashicorp/go-plugin v"} {
		if !strings.Contains(string(mod), w) {
			t.Errorf("go.mod lacks %q:\n%s", w, mod)
		}
	}
	for _, f := range written {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		if strings.Contains(string(b), "<%") || strings.Contains(string(b), "BINARY") {
			t.Errorf("%s has an unrendered placeholder:\n%s", f, b)
		}
	}
	main, _ := os.ReadFile(filepath.Join(dir, "cmd/tandem-plugin-marker/main.go"))
	if !strings.Contains(string(main), `"example.org/m/agent"`) {
		t.Errorf("main.go:\n%s", main)
	}
}

func TestWriteRefuses(t *testing.T) {
	if _, err := skeleton.Write(t.TempDir()+"/x", skeleton.Options{Name: "Marker"}); err == nil || !strings.Contains(err.Error(), `plugin name "Marker": use lower-case letters`) {
		t.Errorf("upper case name: %v", err)
	}
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := skeleton.Write(full, skeleton.Options{Name: "m"}); err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Errorf("non-empty dir: %v", err)
	}
	// Not a checkout: no requirements, no go.sum; go mod tidy finds them.
	dir := filepath.Join(t.TempDir(), "p")
	written, err := skeleton.Write(dir, skeleton.Options{Name: "m"})
	if err != nil {
		t.Fatal(err)
	}
	mod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	if strings.Contains(strings.Join(written, " "), "go.sum") || !strings.Contains(string(mod), "replace github.com/tandem-ha/tandem => ../tandem\n") || strings.Contains(string(mod), "// indirect") {
		t.Errorf("wrote %v, go.mod:\n%s", written, mod)
	}
}
