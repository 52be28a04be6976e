package daemon_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
	"github.com/tandem-ha/tandem/host/lease"
)

// A cluster whose file says [bus] leases = "grants" (leases granted by a
// majority of the voters, host/lease/grants.go): the coordinator lease,
// the singleton's and the promoted slot's are all granted that way. The
// promoted instance's node is cut off: it demotes before the survivor
// promotes (the role checker never sees two primaries), the singleton
// moves, and the lease bucket's record names the new holders.
func TestLeasesByGrantsOnALiveCluster(t *testing.T) {
	shape := daemontest.Reference
	shape.Bus = `leases = "grants"`
	tc := daemontest.NewShape(t, shape, promotableScenario+`
[[resource]]
id = "sleeper"
agent = "example:process"
params = { command = "/bin/sleep", args = "3600", state_dir = "STATE/{node}" }
[[resource.op]]
name = "monitor"
interval = "500ms"

[[colocation]]
rsc = "sleeper"
with = "db-clone"
with-rsc-role = "Promoted"
score = "INFINITY"
`)
	chk := newRoleChecker(t, tc.State, 1, "holly", "benji")
	cut0 := time.Now()
	tc.StartAll()
	c := tc.Connect()
	var primary string
	poll.Until(t, 60*time.Second, 50*time.Millisecond, func() error {
		if w := tc.Where("db"); len(w) != 2 {
			return fmt.Errorf("db runs on %v", w)
		}
		on := chk.on()
		if len(on) != 1 {
			return fmt.Errorf("promoted on %v", on)
		}
		primary = on[0]
		if s := tc.Where("sleeper"); len(s) != 1 || s[0] != primary {
			return fmt.Errorf("sleeper on %v, want %s", s, primary)
		}
		return daemontest.Reported(c, map[string]string{"holly/db": bus.StateStarted, "benji/db": bus.StateStarted,
			primary + "/sleeper": bus.StateStarted})
	})
	survivor := otherNode(primary)
	kv, err := c.JS.KeyValue(context.Background(), bus.BucketLeases)
	if err != nil {
		t.Fatal(err)
	}
	holderOf := func(key string) string {
		ten, err := lease.ReadTenure(context.Background(), kv, key)
		if err != nil {
			return "(" + err.Error() + ")"
		}
		return ten.Node
	}
	poll.Until(t, 10*time.Second, 50*time.Millisecond, func() error {
		if h := holderOf(lease.Key("sleeper")); h != primary {
			return fmt.Errorf("the sleeper's lease record names %s, want %s", h, primary)
		}
		return nil
	})
	// Granted, not created in the bucket: the tenure's token is a
	// granter's count (from the wall clock's milliseconds), not a bucket
	// revision.
	if ten, err := lease.ReadTenure(context.Background(), kv, lease.CoordinatorKey); err != nil || ten.Token < uint64(cut0.UnixMilli()) {
		t.Fatalf("the coordinator's tenure %+v (%v): want a granted token, at least %d", ten, err, cut0.UnixMilli())
	}

	cut := time.Now()
	tc.CutOff(primary)
	poll.Until(t, 60*time.Second, 20*time.Millisecond, func() error {
		if on := chk.on(); len(on) != 1 || on[0] != survivor {
			return fmt.Errorf("promoted on %v, want %s", on, survivor)
		}
		if s := tc.Where("sleeper"); len(s) != 1 || s[0] != survivor {
			return fmt.Errorf("sleeper on %v, want %s", s, survivor)
		}
		if h := holderOf(lease.Key("sleeper")); h != survivor {
			return fmt.Errorf("the sleeper's lease record names %s, want %s", h, survivor)
		}
		return nil
	})
	demoted, promoted := chk.last(primary, false), chk.last(survivor, true)
	if demoted.IsZero() || !demoted.Before(promoted) {
		t.Fatalf("%s demoted at %v, %s promoted at %v: want the demote first", primary, demoted.Format(time.StampMicro), survivor, promoted.Format(time.StampMicro))
	}
	t.Logf("cut %s off: demoted there after %s, promoted on %s after %s; the sleeper moved with it",
		primary, demoted.Sub(cut).Round(time.Millisecond), survivor, promoted.Sub(cut).Round(time.Millisecond))
	chk.check(t)
}
