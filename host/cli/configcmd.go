package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/host/config"
)

func init() { register(newConfigCmd) }

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check and manage the cluster configuration",
	}
	cmd.AddCommand(newConfigValidateCmd())
	return cmd
}

func newConfigValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a cluster file and report every problem with file:line",
		Long: `validate reads FILE and reports every problem it finds, each with its file and
line: TOML syntax errors, unknown keys, duplicate ids, references to unknown
resources or nodes, invalid addresses, ordering cycles, clones named by their
primitive id, bad scores. It exits 0 when the file is valid, 1 otherwise.`,
		Example: `  tandem config validate /etc/tandem/cluster.toml`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := config.Load(args[0])
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
			witness := "no witness"
			if c.Witness != nil {
				witness = "witness " + c.Witness.Name
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid: cluster %q, %d nodes, %s, %d resources, %d constraints\n",
				args[0], c.Cluster.Name, len(c.Nodes), witness, len(c.Resources), len(c.Orders)+len(c.Colocations)+len(c.Locations))
			return nil
		},
	}
}
