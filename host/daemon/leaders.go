package daemon

// The witness keeps the bus's Raft leaders: a node that dies then never
// takes a leader with it (docs/leases.md).

import (
	"context"
	"time"

	"github.com/tandem-ha/tandem/bus"
)

// How often the witness checks where the bus's leaders are: normally, and
// for leaderFastFor after a stream elected a leader other than the witness.
const (
	leaderCheckSlow = time.Second
	leaderCheckFast = 250 * time.Millisecond
	leaderFastFor   = 3 * time.Second
)

// keepLeaders keeps the Raft leaders of the bus on the witness, which runs
// no resources: the lease bucket's (a node that dies then never takes it
// with it, and a lease moves within its TTL instead of after a 4-9 s
// election), the config and state buckets' (read from their leader; the
// coordinator plans from them) and the JetStream meta leader's (watches).
func (m *Member) keepLeaders(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for _, b := range []string{bus.BucketLeases, bus.BucketConfig, bus.BucketState} {
		moved, err := m.conn.PreferStreamLeader(ctx, bus.StreamOfBucket(b), m.name)
		switch {
		case err != nil:
			m.log.Debug("bucket leader not moved", "bucket", b, "err", err)
		case moved:
			m.log.Info("moved a bucket's leader to the witness", "bucket", b)
		}
	}
	moved, err := m.server.PreferMetaLeader(ctx)
	switch {
	case err != nil:
		m.log.Debug("meta leader not moved", "err", err)
	case moved:
		m.log.Info("moved the JetStream meta leader to the witness")
	}
}
