package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/policies/cib"
)

func init() { register(newConfigCmd) }

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check and manage the cluster configuration",
		Long: `config validates cluster files and manages the live configuration: the
versioned copy in the bus that the cluster runs (seeded from cluster.toml when
the cluster first starts; changed by config apply and every resource,
constraint, node and property command).`,
		Example: `  tandem config validate /etc/tandem/cluster.toml
  tandem config show
  tandem config apply --dry-run new.toml
  tandem config history
  tandem config pull`,
	}
	cmd.AddCommand(newConfigValidateCmd(), newConfigShowCmd(), newConfigApplyCmd(), newConfigHistoryCmd(), newConfigRollbackCmd(), newConfigReseedCmd(), newConfigPullCmd(), newConfigImportCIBCmd())
	return cmd
}

func newConfigValidateCmd() *cobra.Command {
	var pluginDir string
	var noAgents bool
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a cluster file and report every problem with file:line",
		Long: `validate reads FILE and reports every problem it finds, each with its file and
line: TOML syntax errors, unknown keys, duplicate ids, references to unknown
resources or nodes, invalid addresses, ordering cycles, clones named by their
primitive id, bad scores. Then each resource's agent checks its parameters
against its own meta-data (types, required parameters, allowed values,
unknown names), with the plugins beside tandem (or in --plugin-dir); what an
agent can only check on a node (an interface, a unit) is checked by the
nodes when a resource is created. It exits 0 when the file is valid, 1
otherwise.`,
		Example: `  tandem config validate /etc/tandem/cluster.toml`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := config.Load(args[0])
			var ps config.Problems
			if errors.As(err, &ps) {
				for _, p := range ps {
					fmt.Fprintln(cmd.OutOrStdout(), p)
				}
				return &ExitError{Code: 1, Err: fmt.Errorf("%s: %d problem(s)", args[0], len(ps))}
			}
			if err != nil {
				return &ExitError{Code: 1, Err: err}
			}
			if !noAgents {
				ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
				defer cancel()
				dir := pluginDir
				if dir == "" {
					dir = f.PluginDir
				}
				ps, notes, err := checkAgents(ctx, f, dir)
				if err != nil {
					return &ExitError{Code: 1, Err: fmt.Errorf("%w (--no-agents skips this check)", err)}
				}
				for _, n := range notes {
					fmt.Fprintln(cmd.ErrOrStderr(), "Note: "+n)
				}
				if len(ps) > 0 {
					for _, p := range ps {
						fmt.Fprintln(cmd.OutOrStdout(), p)
					}
					return &ExitError{Code: 1, Err: fmt.Errorf("%s: %d problem(s)", args[0], len(ps))}
				}
			}
			top, c := f.Topology, f.CIB
			witness := "no witness"
			if w := top.Witness(); w != nil {
				witness = "witness " + w.Name
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid: cluster %q, %d nodes, %s, %d resources, %d constraints\n",
				args[0], top.Cluster, len(c.Nodes), witness, len(c.Resources), len(c.Orders)+len(c.Colocations)+len(c.Locations))
			return nil
		},
	}
	cmd.Flags().StringVar(&pluginDir, "plugin-dir", "", "directory of the tandem-plugin-* executables (default: [plugins] dir, else PREFIX/lib/tandem/plugins of a PREFIX/bin/tandem if it exists, else beside tandem)")
	cmd.Flags().BoolVar(&noAgents, "no-agents", false, "check the file only, not the agents' parameters")
	return cmd
}

func newConfigShowCmd() *cobra.Command {
	var cfgPath, output string
	var asTOML bool
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show the live configuration (the one the cluster runs)",
		Long: `show prints the live configuration: its revision, nodes, resources,
constraints and properties, as pcs config does; --toml prints it as a
cluster.toml file (which config apply takes back). It says when the live
configuration differs from the local cluster file.

--output json prints one object: revision, time (RFC 3339), by, summary,
differs_from_file, invalid_revision and invalid (a newer revision that is
not run, and why; absent when none), cluster, nodes (each with name,
standby, maintenance and attributes), witness (its name; absent without
one), resources and groups (as resource config --output json), constraints
(as constraint list --output json), alerts (as alert config --output json)
and properties (as property list --output json).`,
		Example: `  tandem config show
  tandem config show --toml > cluster.toml
  tandem config show --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if asTOML && output == "json" {
				return badInput("--toml and --output json: choose one")
			}
			s, cur, err := openCurrent(cfgPath)
			if err != nil {
				return err
			}
			defer s.close()
			w := cmd.OutOrStdout()
			top, c := s.file.Topology, cur.CIB
			if asTOML {
				// The live model with this host's bootstrap settings: a
				// cluster file config apply takes back.
				text, err := config.EncodeWithPlugins(top, s.file.PluginDir, c)
				if err != nil {
					return &ExitError{Code: ExitFailure, Err: err}
				}
				_, err = w.Write(text)
				return err
			}
			if output == "json" {
				return writeJSON(w, newConfigJSON(s, cur))
			}
			fmt.Fprintf(w, "Live configuration: revision %d (%s, by %s: %s)\n", cur.Rev, cur.Time.Local().Format(time.DateTime), printable(cur.By), printable(cur.Summary))
			if s.bad != nil {
				fmt.Fprintf(w, "Warning: revision %d is invalid and not run (%s); tandem config rollback %d replaces it\n", s.bad.Rev, printable(s.bad.Invalid), cur.Rev)
			}
			if !liveconfig.Same(s.file.CIB, c) {
				fmt.Fprintf(w, "Note: it differs from the local cluster file %s (tandem config apply --dry-run %s shows how)\n", cfgPath, cfgPath)
			}
			fmt.Fprintf(w, "Cluster Name: %s\n", top.Cluster)
			var nodes []string
			for _, n := range c.Nodes {
				name := n.Name
				switch {
				case n.Maintenance:
					name += " (maintenance)"
				case n.Standby:
					name += " (standby)"
				}
				nodes = append(nodes, name)
			}
			fmt.Fprintf(w, "Nodes: %s\n", strings.Join(nodes, " "))
			if wn := top.Witness(); wn != nil {
				fmt.Fprintf(w, "Witness: %s\n", wn.Name)
			}
			if slices.ContainsFunc(c.Nodes, func(n cib.Node) bool { return len(n.Utilization) > 0 }) {
				fmt.Fprintln(w, "Node Utilization:")
				for _, n := range c.Nodes {
					if len(n.Utilization) > 0 {
						fmt.Fprintf(w, " %s: %s\n", n.Name, cib.FormatUtilization(n.Utilization))
					}
				}
			}
			fmt.Fprintln(w)
			fmt.Fprintln(w, "Resources:")
			for i := range c.Resources {
				writeResourceConfig(w, &c.Resources[i], "  ")
			}
			fmt.Fprintln(w)
			writeConstraints(w, c, true)
			fmt.Fprintln(w)
			writeAlerts(w, c)
			fmt.Fprintln(w)
			writeProperties(w, top.Cluster, c)
			return nil
		},
	}
	configFlag(cmd, &cfgPath)
	cmd.Flags().BoolVar(&asTOML, "toml", false, "print it as cluster.toml text")
	outputFlag(cmd, &output)
	return cmd
}

func newConfigHistoryCmd() *cobra.Command {
	var cfgPath, output string
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List the kept revisions of the live configuration",
		Long: `history lists the revisions of the live configuration the bus keeps (the last
64): when, by whom, what changed. config rollback REV makes one current again.

--output json prints {"revisions": [...]}, oldest first, each with rev, time
(RFC 3339), by, summary, current (true for the last) and invalid (why the
revision cannot be used; absent for a valid one).`,
		Example: `  tandem config history
  tandem config history --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			s, err := openSession(cfgPath)
			if err != nil {
				return err
			}
			defer s.close()
			ctx, cancel := context.WithTimeout(context.Background(), liveOpTimeout)
			defer cancel()
			hist, err := s.store.History(ctx)
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			if output == "json" {
				type revJSON struct {
					Rev     uint64    `json:"rev"`
					Time    time.Time `json:"time"`
					By      string    `json:"by"`
					Summary string    `json:"summary"`
					Current bool      `json:"current"`
					Invalid string    `json:"invalid,omitempty"`
				}
				list := []revJSON{}
				for k, r := range hist {
					list = append(list, revJSON{Rev: r.Rev, Time: r.Time, By: r.By, Summary: r.Summary, Current: k == len(hist)-1, Invalid: r.Invalid})
				}
				return writeJSON(cmd.OutOrStdout(), struct {
					Revisions []revJSON `json:"revisions"`
				}{list})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "REV\tTIME\tBY\tCHANGE")
			for k, r := range hist {
				mark := ""
				if k == len(hist)-1 {
					mark = " (current)"
				}
				change := r.Summary
				if r.Invalid != "" {
					change = "invalid: " + r.Invalid
				}
				fmt.Fprintf(tw, "%d%s\t%s\t%s\t%s\n", r.Rev, mark, r.Time.Local().Format(time.DateTime), printable(r.By), printable(change))
			}
			return tw.Flush()
		},
	}
	configFlag(cmd, &cfgPath)
	outputFlag(cmd, &output)
	return cmd
}

func newConfigRollbackCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "rollback REV",
		Short: "Make an earlier revision of the live configuration current again",
		Long: `rollback stores the configuration of revision REV (see config history) as a
new revision, so the history keeps what was rolled back.

` + liveExitCodes,
		Example: `  tandem config rollback 7`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rev, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return badInput("revision %q is not a number (see tandem config history)", args[0])
			}
			s, err := openSession(cfgPath)
			if err != nil {
				return err
			}
			defer s.close()
			ctx, cancel := context.WithTimeout(context.Background(), liveOpTimeout)
			defer cancel()
			nr, err := s.store.Rollback(ctx, rev, cliBy(s.conn))
			if err != nil {
				if strings.Contains(err.Error(), "is not kept") {
					return badInput("%v", err)
				}
				return &ExitError{Code: ExitFailure, Err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Rolled back to revision %d: now revision %d\n", rev, nr.Rev)
			return nil
		},
	}
	configFlag(cmd, &cfgPath)
	return cmd
}

func newConfigReseedCmd() *cobra.Command {
	var cfgPath, from string
	cmd := &cobra.Command{
		Use:   "reseed --from FILE",
		Short: "Store a cluster file's model as the live configuration, whatever the bus holds",
		Long: `reseed stores the model of FILE as the live configuration, replacing what the
bus holds: nothing (the configuration was deleted or its stream lost), or an
invalid revision. The members never re-seed a configuration that existed
from their cluster.toml by themselves, since that would lose every live edit;
they wait for this command, and say so in their log.

FILE is validated first; an invalid file stores nothing. Prefer
config rollback REV when a valid revision is still kept (config history).

` + liveExitCodes,
		Example: `  tandem config reseed --from /etc/tandem/cluster.toml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return badInput("--from FILE is required: the cluster file whose model to store")
			}
			next, err := config.Load(from)
			if err != nil {
				return &ExitError{Code: ExitConfig, Err: err}
			}
			s, err := openSession(cfgPath)
			if err != nil {
				return err
			}
			defer s.close()
			ctx, cancel := context.WithTimeout(context.Background(), liveOpTimeout)
			defer cancel()
			r, err := s.store.Reseed(ctx, next.CIB, cliBy(s.conn), from)
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Re-seeded the live configuration from %s: now revision %d\n", from, r.Rev)
			return nil
		},
	}
	configFlag(cmd, &cfgPath)
	cmd.Flags().StringVar(&from, "from", "", "the cluster file whose model to store")
	return cmd
}

func newConfigPullCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "pull [FILE]",
		Short: "Write the live configuration to the cluster file, so that the file is what the cluster runs",
		Long: `pull writes the live configuration (what resource, constraint, node and
property commands changed) to FILE, by default the cluster file (--config), so
that the file matches the cluster again and applying it later loses nothing.
The bootstrap settings ([cluster], [bus], node addresses, the witness) are
those of --config. Durations are kept as the file wrote them ("60s" stays
"60s") where their value is unchanged; new ones are written the same way
("30s", "500ms", "5m"). Comments are not carried over: the previous file is
kept as FILE.bak. The file is written whole or not at all (a temporary file
renamed over it), and only after the text is checked to read back as the
live configuration.`,
		Example: `  tandem config pull
  tandem config pull /root/cluster-live.toml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			target := cfgPath
			if len(args) == 1 {
				target = args[0]
			}
			s, cur, err := openCurrent(cfgPath)
			if err != nil {
				return err
			}
			defer s.close()
			prev, err := os.ReadFile(target)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("reading %s: %w", target, err)}
			}
			text, err := config.EncodeFile(s.file.Topology, s.file.PluginDir, cur.CIB, prev)
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			// Never write a file that does not read back as what runs.
			back, err := config.Parse(target, text)
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("the live configuration (revision %d) did not read back as a cluster file, nothing written: %w", cur.Rev, err)}
			}
			if !liveconfig.Same(back.CIB, cur.CIB) {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("the live configuration (revision %d) did not read back the same, nothing written; please report this", cur.Rev)}
			}
			w := cmd.OutOrStdout()
			if prev != nil && bytes.Equal(prev, text) {
				fmt.Fprintf(w, "%s is already the live configuration (revision %d); nothing written\n", target, cur.Rev)
				return nil
			}
			backup, err := writeReplacing(target, text, prev != nil)
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			fmt.Fprintf(w, "Wrote the live configuration (revision %d) to %s\n", cur.Rev, target)
			if backup != "" {
				fmt.Fprintf(w, "The previous file is %s (comments are not carried over)\n", backup)
			}
			return nil
		},
	}
	configFlag(cmd, &cfgPath)
	return cmd
}

// writeReplacing writes text to path through a temporary file in the same
// directory renamed over it, with the old file's mode; with keep, the old
// file is first linked (or copied) to path.bak, whose name it returns.
func writeReplacing(path string, text []byte, keep bool) (backup string, err error) {
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	if keep {
		backup = path + ".bak"
		old, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("keeping %s: %w", path, err)
		}
		if err := os.WriteFile(backup, old, mode); err != nil {
			return "", fmt.Errorf("keeping the previous file as %s: %w; nothing written", backup, err)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(text)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return backup, nil
}
