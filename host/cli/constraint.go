package cli

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/policies/cib"
)

func init() { register(newConstraintCmd) }

func newConstraintCmd() *cobra.Command {
	var o listOpts
	cmd := &cobra.Command{
		Use:   "constraint",
		Short: "Order, colocate and locate resources (pcs constraint)",
		Long: `constraint lists and changes the constraints of the live configuration, as
pcs constraint does. Without a subcommand it lists them (like constraint list).
Constraints name a cloned resource by its clone id (httpd-clone). An order
that would close an ordering cycle is refused and the cycle named.

` + constraintJSONDoc + `

` + liveExitCodes,
		Example: `  tandem constraint order VIP-10.10.10.23 then haproxy-clone
  tandem constraint order httpd-clone then haproxy-clone
  tandem constraint colocation add VIP-10.10.10.23 with haproxy-clone
  tandem constraint`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd) },
	}
	o.bind(cmd)
	cmd.AddCommand(newConstraintListCmd(), newConstraintOrderCmd(), newConstraintColocationCmd(),
		newConstraintLocationCmd(), newConstraintTicketCmd(), newConstraintRemoveCmd())
	return cmd
}

type listOpts struct {
	cfgPath, output string
	full            bool
	// kind, when set, lists only that kind: location, order, colocation
	// or ticket (pcs constraint location [config], ...).
	kind string
}

// constraintKinds are the kinds listOpts.kind takes: the section of the
// text, the key of the JSON and its constraints.
var constraintKinds = map[string]struct {
	section, key string
	of           func(constraintsJSON) any
}{
	"location":   {"Location Constraints:", "locations", func(j constraintsJSON) any { return j.Locations }},
	"order":      {"Ordering Constraints:", "orders", func(j constraintsJSON) any { return j.Orders }},
	"colocation": {"Colocation Constraints:", "colocations", func(j constraintsJSON) any { return j.Colocations }},
	"ticket":     {"Ticket Constraints:", "tickets", func(j constraintsJSON) any { return j.Tickets }},
}

// bindKind adds --full and --output to a constraint KIND command that
// lists when given no constraint (its --config is the command's own).
func (o *listOpts) bindKind(cmd *cobra.Command, kind string) {
	o.kind = kind
	cmd.Flags().BoolVar(&o.full, "full", false, "when listing: show each constraint's id and all options")
	outputFlag(cmd, &o.output)
}

// listing reports whether args (after the flags) ask constraint KIND to
// list: none, or just config or show (pcs constraint location config). A
// -o VALUE or -oVALUE among them (after config, where cobra does not
// parse flags) sets the output.
func (o *listOpts) listing(args []string) bool {
	var rest []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-o" && i+1 < len(args):
			i++
			o.output = args[i]
		case strings.HasPrefix(a, "-o") && len(a) > 2:
			o.output = strings.TrimPrefix(strings.TrimPrefix(a, "-o"), "=")
		default:
			rest = append(rest, a)
		}
	}
	return len(rest) == 0 || len(rest) == 1 && (rest[0] == "config" || rest[0] == "show")
}

func (o *listOpts) bind(cmd *cobra.Command) {
	configFlag(cmd, &o.cfgPath)
	cmd.Flags().BoolVar(&o.full, "full", false, "show each constraint's id (for constraint remove) and all options")
	outputFlag(cmd, &o.output)
}

const constraintJSONDoc = `--output json prints {"locations": [...], "orders": [...], "colocations":
[...]} as the live configuration holds them: a location with id, rsc, node,
score, role, and rule or score-attribute for a rule; an order with id, first,
then, first-action, then-action, kind, symmetrical and sets; a colocation with
id, rsc, with, score, rsc-role, with-rsc-role and sets; and "tickets": a
ticket constraint with id, ticket, rsc, rsc-role and loss-policy (absent:
stop). A score is an integer, INFINITY being 1000000 (and -INFINITY
-1000000).`

type constraintsJSON struct {
	Locations   []cib.Location   `json:"locations"`
	Orders      []cib.Order      `json:"orders"`
	Colocations []cib.Colocation `json:"colocations"`
	Tickets     []cib.Ticket     `json:"tickets"`
}

func newConstraintsJSON(c *cib.CIB) constraintsJSON {
	return constraintsJSON{nonNil(c.Locations), nonNil(c.Orders), nonNil(c.Colocations), nonNil(c.Tickets)}
}

func (o *listOpts) run(cmd *cobra.Command) error {
	if err := checkOutput(o.output); err != nil {
		return err
	}
	return withCurrent(o.cfgPath, func(_ *session, cur liveconfig.Revision) error {
		if k, ok := constraintKinds[o.kind]; ok {
			if o.output == "json" {
				return writeJSON(cmd.OutOrStdout(), map[string]any{k.key: k.of(newConstraintsJSON(cur.CIB))})
			}
			var buf bytes.Buffer
			writeConstraints(&buf, cur.CIB, o.full)
			fmt.Fprint(cmd.OutOrStdout(), constraintSection(buf.String(), k.section))
			return nil
		}
		if o.output == "json" {
			return writeJSON(cmd.OutOrStdout(), newConstraintsJSON(cur.CIB))
		}
		writeConstraints(cmd.OutOrStdout(), cur.CIB, o.full)
		return nil
	})
}

func newConstraintListCmd() *cobra.Command {
	var o listOpts
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"show", "config"},
		Short:   "List the constraints as pcs does: Location, Ordering, Colocation",
		Long:    "list prints the constraints in pcs's layout.\n\n" + constraintJSONDoc,
		Example: `  tandem constraint list
  tandem constraint list --full
  tandem constraint list --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd) },
	}
	o.bind(cmd)
	return cmd
}

// constraintSection is the section of writeConstraints's text that starts
// with header, up to the next unindented line; just the header when the
// text has no such section (no tickets).
func constraintSection(text, header string) string {
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		if strings.TrimSuffix(l, "\n") != header {
			continue
		}
		out := l
		for _, m := range lines[i+1:] {
			if m == "" || !strings.HasPrefix(m, " ") {
				break
			}
			out += m
		}
		return out
	}
	return header + "\n"
}

// writeConstraints prints the constraints in the layout of pcs constraint.
func writeConstraints(w io.Writer, c *cib.CIB, full bool) {
	id := func(s string) string {
		if full {
			return " (id:" + s + ")"
		}
		return ""
	}
	fmt.Fprintln(w, "Location Constraints:")
	var rscs []string
	byRsc := map[string][]cib.Location{}
	for _, l := range c.Locations {
		if _, ok := byRsc[l.Rsc]; !ok {
			rscs = append(rscs, l.Rsc)
		}
		byRsc[l.Rsc] = append(byRsc[l.Rsc], l)
	}
	for _, r := range rscs {
		fmt.Fprintf(w, "  Resource: %s\n", r)
		for _, l := range byRsc[r] {
			if l.Rule == nil {
				continue
			}
			// pcs: the constraint, then its rule and expression.
			score := "score=" + l.Score.String()
			if l.ScoreAttribute != "" {
				score = "score-attribute=" + l.ScoreAttribute
			}
			if l.Role != "" {
				score += " role=" + l.Role
			}
			fmt.Fprintf(w, "    Constraint: %s\n      Rule: %s\n        Expression: %s\n", l.ID, score, l.Rule)
		}
		for _, enabled := range []bool{true, false} {
			for _, l := range byRsc[r] {
				if l.Rule != nil || (l.Score >= 0) != enabled {
					continue
				}
				word := "Enabled on"
				if !enabled {
					word = "Disabled on"
				}
				role := ""
				if l.Role != "" {
					role = " (role:" + l.Role + ")"
				}
				fmt.Fprintf(w, "    %s: %s (score:%s)%s%s\n", word, l.Node, l.Score, role, id(l.ID))
			}
		}
	}
	fmt.Fprintln(w, "Ordering Constraints:")
	var orderSets, colocationSets []string
	for _, o := range c.Orders {
		if len(o.Sets) > 0 {
			var opts []string
			if o.Kind != cib.Mandatory {
				opts = append(opts, "kind="+string(o.Kind))
			}
			if o.Symmetrical != cib.DefaultSymmetrical(o.Kind) {
				opts = append(opts, fmt.Sprintf("symmetrical=%t", o.Symmetrical))
			}
			orderSets = append(orderSets, setsLine(o.Sets, opts)+id(o.ID))
			continue
		}
		extra := ""
		if o.Symmetrical != (o.Kind != cib.Serialize) {
			extra = " (non-symmetrical)"
			if o.Symmetrical {
				extra = " (symmetrical)"
			}
		}
		fmt.Fprintf(w, "  %s %s then %s %s (kind:%s)%s%s\n", o.FirstAction, o.First, o.ThenAction, o.Then, o.Kind, extra, id(o.ID))
	}
	writeSets(w, orderSets)
	fmt.Fprintln(w, "Colocation Constraints:")
	for _, co := range c.Colocations {
		if len(co.Sets) > 0 {
			colocationSets = append(colocationSets, setsLine(co.Sets, []string{"score=" + co.Score.String()})+id(co.ID))
			continue
		}
		roles := ""
		if co.RscRole != "" || co.WithRole != "" {
			roles = fmt.Sprintf(" (rsc-role:%s) (with-rsc-role:%s)", orStarted(co.RscRole), orStarted(co.WithRole))
		}
		fmt.Fprintf(w, "  %s with %s (score:%s)%s%s\n", co.Rsc, co.With, co.Score, roles, id(co.ID))
	}
	writeSets(w, colocationSets)
	if len(c.Tickets) > 0 {
		// pcs: "Ticket Constraints:", then "  [ROLE ]RSC loss-policy=P
		// ticket=T", then those with sets under "  Resource Sets:".
		fmt.Fprintln(w, "Ticket Constraints:")
		var ticketSets []string
		for _, t := range c.Tickets {
			if len(t.Sets) > 0 {
				ticketSets = append(ticketSets, setsLine(t.Sets, []string{"loss-policy=" + t.Policy(), "ticket=" + t.Ticket})+id(t.ID))
				continue
			}
			role := ""
			if t.RscRole != "" {
				role = t.RscRole + " "
			}
			fmt.Fprintf(w, "  %s%s loss-policy=%s ticket=%s%s\n", role, t.Rsc, t.Policy(), t.Ticket, id(t.ID))
		}
		writeSets(w, ticketSets)
	}
}

// setsLine is a constraint with resource sets as pcs lists it: "set A B
// sequential=false set C setoptions kind=Optional".
func setsLine(sets []cib.ResourceSet, opts []string) string {
	line := cib.SetsText(sets)
	if len(opts) > 0 {
		line += " setoptions " + strings.Join(opts, " ")
	}
	return line
}

// writeSets lists the constraints with resource sets under "Resource
// Sets:", after the simple ones, as pcs does.
func writeSets(w io.Writer, lines []string) {
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w, "  Resource Sets:")
	for _, l := range lines {
		fmt.Fprintf(w, "    %s\n", l)
	}
}

func newConstraintOrderCmd() *cobra.Command {
	var cfgPath string
	var list listOpts
	cmd := &cobra.Command{
		Use:   "order [ACTION] FIRST then [ACTION] THEN [kind=Mandatory|Optional|Serialize] [symmetrical=true|false] [id=ID] | order set RSC... [options] [set RSC... [options]]... [setoptions kind=K symmetrical=B id=ID]",
		Short: "Start (or stop, promote, demote) one resource before another, or sets of resources in turn",
		Long: `order adds an ordering constraint: FIRST's action (start unless given) before
THEN's action (FIRST's action unless given). kind=Mandatory (default): if
FIRST stops or cannot start, THEN stops too; Optional: only when both act in
the same transition; Serialize: never at the same time. symmetrical (default
true, false for Serialize): stops happen in the reverse order. It prints what
it added, as pcs does. An order that closes a cycle is refused.

With resource sets (order set ...), each set starts after the one before it.
Inside a set its resources start one after the other, unless the set says
sequential=false; require-all=false lets the next set start once any one
resource of this set runs; action= is the set's action (start; promote or
demote for a promotable clone). An order's set takes no role= (Pacemaker
ignores it there): write action=promote. setoptions
gives the constraint's kind, symmetrical and id (default
pcs_rsc_order_set_<resources>).

Without constraint (order, or order config), it lists the orders as pcs
constraint order does; --output json prints {"orders": [...]}, each as
constraint list --output json writes it.

` + liveExitCodes,
		Example: `  tandem constraint order VIP-10.10.10.23 then haproxy-clone
  tandem constraint order start httpd-clone then start haproxy-clone kind=Optional
  tandem constraint order set fs ip sequential=false set db setoptions kind=Mandatory
  tandem constraint order config --output json`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := trailingFlags(cmd, args)
			if err != nil {
				return err
			}
			if list.listing(args) {
				list.cfgPath = cfgPath
				return list.run(cmd)
			}
			var o cib.Order
			err = withEdit(cfgPath, "constraint order "+strings.Join(args, " "), func(s *session, c *cib.CIB) (err error) {
				if len(args) > 0 && args[0] == "set" {
					o, err = parseOrderSet(c, args)
				} else {
					o, err = parseOrder(c, args)
				}
				if err != nil {
					return err
				}
				return c.AddOrder(o)
			})
			if err != nil {
				return err
			}
			if len(o.Sets) > 0 {
				return nil // pcs prints nothing for sets
			}
			opts := fmt.Sprintf("first-action=%s then-action=%s", o.FirstAction, o.ThenAction)
			if o.Symmetrical != (o.Kind != cib.Serialize) {
				opts += fmt.Sprintf(" symmetrical=%t", o.Symmetrical)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Adding %s %s (kind: %s) (Options: %s)\n", o.First, o.Then, o.Kind, opts)
			return nil
		},
	}
	freeArgs(cmd)
	list.bindKind(cmd, "order")
	configFlag(cmd, &cfgPath)
	return cmd
}

func newConstraintColocationCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "colocation",
		Short: "Place resources together or apart",
		Long: `Without a subcommand (or with config), colocation lists the colocation constraints as pcs
constraint colocation does; --output json prints {"colocations": [...]}, each as
constraint list --output json writes it.`,
		Example: `  tandem constraint colocation add VIP-10.10.10.23 with haproxy-clone
  tandem constraint colocation add db with web-clone -INFINITY
  tandem constraint colocation add vip with Promoted db-clone
  tandem constraint colocation add backup with Unpromoted db-clone 1000`,
	}
	var cfgPath string
	add := &cobra.Command{
		Use:   "add [ROLE] RSC with [ROLE] WITH [score] [id=ID]",
		Short: "Place RSC where WITH runs (score INFINITY), never there (-INFINITY), or prefer it",
		Long: `add places RSC relative to WITH: with INFINITY (the default) only where WITH
runs, with -INFINITY never there, with another score as a preference. A clone
as WITH means any node with an active instance. Like pcs, it prints nothing.

A ROLE (Promoted or Unpromoted, for a promotable clone; Started: any role)
names instances in that role, as in Pacemaker: "with Promoted WITH" places
RSC relative to WITH's promoted instances, "with Unpromoted WITH" to its
other instances; "Promoted RSC with WITH" decides where RSC is promoted (with
INFINITY only where WITH runs); "Unpromoted RSC with WITH" takes the score
off the promotion of RSC's instance where WITH runs (INFINITY: never
promoted there). A role on RSC does not move its instances.

` + liveExitCodes,
		Example: `  tandem constraint colocation add VIP-10.10.10.23 with haproxy-clone
  tandem constraint colocation add db with web-clone -INFINITY
  tandem constraint colocation add vip with Promoted db-clone
  tandem constraint colocation add backup with Unpromoted db-clone 1000`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := trailingFlags(cmd, args)
			if err != nil {
				return err
			}
			return withEdit(cfgPath, "constraint colocation add "+strings.Join(args, " "), func(s *session, c *cib.CIB) error {
				co, err := parseColocation(c, args)
				if err != nil {
					return err
				}
				return c.AddColocation(co)
			})
		},
	}
	freeArgs(add)
	configFlag(add, &cfgPath)
	var setCfgPath string
	set := &cobra.Command{
		Use:   "set RSC... [sequential=false] [role=ROLE] [set RSC... [options]]... [setoptions score=S id=ID]",
		Short: "Place sets of resources together (or apart, with a negative score)",
		Long: `set colocates resources in sets, as pcs constraint colocation set does. Inside
a set, each resource is placed with the one before it (with a negative
score: away from every one before it), unless the set says sequential=false.
Between two sets, the first resource of a set is placed with the last of the
next one (every resource of a set that says sequential=false). role=Promoted
or role=Unpromoted names the set's resources in that role (each must be a
promotable clone), as rsc-role and with-rsc-role do in colocation add. setoptions
gives the score (INFINITY) and the id (default
pcs_rsc_colocation_set_<resources>). Like pcs, it prints nothing.

` + liveExitCodes,
		Example: `  tandem constraint colocation set fs ip db
  tandem constraint colocation set web1 web2 sequential=false set db setoptions score=100
  tandem constraint colocation set app1 app2 sequential=false set db-clone role=Promoted`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := trailingFlags(cmd, args)
			if err != nil {
				return err
			}
			return withEdit(setCfgPath, "constraint colocation set "+strings.Join(args, " "), func(s *session, c *cib.CIB) error {
				co, err := parseColocationSet(c, append([]string{"set"}, args...))
				if err != nil {
					return err
				}
				return c.AddColocation(co)
			})
		},
	}
	freeArgs(set)
	configFlag(set, &setCfgPath)
	cmd.AddCommand(add, set)
	kindListing(cmd, "colocation")
	return cmd
}

func newConstraintLocationCmd() *cobra.Command {
	var cfgPath string
	var list listOpts
	cmd := &cobra.Command{
		Use:   "location RSC prefers|avoids NODE[=score] ... | location RSC rule [score=S | score-attribute=ATTR] [role=ROLE] [id=ID] EXPRESSION",
		Short: "Make a resource prefer or avoid nodes, by name or by their attributes",
		Long: `location scores nodes for RSC: prefers NODE (INFINITY unless =score given),
avoids NODE (-INFINITY unless =score given: avoids benji=50 scores -50). A
second location of the same resource on the same node replaces the first.
Like pcs, it prints nothing.

With rule, RSC gets the score (INFINITY unless score= is given; with
score-attribute=ATTR, each node's value of ATTR) on every node where the
expression holds. An expression tests node attributes (tandem node
attribute; #uname is the node's name):

  ATTR lt|gt|lte|gte|eq|ne [string|integer|number|version] VALUE
  defined|not_defined ATTR
  EXPR and EXPR, EXPR or EXPR, ( EXPR )

Without a type, eq and ne compare strings (ignoring case) and the others
numbers. Mixing and and or needs parentheses. role=Started (or Stopped)
makes the rule apply only to a resource whose target-role is set to that
role, as in Pacemaker; role=Promoted scores where a promotable clone is
promoted rather than where it runs; role=Unpromoted applies to every role
(Pacemaker reads it so: an instance is unpromoted before it is promoted).

Without RSC (location, or location config), it lists the locations as pcs
constraint location does; --output json prints {"locations": [...]}, each as
constraint list --output json writes it.

` + liveExitCodes,
		Example: `  tandem constraint location VIP-10.10.10.23 prefers benji=50
  tandem constraint location haproxy-clone avoids director-backup
  tandem constraint location db rule score=100 rack eq r1 and defined ssd
  tandem constraint location web-clone rule score=-INFINITY kernel lt version 6.1
  tandem constraint location config --output json`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := trailingFlags(cmd, args)
			if err != nil {
				return err
			}
			if list.listing(args) {
				list.cfgPath = cfgPath
				return list.run(cmd)
			}
			return withEdit(cfgPath, "constraint location "+strings.Join(args, " "), func(s *session, c *cib.CIB) error {
				ls, err := parseLocation(c, s.file.Topology, args)
				if err != nil {
					return err
				}
				for _, l := range ls {
					if err := c.SetLocation(l); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	freeArgs(cmd)
	list.bindKind(cmd, "location")
	configFlag(cmd, &cfgPath)
	return cmd
}

func newConstraintRemoveCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:     "remove ID ...",
		Aliases: []string{"delete"},
		Short:   "Remove constraints by id (tandem constraint --full shows them)",
		Long: `remove deletes the constraints with the given ids. If one id is unknown,
nothing is removed.

` + liveExitCodes,
		Example: `  tandem constraint remove order-httpd-clone-haproxy-clone-mandatory`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withEdit(cfgPath, "constraint remove "+strings.Join(args, " "), func(s *session, c *cib.CIB) error {
				for _, id := range args {
					if err := c.RemoveConstraint(id); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	configFlag(cmd, &cfgPath)
	return cmd
}

// orStarted is a constraint's role as pcs lists it: Started when unset.
func orStarted(role string) string {
	if role == "" {
		return cib.RoleStarted
	}
	return role
}

func newConstraintTicketCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ticket",
		Short: "Bind resources to tickets (pcs constraint ticket)",
		Long: `Without a subcommand (or with config), ticket lists the ticket constraints as pcs
constraint ticket does; --output json prints {"tickets": [...]}, each as
constraint list --output json writes it.`,
		Example: `  tandem constraint ticket add site-a web
  tandem constraint ticket add site-a Promoted db-clone loss-policy=demote
  tandem constraint ticket set web app setoptions ticket=site-a
  tandem constraint ticket remove site-a web`,
	}
	var cfgPath string
	add := &cobra.Command{
		Use:   "add TICKET [ROLE] RSC [loss-policy=stop|demote|freeze] [id=ID]",
		Short: "Let RSC run only while TICKET is granted (and not in standby)",
		Long: `add binds RSC (a resource, clone or group) to ticket TICKET, as pcs constraint
ticket add does: RSC runs only while the ticket is granted (tandem ticket
grant) and not in standby. When the ticket is revoked, loss-policy says
what happens to RSC where it runs: stop (the default) stops it; freeze
leaves it as it is (nothing of it is started or stopped until the ticket
is granted again); demote, with ROLE Promoted on a promotable clone,
demotes its promoted instances (the unpromoted ones run on). With ROLE
Promoted, the ticket is needed only for the Promoted role: without it no
instance is promoted. Pacemaker's loss-policy fence is refused: Tandem has
no fencing. The id defaults to ticket-TICKET-RSC[-ROLE]. Like pcs, it
prints nothing.

` + liveExitCodes,
		Example: `  tandem constraint ticket add site-a web
  tandem constraint ticket add site-a Promoted db-clone loss-policy=demote
  tandem constraint ticket add site-a batch loss-policy=freeze id=batch-needs-site-a`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := trailingFlags(cmd, args)
			if err != nil {
				return err
			}
			t, err := parseTicket(args)
			if err != nil {
				return badInput("%v", err)
			}
			return withEdit(cfgPath, "constraint ticket add "+strings.Join(args, " "), func(s *session, c *cib.CIB) error {
				_, err := c.AddTicket(t)
				return err
			})
		},
	}
	freeArgs(add)
	configFlag(add, &cfgPath)
	var rmCfgPath string
	remove := &cobra.Command{
		Use:     "remove TICKET RSC",
		Aliases: []string{"delete"},
		Short:   "Remove every ticket constraint binding RSC to TICKET",
		Long: `remove deletes the ticket constraints that bind RSC to TICKET, as pcs
constraint ticket remove does: from a constraint over resource sets RSC is
taken out of its set, and the constraint goes with its last resource
(tandem constraint remove ID removes one by its id).

` + liveExitCodes,
		Example: `  tandem constraint ticket remove site-a web`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withEdit(rmCfgPath, "constraint ticket remove "+strings.Join(args, " "), func(s *session, c *cib.CIB) error {
				return c.RemoveTickets(args[0], args[1])
			})
		},
	}
	configFlag(remove, &rmCfgPath)
	var setCfgPath string
	set := &cobra.Command{
		Use:   "set RSC... [role=Promoted] [set RSC... [role=ROLE]]... setoptions ticket=TICKET [loss-policy=stop|demote|freeze] [id=ID]",
		Short: "Let sets of resources run only while TICKET is granted",
		Long: `set binds every resource of each set to ticket TICKET, as pcs constraint
ticket set does: one constraint that stands for a ticket constraint per
resource, with the set's role (Started unless role=Promoted, for promotable
clones). loss-policy applies to them all: with demote, the resources of the
sets for the Promoted role are demoted and those of the other sets stop, as
in Pacemaker. setoptions gives the ticket (required), the loss-policy (stop)
and the id (default pcs_rsc_ticket_set_<resources>_<ticket>). tandem
constraint ticket remove TICKET RSC takes RSC out of the sets. Like pcs, it
prints nothing.

` + liveExitCodes,
		Example: `  tandem constraint ticket set web db setoptions ticket=site-a
  tandem constraint ticket set web set db-clone role=Promoted setoptions ticket=site-a loss-policy=demote`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := trailingFlags(cmd, args)
			if err != nil {
				return err
			}
			return withEdit(setCfgPath, "constraint ticket set "+strings.Join(args, " "), func(s *session, c *cib.CIB) error {
				t, err := parseTicketSet(c, append([]string{"set"}, args...))
				if err != nil {
					return err
				}
				_, err = c.AddTicket(t)
				return err
			})
		},
	}
	freeArgs(set)
	configFlag(set, &setCfgPath)
	cmd.AddCommand(add, set, remove)
	kindListing(cmd, "ticket")
	return cmd
}

// kindListing makes constraint KIND, a command of subcommands, list the
// constraints of its kind when run alone or as KIND config (or show).
func kindListing(cmd *cobra.Command, kind string) {
	var o listOpts
	o.bind(cmd)
	o.kind = kind
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return o.run(cmd) }
	var c listOpts
	config := &cobra.Command{
		Use:     "config",
		Aliases: []string{"show"},
		Short:   "List the " + kind + " constraints as pcs does",
		Long:    cmd.Long,
		Example: "  tandem constraint " + kind + " config --output json",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return c.run(cmd) },
	}
	c.bind(config)
	c.kind = kind
	cmd.AddCommand(config)
}

// parseTicket reads "TICKET [ROLE] RSC [loss-policy=P] [id=ID] [rsc-role=R]".
func parseTicket(args []string) (cib.Ticket, error) {
	var t cib.Ticket
	var pos []string
	role := ""
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			pos = append(pos, a)
			continue
		}
		switch k {
		case "loss-policy":
			lp, err := cib.ParseLossPolicy(v)
			if err != nil {
				return t, err
			}
			t.LossPolicy = lp
		case "id":
			t.ID = v
		case "rsc-role":
			role = v
		default:
			return t, fmt.Errorf("option %q: want loss-policy=stop|demote|freeze, id=ID or rsc-role=ROLE", a)
		}
	}
	switch {
	case len(pos) == 2:
		t.Ticket, t.Rsc = pos[0], pos[1]
	case len(pos) == 3 && role == "":
		t.Ticket, role, t.Rsc = pos[0], pos[1], pos[2]
	default:
		return t, fmt.Errorf("want TICKET [ROLE] RSC [loss-policy=stop|demote|freeze] [id=ID], got %q", strings.Join(args, " "))
	}
	if role != "" {
		r, err := cib.ParseConstraintRole(role)
		if err != nil {
			return t, err
		}
		if r != cib.RolePromoted && r != cib.RoleStarted {
			return t, fmt.Errorf("role %s: a ticket takes Started (the default) or Promoted", r)
		}
		if r == cib.RolePromoted {
			t.RscRole = r
		}
	}
	if p := cib.TicketNameProblem(t.Ticket); p != "" {
		return t, fmt.Errorf("%s", p)
	}
	return t, nil
}
