package coordinator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/coordinator"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
	"github.com/tandem-ha/tandem/host/lease"
)

// The members that do not hold the coordinator lease wait for it on a
// watch of its key, not by trying to take it 4 times a second: with the
// slow retry made an hour, the coordinator's node cut off from the bus
// still hands the lease to the other node once its TTL ends (the bucket's
// delete marker wakes the watch).
func TestCoordinatorLeaseTakenOnTheWatch(t *testing.T) {
	old := coordinator.SetHeldRetry(time.Hour)
	t.Cleanup(func() { coordinator.SetHeldRetry(old) })
	tc := daemontest.New(t, "")
	tc.StartAll()
	c := tc.Connect()
	holder := func() (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		kv, err := c.KV(ctx, bus.BucketLeases)
		if err != nil {
			return "", err
		}
		e, err := kv.Get(ctx, lease.CoordinatorKey)
		if err != nil {
			return "", err
		}
		var h lease.Holder
		if err := json.Unmarshal(e.Value(), &h); err != nil {
			return "", err
		}
		return h.Node, nil
	}
	var first string
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() (err error) {
		first, err = holder()
		return err
	})
	other := map[string]string{"holly": "benji", "benji": "holly"}[first]
	if other == "" {
		t.Fatalf("the coordinator lease is held by %q, want holly or benji", first)
	}
	// Both nodes' daemons run (they answer state requests): the other's
	// coordinator has found the lease held and waits.
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error { return tc.Reported(c, nil) })
	if h, err := holder(); err != nil || h != first {
		t.Fatalf("the coordinator lease moved from %s to %q (%v) before the test cut anything", first, h, err)
	}
	tc.CutOff(first)
	begin := time.Now()
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		h, err := holder()
		if err != nil || h != other {
			return fmt.Errorf("the coordinator lease held by %q (%v), want %s", h, err, other)
		}
		return nil
	})
	t.Logf("%s cut off: %s holds the coordinator lease after %s", first, other, time.Since(begin).Round(time.Millisecond))
	tc.Stop(first)
}
