package lease

// Tenures: who holds a lease now and under which fencing token, as anyone
// on the bus can read it. The LRM admits a coordinator's plan only when it
// names the coordinator lease's current tenure (docs/leases.md).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Tenure is a lease's current holder as read from the bus.
type Tenure struct {
	Node  string
	Token uint64 // the tenure's fencing token (Holder.Token)
	// Legacy: the record was written by a build older than fencing
	// tokens (Token is then merely the revision read). A current build's
	// creating write carries no token either, but says it fences: its
	// token is its own revision.
	Legacy   bool
	Revision uint64 // the revision read
}

// ErrNoHolder says nobody holds the lease.
var ErrNoHolder = errors.New("nobody holds the lease")

// ReadTenure reads the current tenure of key in the lease bucket kv.
func ReadTenure(ctx context.Context, kv jetstream.KeyValue, key string) (Tenure, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return Tenure{}, fmt.Errorf("%w %s", ErrNoHolder, key)
	}
	if err != nil {
		return Tenure{}, fmt.Errorf("reading lease %s: %w", key, err)
	}
	var h Holder
	if err := json.Unmarshal(e.Value(), &h); err != nil || h.Node == "" {
		return Tenure{}, fmt.Errorf("lease %s at revision %d holds no holder record", key, e.Revision())
	}
	t := Tenure{Node: h.Node, Token: h.Token, Revision: e.Revision()}
	if t.Token == 0 {
		t.Token, t.Legacy = e.Revision(), !h.Fences
	}
	return t, nil
}

// Tenure is the current tenure of key. A lease this manager holds, within
// its deadline, is this node's tenure without a read: no other node can
// hold it then (that is what the deadline means), and the bus may have no
// stream leader to answer a read for a few seconds after a fault, which is
// exactly when a new coordinator's first plan must run on its own node.
func (m *Manager) Tenure(ctx context.Context, key string) (Tenure, error) {
	m.mu.Lock()
	l := m.held[key]
	m.mu.Unlock()
	if l != nil && l.Valid() {
		return Tenure{Node: m.cfg.Node, Token: l.token}, nil
	}
	return ReadTenure(ctx, m.kv, key)
}
