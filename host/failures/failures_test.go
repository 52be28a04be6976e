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
