package status

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/failures"
	"github.com/tandem-ha/tandem/host/lease"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/host/tickets"
)

// Gather builds the report over conn: it asks every member for its status
// (waiting up to wait for their answers), then, if any answered, adds what
// the cluster runs. file is the local cluster file: the members, and the
// model the live configuration is compared with. `tandem status` and a
// member's status page both gather with it; neither writes anything, so a
// read-only (monitor) connection is enough.
func Gather(conn *bus.Conn, file *config.File, wait time.Duration, now time.Time) (Report, error) {
	top := file.Topology
	answers, err := bus.GatherMembers(conn, len(top.Members), wait)
	r := Build(top, len(file.CIB.Resources), answers, now)
	if len(answers) > 0 {
		addClusterState(conn, file, &r, wait)
	}
	return r, err
}

// addClusterState adds what the cluster runs: the live configuration's
// resources as the nodes report them, the coordinator and the fail-counts,
// and whether the live configuration is the local file's.
func addClusterState(conn *bus.Conn, file *config.File, r *Report, wait time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
	defer cancel()
	cfg := file.CIB
	if store, err := liveconfig.Open(ctx, conn); err != nil {
		r.LiveUnreadable = err.Error()
	} else if rev, bad, err := store.Usable(ctx); err != nil {
		if !errors.Is(err, liveconfig.ErrNotSeeded) { // the members seed it as they start
			r.LiveUnreadable = err.Error()
		}
	} else {
		cfg = rev.CIB
		r.Live = &LiveConfig{Revision: rev.Rev, File: file.Name, DiffersFromFile: !liveconfig.Same(file.CIB, rev.CIB)}
		if bad != nil {
			r.Live.InvalidRevision, r.Live.Invalid = bad.Rev, bad.Invalid
		}
	}
	online := 0
	for _, n := range r.Nodes {
		if n.Online {
			online++
		}
	}
	var reports []bus.NodeResources
	_ = bus.Gather(conn, bus.SubjectStateRequest, nil, online, wait, func(data []byte) bool {
		nr, _, err := bus.Decode[bus.NodeResources](data)
		if err != nil {
			return false
		}
		reports = append(reports, nr)
		return true
	})
	AddResources(r, cfg, reports)
	if kv, err := conn.KV(ctx, bus.BucketLeases); err == nil {
		if e, err := kv.Get(ctx, lease.CoordinatorKey); err == nil {
			var h lease.Holder
			if json.Unmarshal(e.Value(), &h) == nil {
				r.Coordinator = h.Node
			}
		}
	}
	if fs, err := failures.Open(ctx, conn); err == nil {
		if recs, err := fs.List(ctx); err == nil {
			for _, f := range recs {
				r.Failures = append(r.Failures, Failure{Resource: f.Resource, Node: f.Node, Count: f.Count, Op: f.Op, Message: f.Message, Last: f.Last})
			}
		}
	}
	MarkBlocked(r, reports)
	if ts, err := tickets.Open(ctx, conn); err == nil {
		if recs, err := ts.List(ctx); err == nil {
			if all := tickets.Summarize(cfg, recs); len(all) > 0 {
				r.Tickets = all
			}
		}
	}
}
