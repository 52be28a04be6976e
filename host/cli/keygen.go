package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/bus"
)

func init() { register(newKeygenCmd) }

func newKeygenCmd() *cobra.Command {
	var out string
	var force bool
	cmd := &cobra.Command{
		Use:   "keygen --out FILE",
		Short: "Write a new cluster secret (single-member development clusters only)",
		Long: `keygen writes 32 random bytes, hex-encoded, to FILE with mode 0600: the [bus]
credentials of a single-member development cluster without TLS, whose clients
sign in with a key derived from it. A cluster of more than one member runs
mutual TLS instead and needs no secret: see "tandem pki init".`,
		Example: `  tandem keygen --out /etc/tandem/cluster.key
  scp /etc/tandem/cluster.key benji:/etc/tandem/cluster.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return &ExitError{Code: ExitConfig, Err: fmt.Errorf("--out FILE is required")}
			}
			s, err := bus.GenerateSecret()
			if err != nil {
				return err
			}
			if err := bus.WriteSecret(out, s, force); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s; copy it to every member and admin host (mode 0600)\n", out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "file to write (required)")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing file (every member then needs the new one)")
	return cmd
}
