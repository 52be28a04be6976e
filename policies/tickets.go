package policies

import (
	"fmt"

	"github.com/tandem-ha/tandem/policies/cib"
)

// Tickets follow Pacemaker 2.1.5's pcmk_sched_tickets.c. A ticket
// constraint (cib.Ticket) binds a resource to a ticket; while the ticket is
// granted and not in standby it changes nothing. Otherwise, for each of the
// resource's primitives (each member of a group; each instance of a clone):
//
//   - ticket revoked, the instance active: loss-policy stop bans it from
//     every node (it stops); demote bans it unless the constraint is for
//     the Promoted role (then only its promotion is banned: it is
//     demoted); freeze leaves it as it is (no start, stop, promote or
//     demote of it: unmanaged, as on a node in maintenance);
//   - ticket revoked, the instance stopped, or ticket in standby: banned
//     from every node, unless the constraint is for the Promoted role and
//     loss-policy is not stop (then only promotion is banned);
//   - a constraint for the Promoted role on a ticket revoked or in
//     standby bans promotion (pcmk__require_promotion_tickets).
//
// Pacemaker's loss-policy fence is refused by the configuration: Tandem
// has no fencing.

// TicketState is the state of one ticket: granted (tandem ticket grant) or
// not, and in standby (tandem ticket standby) or not. A ticket absent from
// the state is revoked, as in Pacemaker.
type TicketState struct {
	Ticket  string `json:"ticket"`
	Granted bool   `json:"granted,omitempty"`
	Standby bool   `json:"standby,omitempty"`
}

// Usable says whether resources bound to the ticket may run.
func (t TicketState) Usable() bool { return t.Granted && !t.Standby }

// Describe is "revoked", "in standby" or "granted".
func (t TicketState) Describe() string {
	switch {
	case !t.Granted:
		return "revoked"
	case t.Standby:
		return "in standby"
	}
	return "granted"
}

// bindTickets applies the ticket constraints whose ticket is not usable:
// bans (u.ticketBan, applied by computeBase), frozen instances (managed
// false) and banned promotion. Called after bindState.
func (s *scheduler) bindTickets(states []TicketState) {
	bindings := s.cfg.TicketBindings()
	if len(bindings) == 0 {
		return
	}
	byName := make(map[string]TicketState, len(states))
	for _, t := range states {
		byName[t.Ticket] = t
	}
	for i := range bindings {
		t := &bindings[i]
		ts, ok := byName[t.Ticket]
		if !ok {
			ts = TicketState{Ticket: t.Ticket}
		}
		if ts.Usable() {
			continue
		}
		policy := t.Policy()
		promotedOnly := t.RscRole == cib.RolePromoted
		why := fmt.Sprintf("ticket %s is %s (%s, loss-policy %s)", t.Ticket, ts.Describe(), named("ticket", t.ID), policy)
		for _, u := range s.refUnits(t.Rsc) {
			if promotedOnly && u.promo != nil && u.promo.ticketBan == "" {
				u.promo.ticketBan = why
			}
			if ts.Granted || len(u.cur) == 0 || policy == cib.LossStop {
				// In standby, or stopped everywhere, or stop: banned
				// unless only promotion is at stake.
				if !promotedOnly || policy == cib.LossStop {
					u.banTicket(why)
				}
				continue
			}
			switch policy {
			case cib.LossDemote:
				if !promotedOnly {
					u.banTicket(why)
				}
			case cib.LossFreeze:
				for k := range u.cur {
					c := &u.cur[k]
					if promotedOnly && !c.promoted {
						continue
					}
					if c.managed {
						s.note(u.r.ID, fmt.Sprintf("frozen on %s: %s", s.nodes[c.node].name, why))
					}
					c.managed = false
				}
				if !promotedOnly {
					// Instances not running do not start.
					u.banTicket(why)
				}
			}
		}
	}
}

// banTicket records that u may run nowhere for want of a ticket (the first
// reason is kept).
func (u *unit) banTicket(why string) {
	if u.ticketBan == "" {
		u.ticketBan = why
	}
}
