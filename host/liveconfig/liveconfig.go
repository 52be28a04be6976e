// Package liveconfig keeps the cluster's live configuration in the bus: one
// KV key whose revisions are the versions of the cluster model (cib.CIB).
// The first member to start seeds it from its cluster.toml; after that,
// every change is a compare-and-swap on the revision it was made from, so
// two editors never lose an update: one of them gets ErrConflict and retries
// on the newer version (Update does that itself).
//
// Only the model is live. The bootstrap settings (members, addresses,
// ports, TLS) are each member's own cluster file, read at start
// (bus.Topology); a change to them needs a restart of the members.
package liveconfig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/policies/cib"
)

// Key is the KV key of the live configuration in bus.BucketConfig.
const Key = "cluster"

// Revision is one version of the live configuration.
type Revision struct {
	Rev     uint64
	Time    time.Time
	By      string // who made the change (member or cli@host)
	Summary string // what the change did, for `tandem config history`
	// Format is the format of the stored record (see record).
	Format int
	CIB    *cib.CIB // nil for the zero Revision (none read yet) and an invalid one
	// Invalid, for a revision History lists, says why it cannot be used
	// (it does not parse or is not a valid model: written past the
	// validation, straight to the KV); "" for a valid one.
	Invalid string
	newer   bool // Invalid because a newer tandem wrote it
}

// The formats of the stored record.
const (
	// FormatTOML (1, or no format field) stored a whole cluster.toml text,
	// bootstrap settings included, which the members never read back.
	// Tandem before the split of the model from the bootstrap settings
	// wrote it; it is still read, so a cluster upgrades in place and its
	// history stays readable.
	FormatTOML = 1
	// FormatCIB (2) stores the cluster model only.
	FormatCIB = 2
	// FormatCIBExtended (3) is FormatCIB for a model that uses what a
	// build that writes format 2 would silently ignore (groups, resource
	// sets, location rules, node attributes): such a build refuses it and
	// says to upgrade, instead of running a group's members as unrelated
	// resources or a constraint with sets or a rule as no constraint. A
	// model without them is still written in format 2, so that a cluster
	// upgrades member by member.
	FormatCIBExtended = 3
	// FormatCIBPromotable (4) is FormatCIBExtended for a model with
	// promotable clones or roles in its constraints, which a build that
	// writes format 3 would run as plain clones and constraints without
	// roles.
	FormatCIBPromotable = 4
	// FormatCIBAlerts (5) is FormatCIBPromotable for a model with alerts,
	// which a build that writes format 4 would drop from the model at its
	// next edit.
	FormatCIBAlerts = 5
	// FormatCIBRoles (6) is FormatCIBAlerts for a model with the
	// Unpromoted role in a constraint or a role on a colocation's resource
	// set, which a build that writes format 5 would refuse as invalid
	// (Unpromoted) or run as a colocation without roles (a set's role).
	FormatCIBRoles = 6
	// FormatCIBUtilization (7) is FormatCIBRoles for a model with node or
	// resource utilization or a placement strategy, which a build that
	// writes format 6 would silently ignore (placing resources beyond the
	// nodes' capacity) and drop from the model at its next edit.
	FormatCIBUtilization = 7
	// FormatCIBTickets (8) is FormatCIBUtilization for a model with ticket
	// constraints, which a build that writes format 7 would silently
	// ignore (running a resource whose ticket is revoked) and drop from
	// the model at its next edit.
	FormatCIBTickets = 8
	// FormatCIBTicketSets (9) is FormatCIBTickets for a model with a
	// ticket constraint on resource sets, which a build that writes
	// format 8 would read as a constraint without a resource (and refuse).
	FormatCIBTicketSets = 9
	// FormatCIBNotify (10) is FormatCIBTicketSets for a model with a clone
	// whose instances are notified (notify = true), which a build that
	// writes format 9 would run without notifications and drop the option
	// from at its next edit.
	FormatCIBNotify = 10
	// FormatCIBUnique (11) is FormatCIBNotify for a model with a
	// globally-unique clone, which a build that writes format 10 would run
	// as an anonymous clone (its agent told globally_unique=false) and
	// drop the option from at its next edit.
	FormatCIBUnique = 11
	// FormatCIBPromotableGroups (12) is FormatCIBUnique for a model with a
	// promotable cloned group, which a build that writes format 11 would
	// refuse as invalid, and whose nodes would promote a group's members
	// on one promoted slot lease (a member's demote freeing it under the
	// others).
	FormatCIBPromotableGroups = 12
	// FormatCIBUniqueGroups (13) is FormatCIBPromotableGroups for a model
	// with a globally-unique cloned group, which a build that writes
	// format 12 would refuse as invalid (and could then replace).
	FormatCIBUniqueGroups = 13
	// Format is the newest format this build writes.
	Format = FormatCIBUniqueGroups
)

// WrittenByNewer says whether an invalid revision is only so because a
// newer tandem wrote it: no edit of this build may replace it.
func (r Revision) WrittenByNewer() bool { return r.newer }

// formatFor is the oldest format that holds everything c uses.
func formatFor(c *cib.CIB) int {
	for _, g := range c.Groups {
		if g.Clone != nil && g.Clone.GloballyUnique {
			return FormatCIBUniqueGroups
		}
	}
	for _, g := range c.Groups {
		if g.Clone != nil && g.Clone.Promotable {
			return FormatCIBPromotableGroups
		}
	}
	for _, r := range c.Resources {
		if r.Clone != nil && r.Clone.GloballyUnique {
			return FormatCIBUnique
		}
	}
	for _, r := range c.Resources {
		if r.Clone != nil && r.Clone.Notify {
			return FormatCIBNotify
		}
	}
	for _, t := range c.Tickets {
		if len(t.Sets) > 0 {
			return FormatCIBTicketSets
		}
	}
	if len(c.Tickets) > 0 {
		return FormatCIBTickets
	}
	if usesUtilization(c) {
		return FormatCIBUtilization
	}
	if usesNewRoles(c) {
		return FormatCIBRoles
	}
	if len(c.Alerts) > 0 {
		return FormatCIBAlerts
	}
	if usesRoles(c) {
		return FormatCIBPromotable
	}
	if len(c.Groups) > 0 {
		return FormatCIBExtended
	}
	for _, o := range c.Orders {
		if len(o.Sets) > 0 {
			return FormatCIBExtended
		}
	}
	for _, co := range c.Colocations {
		if len(co.Sets) > 0 {
			return FormatCIBExtended
		}
	}
	for _, l := range c.Locations {
		if l.Rule != nil {
			return FormatCIBExtended
		}
	}
	for _, n := range c.Nodes {
		if len(n.Attributes) > 0 {
			return FormatCIBExtended
		}
	}
	return FormatCIB
}

// usesUtilization says whether c has a placement strategy, or
// utilization on a node or a resource (format 7).
func usesUtilization(c *cib.CIB) bool {
	if c.Properties.PlacementStrategy != "" {
		return true
	}
	for _, n := range c.Nodes {
		if len(n.Utilization) > 0 {
			return true
		}
	}
	for _, r := range c.Resources {
		if len(r.Utilization) > 0 {
			return true
		}
	}
	return false
}

// usesNewRoles says whether c has the Unpromoted role in a constraint or
// a role on a colocation's set (format 6).
func usesNewRoles(c *cib.CIB) bool {
	for _, co := range c.Colocations {
		if co.RscRole == cib.RoleUnpromoted || co.WithRole == cib.RoleUnpromoted {
			return true
		}
		for _, set := range co.Sets {
			if set.Role != "" {
				return true
			}
		}
	}
	for _, l := range c.Locations {
		if l.Role == cib.RoleUnpromoted {
			return true
		}
	}
	return false
}

// usesRoles says whether c has a promotable clone or a constraint on a
// role (Promoted) or on promote or demote actions.
func usesRoles(c *cib.CIB) bool {
	for _, r := range c.Resources {
		if r.Clone != nil && r.Clone.Promotable {
			return true
		}
	}
	for _, co := range c.Colocations {
		if co.RscRole != "" || co.WithRole != "" {
			return true
		}
	}
	for _, l := range c.Locations {
		if l.Role == cib.RolePromoted || l.Role == cib.RoleUnpromoted {
			return true
		}
	}
	for _, o := range c.Orders {
		if o.FirstAction == cib.ActionPromote || o.FirstAction == cib.ActionDemote || o.ThenAction == cib.ActionPromote || o.ThenAction == cib.ActionDemote {
			return true
		}
	}
	return false
}

// record is what is stored under Key.
type record struct {
	Format  int       `json:"format,omitempty"`
	Time    time.Time `json:"time"`
	By      string    `json:"by"`
	Summary string    `json:"summary"`
	CIB     *cib.CIB  `json:"cib,omitempty"`  // FormatCIB
	TOML    string    `json:"toml,omitempty"` // FormatTOML
}

// ErrNotSeeded means no member has stored a configuration yet.
var ErrNotSeeded = errors.New("no live configuration yet (a member seeds it from its cluster.toml when it starts)")

// ErrNewerFormat means a revision was written by a newer Tandem.
var ErrNewerFormat = errors.New("written by a newer tandem")

// ErrInvalid is what a revision that cannot be used fails with: it does
// not decode, or is not a valid model. The members keep running the last
// valid revision (Usable).
var ErrInvalid = errors.New("invalid live configuration revision")

// ErrGone means the live configuration existed (a member or the marker
// remembers it) and is missing now: it is not re-seeded from a cluster
// file behind the admin's back, which would lose every live edit.
var ErrGone = errors.New("the live configuration is missing although it existed")

// ReseedHint says how to store a configuration again after ErrGone.
const ReseedHint = "nothing was re-seeded from cluster.toml, which would lose the live edits; " +
	"to store a configuration again, run `tandem config reseed --from /etc/tandem/cluster.toml` (or another file)"

// MaxRecordSize is the largest stored revision read: twice the largest
// cluster file, as JSON. A larger value is reported invalid unread.
const MaxRecordSize = 2 * config.MaxFileSize

// MarkerKey is the KV key (beside Key) that records the first seeding: a
// missing Key with a marker is ErrGone, not a new cluster.
const MarkerKey = "cluster-seeded"

// invalidError is a revision that cannot be used; it matches ErrInvalid
// and whatever made it so.
type invalidError struct {
	rev uint64
	err error
}

func (e *invalidError) Error() string   { return e.err.Error() }
func (e *invalidError) Unwrap() []error { return []error{ErrInvalid, e.err} }

// Store reads and writes the live configuration.
type Store struct {
	kv   *bus.KV
	conn *bus.Conn
	// client: writes go through the members' write service (service.go).
	client bool
}

// Open opens the store on conn, a member's in-process connection: it
// writes the bucket itself (seeding, and the write service's writes).
func Open(ctx context.Context, conn *bus.Conn) (*Store, error) {
	kv, err := conn.KV(ctx, bus.BucketConfig)
	if err != nil {
		return nil, err
	}
	return &Store{kv: kv, conn: conn}, nil
}

// OpenClient opens the store on conn, a client's connection (`tandem`
// commands): it reads the bucket, and asks a member's daemon to make each
// revision, which stamps it with conn's authenticated identity (of a
// `by` passed to Put, Update, Rollback or Reseed only the host after the
// '@' is sent, as a claim). It cannot seed.
func OpenClient(ctx context.Context, conn *bus.Conn) (*Store, error) {
	s, err := Open(ctx, conn)
	if err != nil {
		return nil, err
	}
	s.client = true
	return s, nil
}

// decode reads a stored revision; an unusable one fails with an error
// matching ErrInvalid.
func decode(e jetstream.KeyValueEntry) (Revision, error) {
	r, err := decodeRecord(e)
	if err != nil {
		return Revision{}, &invalidError{rev: e.Revision(), err: err}
	}
	return r, nil
}

func decodeRecord(e jetstream.KeyValueEntry) (Revision, error) {
	var r record
	where := fmt.Sprintf("live configuration revision %d", e.Revision())
	if n := len(e.Value()); n > MaxRecordSize {
		return Revision{}, fmt.Errorf("%s: %d bytes is larger than the limit of %d bytes (MaxRecordSize)", where, n, MaxRecordSize)
	}
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return Revision{}, fmt.Errorf("%s: %w", where, err)
	}
	rev := Revision{Rev: e.Revision(), Time: r.Time, By: r.By, Summary: r.Summary, Format: r.Format}
	switch {
	case r.Format == 0 || r.Format == FormatTOML:
		rev.Format = FormatTOML
		f, err := config.Parse(where, []byte(r.TOML))
		if err != nil {
			return Revision{}, err
		}
		rev.CIB = f.CIB
	case r.Format >= FormatCIB && r.Format <= Format:
		// Every format from FormatCIB on is the model as JSON; each adds
		// what older builds must not silently ignore.
		if r.CIB == nil {
			return Revision{}, fmt.Errorf("%s: no cluster model in it", where)
		}
		if ps := r.CIB.Validate(); ps != nil {
			return Revision{}, fmt.Errorf("%s is not valid: %w", where, ps)
		}
		rev.CIB = r.CIB
	default:
		return Revision{}, fmt.Errorf("%s is in format %d, %w (this one reads up to %d): upgrade tandem on this host",
			where, r.Format, ErrNewerFormat, Format)
	}
	return rev, nil
}

func encode(c *cib.CIB, by, summary string) ([]byte, error) {
	if ps := c.Validate(); ps != nil {
		return nil, ps
	}
	if err := Runnable(c); err != nil {
		return nil, err
	}
	return json.Marshal(record{Format: formatFor(c), Time: time.Now().UTC(), By: by, Summary: summary, CIB: c})
}

// Runnable refuses what the scheduler and `tandem simulate` take but the
// nodes cannot run yet: several instances of a promotable clone on one
// node (a node holds one promoted slot lease of a clone). Several
// instances of any other globally-unique clone run on a node, each apart,
// and so do several copies of a unique cloned group, whose members run as
// instances of the group's clone (an anonymous clone's or cloned group's
// clone-node-max > 1 is refused by cib's Validate, and so is a promotable
// cloned group's).
func Runnable(c *cib.CIB) error {
	var ps cib.Problems
	for i, r := range c.Resources {
		if r.Clone != nil && r.Clone.NodeMax > 1 && r.Clone.Promotable {
			ps = append(ps, cib.Problem{Path: fmt.Sprintf("resource[%d]", i), Msg: fmt.Sprintf("resource %q: clone-node-max %d on a promotable clone: a node runs one instance of a promotable clone in this version of Tandem "+
				"(the scheduler and tandem simulate take more); set clone-node-max to 1", r.ID, r.Clone.NodeMax)})
		}
	}
	if ps == nil {
		return nil
	}
	return ps
}

// Same says whether two models are the same configuration.
func Same(a, b *cib.CIB) bool {
	if a == nil || b == nil {
		return a == b
	}
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// Seed stores c as the first live configuration unless one exists, and
// returns the one to run (Usable) either way; seeded says whether this
// call stored it. A configuration that existed once is never seeded again:
// when hadOne (the caller remembers one) or the bucket's marker says so, a
// missing configuration is ErrGone.
func (s *Store) Seed(ctx context.Context, c *cib.CIB, by string, hadOne bool) (good Revision, bad *Revision, seeded bool, err error) {
	if s.client {
		return Revision{}, nil, false, errors.New("only a member seeds the live configuration")
	}
	good, bad, err = s.Usable(ctx)
	if err == nil {
		s.mark(ctx, good.Rev, by) // a cluster seeded before the marker
		return good, bad, false, nil
	}
	if !errors.Is(err, ErrNotSeeded) {
		return Revision{}, nil, false, err
	}
	if err := s.gone(ctx, hadOne); err != nil {
		return Revision{}, nil, false, err
	}
	data, err := encode(c, by, "seeded from cluster.toml")
	if err != nil {
		return Revision{}, nil, false, err
	}
	if _, err := s.kv.Create(ctx, Key, data, 0); err == nil {
		seeded = true
	} else if !errors.Is(err, bus.ErrConflict) {
		return Revision{}, nil, false, err
	}
	good, bad, err = s.Usable(ctx)
	if err == nil {
		s.mark(ctx, good.Rev, by)
	}
	return good, bad, seeded, err
}

// marker is what MarkerKey holds.
type marker struct {
	Rev  uint64    `json:"rev"`
	By   string    `json:"by"`
	Time time.Time `json:"time"`
}

// mark stores the marker unless there is one (best effort: a member that
// ran a configuration also keeps its own).
func (s *Store) mark(ctx context.Context, rev uint64, by string) {
	data, _ := json.Marshal(marker{Rev: rev, By: by, Time: time.Now().UTC()})
	_, _ = s.kv.Create(ctx, MarkerKey, data, 0)
}

// gone is ErrGone when the configuration existed (hadOne, or the marker).
func (s *Store) gone(ctx context.Context, hadOne bool) error {
	e, err := s.kv.Get(ctx, MarkerKey)
	switch {
	case err == nil:
		var m marker
		_ = json.Unmarshal(e.Value(), &m)
		return fmt.Errorf("%w (first stored as revision %d by %s at %s); %s", ErrGone, m.Rev, m.By, m.Time.Format(time.RFC3339), ReseedHint)
	case !errors.Is(err, bus.ErrNotFound):
		return err
	case hadOne:
		return fmt.Errorf("%w (this member ran it before); %s", ErrGone, ReseedHint)
	}
	return nil
}

// Reseed stores c as the live configuration whatever the bucket holds:
// nothing, a configuration that was lost (ErrGone), or an invalid one. It
// is the explicit command ErrGone asks for.
func (s *Store) Reseed(ctx context.Context, c *cib.CIB, by, from string) (Revision, error) {
	if s.client {
		return s.ask(ctx, writeRequest{Reseed: true, From: from, Host: hostOf(by)}, c, "re-seeded from "+from)
	}
	return s.reseed(ctx, c, by, from)
}

func (s *Store) reseed(ctx context.Context, c *cib.CIB, by, from string) (Revision, error) {
	data, err := encode(c, by, "re-seeded from "+from)
	if err != nil {
		return Revision{}, err
	}
	var rev uint64
	e, err := s.kv.Get(ctx, Key)
	switch {
	case err == nil:
		rev, err = s.kv.Update(ctx, Key, data, e.Revision())
	case errors.Is(err, bus.ErrNotFound):
		rev, err = s.kv.Put(ctx, Key, data)
	}
	if err != nil {
		return Revision{}, err
	}
	s.mark(ctx, rev, by)
	r := Revision{Rev: rev, Time: time.Now().UTC(), By: by, Summary: "re-seeded from " + from, Format: formatFor(c), CIB: c}
	_ = s.conn.Publish(bus.ConfigChanged{Revision: r.Rev, By: r.By, Summary: r.Summary})
	return r, nil
}

// Usable is the revision to run: the current one when it is valid, else
// the newest valid revision kept, with the invalid current one as bad.
// With no valid revision at all, the error says what to do.
func (s *Store) Usable(ctx context.Context) (good Revision, bad *Revision, err error) {
	cur, err := s.Current(ctx)
	if err == nil || !errors.Is(err, ErrInvalid) {
		return cur, nil, err
	}
	var ie *invalidError
	errors.As(err, &ie)
	bad = &Revision{Rev: ie.rev, Invalid: err.Error(), newer: errors.Is(err, ErrNewerFormat)}
	hist, herr := s.History(ctx)
	if herr != nil {
		return Revision{}, bad, herr
	}
	for i := len(hist) - 1; i >= 0; i-- {
		if hist[i].Invalid == "" {
			return hist[i], bad, nil
		}
	}
	return Revision{}, bad, fmt.Errorf("%w and no valid revision is kept; store one with `tandem config apply FILE` or `tandem config reseed --from FILE`", err)
}

// Current reads the live configuration.
func (s *Store) Current(ctx context.Context) (Revision, error) {
	e, err := s.kv.Get(ctx, Key)
	if errors.Is(err, bus.ErrNotFound) {
		return Revision{}, ErrNotSeeded
	}
	if err != nil {
		return Revision{}, err
	}
	return decode(e)
}

// Put stores c if the live configuration is still at revision base, and
// fails with an error matching bus.ErrConflict otherwise (for a client's
// store, a member's daemon writes it: OpenClient). An invalid model
// is refused (the error is a cib.Problems) and nothing is stored. A stored
// change is announced on the bus (bus.ConfigChanged), so that followers
// need not wait for their watch.
func (s *Store) Put(ctx context.Context, c *cib.CIB, base uint64, by, summary string) (Revision, error) {
	if s.client {
		return s.ask(ctx, writeRequest{Base: base, Host: hostOf(by)}, c, summary)
	}
	return s.put(ctx, c, base, by, summary)
}

func (s *Store) put(ctx context.Context, c *cib.CIB, base uint64, by, summary string) (Revision, error) {
	data, err := encode(c, by, summary)
	if err != nil {
		return Revision{}, err
	}
	rev, err := s.kv.Update(ctx, Key, data, base)
	if err != nil {
		return Revision{}, err
	}
	r := Revision{Rev: rev, Time: time.Now().UTC(), By: by, Summary: summary, Format: formatFor(c), CIB: c}
	_ = s.conn.Publish(bus.ConfigChanged{Revision: r.Rev, By: r.By, Summary: r.Summary})
	return r, nil
}

// Update applies change to the current configuration and stores the result,
// retrying on a newer version when another editor got there first (at most
// attempts times). change must not keep the model it is given. It returns
// the new revision; if change leaves the model as it was, nothing is stored
// and the current revision is returned.
func (s *Store) Update(ctx context.Context, by string, change func(*cib.CIB) (summary string, err error)) (Revision, error) {
	const attempts = 10
	var lastErr error
	for i := range attempts {
		if i > 0 {
			// Back off a random while so that racing editors interleave.
			select {
			case <-ctx.Done():
				return Revision{}, ctx.Err()
			case <-time.After(time.Duration(i) * time.Duration(5+rand.IntN(20)) * time.Millisecond):
			}
		}
		// An edit applies to the configuration the members run, and
		// replaces an invalid current revision.
		cur, bad, err := s.Usable(ctx)
		if err != nil {
			return Revision{}, err
		}
		base := cur.Rev
		if bad != nil {
			if bad.newer {
				// An edit must not undo a newer build's change.
				return Revision{}, errors.New(bad.Invalid)
			}
			base = bad.Rev
		}
		before, err := json.Marshal(cur.CIB)
		if err != nil {
			return Revision{}, err
		}
		summary, err := change(cur.CIB)
		if err != nil {
			return Revision{}, err
		}
		if after, err := json.Marshal(cur.CIB); err == nil && string(after) == string(before) && bad == nil {
			return cur, nil
		}
		rev, err := s.Put(ctx, cur.CIB, base, by, summary)
		if err == nil {
			return rev, nil
		}
		if !errors.Is(err, bus.ErrConflict) {
			return Revision{}, err
		}
		lastErr = err
	}
	return Revision{}, fmt.Errorf("the live configuration kept changing under this edit (%d attempts): %w", attempts, lastErr)
}

// History lists the kept revisions, oldest first; one that cannot be used
// is listed with Invalid saying why.
func (s *Store) History(ctx context.Context) ([]Revision, error) {
	es, err := s.kv.History(ctx, Key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, ErrNotSeeded
	}
	if err != nil {
		return nil, err
	}
	var out []Revision
	for _, e := range es {
		if e.Operation() != jetstream.KeyValuePut {
			continue
		}
		r, err := decode(e)
		if err != nil {
			r = Revision{Rev: e.Revision(), Time: e.Created(), Invalid: err.Error()}
			var meta record // what can be read of who wrote it
			if len(e.Value()) <= MaxRecordSize && json.Unmarshal(e.Value(), &meta) == nil {
				r.By, r.Summary, r.Format = meta.By, meta.Summary, meta.Format
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// Rollback makes revision rev's configuration current again (as a new
// revision, so history is kept).
func (s *Store) Rollback(ctx context.Context, rev uint64, by string) (Revision, error) {
	hist, err := s.History(ctx)
	if err != nil {
		return Revision{}, err
	}
	for _, r := range hist {
		if r.Rev == rev {
			if r.Invalid != "" {
				return Revision{}, fmt.Errorf("revision %d is invalid (%s); roll back to a valid one (see `tandem config history`)", rev, r.Invalid)
			}
			return s.Update(ctx, by, func(c *cib.CIB) (string, error) {
				*c = *r.CIB
				return fmt.Sprintf("rollback to revision %d", rev), nil
			})
		}
	}
	var kept []uint64
	for _, r := range hist {
		kept = append(kept, r.Rev)
	}
	return Revision{}, fmt.Errorf("revision %d is not kept (kept: %v); see `tandem config history`", rev, kept)
}
