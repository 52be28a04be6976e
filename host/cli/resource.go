package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/failures"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/host/status"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/policies/cib"
)

func init() { register(newResourceCmd) }

func newResourceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "resource",
		Short: "Create, change, move and remove resources (pcs resource)",
		Long: `resource changes the cluster's live configuration the way pcs resource changes
Pacemaker's CIB. Every change is a compare-and-swap on the live configuration's
revision, so two admins editing at once never lose a change; see
tandem config history.

` + liveExitCodes,
		Example: `  tandem resource create httpd systemd:apache2 configfile=/etc/apache2/apache2.conf op monitor interval=30s clone
  tandem resource list
  tandem resource move VIP-10.10.10.23 holly
  tandem resource cleanup`,
	}
	cmd.AddCommand(newResourceCreateCmd(), newResourceDeleteCmd(), newResourceListCmd(), newResourceConfigCmd(), newResourceAgentsCmd(), newResourceProvidersCmd(),
		newResourceUpdateCmd(), newResourceRoleCmd(true), newResourceRoleCmd(false), newResourceRestartCmd(), newResourceDescribeCmd(),
		newResourceMoveCmd(), newResourceBanCmd(), newResourceClearCmd(), newResourceCleanupCmd(), newResourceGroupCmd(),
		newResourcePromotableCmd(), newResourceUtilizationCmd())
	return cmd
}

func newResourceCreateCmd() *cobra.Command {
	var cfgPath, group string
	var disabled, force bool
	var pos cib.GroupPosition
	cmd := &cobra.Command{
		Use:   "create ID AGENT [param=value ...] [op NAME interval=.. [timeout=..] ...] [meta k=v ...] [clone [ID] [clone-max=N ...] | promotable [ID] [promoted-max=N ...]] [--group G [--before RSC | --after RSC]]",
		Short: "Add a resource to the live configuration",
		Long: `create adds resource ID run by AGENT (vip, systemd:<unit>, haproxy,
health:http, health:tcp, an OCF agent ocf:<provider>:<type> such as
ocf:heartbeat:IPaddr2 (docs/ocf.md), or <plugin>:<type>) with pcs's clauses:

  param=value ...            the agent's parameters
  op NAME k=v [NAME k=v]...  operations: monitor interval= [timeout=], start/stop timeout=
  meta k=v ...               resource-stickiness, migration-threshold, failure-timeout,
                             target-role, priority
  clone [ID] [k=v ...]       run it on several nodes; clone-max, clone-node-max,
                             globally-unique, interleave, notify (clone
                             notifications: the agent's notify action before
                             and after each start, stop, promote and demote of
                             an instance); constraints then name it ID-clone
                             (globally-unique=true: distinct instances ID:0,
                             ID:1, ...)

--group G puts the new resource into group G (created if needed), at its end
or --before/--after a member.

Before anything changes, every node's plugin validates the agent and the
parameters: an agent no node has, or parameters it refuses, are errors. If no
node answers within 2 s, creation goes on and says validation was skipped.
The agent's meta-data (tandem resource describe AGENT) is enforced too:
required parameters without a default must be given, and a unique one must
not repeat another resource's value. Without an op monitor clause, the
monitor the agent advertises (interval and timeout) is added, and the
command says so; operations without a timeout take the agent's.

` + liveExitCodes,
		Example: `  tandem resource create httpd systemd:apache2 configfile=/etc/apache2/apache2.conf op monitor interval=30s clone
  tandem resource create haproxy systemd:haproxy op monitor interval=15s clone
  tandem resource create VIP-10.10.10.23 vip ip=10.10.10.23 cidr_netmask=24 op monitor interval=10s
  tandem resource create VIP ocf:heartbeat:IPaddr2 ip=198.18.0.23 cidr_netmask=24 op monitor interval=30s
  tandem resource create web example:process command=/bin/sleep args=3600 --disabled
  tandem resource create worker systemd:worker op monitor interval=30s clone globally-unique=true clone-max=3
  tandem resource create fs systemd:srv-data.mount --group database --before postgres`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := trailingFlags(cmd, args)
			if err != nil {
				return err
			}
			if len(args) < 2 {
				return badInput("create needs an ID and an AGENT (see --help)")
			}
			id, agent := args[0], args[1]
			spec, err := parseResourceSpec(args[2:])
			if err != nil {
				return badInput("resource %s: %v", id, err)
			}
			if disabled {
				spec.Meta["target-role"] = cib.RoleStopped
			}
			if group == "" && (pos.Before != "" || pos.After != "") {
				return badInput("--before and --after place the resource in a group: give --group too")
			}
			create := func(c *cib.CIB) error {
				if _, err := c.AddResource(id, agent, spec); err != nil {
					return err
				}
				if group != "" {
					_, err := c.GroupAdd(group, []string{id}, pos)
					return err
				}
				return nil
			}
			s, cur, err := openCurrent(cfgPath)
			if err != nil {
				return err
			}
			defer s.close()
			// Check the edit before asking the plugins, so a taken id is
			// reported as such.
			if err := create(cur.CIB); err != nil {
				return badInput("resource %s: %v", id, err)
			}
			var added []cib.Op
			if !force {
				md, err := s.metaData(cur.CIB, agent)
				var ee *ExitError
				switch {
				case errors.As(err, &ee) && ee.Code == ExitFailure:
					fmt.Fprintf(cmd.ErrOrStderr(), "Warning: %v; no default operations added\n", err)
				case err != nil:
					return err
				default:
					if err := checkDeclared(cur.CIB, id, agent, md, spec.Params); err != nil {
						return err
					}
					added = defaultOps(md, spec)
					spec.Ops = append(spec.Ops, added...)
				}
				notes, err := s.validateAgent(cur.CIB, agent, spec.Params)
				if err != nil {
					return err
				}
				for _, n := range notes {
					fmt.Fprintln(cmd.ErrOrStderr(), n)
				}
			}
			summary := fmt.Sprintf("resource create %s (%s)", id, agent)
			if group != "" {
				summary += " in group " + group + positionText(pos)
			}
			if _, err = s.edit(summary, create); err != nil {
				return err
			}
			for _, o := range added {
				fmt.Fprintf(cmd.OutOrStdout(), "Added default operation of %s: %s (from the meta-data of %s)\n", id, opText(o), agent)
			}
			return nil
		},
	}
	freeArgs(cmd)
	configFlag(cmd, &cfgPath)
	cmd.Flags().StringVar(&group, "group", "", "put the resource into this group (created if needed)")
	positionFlags(cmd, &pos)
	cmd.Flags().BoolVar(&disabled, "disabled", false, "create it stopped (target-role=Stopped)")
	cmd.Flags().BoolVar(&force, "force", false, "do not ask the nodes' plugins (no validation, no meta-data checks, no default operations)")
	return cmd
}

func newResourceUpdateCmd() *cobra.Command {
	var cfgPath string
	var force bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "update ID [param=value ...] [op NAME k=v ...] [meta k=v ...] [clone k=v ...]",
		Short: "Change a resource's parameters, operations, meta attributes or clone options",
		Long: `update merges the given clauses into resource ID (a primitive or clone id):
parameters and meta attributes are set, and an empty value (param=) removes
one; an op replaces the operation of the same name; clone options apply to
its clone (given to the clone id, as pcs does, clone-max=1 and the other
clone options are the clone's, not parameters). The resulting parameters are validated by the nodes' plugins as
for create.

A parameter change of a running resource applies at once: when the agent
can reload (sdk.Reloader) and declares every changed parameter reloadable
(tandem resource describe AGENT), each node running it reloads it
("Reloaded ID on NODE"); otherwise the resource is restarted as tandem
resource restart does, through the coordinator, so that what is ordered
after it or colocated with it stops and starts around it ("Restarting ID
...").

` + liveExitCodes,
		Example: `  tandem resource update httpd configfile=/etc/apache2/other.conf
  tandem resource update VIP-10.10.10.23 op monitor interval=5s meta resource-stickiness=100
  tandem resource update httpd clone clone-max=1
  tandem resource update httpd-clone clone-max=1     # pcs's way: clone options given to the clone id`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := trailingFlags(cmd, args)
			if err != nil {
				return err
			}
			if len(args) < 2 {
				return badInput("update needs an ID and what to change (see --help)")
			}
			id := args[0]
			spec, err := parseResourceSpec(args[1:])
			if err != nil {
				return badInput("resource %s: %v", id, err)
			}
			s, cur, err := openCurrent(cfgPath)
			if err != nil {
				return err
			}
			defer s.close()
			cloneParamsAsOptions(cur.CIB, id, &spec)
			var oldParams map[string]string
			if r, _ := cur.CIB.Resource(id); r != nil {
				oldParams = r.Params
			}
			if err := cur.CIB.UpdateResource(id, spec); err != nil {
				return badInput("%v", err)
			}
			r, _ := cur.CIB.Resource(id)
			changed := sdk.ChangedParams(oldParams, r.Params)
			var md *sdk.MetaData
			if len(changed) > 0 {
				if m, err := s.metaData(cur.CIB, r.Agent); err == nil {
					md = &m
				} else if !force {
					fmt.Fprintf(cmd.ErrOrStderr(), "Warning: %v\n", err)
				}
			}
			if !force && len(spec.Params) > 0 {
				if md != nil {
					if err := checkDeclared(cur.CIB, r.ID, r.Agent, *md, r.Params); err != nil {
						return err
					}
				}
				notes, err := s.validateAgent(cur.CIB, r.Agent, r.Params)
				if err != nil {
					return err
				}
				for _, n := range notes {
					fmt.Fprintln(cmd.ErrOrStderr(), n)
				}
			}
			summary := "resource update " + id + " " + strings.Join(args[1:], " ")
			update := func(c *cib.CIB) error { return c.UpdateResource(id, spec) }
			running := s.runningOn(cur.CIB, r.ID)
			if len(changed) == 0 || len(running) == 0 {
				_, err = s.edit(summary, update)
				return err
			}
			out := cmd.OutOrStdout()
			why := "the agent's meta-data is not known"
			if md != nil {
				var ok bool
				if ok, why = md.Reloadable(oldParams, r.Params); ok {
					rev, err := s.edit(summary, update)
					if err != nil {
						return err
					}
					return s.waitReloaded(out, rev.CIB, r.ID, running, wait)
				}
			}
			fmt.Fprintf(out, "Restarting %s on %s (%s)...", id, strings.Join(running, ", "), why)
			if err := s.restart(id, summary, update, wait); err != nil {
				fmt.Fprintln(out, "Error")
				return err
			}
			fmt.Fprintln(out, "Stopped, starting with the new parameters")
			return nil
		},
	}
	freeArgs(cmd)
	configFlag(cmd, &cfgPath)
	cmd.Flags().BoolVar(&force, "force", false, "do not ask the nodes' plugins to validate the parameters")
	cmd.Flags().DurationVar(&wait, "wait", time.Minute, "how long to wait for a running resource to reload, or to stop for its restart")
	return cmd
}

func newResourceDeleteCmd() *cobra.Command {
	var cfgPath string
	var force bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:     "delete ID",
		Aliases: []string{"remove"},
		Short:   "Stop a resource (or a group and its members), then remove it and the constraints that name it",
		Long: `delete first stops resource ID everywhere (target-role=Stopped) and waits until
every node reports it stopped ("Attempting to stop: ID...Stopped"), then
removes it and every constraint that names it. If it does not stop within
--wait, nothing is removed and it stays disabled; --force removes it without
waiting. A resource blocked on a node (its stop failed, and failed again
when it was disabled) cannot be stopped: delete says so at once; fix the
cause and run tandem resource cleanup ID, or delete it with --force (it stays
blocked on that node, untouched, until a cleanup).

` + liveExitCodes,
		Example: `  tandem resource delete HTTPServer`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			s, cur, err := openCurrent(cfgPath)
			if err != nil {
				return err
			}
			defer s.close()
			// A group is deleted with its members.
			var primitives []string
			g, _ := cur.CIB.Group(id)
			if g != nil {
				primitives = g.Resources
			} else {
				r, err := cur.CIB.MustResource(id)
				if err != nil {
					return badInput("%v", err)
				}
				primitives = []string{r.ID}
			}
			out := cmd.OutOrStdout()
			if !force {
				fmt.Fprintf(out, "Attempting to stop: %s...", id)
				rev, err := s.edit("resource delete "+id+": stop it first", func(c *cib.CIB) error {
					return c.SetTargetRole(id, cib.RoleStopped)
				})
				if err != nil {
					fmt.Fprintln(out)
					return err
				}
				if err := s.waitStopped(rev.CIB, rev.Rev, wait, primitives...); err != nil {
					fmt.Fprintln(out, "Error")
					return &ExitError{Code: ExitFailure, Err: fmt.Errorf("unable to stop %s before deleting it (it stays disabled; re-run with --force to delete it anyway): %w", id, err)}
				}
				fmt.Fprintln(out, "Stopped")
			}
			var removed []string
			_, err = s.edit("resource delete "+id, func(c *cib.CIB) error {
				var err error
				if g, _ := c.Group(id); g != nil {
					removed, err = c.DeleteGroup(id)
				} else {
					removed, err = c.DeleteResource(id)
				}
				return err
			})
			if err != nil {
				return err
			}
			for _, c := range removed {
				fmt.Fprintf(out, "Removing Constraint - %s\n", c)
			}
			return nil
		},
	}
	configFlag(cmd, &cfgPath)
	cmd.Flags().BoolVar(&force, "force", false, "remove it without stopping it first")
	cmd.Flags().DurationVar(&wait, "wait", time.Minute, "how long to wait for it to stop")
	return cmd
}

func newResourceListCmd() *cobra.Command {
	var cfgPath, output string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"status", "show"},
		Short:   "List the resources and where they run",
		Long: `list prints every resource of the live configuration and where the nodes
report it running, in the layout of the "Full List of Resources" of
tandem status (and pcs resource status).

--output json prints {"resources": [...]}, the "resources" of tandem status
--output json: each with id, agent, clone (the clone id, for an instance of
a clone), group, disabled, promotable, nodes (node name to state: "Started",
"Promoted", "Unpromoted", "FAILED", "Starting", "Stopping", "blocked") and
warnings (node name to what a degraded monitor said).`,
		Example: `  tandem resource list
  tandem resource list --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return withCurrent(cfgPath, func(s *session, cur liveconfig.Revision) error {
				reps := s.reports(cur.CIB.NodeNames(), wait)
				if output == "json" {
					list := resourceReport(cur.CIB, reps).ResourceList
					if list == nil {
						list = []status.Resource{}
					}
					return writeJSON(cmd.OutOrStdout(), struct {
						Resources []status.Resource `json:"resources"`
					}{list})
				}
				_, err := io.WriteString(cmd.OutOrStdout(), resourceList(cur.CIB, reps))
				return err
			})
		},
	}
	configFlag(cmd, &cfgPath)
	outputFlag(cmd, &output)
	cmd.Flags().DurationVar(&wait, "wait", time.Second, "how long to wait for the nodes' reports")
	return cmd
}

func newResourceConfigCmd() *cobra.Command {
	var cfgPath, output string
	cmd := &cobra.Command{
		Use:   "config [ID ...]",
		Short: "Show how resources are configured",
		Long: `config prints the configuration of the given resources (primitive, clone or
group ids), or of every resource, as pcs resource config does: agent,
parameters (Attributes), meta attributes, operations, clone options, groups
with their members.

--output json prints {"resources": [...], "groups": [...]}: each resource
with id, agent, group (the group it belongs to, if any), params (NAME to
value), meta (NAME to value, as the text shows them: resource-stickiness,
migration-threshold, failure-timeout, target-role, priority), ops (each with
name, interval and timeout written as "30s") and clone (id, clone-max,
clone-node-max, globally-unique, interleave, promotable, promoted-max,
promoted-node-max, notify);
each group with id, resources (its members in start order), meta and clone.
A group's members are among the resources.`,
		Example: `  tandem resource config
  tandem resource config httpd-clone
  tandem resource config --output json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			s, cur, err := openCurrent(cfgPath)
			if err != nil {
				return err
			}
			defer s.close()
			c := cur.CIB
			w := cmd.OutOrStdout()
			write := func(r *cib.Resource, indent string) { writeResourceConfig(w, r, indent) }
			out := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
			for _, id := range args {
				if g, _ := c.Group(id); g != nil {
					continue
				}
				if _, err := c.MustResource(id); err != nil {
					return badInput("%v", err)
				}
			}
			ids := args
			if len(ids) == 0 {
				// Every resource, a group where its first member is.
				done := map[string]bool{}
				for _, r := range c.Resources {
					if g := c.GroupOf(r.ID); g != nil {
						if !done[g.ID] {
							ids, done[g.ID] = append(ids, g.ID), true
						}
						continue
					}
					ids = append(ids, r.ID)
				}
			}
			if output == "json" {
				return writeJSON(w, resourceConfigJSON(c, ids))
			}
			for _, id := range ids {
				if g, _ := c.Group(id); g != nil {
					writeGroupConfig(c, g, write, out)
					continue
				}
				r, _ := c.MustResource(id)
				write(r, "")
			}
			return nil
		},
	}
	configFlag(cmd, &cfgPath)
	outputFlag(cmd, &output)
	return cmd
}

// writeResourceConfig prints one resource as pcs resource config does.
func writeResourceConfig(w io.Writer, r *cib.Resource, indent string) {
	if cl := r.Clone; cl != nil {
		fmt.Fprintf(w, "%sClone: %s\n", indent, cl.ID)
		if opts := cloneOptionText(cl); opts != "" {
			fmt.Fprintf(w, "%s  Meta Attrs: %s\n", indent, opts)
		}
		indent += "  "
	}
	fmt.Fprintf(w, "%sResource: %s (agent=%s)\n", indent, r.ID, r.Agent)
	if len(r.Params) > 0 {
		keys := make([]string, 0, len(r.Params))
		for k := range r.Params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var kv []string
		for _, k := range keys {
			kv = append(kv, k+"="+r.Params[k])
		}
		fmt.Fprintf(w, "%s  Attributes: %s\n", indent, strings.Join(kv, " "))
	}
	if meta := metaText(r.Meta); meta != "" {
		fmt.Fprintf(w, "%s  Meta Attrs: %s\n", indent, meta)
	}
	if len(r.Utilization) > 0 {
		fmt.Fprintf(w, "%s  Utilization: %s\n", indent, cib.FormatUtilization(r.Utilization))
	}
	for i, o := range r.Ops {
		line := opText(o)
		label := "  Operations: "
		if i > 0 {
			label = strings.Repeat(" ", len(label))
		}
		fmt.Fprintf(w, "%s%s%s\n", indent, label, line)
	}
}

// cloneOptionText is a clone's options as pcs prints them.
func cloneOptionText(cl *cib.Clone) string {
	var opts []string
	if cl.Max > 0 {
		opts = append(opts, fmt.Sprintf("clone-max=%d", cl.Max))
	}
	if cl.NodeMax > 0 {
		opts = append(opts, fmt.Sprintf("clone-node-max=%d", cl.NodeMax))
	}
	if cl.GloballyUnique {
		opts = append(opts, "globally-unique=true")
	}
	if cl.Interleave {
		opts = append(opts, "interleave=true")
	}
	if cl.Notify {
		opts = append(opts, "notify=true")
	}
	return strings.Join(opts, " ")
}

func metaText(m cib.Meta) string {
	var kv []string
	for _, p := range metaPairs(m) {
		kv = append(kv, p[0]+"="+p[1])
	}
	return strings.Join(kv, " ")
}

// metaPairs are the meta attributes set in m, as NAME, VALUE in pcs's
// order, with scores and durations as pcs writes them.
func metaPairs(m cib.Meta) [][2]string {
	var kv [][2]string
	score := func(k string, p *int) {
		if p != nil {
			kv = append(kv, [2]string{k, cib.Score(*p).String()})
		}
	}
	score("resource-stickiness", m.Stickiness)
	score("migration-threshold", m.MigrationThreshold)
	if m.FailureTimeout != nil {
		kv = append(kv, [2]string{"failure-timeout", durText(*m.FailureTimeout)})
	}
	if m.TargetRole != "" {
		kv = append(kv, [2]string{"target-role", m.TargetRole})
	}
	score("priority", m.Priority)
	return kv
}

// durText writes whole seconds as "30s" (not Go's "1m0s"), others as Go does.
func durText(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

func newResourceRoleCmd(enable bool) *cobra.Command {
	var cfgPath string
	use, short, role := "disable ID ...", "Stop resources and keep them stopped (target-role=Stopped)", cib.RoleStopped
	example := "  tandem resource disable httpd-clone"
	if enable {
		use, short, role = "enable ID ...", "Let resources run again (removes target-role=Stopped)", ""
		example = "  tandem resource enable httpd-clone"
	}
	verb := strings.Fields(use)[0]
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: short + `. The coordinator stops or starts
them at once; the command does not wait (see tandem resource list).

` + liveExitCodes,
		Example: example,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openSession(cfgPath)
			if err != nil {
				return err
			}
			defer s.close()
			_, err = s.edit("resource "+verb+" "+strings.Join(args, " "), func(c *cib.CIB) error {
				for _, id := range args {
					if err := c.SetTargetRole(id, role); err != nil {
						return err
					}
				}
				return nil
			})
			return err
		},
	}
	configFlag(cmd, &cfgPath)
	return cmd
}

func newResourceRestartCmd() *cobra.Command {
	var cfgPath string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "restart ID",
		Short: "Stop a resource (or a group) everywhere, then let it start again",
		Long: `restart sets target-role=Stopped, waits until every node reports the resource
stopped, then restores its previous target-role, so the coordinator starts it
again where it belongs.

` + liveExitCodes,
		Example: `  tandem resource restart haproxy-clone`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			s, err := openSession(cfgPath)
			if err != nil {
				return err
			}
			defer s.close()
			if err := s.restart(id, "resource restart "+id, nil, wait); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s successfully restarted\n", id)
			return nil
		},
	}
	configFlag(cmd, &cfgPath)
	cmd.Flags().DurationVar(&wait, "wait", time.Minute, "how long to wait for it to stop")
	return cmd
}

// restart stops resource id everywhere (with change, if any, made in the
// same edit), waits until every node reports it stopped, then gives it its
// previous target-role back, so that the coordinator starts it again where
// it belongs, with what is ordered after or colocated with it stopped and
// started around it.
func (s *session) restart(id, summary string, change func(*cib.CIB) error, wait time.Duration) error {
	var before string
	var primitives []string
	rev, err := s.edit(summary+": stop", func(c *cib.CIB) error {
		own, stopped, err := c.OwnTargetRole(id)
		if err != nil {
			return err
		}
		if stopped {
			return fmt.Errorf("%s is disabled; enable it instead (tandem resource enable %s)", id, id)
		}
		before = own
		if primitives, err = c.Primitives(id); err != nil {
			return err
		}
		if change != nil {
			if err := change(c); err != nil {
				return err
			}
		}
		return c.SetTargetRole(id, cib.RoleStopped)
	})
	if err != nil {
		return err
	}
	stopErr := s.waitStopped(rev.CIB, rev.Rev, wait, primitives...)
	if _, err := s.edit(summary+": start", func(c *cib.CIB) error {
		return c.SetTargetRole(id, before)
	}); err != nil {
		return err
	}
	if stopErr != nil {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s did not stop (it is enabled again): %w", id, stopErr)}
	}
	return nil
}

// runningOn lists, sorted, the nodes that report primitive id started.
func (s *session) runningOn(cfg *cib.CIB, id string) []string {
	var nodes []string
	for _, r := range s.reports(cfg.NodeNames(), time.Second) {
		for _, rs := range r.Resources {
			if rs.Resource == id && rs.State == bus.StateStarted {
				nodes = append(nodes, r.Node)
			}
		}
	}
	sort.Strings(nodes)
	return nodes
}

// waitReloaded waits until each node of nodes reports primitive id started
// with the parameters of cfg (it reloaded them), saying so per node, or
// failed (its reload failed: the coordinator recovers it with a restart).
func (s *session) waitReloaded(out io.Writer, cfg *cib.CIB, id string, nodes []string, wait time.Duration) error {
	r, _ := cfg.Resource(id)
	want := cib.ParamsDigest(r.Params)
	deadline := time.Now().Add(wait)
	done := map[string]bool{}
	var failed []string
	for {
		for _, rep := range s.reports(nodes, time.Second) {
			for _, rs := range rep.Resources {
				if rs.Resource != id || done[rep.Node] {
					continue
				}
				switch {
				case rs.State == bus.StateStarted && rs.Params == want:
					fmt.Fprintf(out, "Reloaded %s on %s\n", id, rep.Node)
					done[rep.Node] = true
				case rs.State == bus.StateFailed || rs.State == bus.StateBlocked:
					fmt.Fprintf(out, "Reload of %s on %s failed: %s; the cluster restarts it there\n", id, rep.Node, rs.Message)
					failed = append(failed, rep.Node)
					done[rep.Node] = true
				}
			}
		}
		if len(done) == len(nodes) {
			if len(failed) > 0 {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("the reload of %s failed on %s", id, strings.Join(failed, ", "))}
			}
			return nil
		}
		if time.Now().After(deadline) {
			var left []string
			for _, n := range nodes {
				if !done[n] {
					left = append(left, n)
				}
			}
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("after %s, %s has not reloaded the new parameters on %s (see tandem status)", wait, id, strings.Join(left, ", "))}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cloneParamsAsOptions reads pcs's `resource update CLONE-ID clone-max=1`:
// name=value pairs given to a clone id that are clone options (clone-max,
// interleave, ...) are the clone's options, not the agent's parameters.
func cloneParamsAsOptions(c *cib.CIB, id string, spec *cib.ResourceSpec) {
	if r, isClone := c.Resource(id); r == nil || !isClone {
		return
	}
	for k, v := range spec.Params {
		if !slices.Contains(cib.CloneKeys, k) {
			continue
		}
		if spec.Clone == nil {
			spec.Clone = &cib.Clone{}
		}
		if spec.CloneOptions == nil {
			spec.CloneOptions = map[string]string{}
		}
		spec.CloneOptions[k] = v
		delete(spec.Params, k)
	}
}

func newResourceMoveCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "move ID [NODE]",
		Short: "Move a resource to a node (adds location constraint cli-prefer-ID), or away from where it runs",
		Long: `move makes resource ID prefer NODE with score INFINITY: location constraint
cli-prefer-ID, replacing an earlier move. It stays there until the constraint
is removed with tandem resource clear ID.

Without NODE (pcs resource move RSC), ID moves away from the node it runs on
now: location constraint cli-ban-ID-on-NODE with score -INFINITY, kept until
tandem resource clear ID removes it (as pcs resource move-with-constraint
does; pcs 0.11's move removes its constraint once the resource moved).

` + liveExitCodes,
		Example: `  tandem resource move VIP-10.10.10.23 holly
  tandem resource move VIP-10.10.10.23`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var l cib.Location
			err := withEdit(cfgPath, "resource move "+strings.Join(args, " "), func(s *session, c *cib.CIB) (err error) {
				node := ""
				if len(args) == 2 {
					node = args[1]
				} else if node, err = s.moveAwayFrom(c, args[0]); err != nil {
					return err
				}
				if err := s.checkNode(c, node); err != nil {
					return err
				}
				if len(args) == 1 {
					l, err = c.Ban(args[0], node)
					return err
				}
				l, err = c.Move(args[0], node)
				return err
			})
			if err != nil {
				return err
			}
			if l.Score < 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "Warning: Creating location constraint '%s' with a score of %s for resource %s on %s.\n"+
					"\tThis will prevent %s from running on %s until the constraint is removed (tandem resource clear %s)\n",
					l.ID, l.Score, l.Rsc, l.Node, l.Rsc, l.Node, args[0])
				return nil
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Warning: Creating location constraint '%s' with a score of %s for resource %s on %s.\n"+
				"\tThis will prevent %s from running on any other node until the constraint is removed (tandem resource clear %s)\n",
				l.ID, l.Score, l.Rsc, l.Node, l.Rsc, args[0])
			return nil
		},
	}
	configFlag(cmd, &cfgPath)
	return cmd
}

// moveAwayFrom is the one node where resource (or group) id runs now,
// from the nodes' reports: what move without a node moves it away from.
func (s *session) moveAwayFrom(c *cib.CIB, id string) (string, error) {
	prims, err := c.Primitives(id)
	if err != nil {
		return "", badInput("%v", err)
	}
	if r, isClone := c.Resource(id); r != nil && (isClone || c.CloneOf(r) != nil) {
		return "", badInput("%q is cloned: name the node to move away from with tandem resource ban %s NODE", id, id)
	}
	var on []string
	// A node slow to answer (a loaded machine), or a report caught between
	// two states, is asked again for a few seconds before the resource is
	// said to run nowhere.
	for deadline := time.Now().Add(3 * time.Second); ; {
		for _, p := range prims {
			for _, n := range s.runningOn(c, p) {
				if !slices.Contains(on, n) {
					on = append(on, n)
				}
			}
		}
		if len(on) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	switch len(on) {
	case 0:
		return "", badInput("%s is not running on any node that answered: give the node to move it to (tandem resource move %s NODE)", id, id)
	case 1:
		return on[0], nil
	}
	return "", badInput("%s runs on %s: give the node to move it to (tandem resource move %s NODE)", id, strings.Join(on, ", "), id)
}

func newResourceBanCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "ban ID NODE",
		Short: "Keep a resource off a node (adds location constraint cli-ban-ID-on-NODE)",
		Long: `ban keeps resource ID (a primitive or a clone) off NODE with score -INFINITY:
location constraint cli-ban-ID-on-NODE. tandem resource clear ID removes it.

` + liveExitCodes,
		Example: `  tandem resource ban haproxy-clone benji`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var l cib.Location
			err := withEdit(cfgPath, "resource ban "+strings.Join(args, " "), func(s *session, c *cib.CIB) (err error) {
				if err := s.checkNode(c, args[1]); err != nil {
					return err
				}
				l, err = c.Ban(args[0], args[1])
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Warning: Creating location constraint '%s' with a score of %s for resource %s on %s.\n"+
				"\tThis will prevent %s from running on %s until the constraint is removed (tandem resource clear %s)\n",
				l.ID, l.Score, l.Rsc, l.Node, l.Rsc, l.Node, args[0])
			return nil
		},
	}
	configFlag(cmd, &cfgPath)
	return cmd
}

func newResourceClearCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:     "clear ID",
		Short:   "Remove the constraints move and ban added for a resource",
		Example: `  tandem resource clear VIP-10.10.10.23`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var removed []string
			err := withEdit(cfgPath, "resource clear "+args[0], func(s *session, c *cib.CIB) (err error) {
				removed, err = c.Clear(args[0])
				return err
			})
			if err != nil {
				return err
			}
			for _, id := range removed {
				fmt.Fprintf(cmd.OutOrStdout(), "Removing constraint: %s\n", id)
			}
			if len(removed) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "No move or ban constraints of %s to remove\n", args[0])
			}
			return nil
		},
	}
	configFlag(cmd, &cfgPath)
	return cmd
}

// withCurrent opens a session, runs read on the current live
// configuration and closes it.
func withCurrent(cfgPath string, read func(s *session, cur liveconfig.Revision) error) error {
	s, cur, err := openCurrent(cfgPath)
	if err != nil {
		return err
	}
	defer s.close()
	return read(s, cur)
}

// withEdit opens a session, makes one edit and closes it.
func withEdit(cfgPath, summary string, change func(*session, *cib.CIB) error) error {
	s, err := openSession(cfgPath)
	if err != nil {
		return err
	}
	defer s.close()
	_, err = s.edit(summary, func(c *cib.CIB) error { return change(s, c) })
	return err
}

// uniqueInstance reads id as RSC:N, instance N of the globally-unique
// clone of primitive RSC: ok when it is one; an error names what is wrong
// with an instance number of such a clone (past clone-max).
func uniqueInstance(c *cib.CIB, id string) (inst string, ok bool, err error) {
	base, num, found := strings.Cut(id, ":")
	if !found {
		return "", false, nil
	}
	n, convErr := strconv.Atoi(num)
	if convErr != nil || n < 0 || strconv.Itoa(n) != num {
		return "", false, nil
	}
	r, _ := c.Resource(base)
	if r == nil || r.ID != base || r.Clone == nil || !r.Clone.GloballyUnique {
		return "", false, nil
	}
	if most, _ := r.Clone.Limits(len(c.Nodes)); n >= most {
		return "", false, fmt.Errorf("resource %q: no instance %d: %s has clone-max %d (instances %s:0 to %s:%d)", id, n, base, most, base, base, most-1)
	}
	return id, true, nil
}

func newResourceCleanupCmd() *cobra.Command {
	var cfgPath, node string
	cmd := &cobra.Command{
		Use:   "cleanup [ID]",
		Short: "Forget failures (fail-counts) and let the coordinator plan again",
		Long: `cleanup clears the fail-counts of resource ID (every resource without ID; on
--node only, if given) and asks the coordinator to plan again at once, so a
resource banned from a node by migration-threshold may return there. A
resource blocked on a node (its stop failed) is probed there again: fix
what made the stop fail first; what the probe finds (running or stopped)
is what the cluster acts on next. ID may name one instance of a
globally-unique clone, RSC:N (as status lists it): only that instance's
failures are cleared, and only it is probed again; RSC clears them all.`,
		Example: `  tandem resource cleanup
  tandem resource cleanup VIP-10.10.10.23 --node benji
  tandem resource cleanup worker:2`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, cur, err := openCurrent(cfgPath)
			if err != nil {
				return err
			}
			defer s.close()
			id := ""
			primitives := []string{""} // "": every resource
			if len(args) == 1 {
				id = args[0]
				if primitives, err = cur.CIB.Primitives(id); err != nil {
					inst, ok, ierr := uniqueInstance(cur.CIB, id)
					if ierr != nil {
						return badInput("%v", ierr)
					}
					if !ok {
						return badInput("%v", err)
					}
					// One instance: its failures are recorded under
					// RSC:N, and the node's LRM keeps it as RSC:N.
					primitives = []string{inst}
				}
			}
			if node != "" && cur.CIB.Node(node) == nil {
				return badInput("--node %q: no such node", node)
			}
			ctx, cancel := context.WithTimeout(context.Background(), liveOpTimeout)
			defer cancel()
			fs, err := failures.Open(ctx, s.conn)
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			var cleared []failures.Record
			for _, p := range primitives {
				more, err := fs.Clear(ctx, p, node)
				if err != nil {
					return &ExitError{Code: ExitFailure, Err: fmt.Errorf("clearing fail-counts: %w", err)}
				}
				cleared = append(cleared, more...)
			}
			what := id
			if what == "" {
				what = "all resources"
			}
			// One refresh per primitive (a group's members): each node
			// probes again what it holds blocked among them.
			for _, p := range primitives {
				if err := s.conn.Publish(bus.Refresh{Reason: "cleanup of " + what, Resource: p, Node: node}); err != nil {
					return &ExitError{Code: ExitFailure, Err: err}
				}
			}
			out := cmd.OutOrStdout()
			for _, f := range cleared {
				fmt.Fprintf(out, "Cleaned up %s on %s (fail-count %s)\n", f.Resource, f.Node, cib.Score(f.Count))
			}
			if len(cleared) == 0 {
				fmt.Fprintf(out, "Cleaned up %s: no failures were recorded\n", what)
			}
			return nil
		},
	}
	configFlag(cmd, &cfgPath)
	cmd.Flags().StringVar(&node, "node", "", "only this node's failures")
	return cmd
}
