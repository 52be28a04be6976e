package liveconfig

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/host/config"
)

func open(t *testing.T) (*Store, *config.Config) {
	t.Helper()
	c := bustest.Start(t, bustest.Config(t, []string{"solo"}, ""))
	conn := c.Ready("solo")
	s, err := Open(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load("../../e2e/cluster.toml")
	if err != nil {
		t.Fatal(err)
	}
	return s, cfg
}

func TestSeedOnceAndConcurrentEditorsLoseNothing(t *testing.T) {
	s, cfg := open(t)
	ctx := context.Background()
	if _, err := s.Current(ctx); !errors.Is(err, ErrNotSeeded) {
		t.Fatalf("before seeding: %v", err)
	}
	r1, seeded, err := s.Seed(ctx, cfg, "holly")
	if err != nil || !seeded || len(r1.Config.Resources) != 3 {
		t.Fatalf("seed: %v %v", seeded, err)
	}
	if _, seeded, err := s.Seed(ctx, cfg, "benji"); err != nil || seeded {
		t.Fatalf("second seed: %v %v", seeded, err)
	}

	// Two editors add ten location constraints each, concurrently.
	var wg sync.WaitGroup
	for _, editor := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				_, err := s.Update(ctx, editor, func(c *config.Config) (string, error) {
					l := config.Location{Rsc: "VIP-198.18.0.23", Node: "holly", Score: config.Score(i + 1)}
					l.ID = fmt.Sprintf("loc-%s-%d", editor, i)
					c.Locations = append(c.Locations, l)
					return "add " + l.ID, nil
				})
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	cur, err := s.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(cur.Config.Locations); n != 20 {
		t.Fatalf("%d locations after 20 concurrent additions", n)
	}
	hist, err := s.History(ctx)
	if err != nil || len(hist) != 21 {
		t.Fatalf("history: %d entries, %v", len(hist), err)
	}

	// A stale base is a conflict, and nothing changes.
	if _, err := s.Put(ctx, r1.Config, r1.Rev, "stale", "stale edit"); !errors.Is(err, bus.ErrConflict) {
		t.Fatalf("stale put: %v", err)
	}
	// An invalid configuration is refused, and nothing changes.
	_, err = s.Update(ctx, "x", func(c *config.Config) (string, error) {
		c.Orders = append(c.Orders, config.Order{ID: "bad", First: "nope", Then: "haproxy-clone", FirstAction: "start", ThenAction: "start", Kind: config.Mandatory})
		return "bad", nil
	})
	if err == nil || !strings.Contains(err.Error(), `no resource or clone "nope"`) {
		t.Fatalf("invalid update: %v", err)
	}
	if again, _ := s.Current(ctx); again.Rev != cur.Rev {
		t.Fatalf("a refused update changed the revision")
	}

	// Rollback to the seed.
	rb, err := s.Rollback(ctx, r1.Rev, "admin")
	if err != nil || len(rb.Config.Locations) != 0 || rb.Rev <= cur.Rev {
		t.Fatalf("rollback: %+v %v", rb, err)
	}
	if _, err := s.Rollback(ctx, 999, "admin"); err == nil || !strings.Contains(err.Error(), "is not kept") {
		t.Fatalf("rollback to unknown revision: %v", err)
	}
}

func TestWatchSeesChanges(t *testing.T) {
	s, cfg := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, _, err := s.Seed(ctx, cfg, "holly"); err != nil {
		t.Fatal(err)
	}
	got := make(chan Revision, 10)
	if err := s.Watch(ctx, func(r Revision) { got <- r }); err != nil {
		t.Fatal(err)
	}
	first := <-got
	if _, err := s.Update(ctx, "cli", func(c *config.Config) (string, error) {
		c.Properties.MaintenanceMode = true
		return "maintenance-mode=true", nil
	}); err != nil {
		t.Fatal(err)
	}
	next := <-got
	if next.Rev <= first.Rev || !next.Config.Properties.MaintenanceMode || next.Summary != "maintenance-mode=true" {
		t.Fatalf("watch: %+v", next)
	}
}
