package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/tickets"
	"github.com/tandem-ha/tandem/policies/cib"
)

func init() { register(newTicketCmd) }

const ticketJSONDoc = `--output json prints {"tickets": [...]}, each ticket with ticket (its
name), granted, standby, changed and by (when and by whom it last changed,
absent if never) and constraints (the ids of the ticket constraints that
name it).`

func newTicketCmd() *cobra.Command {
	var cfgPath, output string
	list := func(cmd *cobra.Command, _ []string) error { return listTickets(cmd, cfgPath, output) }
	cmd := &cobra.Command{
		Use:   "ticket",
		Short: "Grant, revoke or put in standby the tickets resources depend on (crm_ticket)",
		Long: `ticket lists the tickets and their state: those the ticket constraints
name (tandem constraint ticket add) and those ever granted. A resource bound
to a ticket runs only while the ticket is granted and not in standby; when
it is revoked, its constraint's loss-policy says what happens: stop (the
default) stops the resource, demote demotes the promoted instances of a
promotable clone, freeze leaves the resource as it is (nothing of it is
started or stopped). A ticket in standby stops the resources bound to it
(demotes, for loss-policy demote or freeze on the Promoted role) whatever
the loss-policy. A ticket never granted is revoked.

The tickets' state is cluster state, not configuration (kept in the bus's
state bucket, as fail-counts are): it is not in cluster.toml nor in the
configuration's revisions. Tandem has no booth: granting a ticket to one
cluster and revoking it from another is the admin's (or a script's) job.

` + ticketJSONDoc + `

` + liveExitCodes,
		Example: `  tandem ticket
  tandem ticket grant site-a
  tandem ticket revoke site-a
  tandem ticket standby site-a
  tandem ticket activate site-a`,
		Args: cobra.NoArgs,
		RunE: list,
	}
	configFlag(cmd, &cfgPath)
	outputFlag(cmd, &output)
	var listCfg, listOut string
	ls := &cobra.Command{
		Use:     "list",
		Aliases: []string{"show"},
		Short:   "List the tickets and their state",
		Long:    "list prints every ticket, granted or revoked, in standby or not, and the\nticket constraints naming it.\n\n" + ticketJSONDoc,
		Example: "  tandem ticket list\n  tandem ticket list --output json",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return listTickets(cmd, listCfg, listOut) },
	}
	configFlag(ls, &listCfg)
	outputFlag(ls, &listOut)
	cmd.AddCommand(ls,
		newTicketChangeCmd(tickets.Grant, "Grant a ticket: the resources bound to it may run",
			"grant grants ticket TICKET: the resources bound to it may start (unless it\nis in standby)."),
		newTicketChangeCmd(tickets.Revoke, "Revoke a ticket: its resources stop, demote or freeze (loss-policy)",
			"revoke revokes ticket TICKET: each resource bound to it is stopped, demoted\nor left as it is, as its constraint's loss-policy says."),
		newTicketChangeCmd(tickets.Standby, "Put a granted ticket in standby: its resources stop",
			"standby puts ticket TICKET in standby: the resources bound to it stop (the\npromoted instances are demoted, for a constraint on the Promoted role with\nloss-policy demote or freeze), as for a node in standby; it stays granted."),
		newTicketChangeCmd(tickets.Activate, "Take a ticket out of standby",
			"activate takes ticket TICKET out of standby: if it is granted, the resources\nbound to it may run again."))
	return cmd
}

func newTicketChangeCmd(change tickets.Change, short, long string) *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:     string(change) + " TICKET",
		Short:   short,
		Long:    long + "\n\nThe coordinator plans again at once.\n\n" + liveExitCodes,
		Example: "  tandem ticket " + string(change) + " site-a",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if p := cib.TicketNameProblem(name); p != "" {
				return badInput("%s", p)
			}
			s, cur, err := openCurrent(cfgPath)
			if err != nil {
				return err
			}
			defer s.close()
			ctx, cancel := context.WithTimeout(context.Background(), liveOpTimeout)
			defer cancel()
			ts, err := tickets.Open(ctx, s.conn)
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			host, _ := os.Hostname()
			before, after, err := ts.Set(ctx, name, change, "cli@"+host, time.Now())
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("ticket %s: %w", name, err)}
			}
			if err := s.conn.Publish(bus.TicketRefresh(name, string(change))); err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Ticket %s: %s (was %s)\n", name, after.Words(), before.Words())
			if len(constraintsOfTicket(cur.CIB, name)) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: no ticket constraint names %s (tandem constraint ticket add %s RSC)\n", name, name)
			}
			return nil
		},
	}
	configFlag(cmd, &cfgPath)
	return cmd
}

func constraintsOfTicket(c *cib.CIB, name string) []cib.Ticket {
	var out []cib.Ticket
	for _, t := range c.Tickets {
		if t.Ticket == name {
			out = append(out, t)
		}
	}
	return out
}

func listTickets(cmd *cobra.Command, cfgPath, output string) error {
	if err := checkOutput(output); err != nil {
		return err
	}
	s, cur, err := openCurrent(cfgPath)
	if err != nil {
		return err
	}
	defer s.close()
	ctx, cancel := context.WithTimeout(context.Background(), liveOpTimeout)
	defer cancel()
	ts, err := tickets.Open(ctx, s.conn)
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	recs, err := ts.List(ctx)
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("reading tickets: %w", err)}
	}
	items := tickets.Summarize(cur.CIB, recs)
	if output == "json" {
		return writeJSON(cmd.OutOrStdout(), map[string]any{"tickets": items})
	}
	writeTickets(cmd.OutOrStdout(), items)
	return nil
}

func writeTickets(w io.Writer, items []tickets.Summary) {
	fmt.Fprintln(w, "Tickets:")
	if len(items) == 0 {
		fmt.Fprintln(w, "  none (tandem constraint ticket add TICKET RSC binds a resource to one)")
	}
	for _, t := range items {
		line := fmt.Sprintf("  %s: %s", t.Ticket, t.Words())
		if t.Changed != nil {
			line += fmt.Sprintf(" (since %s", t.Changed.Local().Format(time.DateTime))
			if t.By != "" {
				line += ", by " + t.By
			}
			line += ")"
		}
		if len(t.Constraints) > 0 {
			line += "; constraints: " + strings.Join(t.Constraints, ", ")
		}
		fmt.Fprintln(w, line)
	}
}
