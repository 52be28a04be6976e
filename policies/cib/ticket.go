package cib

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Ticket is a ticket constraint (Pacemaker's rsc_ticket): Rsc may run only
// while Ticket is granted and not in standby. Whether a ticket is granted
// is cluster state, not configuration (tandem ticket grant|revoke).
type Ticket struct {
	ID     string `json:"id"`
	Ticket string `json:"ticket"`
	Rsc    string `json:"rsc,omitempty"`
	// Sets, instead of Rsc and RscRole, bind every resource of each set
	// to the ticket, in the set's Role (Pacemaker's rsc_ticket with
	// resource_set: `pcs constraint ticket set A B role=Promoted set C
	// setoptions ticket=T`). The sets take only a role.
	Sets []ResourceSet `json:"sets,omitempty"`
	// RscRole limits the constraint to a role: "" (any: the resource
	// stops without the ticket) or Promoted (the promoted instances are
	// demoted without it; unpromoted ones run on). Started is stored as "".
	RscRole string `json:"rsc-role,omitempty"`
	// LossPolicy is what happens to a running resource when the ticket is
	// revoked: stop (the default, stored as ""), demote or freeze.
	LossPolicy string `json:"loss-policy,omitempty"`
}

// Loss policies of a ticket constraint.
const (
	LossStop   = "stop"
	LossDemote = "demote"
	LossFreeze = "freeze"
	// LossFence is Pacemaker's, which Tandem refuses: it has no fencing.
	LossFence = "fence"
)

// LossPolicies are the loss-policy values Tandem takes.
var LossPolicies = []string{LossStop, LossDemote, LossFreeze}

// TicketKeys are the keys of a [[ticket]] table.
var TicketKeys = []string{"id", "ticket", "rsc", "rsc-role", "loss-policy", "set"}

// TicketSetKeys are the options a ticket constraint's set takes.
var TicketSetKeys = []string{"role"}

// Bindings are the ticket constraints one per resource, as Pacemaker 2.1.5
// unpacks them (unpack_rsc_ticket_set): a constraint with sets stands for
// one constraint per resource of each set, with the set's role and the
// constraint's id and loss-policy. loss-policy demote on a set without the
// Promoted role bans the resource exactly as stop does
// (constraints_for_ticket), so it is bound with stop.
func (c *CIB) TicketBindings() []Ticket {
	var out []Ticket
	for _, t := range c.Tickets {
		if len(t.Sets) == 0 {
			out = append(out, t)
			continue
		}
		for _, s := range t.Sets {
			policy := t.LossPolicy
			if policy == LossDemote && s.Role != RolePromoted {
				policy = ""
			}
			for _, r := range s.Resources {
				out = append(out, Ticket{ID: t.ID, Ticket: t.Ticket, Rsc: r, RscRole: s.Role, LossPolicy: policy})
			}
		}
	}
	return out
}

// Names lists what t binds: its resource, or its sets' resources.
func (t Ticket) Names() []string {
	if len(t.Sets) == 0 {
		return []string{t.Rsc}
	}
	var out []string
	for _, s := range t.Sets {
		out = append(out, s.Resources...)
	}
	return out
}

// Policy is t's loss policy: stop when unset.
func (t *Ticket) Policy() string {
	if t.LossPolicy == "" {
		return LossStop
	}
	return t.LossPolicy
}

var ticketNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$`)

// ValidTicketName says whether s may name a ticket: letters, digits, _,
// ., : and -, not starting with one of the last three; at most 128.
func ValidTicketName(s string) bool { return ticketNameRE.MatchString(s) }

// TicketNameProblem says what is wrong with ticket name s, "" if nothing.
func TicketNameProblem(s string) string {
	if s == "" {
		return "a ticket name is missing"
	}
	if !ValidTicketName(s) {
		return fmt.Sprintf("ticket name %q: letters, digits, _, ., : and - (not first), at most 128", s)
	}
	return ""
}

// DefaultTicketID is the id pcs gives a ticket constraint: ticket-T-RSC,
// with -ROLE for a role; with sets, pcs_rsc_ticket_set_<resources>_T.
func DefaultTicketID(t Ticket) string {
	if len(t.Sets) > 0 {
		return "pcs_rsc_ticket_set_" + setMembers(t.Sets) + "_" + t.Ticket
	}
	id := fmt.Sprintf("ticket-%s-%s", t.Ticket, t.Rsc)
	if t.RscRole != "" {
		id += "-" + t.RscRole
	}
	return id
}

// ParseLossPolicy reads a loss-policy value, refusing fence with why.
func ParseLossPolicy(value string) (string, error) {
	v := strings.ToLower(value)
	switch v {
	case LossStop, LossDemote, LossFreeze:
		return v, nil
	case LossFence:
		return "", fmt.Errorf("loss-policy fence: Tandem has no fencing (a node that loses the bus stops its resources by itself); use stop, demote or freeze")
	}
	return "", fmt.Errorf("loss-policy %q: want %s%s", value, strings.Join(LossPolicies, ", "), DidYouMean(v, LossPolicies))
}

// TicketNames lists the tickets the constraints name, sorted, without
// duplicates.
func (c *CIB) TicketNames() []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range c.Tickets {
		if !seen[t.Ticket] {
			seen[t.Ticket] = true
			out = append(out, t.Ticket)
		}
	}
	sort.Strings(out)
	return out
}

// AddTicket adds ticket constraint t (its id made as pcs makes it when
// empty) and returns it as added.
func (c *CIB) AddTicket(t Ticket) (Ticket, error) {
	if t.RscRole == RoleStarted {
		t.RscRole = ""
	}
	if t.LossPolicy == LossStop {
		t.LossPolicy = ""
	}
	if t.ID == "" {
		t.ID = DefaultTicketID(t)
	}
	if !ValidID(t.ID) {
		return t, fmt.Errorf("constraint id %q: %s", t.ID, idRule)
	}
	if what := c.idInUse(t.ID); what != "" {
		return t, fmt.Errorf("id %q is already used by %s", t.ID, what)
	}
	next := *c
	next.Tickets = append(append([]Ticket(nil), c.Tickets...), t)
	v := &validator{c: &next, ids: map[string]string{}}
	v.ticket(len(next.Tickets)-1, t)
	if len(v.ps) > 0 {
		return t, fmt.Errorf("%s", v.ps[0].Msg)
	}
	c.Tickets = next.Tickets
	return t, nil
}

// ticket checks ticket constraint i.
func (v *validator) ticket(i int, t Ticket) {
	path := fmt.Sprintf("ticket[%d]", i)
	what := fmt.Sprintf("ticket %s for %s", t.Ticket, t.Rsc)
	if len(t.Sets) > 0 {
		what = fmt.Sprintf("ticket %s for %s", t.Ticket, SetsText(t.Sets))
	}
	if p := TicketNameProblem(t.Ticket); p != "" {
		v.at(path+".ticket", "%s: %s", what, p)
	}
	if len(t.Sets) > 0 {
		v.ticketSets(path, what, t)
		return
	}
	v.ref(path+".rsc", what, t.Rsc)
	switch t.RscRole {
	case "":
	case RolePromoted, RoleUnpromoted:
		v.roleRef(path+".rsc-role", what, t.Rsc, t.RscRole)
	default:
		v.at(path+".rsc-role", "%s: rsc-role %q is not Started, Promoted or Unpromoted", what, t.RscRole)
	}
	switch t.LossPolicy {
	case "", LossStop, LossFreeze:
	case LossDemote:
		if t.RscRole != RolePromoted || !v.c.Promotable(t.Rsc) {
			v.at(path+".loss-policy", "%s: loss-policy demote needs rsc-role = \"Promoted\" on a promotable clone (without the role, Pacemaker stops the resource: say stop)", what)
		}
	default:
		if _, err := ParseLossPolicy(t.LossPolicy); err != nil {
			v.at(path+".loss-policy", "%s: %v", what, err)
		}
	}
}

// ticketSets checks a ticket constraint with sets: each set names
// resources once in the constraint, takes only a role (Promoted on
// promotable clones), and loss-policy demote has a set for the Promoted
// role to demote.
func (v *validator) ticketSets(path, what string, t Ticket) {
	if t.Rsc != "" || t.RscRole != "" {
		v.at(path, "%s: rsc and rsc-role go with a single resource; with sets, name the resources in the sets (and the role per set)", what)
	}
	v.sets(path, what, t.Sets, false)
	promoted := false
	for j, s := range t.Sets {
		sp := fmt.Sprintf("%s.set[%d]", path, j)
		if s.Sequential != nil {
			v.at(sp+".sequential", "%s: a ticket constraint's set takes only a role (sequential means nothing here)", what)
		}
		switch s.Role {
		case "":
		case RolePromoted:
			promoted = true // sets checks that its resources are promotable
		default:
			v.at(sp+".role", "%s: set role %q: Tandem takes Started (the default) or Promoted for a ticket", what, s.Role)
		}
	}
	switch t.LossPolicy {
	case "", LossStop, LossFreeze:
	case LossDemote:
		if !promoted {
			v.at(path+".loss-policy", "%s: loss-policy demote needs a set with role = \"Promoted\" on a promotable clone (the other sets' resources stop, as with stop)", what)
		}
	default:
		if _, err := ParseLossPolicy(t.LossPolicy); err != nil {
			v.at(path+".loss-policy", "%s: %v", what, err)
		}
	}
}

// RemoveTickets removes every ticket constraint binding rsc to ticket.
func (c *CIB) RemoveTickets(ticket, rsc string) error {
	var keep []Ticket
	changed := false
	for _, t := range c.Tickets {
		switch {
		case t.Ticket != ticket:
		case len(t.Sets) > 0:
			// As pcs: the resource leaves the sets; the constraint goes
			// with its last resource.
			if !slices.Contains(t.Names(), rsc) {
				break
			}
			changed = true
			t.Sets = removeFromSets(t.Sets, map[string]bool{rsc: true})
			if setSize(t.Sets) == 0 {
				continue
			}
		case t.Rsc == rsc:
			changed = true
			continue
		}
		keep = append(keep, t)
	}
	if !changed {
		var have []string
		for _, t := range c.Tickets {
			have = append(have, t.Ticket+" "+strings.Join(t.Names(), " "))
		}
		known := strings.Join(have, ", ")
		if known == "" {
			known = "none"
		}
		return fmt.Errorf("no ticket constraint binds %s to ticket %s (ticket constraints: %s)", rsc, ticket, known)
	}
	c.Tickets = keep
	return nil
}
