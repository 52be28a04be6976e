package failures

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/policies/cib"
)

func TestCountListClear(t *testing.T) {
	c := bustest.Start(t, bustest.Topology(t, []string{"solo"}, ""))
	s, err := Open(context.Background(), c.Ready("solo"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var wg sync.WaitGroup
	for range 5 { // concurrent monitors failing: every failure counts
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Add(ctx, "haproxy", "holly", "monitor", "not running", false, now); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if _, err := s.Add(ctx, "VIP-10.10.10.23", "benji", "start", "conflict", true, now); err != nil {
		t.Fatal(err)
	}
	all, err := s.List(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("list: got %v (err %v), want 2 records, no error", all, err)
	}
	if all[0].Resource != "VIP-10.10.10.23" || all[0].Count != int(cib.Infinity) || all[1].Count != 5 || !all[1].Last.Equal(now) {
		t.Errorf("records: got %+v; want VIP-10.10.10.23 first with count %d, then one with count 5 last failed at %v", all, int(cib.Infinity), now)
	}
	cleared, err := s.Clear(ctx, "haproxy", "")
	if err != nil || len(cleared) != 1 {
		t.Fatalf("clear: got %v (err %v), want 1 record cleared, no error", cleared, err)
	}
	if all, _ := s.List(ctx); len(all) != 1 {
		t.Errorf("after clear: got %v, want 1 record", all)
	}
}

// The failures of instances of a globally-unique clone ("ip:N") are
// counted apart, and clearing the resource clears them too, but not those
// of a resource whose name merely starts the same.
func TestInstanceFailures(t *testing.T) {
	c := bustest.Start(t, bustest.Topology(t, []string{"solo"}, ""))
	s, err := Open(context.Background(), c.Ready("solo"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, r := range []string{"ip:0", "ip:1", "ip:1", "ip", "ip:x", "ipx"} {
		if _, err := s.Add(ctx, r, "holly", "monitor", "not running", false, now); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.List(ctx)
	if err != nil || len(all) != 5 || all[2].Resource != "ip:1" || all[2].Count != 2 {
		t.Fatalf("list: got %+v (err %v), want ip, ip:0, ip:1 (count 2), ip:x, ipx", all, err)
	}
	cleared, err := s.Clear(ctx, "ip", "holly")
	if err != nil || len(cleared) != 3 {
		t.Fatalf("clear: got %+v (err %v), want ip, ip:0 and ip:1 cleared", cleared, err)
	}
	if all, _ := s.List(ctx); len(all) != 2 || all[0].Resource != "ip:x" || all[1].Resource != "ipx" {
		t.Errorf("after clear: got %+v, want ip:x and ipx left", all)
	}
}
