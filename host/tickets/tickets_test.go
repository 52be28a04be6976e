package tickets

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus/bustest"
)

func TestGrantRevokeStandby(t *testing.T) {
	c := bustest.Start(t, bustest.Topology(t, []string{"solo"}, ""))
	s, err := Open(context.Background(), c.Ready("solo"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if r, err := s.Get(ctx, "site-a"); err != nil || r.Granted || r.Standby {
		t.Fatalf("unknown ticket: %+v, %v; want revoked, not in standby", r, err)
	}
	before, after, err := s.Set(ctx, "site-a", Grant, "holly", now)
	if err != nil || before.Granted || !after.Granted || after.By != "holly" {
		t.Fatalf("grant: %+v -> %+v, %v", before, after, err)
	}
	// Names differing only in characters escaped in the key stay apart.
	for _, n := range []string{"site.b", "site_2Eb", "site:b"} {
		if _, _, err := s.Set(ctx, n, Standby, "cli", now); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for range 4 { // concurrent writers: none is lost
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := s.Set(ctx, "site-a", Standby, "cli", now); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	all, err := s.List(ctx)
	if err != nil || len(all) != 4 {
		t.Fatalf("list: %+v, %v; want 4 tickets", all, err)
	}
	if all[0].Ticket != "site-a" || !all[0].Granted || !all[0].Standby {
		t.Errorf("site-a: %+v; want granted and in standby", all[0])
	}
	if _, after, err := s.Set(ctx, "site-a", Revoke, "cli", now); err != nil || after.Granted || !after.Standby {
		t.Errorf("revoke: %+v, %v; want revoked, still in standby", after, err)
	}
	if _, after, err := s.Set(ctx, "site-a", Activate, "cli", now); err != nil || after.Standby {
		t.Errorf("activate: %+v, %v", after, err)
	}
	if _, _, err := s.Set(ctx, "bad name", Grant, "cli", now); err == nil {
		t.Error("a ticket name with a space was taken")
	}
	st, err := s.States(ctx)
	if err != nil || len(st) != 4 || st[0].Ticket != "site-a" || st[0].Granted || st[0].Standby {
		t.Errorf("states: %+v, %v", st, err)
	}
}
