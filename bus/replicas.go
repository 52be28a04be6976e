package bus

import (
	"context"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// How many replicas the buckets keep (docs/topology.md, "Choosing the
// voters"): ReplicasFor the voters, but never more than the JetStream meta
// group has peers, and grown only once that many are online. Five voters
// keep every bucket on five, so that two voter failures leave every
// bucket its quorum, as they leave the meta group's; removing voters
// (remove-voter) shrinks the buckets with the group.

// BucketTarget is how many replicas the buckets should keep with the
// meta group mp and want replicas asked for by the file: want, at most
// ReplicasFor the group's peers (a group of 4 after a removal keeps 3).
// grow says whether a bucket with fewer may be grown to it now: only
// when that many of the group's peers are online, so that a grown stream
// never waits for a replica that cannot be placed.
func BucketTarget(mp MetaPeers, want int) (target int, grow bool) {
	target = min(want, ReplicasFor(mp.Size))
	online := 0
	for _, n := range mp.Names {
		if mp.Online[n] {
			online++
		}
	}
	return target, online >= target
}

// ScaleStream sets how many replicas stream keeps; it says whether that
// changed anything. Scaling down, nats-server keeps the leader and the
// online replicas that lag least, so the replicas on voters that are down
// are the first to go.
func (c *Conn) ScaleStream(ctx context.Context, stream string, replicas int) (bool, error) {
	st, err := c.JS.Stream(ctx, stream)
	if err != nil {
		return false, fmt.Errorf("stream %s: %w", stream, c.explain(err))
	}
	cfg := st.CachedInfo().Config
	if cfg.Replicas == replicas {
		return false, nil
	}
	from := cfg.Replicas
	cfg.Replicas = replicas
	if _, err := c.JS.UpdateStream(ctx, cfg); err != nil {
		return false, fmt.Errorf("stream %s from %d to %d replicas: %w", stream, from, replicas, c.explain(err))
	}
	return true, nil
}

// FitBuckets brings every bucket's replicas to BucketTarget of this
// voter's view of the meta group: down at once, up only when grow allows.
// With evict (after remove-voter), a bucket that has its replicas but one
// on a voter that is not online, while an online voter holds none, has
// that replica moved there: scaling down, nats-server keeps the replicas
// it heard from last, and a voter killed seconds before may still count
// as online there and be kept over a live one. It returns what it changed
// ("tandem-leases: 3 -> 5 replicas"), and whether a bucket's group has
// yet to reach its number of replicas (a change still under way). c must
// be allowed to update the buckets' streams (a member's own connection).
func (s *Server) FitBuckets(ctx context.Context, c *Conn, evict bool) (changed []string, pending bool, err error) {
	mp, err := s.Meta()
	if err != nil {
		return nil, false, err
	}
	if mp.Leader == "" {
		return nil, false, fmt.Errorf("%w: the buckets' replicas cannot change", ErrNoMetaQuorum)
	}
	target, grow := BucketTarget(mp, s.Replicas())
	for _, b := range Buckets() {
		stream := StreamOfBucket(b)
		st, err := c.JS.Stream(ctx, stream)
		if err != nil {
			return changed, pending, fmt.Errorf("stream %s: %w", stream, c.explain(err))
		}
		have, size := st.CachedInfo().Config.Replicas, st.CachedInfo().Config.Replicas
		if ci := st.CachedInfo().Cluster; ci != nil {
			size = groupSize(ci)
		}
		switch {
		case size > have:
			pending = true // a scale-down under way: one change at a time
		case have > target, have < target && grow:
			if _, err := c.ScaleStream(ctx, stream, target); err != nil {
				return changed, pending, err
			}
			pending = true
			changed = append(changed, fmt.Sprintf("%s: %d -> %d replicas", b, have, target))
		case have == target && size < have:
			pending = true // a replica being placed
		case have == target && evict:
			if p, spare := misplaced(st.CachedInfo().Cluster, mp); p != "" {
				if err := c.RemoveStreamPeer(ctx, stream, p); err != nil {
					return changed, pending, err
				}
				pending = true
				changed = append(changed, fmt.Sprintf("%s: the replica on %s (offline) moved to %s", b, p, spare))
			}
		}
	}
	return changed, pending, nil
}

// groupSize counts the peers of a stream's Raft group.
func groupSize(ci *jetstream.ClusterInfo) int {
	n := len(ci.Replicas)
	if ci.Leader != "" {
		n++
	}
	return n
}

// misplaced names a replica of the stream on a peer of the meta group mp
// that is not online, and an online peer that holds none of its replicas
// (where nats-server re-places it); "" when there is no such pair. A peer
// known only by its id (a voter dead since before this server started) is
// left alone.
func misplaced(ci *jetstream.ClusterInfo, mp MetaPeers) (offline, spare string) {
	if ci == nil {
		return "", ""
	}
	holds := map[string]bool{ci.Leader: true}
	for _, r := range ci.Replicas {
		holds[r.Name] = true
		if offline == "" && slices.Contains(mp.Names, r.Name) && !mp.Online[r.Name] {
			offline = r.Name
		}
	}
	for _, n := range mp.Names {
		if mp.Online[n] && !holds[n] {
			spare = n
			break
		}
	}
	if offline == "" || spare == "" {
		return "", ""
	}
	return offline, spare
}
