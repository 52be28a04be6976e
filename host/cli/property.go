package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/policies/cib"
)

func init() { register(newPropertyCmd) }

func newPropertyCmd() *cobra.Command {
	var cfgPath, output string
	cmd := &cobra.Command{
		Use:   "property",
		Short: "Show and set cluster properties (pcs property)",
		Long: `property lists the cluster properties of the live configuration; property set
changes them. maintenance-mode=true: nothing is started, stopped or recovered
anywhere until it is false again. placement-strategy=default (the default)
ignores utilization; utilization, balanced and minimal place a resource only
on a node whose free capacity covers it (tandem node utilization, tandem
resource utilization), and among equally good nodes prefer: the fewest
resources (utilization), the most free capacity (balanced), the first by name
so as to fill nodes (minimal).

` + propertyJSONDoc,
		Example: `  tandem property
  tandem property set maintenance-mode=true
  tandem property set placement-strategy=balanced`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return listProperties(cmd, cfgPath, output) },
	}
	configFlag(cmd, &cfgPath)
	outputFlag(cmd, &output)
	var listPath, listOutput string
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"show", "config"},
		Short:   "List the cluster properties",
		Long:    "list prints the cluster properties of the live configuration.\n\n" + propertyJSONDoc,
		Example: "  tandem property list\n  tandem property list --output json",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return listProperties(cmd, listPath, listOutput) },
	}
	configFlag(list, &listPath)
	outputFlag(list, &listOutput)
	var setPath string
	set := &cobra.Command{
		Use:   "set NAME=VALUE ...",
		Short: "Set cluster properties (maintenance-mode=true|false, placement-strategy=...)",
		Long: `set changes cluster properties in the live configuration; if one is unknown
or its value invalid, nothing changes. stonith-enabled (pcs habit) is accepted
with a note and not stored: Tandem fences with leases, always on.

` + liveExitCodes,
		Example: `  tandem property set maintenance-mode=true
  tandem property set maintenance-mode=false
  tandem property set placement-strategy=utilization
  tandem property set stonith-enabled=false   # accepted with a note: Tandem fences with leases`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rest []string
			for _, a := range args {
				if !strings.Contains(a, "=") {
					return badInput("%q: write NAME=VALUE (e.g. maintenance-mode=true)", a)
				}
				k, v, _ := strings.Cut(a, "=")
				fencing, err := stonithProperty(cmd.ErrOrStderr(), k, v)
				if err != nil {
					return err
				}
				if !fencing {
					rest = append(rest, a)
				}
			}
			if len(rest) == 0 {
				return nil
			}
			return withEdit(setPath, "property set "+strings.Join(rest, " "), func(s *session, c *cib.CIB) error {
				for _, a := range rest {
					k, v, _ := strings.Cut(a, "=")
					if err := c.SetProperty(k, v); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	configFlag(set, &setPath)
	cmd.AddCommand(list, set)
	return cmd
}

const propertyJSONDoc = `--output json prints {"properties": {"cluster-name": NAME,
"maintenance-mode": true|false, "placement-strategy": S}}: the properties
under the names the text shows.`

func propertiesJSON(cluster string, c *cib.CIB) map[string]any {
	return map[string]any{"cluster-name": cluster, "maintenance-mode": c.Properties.MaintenanceMode,
		"placement-strategy": c.Properties.Placement()}
}

func listProperties(cmd *cobra.Command, cfgPath, output string) error {
	if err := checkOutput(output); err != nil {
		return err
	}
	return withCurrent(cfgPath, func(s *session, cur liveconfig.Revision) error {
		if output == "json" {
			return writeJSON(cmd.OutOrStdout(), map[string]map[string]any{"properties": propertiesJSON(s.file.Topology.Cluster, cur.CIB)})
		}
		writeProperties(cmd.OutOrStdout(), s.file.Topology.Cluster, cur.CIB)
		return nil
	})
}

// writeProperties prints the properties as pcs does; the cluster's name is
// a bootstrap setting (the bus's), shown among them as pcs shows it.
func writeProperties(w io.Writer, cluster string, c *cib.CIB) {
	fmt.Fprintln(w, "Cluster Properties:")
	fmt.Fprintf(w, "  cluster-name: %s\n", cluster)
	fmt.Fprintf(w, "  maintenance-mode: %t\n", c.Properties.MaintenanceMode)
	fmt.Fprintf(w, "  placement-strategy: %s\n", c.Properties.Placement())
}
