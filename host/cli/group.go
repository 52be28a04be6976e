package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/policies/cib"
)

// tandem resource group: pcs resource group add|remove|list.

func newResourceGroupCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "group",
		Short: "Put resources in groups, take them out, list groups (pcs resource group)",
		Long: `A group is resources that run together on one node, started in the group's
order and stopped in reverse (each member is colocated with and ordered
after the one before it). Constraints name the group by its id; a location
applies to the group as a whole, and the group's meta attributes
(resource-stickiness, target-role, ...) are its members' defaults, so its
stickiness counts once per running member. tandem resource disable, enable,
move, ban, clear and delete take a group id too.`,
		Example: `  tandem resource group add database fs ip postgres
  tandem resource group add database exporter --after postgres
  tandem resource group remove database exporter
  tandem resource group list`,
	}
	cmd.AddCommand(newGroupAddCmd(), newGroupRemoveCmd(), newGroupListCmd())
	return cmd
}

// editGroups makes a group edit and, as pcs does, names the constraints
// that went with a group it emptied.
func editGroups(cmd *cobra.Command, cfgPath, summary string, change func(*cib.CIB) ([]string, error)) error {
	var removed []string
	err := withEdit(cfgPath, summary, func(_ *session, c *cib.CIB) (err error) {
		removed, err = change(c)
		return err
	})
	if err != nil {
		return err
	}
	for _, id := range removed {
		fmt.Fprintf(cmd.OutOrStdout(), "Removing Constraint - %s\n", id)
	}
	return nil
}

// positionFlags adds --before and --after.
func positionFlags(cmd *cobra.Command, pos *cib.GroupPosition) {
	cmd.Flags().StringVar(&pos.Before, "before", "", "put the resources before this member")
	cmd.Flags().StringVar(&pos.After, "after", "", "put the resources after this member")
}

func newGroupAddCmd() *cobra.Command {
	var cfgPath string
	var pos cib.GroupPosition
	cmd := &cobra.Command{
		Use:   "add GROUP RSC... [--before RSC | --after RSC]",
		Short: "Add resources to a group (created if needed), in the order given",
		Long: `add puts the resources into GROUP, at its end or next to a member. The
group is created if it does not exist. A resource in another group leaves it
(an emptied group is deleted with its constraints). Only primitives join a
group; to run a group on several nodes, clone the group (a [group.clone]
table in cluster.toml).

` + liveExitCodes,
		Example: `  tandem resource group add database fs ip postgres
  tandem resource group add database exporter --after postgres`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return editGroups(cmd, cfgPath, "resource group add "+strings.Join(args, " ")+positionText(pos), func(c *cib.CIB) ([]string, error) {
				return c.GroupAdd(args[0], args[1:], pos)
			})
		},
	}
	configFlag(cmd, &cfgPath)
	positionFlags(cmd, &pos)
	return cmd
}

func positionText(pos cib.GroupPosition) string {
	switch {
	case pos.Before != "":
		return " --before " + pos.Before
	case pos.After != "":
		return " --after " + pos.After
	}
	return ""
}

func newGroupRemoveCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:     "remove GROUP [RSC...]",
		Aliases: []string{"delete"},
		Short:   "Take resources out of a group (all of them without RSC: ungroup)",
		Long: `remove takes the named resources out of GROUP; without any, it ungroups
every member. The resources stay configured and keep running (they are no
longer tied to each other). A group left empty is deleted with the
constraints that name it. To delete a group and its resources, use
tandem resource delete GROUP.

` + liveExitCodes,
		Example: `  tandem resource group remove database exporter
  tandem resource group remove database`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return editGroups(cmd, cfgPath, "resource group remove "+strings.Join(args, " "), func(c *cib.CIB) ([]string, error) {
				return c.GroupRemove(args[0], args[1:])
			})
		},
	}
	configFlag(cmd, &cfgPath)
	return cmd
}

func newGroupListCmd() *cobra.Command {
	var cfgPath, output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the groups and their members in start order",
		Long: `list prints each group and its members in start order.

--output json prints {"groups": [...]}, each group with id, resources (its
members in start order), meta (NAME to value) and clone (id, clone-max,
clone-node-max, interleave, ... for a cloned group).`,
		Example: `  tandem resource group list
  tandem resource group list --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return withCurrent(cfgPath, func(_ *session, cur liveconfig.Revision) error {
				if output == "json" {
					groups := []groupJSON{}
					for i := range cur.CIB.Groups {
						groups = append(groups, newGroupJSON(&cur.CIB.Groups[i]))
					}
					return writeJSON(cmd.OutOrStdout(), struct {
						Groups []groupJSON `json:"groups"`
					}{groups})
				}
				for _, g := range cur.CIB.Groups {
					name := g.ID
					if g.Clone != nil {
						name += " (cloned: " + g.Clone.ID + ")"
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", name, strings.Join(g.Resources, " "))
				}
				return nil
			})
		},
	}
	configFlag(cmd, &cfgPath)
	outputFlag(cmd, &output)
	return cmd
}

// writeGroupConfig prints a group as pcs resource config does.
func writeGroupConfig(c *cib.CIB, g *cib.Group, write func(r *cib.Resource, indent string), out func(format string, args ...any)) {
	indent := ""
	if cl := g.Clone; cl != nil {
		out("Clone: %s\n", cl.ID)
		if opts := cloneOptionText(cl); opts != "" {
			out("  Meta Attrs: %s\n", opts)
		}
		indent = "  "
	}
	out("%sGroup: %s\n", indent, g.ID)
	if meta := metaText(g.Meta); meta != "" {
		out("%s  Meta Attrs: %s\n", indent, meta)
	}
	for _, m := range g.Resources {
		if r, _ := c.Resource(m); r != nil {
			write(r, indent+"  ")
		}
	}
}
