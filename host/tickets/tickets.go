// Package tickets keeps the tickets' state: whether each ticket is granted
// and whether it is in standby (Pacemaker's crm_ticket). It is cluster
// state, not configuration: it lives in the bus's state bucket, as
// fail-counts do, so it survives a coordinator change and is not part of
// the configuration's revisions. `tandem ticket grant|revoke|standby|
// activate` change it; the coordinator reads it for every plan (ticket
// constraints, policies.TicketState).
package tickets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/policies"
	"github.com/tandem-ha/tandem/policies/cib"
)

// Record is one ticket's state. A ticket without a record is revoked and
// not in standby.
type Record struct {
	Ticket  string    `json:"ticket"`
	Granted bool      `json:"granted,omitempty"`
	Standby bool      `json:"standby,omitempty"`
	Changed time.Time `json:"changed"`
	By      string    `json:"by,omitempty"` // who changed it last (node or CLI host)
}

// State is the record as the scheduler takes it.
func (r Record) State() policies.TicketState {
	return policies.TicketState{Ticket: r.Ticket, Granted: r.Granted, Standby: r.Standby}
}

// Store reads and writes tickets' state.
type Store struct{ kv *bus.KV }

// Open opens the store on conn.
func Open(ctx context.Context, conn *bus.Conn) (*Store, error) {
	kv, err := conn.KV(ctx, bus.BucketState)
	if err != nil {
		return nil, err
	}
	return &Store{kv: kv}, nil
}

const prefix = "ticket."

// key is the KV key of ticket name: a valid ticket name's characters are
// letters, digits, _, ., : and -; "." and ":" are not one key token's, so
// they are escaped (_2E, _3A) and _ itself as _5F, which keeps the mapping
// one to one.
func key(name string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, c := range []byte(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "_%02X", c)
		}
	}
	return b.String()
}

// Get returns ticket name's state (revoked when it has no record).
func (s *Store) Get(ctx context.Context, name string) (Record, error) {
	e, err := s.kv.Get(ctx, key(name))
	switch {
	case errors.Is(err, bus.ErrNotFound):
		return Record{Ticket: name}, nil
	case err != nil:
		return Record{}, err
	}
	var r Record
	if err := json.Unmarshal(e.Value(), &r); err != nil || r.Ticket != name {
		return Record{}, fmt.Errorf("ticket %q: unreadable record in the state bucket (%q)", name, e.Value())
	}
	return r, nil
}

// List returns every ticket with a record, sorted by name.
func (s *Store) List(ctx context.Context) ([]Record, error) {
	entries, err := s.kv.ValuesWithPrefix(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, e := range entries {
		var r Record
		if json.Unmarshal(e.Value(), &r) == nil && r.Ticket != "" && key(r.Ticket) == e.Key() {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ticket < out[j].Ticket })
	return out, nil
}

// States lists every recorded ticket's state for the scheduler.
func (s *Store) States(ctx context.Context) ([]policies.TicketState, error) {
	rs, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]policies.TicketState, len(rs))
	for i, r := range rs {
		out[i] = r.State()
	}
	return out, nil
}

// Change is what an admin does to a ticket.
type Change string

// Changes (tandem ticket grant, revoke, standby, activate).
const (
	Grant    Change = "grant"
	Revoke   Change = "revoke"
	Standby  Change = "standby"
	Activate Change = "activate"
)

// Set applies change to ticket name (compare-and-set, retried if another
// writer got in between) and returns the state before and after it.
func (s *Store) Set(ctx context.Context, name string, change Change, by string, at time.Time) (before, after Record, err error) {
	if p := cib.TicketNameProblem(name); p != "" {
		return Record{}, Record{}, errors.New(p)
	}
	k := key(name)
	for range 10 {
		before = Record{Ticket: name}
		var rev uint64
		e, err := s.kv.Get(ctx, k)
		switch {
		case err == nil:
			if json.Unmarshal(e.Value(), &before) != nil || before.Ticket != name {
				before = Record{Ticket: name}
			}
			rev = e.Revision()
		case errors.Is(err, bus.ErrNotFound):
		default:
			return Record{}, Record{}, err
		}
		after = before
		switch change {
		case Grant:
			after.Granted = true
		case Revoke:
			after.Granted = false
		case Standby:
			after.Standby = true
		case Activate:
			after.Standby = false
		default:
			return Record{}, Record{}, fmt.Errorf("ticket change %q: want grant, revoke, standby or activate", change)
		}
		after.Changed, after.By = at.UTC(), by
		data, _ := json.Marshal(after)
		if rev == 0 {
			_, err = s.kv.Create(ctx, k, data, 0)
		} else {
			_, err = s.kv.Update(ctx, k, data, rev)
		}
		if err == nil {
			return before, after, nil
		}
		if !errors.Is(err, bus.ErrConflict) {
			return Record{}, Record{}, err
		}
	}
	return Record{}, Record{}, fmt.Errorf("ticket %q: too many concurrent changes; try again", name)
}

// Summary is one ticket as `tandem ticket` and `tandem status` show it:
// its state and the ticket constraints that name it.
type Summary struct {
	Ticket      string     `json:"ticket"`
	Granted     bool       `json:"granted"`
	Standby     bool       `json:"standby"`
	Changed     *time.Time `json:"changed,omitempty"`
	By          string     `json:"by,omitempty"`
	Constraints []string   `json:"constraints"`
}

// Words is "granted", "revoked", "granted, standby"...
func (s Summary) Words() string { return words(s.Granted, s.Standby) }

// Words is "granted", "revoked", "granted, standby"...
func (r Record) Words() string { return words(r.Granted, r.Standby) }

func words(granted, standby bool) string {
	w := "revoked"
	if granted {
		w = "granted"
	}
	if standby {
		w += ", standby"
	}
	return w
}

// Summarize lists the tickets c's constraints name and those recorded
// (recs), sorted by name; a ticket without a record is revoked.
func Summarize(c *cib.CIB, recs []Record) []Summary {
	byName := map[string]Record{}
	for _, r := range recs {
		byName[r.Ticket] = r
	}
	constraints := map[string][]string{}
	for _, t := range c.Tickets {
		constraints[t.Ticket] = append(constraints[t.Ticket], t.ID)
	}
	names := c.TicketNames()
	for _, r := range recs {
		if len(constraints[r.Ticket]) == 0 {
			names = append(names, r.Ticket)
		}
	}
	sort.Strings(names)
	out := []Summary{}
	for _, n := range names {
		r := byName[n]
		s := Summary{Ticket: n, Granted: r.Granted, Standby: r.Standby, By: r.By, Constraints: []string{}}
		if !r.Changed.IsZero() {
			at := r.Changed
			s.Changed = &at
		}
		s.Constraints = append(s.Constraints, constraints[n]...)
		out = append(out, s)
	}
	return out
}
