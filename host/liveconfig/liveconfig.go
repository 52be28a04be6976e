// Package liveconfig keeps the cluster's live configuration in the bus: one
// KV key whose revisions are the configuration's versions. The first member
// to start seeds it from its cluster.toml; after that, every change is a
// compare-and-swap on the revision it was made from, so two editors never
// lose an update: one of them gets ErrConflict and retries on the newer
// version (Update does that itself).
package liveconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/config"
)

// Key is the KV key of the live configuration in bus.BucketConfig.
const Key = "cluster"

// Revision is one version of the live configuration.
type Revision struct {
	Rev     uint64         `json:"rev"`
	Time    time.Time      `json:"time"`
	By      string         `json:"by"`      // who made the change (member or cli@host)
	Summary string         `json:"summary"` // what the change did, for `tandem config history`
	TOML    string         `json:"toml"`    // the configuration, as cluster.toml text
	Config  *config.Config `json:"-"`
}

// record is what is stored under Key.
type record struct {
	Time    time.Time `json:"time"`
	By      string    `json:"by"`
	Summary string    `json:"summary"`
	TOML    string    `json:"toml"`
}

// ErrNotSeeded means no member has stored a configuration yet.
var ErrNotSeeded = errors.New("no live configuration yet (a member seeds it from its cluster.toml when it starts)")

// Store reads and writes the live configuration.
type Store struct {
	kv *bus.KV
}

// Open opens the store on conn.
func Open(ctx context.Context, conn *bus.Conn) (*Store, error) {
	kv, err := conn.KV(ctx, bus.BucketConfig)
	if err != nil {
		return nil, err
	}
	return &Store{kv: kv}, nil
}

func decode(e jetstream.KeyValueEntry) (Revision, error) {
	var r record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return Revision{}, fmt.Errorf("live configuration revision %d: %w", e.Revision(), err)
	}
	cfg, err := config.Parse(fmt.Sprintf("live configuration (revision %d)", e.Revision()), []byte(r.TOML))
	if err != nil {
		return Revision{}, err
	}
	return Revision{Rev: e.Revision(), Time: r.Time, By: r.By, Summary: r.Summary, TOML: r.TOML, Config: cfg}, nil
}

func encode(cfg *config.Config, by, summary string) ([]byte, string, error) {
	if err := config.Validate(cfg); err != nil {
		return nil, "", err
	}
	text, err := config.Encode(cfg)
	if err != nil {
		return nil, "", err
	}
	data, err := json.Marshal(record{Time: time.Now().UTC(), By: by, Summary: summary, TOML: string(text)})
	return data, string(text), err
}

// Seed stores cfg as the first live configuration unless one exists, and
// returns the current one either way; seeded says whether this call stored it.
func (s *Store) Seed(ctx context.Context, cfg *config.Config, by string) (rev Revision, seeded bool, err error) {
	data, _, err := encode(cfg, by, "seeded from cluster.toml")
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

// Put stores cfg if the live configuration is still at revision base, and
// fails with an error matching bus.ErrConflict otherwise. An invalid cfg is
// refused and nothing is stored.
func (s *Store) Put(ctx context.Context, cfg *config.Config, base uint64, by, summary string) (Revision, error) {
	data, text, err := encode(cfg, by, summary)
	if err != nil {
		return Revision{}, err
	}
	rev, err := s.kv.Update(ctx, Key, data, base)
	if err != nil {
		return Revision{}, err
	}
	return Revision{Rev: rev, By: by, Summary: summary, TOML: text, Config: cfg}, nil
}

// Update applies change to the current configuration and stores the result,
// retrying on a newer version when another editor got there first (at most
// attempts times). change must not keep the config it is given. It returns
// the new revision; if change leaves the configuration as it was, nothing is
// stored and the current revision is returned.
func (s *Store) Update(ctx context.Context, by string, change func(*config.Config) (summary string, err error)) (Revision, error) {
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
		summary, err := change(cur.Config)
		if err != nil {
			return Revision{}, err
		}
		if text, err := config.Encode(cur.Config); err == nil && bytes.Equal(text, []byte(cur.TOML)) {
			return cur, nil
		}
		rev, err := s.Put(ctx, cur.Config, cur.Rev, by, summary)
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
			return s.Update(ctx, by, func(c *config.Config) (string, error) {
				*c = *r.Config
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

// Watch calls fn with the current configuration and then with every new
// revision until ctx ends. Invalid revisions (never written by Put) are
// skipped.
func (s *Store) Watch(ctx context.Context, fn func(Revision)) error {
	w, err := s.kv.Raw().Watch(ctx, Key)
	if err != nil {
		return fmt.Errorf("watching the live configuration: %w", err)
	}
	go func() {
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil || e.Operation() != jetstream.KeyValuePut {
					continue
				}
				if r, err := decode(e); err == nil {
					fn(r)
				}
			}
		}
	}()
	return nil
}
