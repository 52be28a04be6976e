package bus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/e2e/poll"
)

// A member that does not vote runs no JetStream, yet its clients use the
// buckets through the voters, and the buckets keep their copies on the
// voters only.
func TestNonVoterUsesTheVotersBuckets(t *testing.T) {
	top := bustest.Topology(t, []string{"a", "b", "c", "d", "e"}, "")
	top.Members[3].NonVoter = true
	top.Members[4].NonVoter = true
	cl := bustest.Start(t, top)
	if js := cl.Servers["d"].NATS().JetStreamEnabled(); js {
		t.Fatal("non-voter d runs JetStream")
	}
	conn := cl.Ready("d")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := conn.KV(ctx, bus.BucketState)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("from d")); err != nil {
		t.Fatal(err)
	}
	other := cl.Ready("e")
	kv2, err := other.KV(ctx, bus.BucketState)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv2.Get(ctx, "k")
	if err != nil || string(e.Value()) != "from d" {
		t.Fatalf("read through e: %v %q", err, e)
	}
	// A replica is current once it has caught up: under load one of the
	// three may lag the write for a moment (the flake this poll ended),
	// but no copy may ever be on d or e.
	poll.Until(t, 20*time.Second, 50*time.Millisecond, func() error {
		g, err := conn.StreamState(ctx, bus.StreamOfBucket(bus.BucketState))
		if err != nil {
			return err
		}
		if g.Current["d"] || g.Current["e"] {
			t.Fatalf("replicas %v, want the three voters a, b, c", g.Current)
		}
		if len(g.Current) != 3 {
			return fmt.Errorf("current replicas %v, want the three voters a, b, c", g.Current)
		}
		return nil
	})
}

// A voter that was dead before another member became a voter is a peer of
// the JetStream meta group that the new voter's server has never seen:
// nats-server names it "Server name unknown at this time (peerID: ...)".
// The new voter still removes it by its name (found in the lab: remove-voter
// answered by the replacement was refused as "not a voter").
func TestRemoveAVoterTheNewVoterNeverSaw(t *testing.T) {
	top := bustest.Topology(t, []string{"a", "b", "c", "d"}, "")
	top.Members[3].NonVoter = true
	cl := bustest.Start(t, top)
	cl.Ready("a")
	cl.StopMember("c")
	cl.StopMember("d")
	now := *top
	// d restarts as a voter, with a file that names a, b and d.
	now.Members = []bus.Member{top.Members[0], top.Members[1], top.Members[3]}
	now.Members[2].NonVoter = false
	cl.Topology = &now
	d := cl.StartMember("d")
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
		mp, err := d.Meta()
		if err != nil {
			return err
		}
		if mp.Size != 4 || mp.Leader == "" || !mp.Online["d"] || !mp.Online["a"] || !mp.Online["b"] {
			return fmt.Errorf("d sees the meta group as %d peers %v (online %v, leader %q)", mp.Size, mp.Names, mp.Online, mp.Leader)
		}
		return nil
	})
	mp, err := d.Meta()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(mp.Names, []string{"a", "b", "d"}) || !slices.Equal(mp.Unnamed, []string{bus.PeerID("c")}) {
		t.Errorf("d sees the peers %v and the unnamed %v, want a b d and c's id %s", mp.Names, mp.Unnamed, bus.PeerID("c"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := d.RemoveVoter(ctx, "c"); err != nil {
		t.Fatalf("d removing c: %v", err)
	}
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		mp, err := d.Meta()
		if err != nil {
			return err
		}
		if mp.Size != 3 || !slices.Equal(mp.Names, []string{"a", "b", "d"}) {
			return fmt.Errorf("d sees the meta group as %d peers %v, unnamed %v", mp.Size, mp.Names, mp.Unnamed)
		}
		return nil
	})
	// Removing it again is refused: it is no peer any more.
	if _, err := d.RemoveVoter(ctx, "c"); !errors.Is(err, bus.ErrNotVoter) {
		t.Errorf("removing c again: %v, want %v", err, bus.ErrNotVoter)
	}
}

// A plain member keeps one route to each peer: no Raft traffic crosses its
// routes, so it needs no route pinned to the system account apart from the
// cluster's. Two voters keep two (the cluster's account's and the system
// account's, which carries their Raft traffic apart from a flood of the
// cluster's subjects). Messages still cross every kind of pair, the voters'
// buckets still answer the plain members, and the route counts hold: the
// voters' routes to a plain member are not refused and solicited again.
func TestPlainMembersKeepOneRoutePerPeer(t *testing.T) {
	top := bustest.Topology(t, []string{"a", "b", "c", "d", "e"}, "")
	top.Members[3].NonVoter = true
	top.Members[4].NonVoter = true
	cl := bustest.Start(t, top)
	plain := map[string]bool{"d": true, "e": true}
	want := func(from, to string) int {
		if plain[from] || plain[to] {
			return 1
		}
		return 2
	}
	routes := func() error { return routesArePerPeer(cl.Servers, want) }
	poll.Until(t, 30*time.Second, 100*time.Millisecond, routes)

	// A message from each member reaches each other member's client.
	conns := map[string]*bus.Conn{}
	for _, m := range []string{"a", "b", "c", "d", "e"} {
		conns[m] = cl.Ready(m)
	}
	for from, fc := range conns {
		for to, tc := range conns {
			if from == to {
				continue
			}
			subject := "probe." + from + "." + to
			sub, err := tc.NC.SubscribeSync(subject)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.NC.Flush(); err != nil {
				t.Fatal(err)
			}
			// Interest crosses the routes asynchronously: publish until
			// one arrives (bounded: 100 tries, 5 s).
			got := false
			for i := 0; i < 100 && !got; i++ {
				if err := fc.NC.Publish(subject, []byte(from)); err != nil {
					t.Fatal(err)
				}
				if m, err := sub.NextMsg(50 * time.Millisecond); err == nil && string(m.Data) == from {
					got = true
				}
			}
			_ = sub.Unsubscribe()
			if !got {
				t.Fatalf("%s to %s: nothing arrived", from, to)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, m := range []string{"d", "e"} {
		kv, err := conns[m].KV(ctx, bus.BucketState)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(ctx, "from-"+m, []byte(m)); err != nil {
			t.Fatalf("put through %s: %v", m, err)
		}
	}
	// Still so, after the messages and the buckets' traffic.
	if err := routes(); err != nil {
		t.Fatal(err)
	}
}
