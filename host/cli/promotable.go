package cli

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/policies/cib"
)

func newResourcePromotableCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "promotable ID [CLONE-ID] [promoted-max=N] [promoted-node-max=N] [clone-max=N ...]",
		Short: "Make a resource or a group a promotable clone (pcs resource promotable)",
		Long: `promotable makes resource ID a promotable clone: each instance runs Unpromoted
or Promoted, and at most promoted-max instances (default 1) are promoted, at
most promoted-node-max (default 1) on one node. A primitive or a group becomes
a clone named CLONE-ID (default ID-clone); a clone, or a cloned group, becomes
promotable. A promotable cloned group's instance on a node is promoted whole,
its members in group order (the promotion scores of its members add up). Which instance
is promoted follows the promotion scores its agent reports, locations for the
Promoted role and colocations with rsc-role or with-rsc-role Promoted (see
docs/scheduler.md). The same can be done at creation: tandem resource create
ID AGENT ... promotable [promoted-max=N].

` + liveExitCodes,
		Example: `  tandem resource promotable db
  tandem resource promotable db db-clone promoted-max=2
  tandem resource promotable pgstack`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := trailingFlags(cmd, args)
			if err != nil {
				return err
			}
			if len(args) < 1 {
				return badInput("promotable needs a resource ID (see --help)")
			}
			id, cloneID, opts := args[0], "", map[string]string{}
			for i, a := range args[1:] {
				k, v, hasEq := strings.Cut(a, "=")
				switch {
				case !hasEq && i == 0 && cib.ValidID(a):
					cloneID = a
				case !hasEq:
					return badInput("resource promotable %s: unexpected %q: a clone id comes right after the resource id; options are name=value (%s)", id, a, strings.Join(cib.CloneKeys, ", "))
				default:
					if err := cib.SetCloneOption(&cib.Clone{}, k, v); err != nil {
						return badInput("resource promotable %s: %v", id, err)
					}
					opts[k] = v
				}
			}
			err = withEdit(cfgPath, "resource promotable "+strings.Join(args, " "), func(_ *session, c *cib.CIB) error {
				if err := c.MakePromotable(id, cloneID, opts); err != nil {
					return badInput("%v", err)
				}
				return nil
			})
			return err
		},
	}
	freeArgs(cmd)
	configFlag(cmd, &cfgPath)
	return cmd
}
