package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every command with --output refuses an unknown format with exit 2 and a
// message naming the flag and what it takes, before reading any file or
// reaching the cluster (the cluster file given does not exist).
func TestOutputUnknownFormat(t *testing.T) {
	var paths [][]string
	hasConfig := map[string]bool{}
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		if c.Flags().Lookup("output") != nil {
			paths = append(paths, path)
			hasConfig[strings.Join(path, " ")] = c.Flags().Lookup("config") != nil
		}
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string{}, path...), sub.Name()))
		}
	}
	walk(NewRoot(), nil)
	argsFor := map[string][]string{"resource describe": {"ocf:heartbeat:IPaddr2"}}
	// The listing commands this flag was added to, at least.
	want := []string{"status", "resource list", "resource config", "resource group list", "resource agents",
		"resource providers", "constraint", "constraint list", "property", "property list", "alert", "alert config",
		"node attribute", "config history", "config show", "plugin list", "pki list"}
	have := map[string]bool{}
	for _, p := range paths {
		have[strings.Join(p, " ")] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("tandem %s has no --output flag", w)
		}
	}
	for _, p := range paths {
		if p[0] == "simulate" {
			continue // also takes dot; checked in its own tests
		}
		root := NewRoot()
		var out, errb bytes.Buffer
		root.SetOut(&out)
		root.SetErr(io.Discard)
		args := append(append([]string{}, p...), "--output", "yaml")
		// A command that needs an argument gets one: the format is refused
		// before the argument is looked at.
		args = append(args, argsFor[strings.Join(p, " ")]...)
		if hasConfig[strings.Join(p, " ")] {
			args = append(args, "--config", t.TempDir()+"/none.toml")
		}
		root.SetArgs(args)
		err := root.Execute()
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != ExitConfig {
			t.Errorf("tandem %s --output yaml: %v, want exit %d", strings.Join(p, " "), err, ExitConfig)
			continue
		}
		fmt.Fprint(&errb, err)
		if msg := errb.String(); msg != `--output "yaml": want text or json` {
			t.Errorf("tandem %s --output yaml said %q", strings.Join(p, " "), msg)
		}
		if out.Len() != 0 {
			t.Errorf("tandem %s --output yaml printed %q", strings.Join(p, " "), out.String())
		}
	}
}
