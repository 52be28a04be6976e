package cli

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/host/liveconfig"
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
		newNodeAttributeCmd(),
		newNodeUtilizationCmd(),
	)
	return cmd
}

func newNodeAttributeCmd() *cobra.Command {
	var cfgPath, output string
	cmd := &cobra.Command{
		Use:   "attribute [NODE [NAME=VALUE ...]]",
		Short: "Show or set node attributes, which location rules test",
		Long: `attribute without arguments lists every node's attributes; with a NODE,
that node's; with NAME=VALUE pairs, it sets them on NODE (NAME= removes
one). Location rules test them (tandem constraint location RSC rule ...),
together with the built-in #uname (the node's name), #id and #kind.

--output json (when listing) prints {"nodes": [...]}, each node (every one,
also without attributes) with name and attributes (NAME to value).

` + liveExitCodes,
		Example: `  tandem node attribute holly rack=r1 ssd=true
  tandem node attribute holly ssd=
  tandem node attribute
  tandem node attribute --output json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if len(args) > 1 {
				if output == "json" {
					return badInput("--output json goes with listing (NODE alone or no argument), not with setting NAME=VALUE")
				}
				return withEdit(cfgPath, "node attribute "+strings.Join(args, " "), func(s *session, c *cib.CIB) error {
					if err := s.checkNode(c, args[0]); err != nil {
						return err
					}
					for _, a := range args[1:] {
						k, v, ok := strings.Cut(a, "=")
						if !ok {
							return fmt.Errorf("%q is not NAME=VALUE (NAME= removes the attribute)", a)
						}
						if err := c.SetNodeAttribute(args[0], k, v); err != nil {
							return err
						}
					}
					return nil
				})
			}
			return withCurrent(cfgPath, func(s *session, cur liveconfig.Revision) error {
				nodes := cur.CIB.Nodes
				if len(args) == 1 {
					if err := s.checkNode(cur.CIB, args[0]); err != nil {
						return badInput("%v", err)
					}
					nodes = []cib.Node{*cur.CIB.Node(args[0])}
				}
				out := cmd.OutOrStdout()
				if output == "json" {
					type attrsJSON struct {
						Name       string            `json:"name"`
						Attributes map[string]string `json:"attributes"`
					}
					list := []attrsJSON{}
					for _, n := range nodes {
						j := attrsJSON{Name: n.Name, Attributes: map[string]string{}}
						maps.Copy(j.Attributes, n.Attributes)
						list = append(list, j)
					}
					return writeJSON(out, struct {
						Nodes []attrsJSON `json:"nodes"`
					}{list})
				}
				// pcs's layout: "Node Attributes:" then " holly: rack=r1 ssd=true".
				fmt.Fprintln(out, "Node Attributes:")
				for _, n := range nodes {
					if len(n.Attributes) == 0 {
						continue
					}
					var kv []string
					for _, k := range slices.Sorted(maps.Keys(n.Attributes)) {
						kv = append(kv, k+"="+n.Attributes[k])
					}
					fmt.Fprintf(out, " %s: %s\n", n.Name, strings.Join(kv, " "))
				}
				return nil
			})
		},
	}
	configFlag(cmd, &cfgPath)
	outputFlag(cmd, &output)
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
