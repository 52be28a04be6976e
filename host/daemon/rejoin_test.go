package daemon_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
	"github.com/tandem-ha/tandem/host/lease"
)

// A voter whose machine was replaced (its bus data directory is empty:
// a new disk, the same name and certificate) rejoins: its bucket replicas
// and its place in the meta group are caught up from the other voters,
// and afterwards the cluster survives the loss of another voter. This is
// the documented repair of a voter (docs/topology.md).
func TestVoterWithEmptyDataDirRejoins(t *testing.T) {
	tc := daemontest.NewShape(t, threeNodes, singleton+`
[[resource]]
id = "worker"
agent = "example:process"
params = { command = "/bin/sleep", args = "3600", state_dir = "STATE/{node}" }
[resource.clone]
`)
	tc.StartAll()
	c := tc.Connect()
	all := map[string]string{}
	for _, n := range threeNodes.Nodes {
		all[n+"/worker"] = bus.StateStarted
	}
	poll.Until(t, 90*time.Second, 100*time.Millisecond, func() error {
		if w := tc.Where("sleeper"); len(w) != 1 {
			return fmt.Errorf("sleeper on %v", w)
		}
		return tc.Reported(c, all)
	})

	// carol's machine is replaced: stopped, its bus data gone.
	tc.Stop("carol")
	if err := os.RemoveAll(filepath.Join(tc.Dir, "data", "carol")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(tc.Dir, "data", "holly")); err != nil {
		t.Fatalf("the data directory layout changed (no %s): %v", filepath.Join(tc.Dir, "data", "holly"), err)
	}
	begin := time.Now()
	tc.Start("carol")
	poll.Until(t, 90*time.Second, 100*time.Millisecond, func() error { return tc.Reported(c, all) })
	t.Logf("carol rejoined with an empty data directory; its clone instance runs again after %s", time.Since(begin).Round(time.Millisecond))

	// Another voter fails, the meta group's leader when that is not
	// carol: carol's replicas must count for the quorum.
	victim := "holly"
	if l := metaLeader(tc); l == "holly" || l == "benji" {
		victim = l
	}
	survivor := map[string]string{"holly": "benji", "benji": "holly"}[victim]
	t.Logf("stopping %s (the meta group's leader was %s)", victim, metaLeader(tc))
	tc.Stop(victim)
	begin = time.Now()
	left := map[string]string{survivor + "/worker": bus.StateStarted, "carol/worker": bus.StateStarted}
	poll.Until(t, 90*time.Second, 100*time.Millisecond, func() error {
		if w := tc.Where("sleeper"); len(w) != 1 || w[0] == victim {
			return fmt.Errorf("sleeper on %v", w)
		}
		return tc.Reported(c, left)
	})
	t.Logf("%s stopped: the cluster of %s and the rejoined carol runs everything after %s", victim, survivor, time.Since(begin).Round(time.Millisecond))
	// And the bus takes writes: the sleeper's lease is renewed (a write
	// every 250 ms; with a voter gone, only through the buckets' quorum).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := c.KV(ctx, bus.BucketLeases)
	if err != nil {
		t.Fatal(err)
	}
	var first uint64
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		e, err := kv.Get(ctx, lease.Key("sleeper"))
		if err != nil {
			return err
		}
		if first == 0 {
			first = e.Revision()
		}
		if e.Revision() < first+4 {
			return fmt.Errorf("the sleeper's lease at revision %d, not yet renewed 4 times since %d", e.Revision(), first)
		}
		return nil
	})
}

// metaLeader is the JetStream meta group's leader as carol sees it.
func metaLeader(tc *daemontest.Cluster) string {
	g, err := tc.Server("carol").MetaState()
	if err != nil {
		return ""
	}
	return g.Leader
}
