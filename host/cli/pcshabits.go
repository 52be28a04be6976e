package cli

import (
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/builtin"
	"github.com/tandem-ha/tandem/plugins/ocf"
	"github.com/tandem-ha/tandem/policies/cib"
)

// What a Pacemaker admin types out of habit and Tandem answers: the agents
// installed (pcs resource agents|providers) and the fencing commands,
// which Tandem replaces with leases.

func init() { register(newStonithCmd) }

// leaseFencing is what Tandem does instead of fencing devices.
const leaseFencing = `Tandem fences with leases, not fencing devices (docs/leases.md): a singleton
runs only under a lease held in the bus, which a node renews while it keeps the
bus majority. A node cut off or hung stops renewing, stops its singletons
before its lease runs out, and only then may another node start them; the
witness keeps a two-node cluster's majority. There is nothing to configure:
no stonith resources, levels or stonith-enabled.`

func newStonithCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "stonith [SUBCOMMAND ...]",
		Short: "Fencing devices (pcs stonith): Tandem fences with leases instead",
		Long: leaseFencing + `

stonith, stonith list, stonith status, stonith config and stonith show say so
and exit 0 (there are no fencing devices to list); with --output json (or
pcs's --output-format json) they print {"devices": [], "fencing": "leases"}.
Every other subcommand
(create, update, delete, fence, level, ...) exits 2: it is not supported.`,
		Example: `  tandem stonith status`,
		// Any pcs stonith line is answered, whatever its flags.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
				return cmd.Help()
			}
			sub := ""
			for i := 0; i < len(args); i++ {
				if a := args[i]; a == "-o" || a == "--output" || a == "--output-format" {
					i++
				} else if !strings.HasPrefix(a, "-") {
					sub = a
					break
				}
			}
			switch sub {
			case "", "list", "status", "config", "show":
				output, err := stonithOutput(args)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.ErrOrStderr(), leaseFencing)
				if output == "json" {
					return writeJSON(cmd.OutOrStdout(), struct {
						Devices []string `json:"devices"`
						Fencing string   `json:"fencing"`
					}{Devices: []string{}, Fencing: "leases"})
				}
				fmt.Fprintln(cmd.OutOrStdout(), "NO stonith devices configured (Tandem needs none).")
				return nil
			}
			fmt.Fprintln(cmd.ErrOrStderr(), leaseFencing)
			return badInput("stonith %s is not supported: Tandem has no fencing devices (see above)", sub)
		},
	}
}

// stonithOutput finds -o/--output (or pcs's --output-format) among the
// unparsed args of a stonith listing: text or json, else exit 2.
func stonithOutput(args []string) (string, error) {
	output := "text"
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-o" || a == "--output" || a == "--output-format":
			if i+1 == len(args) {
				return "", badInput("%s needs a value: text or json", a)
			}
			i++
			output = args[i]
		case strings.HasPrefix(a, "--output="), strings.HasPrefix(a, "--output-format="), strings.HasPrefix(a, "-o="):
			_, output, _ = strings.Cut(a, "=")
		case strings.HasPrefix(a, "-o"):
			output = strings.TrimPrefix(a, "-o")
		}
	}
	if output == "cmd" {
		return "", badInput("--output-format cmd: there are no fencing devices to write pcs commands for")
	}
	return output, checkOutput(output)
}

// stonithProperty answers the fencing properties pcs habit sets: it writes
// the note and whether k was one (then it is not stored).
func stonithProperty(w io.Writer, k, v string) (bool, error) {
	if k != "stonith-enabled" && k != "fencing-enabled" {
		return false, nil
	}
	switch strings.ToLower(v) {
	case "false", "true", "on", "off", "yes", "no", "1", "0":
	default:
		return true, badInput("%s=%q: want true or false", k, v)
	}
	fmt.Fprintf(w, "Note: %s=%s accepted and not stored: Tandem fences with leases (docs/leases.md), always on, with no fencing devices.\n", k, v)
	return true, nil
}

// ocfRoot is where the ocf plugin finds agents.
func ocfRoot() string {
	if r := os.Getenv("OCF_ROOT"); r != "" {
		return r
	}
	return ocf.DefaultRoot
}

// ocfAgents lists OCF_ROOT/resource.d/PROVIDER/TYPE as ocf:PROVIDER:TYPE
// (executable files whose names the bridge accepts), sorted; provider ""
// lists every provider.
func ocfAgents(root, provider string) ([]string, error) {
	providers, err := ocfProviders(root)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range providers {
		if provider != "" && p != provider {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(root, "resource.d", p))
		if err != nil {
			continue
		}
		for _, e := range ents {
			name := "ocf:" + p + ":" + e.Name()
			st, err := os.Stat(filepath.Join(root, "resource.d", p, e.Name()))
			if err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 == 0 || strings.HasPrefix(e.Name(), ".") || !validAgentName(name) {
				continue
			}
			out = append(out, name)
		}
	}
	return out, nil
}

// lsbDir is where the lsb plugin finds init scripts.
func lsbDir() string {
	if d := os.Getenv("TANDEM_LSB_INIT_DIR"); d != "" {
		return d
	}
	return ocf.DefaultInitDir
}

// lsbScripts lists the executable files of dir as lsb:NAME.
func lsbScripts(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		name := "lsb:" + e.Name()
		st, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 == 0 || strings.HasPrefix(e.Name(), ".") || !validAgentName(name) {
			continue
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}

func validAgentName(name string) bool { return cib.AgentProblem(name) == "" }

// ocfProviders lists the directories of OCF_ROOT/resource.d.
func ocfProviders(root string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(root, "resource.d"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if st, err := os.Stat(filepath.Join(root, "resource.d", e.Name())); err == nil && st.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// agentFamilies are the agents each built-in plugin runs.
var agentFamilies = map[string]string{
	"haproxy": "haproxy",
	"health":  "health:http, health:tcp",
	"lsb":     "lsb:NAME (an init script of /etc/init.d)",
	"ocf":     "ocf:PROVIDER:TYPE (listed below from OCF_ROOT)",
	"systemd": "systemd:UNIT (any unit: systemctl list-unit-files --type=service)",
	"vip":     "vip",
}

func newResourceAgentsCmd() *cobra.Command {
	var cfgPath, dir, output string
	cmd := &cobra.Command{
		Use:   "agents [CLASS]",
		Short: "List the resource agents installed on this node (pcs resource agents)",
		Long: `agents lists what can run here: the built-in plugins and the agents they run,
the plugins of the plugin directory (--plugin-dir, else the cluster file's
[plugins] dir, else /usr/lib/tandem/plugins for a packaged /usr/bin/tandem,
else beside tandem), and the OCF agents under OCF_ROOT
(` + ocf.DefaultRoot + ` unless OCF_ROOT is set) as ocf:PROVIDER:TYPE. CLASS narrows
it: ocf, ocf:PROVIDER, or a plugin name (systemd, vip, ...); lsb also lists
the init scripts of ` + ocf.DefaultInitDir + ` as lsb:NAME.

--output json prints {"plugins": [...], "ocf": [...]}: each plugin with name
(the agent class: systemd, vip, ...) and where ("built-in" or the plugin's
file), and the OCF agents as ocf:PROVIDER:TYPE; with CLASS lsb, "lsb": [...]
the init scripts as lsb:NAME.

Exit codes: 0 listed; 2 CLASS is unknown or bad input; 1 a directory cannot
be read.`,
		Example: `  tandem resource agents
  tandem resource agents ocf:heartbeat
  tandem resource agents --output json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			class := ""
			if len(args) == 1 {
				class = args[0]
			}
			plugins := map[string]string{} // name -> where
			for _, n := range builtin.Names() {
				plugins[n] = "built-in"
			}
			if dir == "" {
				if f, err := config.Load(cfgPath); err == nil {
					dir = f.PluginDir
				}
			}
			if dir == "" {
				if d, err := supervisor.DefaultDir(); err == nil {
					dir = d
				}
			}
			if dir != "" {
				if found, _, err := supervisor.Scan(dir); err == nil {
					for n, path := range found {
						if plugins[n] == "" {
							plugins[n] = path
						}
					}
				}
			}
			fam, provider, _ := strings.Cut(class, ":")
			if class != "" && plugins[fam] == "" {
				names := slices.Sorted(maps.Keys(plugins))
				return badInput("no agent class %q%s (classes: %s)", class, cib.DidYouMean(fam, names), strings.Join(names, ", "))
			}
			w := cmd.OutOrStdout()
			type pluginJSON struct {
				Name  string `json:"name"`
				Where string `json:"where"`
			}
			js := struct {
				Plugins []pluginJSON `json:"plugins"`
				OCF     []string     `json:"ocf"`
				LSB     []string     `json:"lsb,omitempty"`
			}{[]pluginJSON{}, []string{}, nil}
			for _, n := range slices.Sorted(maps.Keys(plugins)) {
				if fam == "ocf" || (fam != "" && n != fam) {
					continue // ocf: its agents are listed one by one below
				}
				if output == "json" {
					js.Plugins = append(js.Plugins, pluginJSON{n, plugins[n]})
					continue
				}
				what := agentFamilies[n]
				if plugins[n] != "built-in" || what == "" {
					what = n + "[:TYPE] (" + plugins[n] + "; tandem resource describe " + n + " shows its parameters)"
				}
				fmt.Fprintln(w, what)
			}
			if fam == "lsb" {
				scripts, err := lsbScripts(lsbDir())
				if err != nil {
					return &ExitError{Code: ExitFailure, Err: fmt.Errorf("init scripts of %s: %w", lsbDir(), err)}
				}
				if output == "json" {
					js.LSB = nonNil(scripts)
				} else {
					for _, a := range scripts {
						fmt.Fprintln(w, a)
					}
				}
			}
			if fam == "" || fam == "ocf" {
				agents, err := ocfAgents(ocfRoot(), provider)
				if err != nil {
					return &ExitError{Code: ExitFailure, Err: fmt.Errorf("OCF agents under %s: %w", ocfRoot(), err)}
				}
				if output == "json" {
					js.OCF = nonNil(agents)
				} else {
					for _, a := range agents {
						fmt.Fprintln(w, a)
					}
				}
				if len(agents) == 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "No OCF agents under %s/resource.d (Debian: apt-get install resource-agents)\n", ocfRoot())
				}
			}
			if output == "json" {
				return writeJSON(w, js)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "plugin-dir", "", "directory of the tandem-plugin-* executables (default: [plugins] dir of the cluster file, else PREFIX/lib/tandem/plugins of a PREFIX/bin/tandem if it exists, else beside tandem)")
	configFlag(cmd, &cfgPath)
	outputFlag(cmd, &output)
	return cmd
}

func newResourceProvidersCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "providers",
		Short: "List the OCF providers installed on this node (pcs resource providers)",
		Long: `providers lists the OCF providers: the directories of OCF_ROOT/resource.d
(` + ocf.DefaultRoot + ` unless OCF_ROOT is set). tandem resource agents ocf:PROVIDER
lists one provider's agents.

--output json prints {"providers": [...]}, the provider names.

Exit codes: 0 listed; 1 the directory cannot be read; 2 bad input.`,
		Example: `  tandem resource providers
  tandem resource providers --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			ps, err := ocfProviders(ocfRoot())
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("OCF providers under %s: %w", ocfRoot(), err)}
			}
			if output == "json" {
				if len(ps) == 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "No OCF providers under %s/resource.d (Debian: apt-get install resource-agents)\n", ocfRoot())
				}
				return writeJSON(cmd.OutOrStdout(), struct {
					Providers []string `json:"providers"`
				}{nonNil(ps)})
			}
			for _, p := range ps {
				fmt.Fprintln(cmd.OutOrStdout(), p)
			}
			if len(ps) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "No OCF providers under %s/resource.d (Debian: apt-get install resource-agents)\n", ocfRoot())
			}
			return nil
		},
	}
	outputFlag(cmd, &output)
	return cmd
}
