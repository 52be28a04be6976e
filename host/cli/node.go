package cli

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/policies/cib"
)

func init() { register(newNodeCmd) }

func newNodeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Put nodes in standby or maintenance (pcs node)",
		Example: `  tandem node standby benji
  tandem node unstandby benji`,
	}
	cmd.AddCommand(
		newNodeFlagCmd("standby", "Move every resource off the nodes; they run nothing until unstandby",
			"A standby node runs no resources: the coordinator moves its singletons\nand stops its clone instances.",
			func(c *cib.CIB, n string) error { return c.SetStandby(n, true) }),
		newNodeFlagCmd("unstandby", "Let the nodes run resources again",
			"unstandby takes the nodes out of standby; resources may move back,\ndepending on resource-stickiness.",
			func(c *cib.CIB, n string) error { return c.SetStandby(n, false) }),
		newNodeFlagCmd("maintenance", "Leave the nodes' resources alone: nothing is started, stopped or recovered there",
			"In maintenance, what runs on the nodes keeps running unmanaged and nothing\nis started or stopped there (for work on the node's services by hand).",
			func(c *cib.CIB, n string) error { return c.SetNodeMaintenance(n, true) }),
		newNodeFlagCmd("unmaintenance", "Manage the nodes' resources again",
			"unmaintenance returns the nodes to the cluster's management.",
			func(c *cib.CIB, n string) error { return c.SetNodeMaintenance(n, false) }),
	)
	return cmd
}

func newNodeFlagCmd(verb, short, long string, set func(*cib.CIB, string) error) *cobra.Command {
	var cfgPath string
	var all bool
	cmd := &cobra.Command{
		Use:     verb + " NODE ... | --all",
		Short:   short,
		Long:    long + "\nThe change goes into the live configuration; the command does not wait.\n\n" + liveExitCodes,
		Example: "  tandem node " + verb + " benji\n  tandem node " + verb + " --all",
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return badInput("name the nodes or give --all")
			}
			return withEdit(cfgPath, "node "+verb+" "+strings.Join(args, " "), func(s *session, c *cib.CIB) error {
				nodes := args
				if all {
					nodes = c.NodeNames()
				}
				for _, n := range nodes {
					if err := s.checkNode(c, n); err != nil {
						return err
					}
					if err := set(c, n); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	configFlag(cmd, &cfgPath)
	cmd.Flags().BoolVar(&all, "all", false, "every node")
	return cmd
}
