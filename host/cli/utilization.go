package cli

import (
	"fmt"
	"maps"
	"strings"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/policies/cib"
)

// utilizationTarget is what a utilization command edits: nodes (their
// capacity) or resources (what they use).
type utilizationTarget struct {
	kind  string // "node" or "resource"
	title string // pcs's heading: "Node Utilization:"
	// list gives the names and utilization to show: every one, or the
	// one named.
	list  func(s *session, c *cib.CIB, name string) ([]named, error)
	check func(s *session, c *cib.CIB, name string) error
	set   func(c *cib.CIB, name, key, value string) error
}

type named struct {
	name string
	util map[string]int
}

func newUtilizationCmd(t utilizationTarget, short, long, example string) *cobra.Command {
	var cfgPath, output string
	upper := strings.ToUpper(t.kind)
	if t.kind == "resource" {
		upper = "RSC"
	}
	cmd := &cobra.Command{
		Use:     "utilization [" + upper + " [NAME=VALUE ...]]",
		Short:   short,
		Long:    long + "\n\n" + liveExitCodes,
		Example: example,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if len(args) > 1 {
				if output == "json" {
					return badInput("--output json goes with listing (%s alone or no argument), not with setting NAME=VALUE", upper)
				}
				return withEdit(cfgPath, t.kind+" utilization "+strings.Join(args, " "), func(s *session, c *cib.CIB) error {
					if err := t.check(s, c, args[0]); err != nil {
						return err
					}
					for _, a := range args[1:] {
						k, v, ok := strings.Cut(a, "=")
						if !ok {
							return fmt.Errorf("%q is not NAME=VALUE (NAME= removes it)", a)
						}
						if err := t.set(c, args[0], k, v); err != nil {
							return err
						}
					}
					return nil
				})
			}
			return withCurrent(cfgPath, func(s *session, cur liveconfig.Revision) error {
				name := ""
				if len(args) == 1 {
					name = args[0]
					if err := t.check(s, cur.CIB, name); err != nil {
						return badInput("%v", err)
					}
				}
				list, err := t.list(s, cur.CIB, name)
				if err != nil {
					return badInput("%v", err)
				}
				out := cmd.OutOrStdout()
				if output == "json" {
					type utilJSON struct {
						Name        string         `json:"name"`
						Utilization map[string]int `json:"utilization"`
					}
					items := []utilJSON{}
					for _, n := range list {
						j := utilJSON{Name: n.name, Utilization: map[string]int{}}
						maps.Copy(j.Utilization, n.util)
						items = append(items, j)
					}
					return writeJSON(out, map[string]any{t.kind + "s": items, "placement-strategy": cur.CIB.Properties.Placement()})
				}
				// pcs's layout: "Node Utilization:" then " holly: cpu=8 memory=16384".
				fmt.Fprintln(out, t.title)
				for _, n := range list {
					if len(n.util) > 0 {
						fmt.Fprintf(out, " %s: %s\n", n.name, cib.FormatUtilization(n.util))
					}
				}
				if !cur.CIB.Properties.UsesUtilization() {
					fmt.Fprintln(cmd.ErrOrStderr(), "note: placement-strategy is default, which ignores utilization (tandem property set placement-strategy=utilization|balanced|minimal)")
				}
				return nil
			})
		},
	}
	configFlag(cmd, &cfgPath)
	outputFlag(cmd, &output)
	return cmd
}

func newNodeUtilizationCmd() *cobra.Command {
	return newUtilizationCmd(utilizationTarget{
		kind: "node", title: "Node Utilization:",
		check: func(s *session, c *cib.CIB, name string) error { return s.checkNode(c, name) },
		list: func(_ *session, c *cib.CIB, name string) ([]named, error) {
			var out []named
			for _, n := range c.Nodes {
				if name == "" || n.Name == name {
					out = append(out, named{n.Name, n.Utilization})
				}
			}
			return out, nil
		},
		set: func(c *cib.CIB, name, key, value string) error { return c.SetNodeUtilization(name, key, value) },
	}, "Show or set the nodes' capacity (cpu, memory, ...) for the placement strategy",
		`utilization without arguments lists every node's capacity; with a NODE,
that node's; with NAME=VALUE pairs, it sets them on NODE (NAME= removes
one). Values are integers from 0 up; an attribute a node does not list is 0
there. With placement-strategy utilization, balanced or minimal (tandem
property set placement-strategy=...), a resource is placed only on a node
whose free capacity covers its utilization (tandem resource utilization).

--output json (when listing) prints {"nodes": [...], "placement-strategy":
S}, each node with name and utilization (NAME to value).`,
		`  tandem node utilization holly cpu=8 memory=16384
  tandem node utilization holly memory=
  tandem node utilization
  tandem node utilization --output json`)
}

func newResourceUtilizationCmd() *cobra.Command {
	return newUtilizationCmd(utilizationTarget{
		kind: "resource", title: "Resource Utilization:",
		check: func(_ *session, c *cib.CIB, id string) error {
			if g, _ := c.Group(id); g != nil {
				return nil // set refuses with a hint; listing shows the members
			}
			_, err := c.MustResource(id)
			return err
		},
		list: func(_ *session, c *cib.CIB, id string) ([]named, error) {
			var members []string
			if g, _ := c.Group(id); g != nil {
				members = g.Resources
			}
			var out []named
			for _, r := range c.Resources {
				if id == "" || r.ID == id || cib.ConstraintName(&r) == id || contains(members, r.ID) {
					out = append(out, named{r.ID, r.Utilization})
				}
			}
			return out, nil
		},
		set: func(c *cib.CIB, id, key, value string) error { return c.SetResourceUtilization(id, key, value) },
	}, "Show or set what resources use of their node's capacity",
		`utilization without arguments lists every resource's utilization; with
RSC (a resource, a clone, or a group: its members), that one's; with
NAME=VALUE pairs, it sets them on RSC (NAME= removes one). Values are
integers from 0 up. A clone's utilization is each instance's; a group has
none of its own: it uses the sum of its members', and is placed only where
that sum fits. It counts only with placement-strategy utilization, balanced
or minimal (tandem property set placement-strategy=...).

--output json (when listing) prints {"resources": [...],
"placement-strategy": S}, each resource with name and utilization.`,
		`  tandem resource utilization db cpu=2 memory=4096
  tandem resource utilization db memory=
  tandem resource utilization
  tandem resource utilization --output json`)
}
