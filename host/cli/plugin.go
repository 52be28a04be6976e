package cli

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/sdk/skeleton"
)

func init() { register(newPluginCmd) }

func newPluginCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "Inspect this node's resource agent plugins",
		Example: `  tandem plugin list
  tandem-plugin-example meta-data    # a plugin's meta-data as JSON
  tandem resource describe vip        # an agent's meta-data as the cluster's nodes see it`,
	}
	cmd.AddCommand(newPluginListCmd(), newPluginNewCmd())
	return cmd
}

func newPluginNewCmd() *cobra.Command {
	var module, tandem string
	cmd := &cobra.Command{
		Use:   "new NAME [DIR]",
		Short: "Start a new plugin: a Go module with a working agent, its conformance tests, a Makefile and a README",
		Long: `new writes a plugin project into DIR (default ./tandem-plugin-NAME; it must
not exist or be empty): a Go module of its own whose agent NAME:file manages
a file (start, stop, monitor, meta-data, validate and reload), its
conformance tests (sdktest), a Makefile (build, test, install, run on a
loopback cluster) and a README.

The SDK has no release yet: the module's go.mod has a replace directive
pointing at a local Tandem checkout (--tandem, default ../tandem, relative
to DIR). When that is a checkout already, go.mod also gets its
requirements and go.sum its checksums, so cd DIR && make test works at
once (offline too, once a build of Tandem filled the module cache);
otherwise point the replace line at yours and run go mod tidy first.

Exit codes: 0 written; 2 a bad name or a DIR that is not empty.`,
		Example: `  tandem plugin new marker
  tandem plugin new marker ~/src/tandem-plugin-marker --tandem ~/src/tandem --module github.com/me/tandem-plugin-marker`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := sdk.PluginPrefix + args[0]
			if len(args) == 2 {
				dir = args[1]
			}
			if tandem != "" && !filepath.IsAbs(tandem) && !strings.HasPrefix(tandem, ".") {
				tandem = "./" + tandem // a replace path must start with ./ or ../ or be absolute
			}
			written, err := skeleton.Write(dir, skeleton.Options{Name: args[0], Module: module, Tandem: tandem})
			if err != nil {
				return &ExitError{Code: ExitConfig, Err: err}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Wrote %s:\n", dir)
			for _, f := range written {
				fmt.Fprintf(out, "  %s\n", f)
			}
			if slices.Contains(written, "go.sum") {
				fmt.Fprintf(out, "Next: cd %s && make test\n(go.mod builds against the Tandem checkout %s; go mod tidy trims it to what your plugin uses)\n", dir, tandemOrDefault(tandem))
			} else {
				fmt.Fprintf(out, "Next: point go.mod's replace line at your Tandem checkout (%s is not one), then\n  cd %s && go mod tidy && make test\n", tandemOrDefault(tandem), dir)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&module, "module", "", "the new module's path (default example.com/tandem-plugin-NAME)")
	cmd.Flags().StringVar(&tandem, "tandem", "", "the local Tandem checkout go.mod's replace directive points at (default ../tandem)")
	return cmd
}

func tandemOrDefault(path string) string {
	if path == "" {
		return "../tandem"
	}
	return path
}

func newPluginListCmd() *cobra.Command {
	var dir, cfgPath, output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the plugin directory: the plugins found, and every other file with why it is not used",
		Long: `list reads this node's plugin directory (beside tandem, or --plugin-dir) the
way tandem host does when it starts (--plugin-dir, else the cluster file's
[plugins] dir, else the directory of the tandem executable), and prints each plugin it would use and
each file it would not, with why: not named tandem-plugin-NAME, a NAME that
is not a plugin name (lower-case letters, digits, - and _), not a regular
file, not executable, or not trusted (a plugin runs as root: it must be
owned by root and writable by nobody else).

A running tandem host reads the directory again every 2 s: a new plugin is
used without restarting tandem, and a plugin whose file was replaced is
relaunched from the new file (its resources are not stopped or started).

--output json prints {"dir": DIR, "plugins": [...]}, each entry with plugin
(the plugin name; "" when the file has none), file, used (true for a plugin
tandem host would run) and why (for a file not used: the reason).

Exit codes: 0 listed; 1 the directory cannot be read or is not trusted;
2 bad input (an unknown --output).`,
		Example: `  tandem plugin list
  tandem plugin list --plugin-dir /usr/local/lib/tandem
  tandem plugin list --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if dir == "" {
				if f, err := config.Load(cfgPath); err == nil {
					dir = f.PluginDir
				}
			}
			if dir == "" {
				d, err := supervisor.DefaultDir()
				if err != nil {
					return &ExitError{Code: ExitFailure, Err: err}
				}
				dir = d
			}
			found, unused, err := supervisor.Scan(dir)
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("plugin dir %s: %w", dir, err)}
			}
			names := make([]string, 0, len(found))
			for n := range found {
				names = append(names, n)
			}
			sort.Strings(names)
			sort.Slice(unused, func(i, j int) bool { return unused[i].File < unused[j].File })
			if output == "json" {
				type entry struct {
					Plugin string `json:"plugin"`
					File   string `json:"file"`
					Used   bool   `json:"used"`
					Why    string `json:"why,omitempty"`
				}
				list := []entry{}
				for _, n := range names {
					list = append(list, entry{Plugin: n, File: filepath.Base(found[n]), Used: true})
				}
				for _, u := range unused {
					list = append(list, entry{Plugin: u.Plugin, File: u.File, Why: u.Why})
				}
				return writeJSON(cmd.OutOrStdout(), struct {
					Dir     string  `json:"dir"`
					Plugins []entry `json:"plugins"`
				}{dir, list})
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintf(w, "Plugin directory: %s\n", dir)
			fmt.Fprintln(w, "PLUGIN\tFILE\tSTATUS")
			for _, n := range names {
				fmt.Fprintf(w, "%s\t%s\tused\n", n, filepath.Base(found[n]))
			}
			for _, u := range unused {
				plugin := u.Plugin
				if plugin == "" {
					plugin = "-"
				}
				fmt.Fprintf(w, "%s\t%s\tnot used: %s\n", plugin, u.File, u.Why)
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&dir, "plugin-dir", "", "directory of the tandem-plugin-* executables (default: [plugins] dir of the cluster file, else PREFIX/lib/tandem/plugins of a PREFIX/bin/tandem if it exists, else beside tandem)")
	configFlag(cmd, &cfgPath)
	outputFlag(cmd, &output)
	return cmd
}
