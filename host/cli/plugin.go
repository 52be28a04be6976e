package cli

import (
	"fmt"
	"path/filepath"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/supervisor"
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
	cmd.AddCommand(newPluginListCmd())
	return cmd
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

tandem host discovers its plugins when it starts: after installing a new
plugin, restart tandem on the node (an upgraded file of a plugin already in
use is picked up when the plugin process is next relaunched).

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
	cmd.Flags().StringVar(&dir, "plugin-dir", "", "directory of the tandem-plugin-* executables (default: [plugins] dir of the cluster file, else beside tandem)")
	configFlag(cmd, &cfgPath)
	outputFlag(cmd, &output)
	return cmd
}
