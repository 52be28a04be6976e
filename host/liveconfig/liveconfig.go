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
	CIB    *cib.CIB // nil only for the zero Revision (none read yet)
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
	// Format is the newest format this build writes.
	Format = FormatCIBExtended
)

// formatFor is the oldest format that holds everything c uses.
func formatFor(c *cib.CIB) int {
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

// Store reads and writes the live configuration.
type Store struct {
	kv   *bus.KV
	conn *bus.Conn
}

// Open opens the store on conn.
func Open(ctx context.Context, conn *bus.Conn) (*Store, error) {
	kv, err := conn.KV(ctx, bus.BucketConfig)
	if err != nil {
		return nil, err
	}
	return &Store{kv: kv, conn: conn}, nil
}

func decode(e jetstream.KeyValueEntry) (Revision, error) {
	var r record
	where := fmt.Sprintf("live configuration revision %d", e.Revision())
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return Revision{}, fmt.Errorf("%s: %w", where, err)
	}
	rev := Revision{Rev: e.Revision(), Time: r.Time, By: r.By, Summary: r.Summary, Format: r.Format}
	switch r.Format {
	case 0, FormatTOML:
		rev.Format = FormatTOML
		f, err := config.Parse(where, []byte(r.TOML))
		if err != nil {
			return Revision{}, err
		}
		rev.CIB = f.CIB
	case FormatCIB, FormatCIBExtended:
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
	return json.Marshal(record{Format: formatFor(c), Time: time.Now().UTC(), By: by, Summary: summary, CIB: c})
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
// returns the current one either way; seeded says whether this call stored it.
func (s *Store) Seed(ctx context.Context, c *cib.CIB, by string) (rev Revision, seeded bool, err error) {
	data, err := encode(c, by, "seeded from cluster.toml")
	if err != nil {
		return Revision{}, false, err
	}
	if _, err := s.kv.Create(ctx, Key, data, 0); err == nil {
		seeded = true
	} else if !errors.Is(err, bus.ErrConflict) {
		return Revision{}, false, err
	}
	rev, err = s.Current(ctx)
	return rev, seeded, err
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
// fails with an error matching bus.ErrConflict otherwise. An invalid model
// is refused (the error is a cib.Problems) and nothing is stored. A stored
// change is announced on the bus (bus.ConfigChanged), so that followers
// need not wait for their watch.
func (s *Store) Put(ctx context.Context, c *cib.CIB, base uint64, by, summary string) (Revision, error) {
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
		cur, err := s.Current(ctx)
		if err != nil {
			return Revision{}, err
		}
		before, err := json.Marshal(cur.CIB)
		if err != nil {
			return Revision{}, err
		}
		summary, err := change(cur.CIB)
		if err != nil {
			return Revision{}, err
		}
		if after, err := json.Marshal(cur.CIB); err == nil && string(after) == string(before) {
			return cur, nil
		}
		rev, err := s.Put(ctx, cur.CIB, cur.Rev, by, summary)
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

// History lists the kept revisions, oldest first.
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
			return nil, err
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
