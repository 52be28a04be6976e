package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
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
	g, err := conn.StreamState(ctx, bus.StreamOfBucket(bus.BucketState))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Current) != 3 || g.Current["d"] || g.Current["e"] {
		t.Errorf("replicas %v, want the three voters a, b, c", g.Current)
	}
}
