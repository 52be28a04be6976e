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
// watch of its key, not by trying to take it 4 times a second. With the
// slow retry made an hour, the coordinator's node stopped (it releases the
// lease: a delete on the key) hands the lease to the other node: the watch
// alone woke it. Then, with the retry as shipped (2 s), a coordinator cut
// off from the bus is replaced once its TTL ends: the bucket's TTL marker
// wakes the watch, or, when the watch does not see it (the marker is not
// delivered to every watch when the holder is cut off: about one run in
// five in-process under the race detector), the retry does.
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
	other := map[string]string{"holly": "benji", "benji": "holly"}
	settled := func() (first string) {
		t.Helper()
		poll.Until(t, 60*time.Second, 100*time.Millisecond, func() (err error) {
			first, err = holder()
			return err
		})
		if other[first] == "" {
			t.Fatalf("the coordinator lease is held by %q, want holly or benji", first)
		}
		// Both nodes' daemons run (they answer state requests): the
		// other's coordinator has found the lease held and waits.
		poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error { return tc.Reported(c, nil) })
		if h, err := holder(); err != nil || h != first {
			t.Fatalf("the coordinator lease moved from %s to %q (%v) before the test did anything", first, h, err)
		}
		return first
	}
	takenBy := func(want string, since time.Time, what string) {
		t.Helper()
		poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
			h, err := holder()
			if err != nil || h != want {
				return fmt.Errorf("the coordinator lease held by %q (%v), want %s", h, err, want)
			}
			return nil
		})
		t.Logf("%s: %s holds the coordinator lease after %s", what, want, time.Since(since).Round(time.Millisecond))
	}

	first := settled()
	begin := time.Now()
	tc.Stop(first)
	takenBy(other[first], begin, first+" stopped (lease released), the retry an hour")

	tc.Start(first)
	coordinator.SetHeldRetry(old)
	second := settled()
	begin = time.Now()
	tc.CutOff(second)
	takenBy(other[second], begin, second+" cut off, the retry as shipped")
	tc.Stop(second)
}
