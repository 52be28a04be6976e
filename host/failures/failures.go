// Package failures keeps fail-counts: how many times each resource failed on
// each node, and when it last did. They live in the bus's state bucket, so
// they survive a coordinator change, and `tandem resource cleanup` clears
// them. The scheduler reads them for migration-threshold and
// failure-timeout.
package failures

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/policies/cib"
)

// Record is one resource's failures on one node.
type Record struct {
	Resource string    `json:"resource"`
	Node     string    `json:"node"`
	Count    int       `json:"count"` // saturates at INFINITY (a failed start is fatal)
	Last     time.Time `json:"last"`
	Op       string    `json:"op"` // operation of the last failure
	Message  string    `json:"message,omitempty"`
}

// Store reads and writes fail-counts.
type Store struct{ kv *bus.KV }

// Open opens the store on conn.
func Open(ctx context.Context, conn *bus.Conn) (*Store, error) {
	kv, err := conn.KV(ctx, bus.BucketState)
	if err != nil {
		return nil, err
	}
	return &Store{kv: kv}, nil
}

const prefix = bus.StateFailPrefix

func key(resource, node string) string { return bus.StateFailKey(resource, node) }

// Add counts one failure of resource on node (fatal: count becomes
// INFINITY, as Pacemaker does for a failed start).
func (s *Store) Add(ctx context.Context, resource, node, op, message string, fatal bool, at time.Time) (Record, error) {
	k := key(resource, node)
	for range 10 {
		r := Record{Resource: resource, Node: node}
		var rev uint64
		e, err := s.kv.Get(ctx, k)
		switch {
		case err == nil:
			if json.Unmarshal(e.Value(), &r) != nil {
				r = Record{Resource: resource, Node: node}
			}
			rev = e.Revision()
		case errors.Is(err, bus.ErrNotFound):
		default:
			return Record{}, err
		}
		r.Count++
		if fatal || r.Count > int(cib.Infinity) {
			r.Count = int(cib.Infinity)
		}
		r.Last, r.Op, r.Message = at.UTC(), op, message
		data, _ := json.Marshal(r)
		if rev == 0 {
			_, err = s.kv.Create(ctx, k, data, 0)
		} else {
			_, err = s.kv.Update(ctx, k, data, rev)
		}
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, bus.ErrConflict) {
			return Record{}, err
		}
	}
	return Record{}, fmt.Errorf("fail-count of %s on %s: too many concurrent updates", resource, node)
}

// List returns every fail-count, sorted by resource and node.
func (s *Store) List(ctx context.Context) ([]Record, error) {
	entries, err := s.kv.ValuesWithPrefix(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, e := range entries {
		var r Record
		if json.Unmarshal(e.Value(), &r) == nil && r.Count > 0 {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Resource != out[j].Resource {
			return out[i].Resource < out[j].Resource
		}
		return out[i].Node < out[j].Node
	})
	return out, nil
}

// instanceOf says whether name is "resource:N", an instance of
// globally-unique clone resource, whose failures are counted apart (as
// Pacemaker's fail-count-resource:N).
func instanceOf(name, resource string) bool {
	num, ok := strings.CutPrefix(name, resource+":")
	if !ok || num == "" {
		return false
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Clear forgets the failures of resource, its instances' included (a
// globally-unique clone's, "resource:N"), on node, or everywhere if node
// is empty; every resource's if resource is empty too. It returns what it
// cleared.
func (s *Store) Clear(ctx context.Context, resource, node string) ([]Record, error) {
	all, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	var cleared []Record
	for _, r := range all {
		if (resource == "" || r.Resource == resource || instanceOf(r.Resource, resource)) && (node == "" || r.Node == node) {
			if err := s.kv.Delete(ctx, key(r.Resource, r.Node)); err != nil {
				return cleared, err
			}
			cleared = append(cleared, r)
		}
	}
	return cleared, nil
}
