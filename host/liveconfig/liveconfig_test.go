package liveconfig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/policies/cib"
)

func open(t *testing.T) (*Store, *cib.CIB) {
	t.Helper()
	c := bustest.Start(t, bustest.Topology(t, []string{"solo"}, ""))
	conn := c.Ready("solo")
	s, err := Open(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	f, err := config.Load("../../e2e/cluster.toml")
	if err != nil {
		t.Fatal(err)
	}
	return s, f.CIB
}

func TestSeedOnceAndConcurrentEditorsLoseNothing(t *testing.T) {
	s, model := open(t)
	ctx := context.Background()
	if _, err := s.Current(ctx); !errors.Is(err, ErrNotSeeded) {
		t.Fatalf("before seeding: got %v, want ErrNotSeeded", err)
	}
	r1, _, seeded, err := s.Seed(ctx, model, "holly", false)
	if err != nil || !seeded || len(r1.CIB.Resources) != 3 || r1.Format != FormatCIB {
		t.Fatalf("seed: seeded %v, err %v, %+v; want seeded, 3 resources, format %d", seeded, err, r1, FormatCIB)
	}
	if _, _, seeded, err := s.Seed(ctx, model, "benji", false); err != nil || seeded {
		t.Fatalf("second seed: seeded %v, err %v; want not seeded", seeded, err)
	}

	// Two editors add ten location constraints each, concurrently.
	var wg sync.WaitGroup
	for _, editor := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				_, err := s.Update(ctx, editor, func(c *cib.CIB) (string, error) {
					l := cib.Location{Rsc: "VIP-198.18.0.23", Node: "holly", Score: cib.Score(i + 1)}
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
	if n := len(cur.CIB.Locations); n != 20 {
		t.Fatalf("%d locations after 20 concurrent additions, want 20", n)
	}
	hist, err := s.History(ctx)
	if err != nil || len(hist) != 21 {
		t.Fatalf("history: %d entries (err %v), want 21", len(hist), err)
	}

	// A stale base is a conflict, and nothing changes.
	if _, err := s.Put(ctx, r1.CIB, r1.Rev, "stale", "stale edit"); !errors.Is(err, bus.ErrConflict) {
		t.Fatalf("stale put: got %v, want ErrConflict", err)
	}
	// An invalid model is refused, and nothing changes.
	_, err = s.Update(ctx, "x", func(c *cib.CIB) (string, error) {
		c.Orders = append(c.Orders, cib.Order{ID: "bad", First: "nope", Then: "haproxy-clone", FirstAction: "start", ThenAction: "start", Kind: cib.Mandatory})
		return "bad", nil
	})
	var ps cib.Problems
	if !errors.As(err, &ps) || !strings.Contains(err.Error(), `no resource or clone "nope"`) {
		t.Fatalf("invalid update: got %v, want cib.Problems naming \"nope\"", err)
	}
	if again, _ := s.Current(ctx); again.Rev != cur.Rev {
		t.Fatalf("revision after a refused update: got %d, want %d (unchanged)", again.Rev, cur.Rev)
	}
	// An edit that changes nothing stores nothing.
	same, err := s.Update(ctx, "x", func(c *cib.CIB) (string, error) { return "nothing", nil })
	if err != nil || same.Rev != cur.Rev {
		t.Fatalf("empty edit: revision %d (err %v), want %d", same.Rev, err, cur.Rev)
	}

	// Rollback to the seed.
	rb, err := s.Rollback(ctx, r1.Rev, "admin")
	if err != nil || len(rb.CIB.Locations) != 0 || rb.Rev <= cur.Rev {
		t.Fatalf("rollback: %+v, err %v; want no locations at a new revision", rb, err)
	}
	if _, err := s.Rollback(ctx, 999, "admin"); err == nil || !strings.Contains(err.Error(), "is not kept") {
		t.Fatalf("rollback to unknown revision: got %v, want \"is not kept\"", err)
	}
}

// A cluster whose live configuration was written by the Tandem before the
// model was split from the bootstrap settings (a whole cluster.toml in each
// record) is read as it is: the current revision, the history and a
// rollback to an old revision work, and the first edit writes the new
// format.
func TestReadsTheTOMLFormat(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	text, err := os.ReadFile("../../e2e/cluster.toml")
	if err != nil {
		t.Fatal(err)
	}
	old := func(toml, summary string) []byte {
		// What the old build stored: no format field, the file as TOML.
		data, err := json.Marshal(map[string]any{"time": time.Now().UTC(), "by": "holly", "summary": summary, "toml": toml})
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	rev1, err := s.kv.Create(ctx, Key, old(string(text), "seeded from cluster.toml"), 0)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(text), "[defaults]", "[properties]\nmaintenance-mode = true\n\n[defaults]", 1)
	rev2, err := s.kv.Update(ctx, Key, old(edited, "property set maintenance-mode=true"), rev1)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := s.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Rev != rev2 || cur.Format != FormatTOML || !cur.CIB.Properties.MaintenanceMode || len(cur.CIB.Resources) != 3 || cur.By != "holly" {
		t.Fatalf("current: %+v; want revision %d in format %d with maintenance-mode and 3 resources", cur, rev2, FormatTOML)
	}
	next, err := s.Update(ctx, "cli", func(c *cib.CIB) (string, error) {
		c.Properties.MaintenanceMode = false
		return "property set maintenance-mode=false", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.kv.Get(ctx, Key)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["format"] != float64(FormatCIB) || rec["toml"] != nil || rec["cib"] == nil {
		t.Errorf("the first edit wrote %s; want format %d with the model and no TOML", e.Value(), FormatCIB)
	}
	hist, err := s.History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 3 || hist[0].Format != FormatTOML || hist[1].Format != FormatTOML || hist[2].Format != FormatCIB || hist[2].Rev != next.Rev {
		t.Fatalf("history: %+v; want two revisions in format 1, then %d in format 2", hist, next.Rev)
	}
	if !Same(hist[0].CIB, next.CIB) {
		t.Errorf("revisions %d (seeded) and %d (maintenance-mode back to false): got different models\n%+v\n%+v\nwant the same model", hist[0].Rev, next.Rev, hist[0].CIB, next.CIB)
	}
	rb, err := s.Rollback(ctx, rev2, "admin")
	if err != nil || !rb.CIB.Properties.MaintenanceMode || rb.Format != FormatCIB {
		t.Fatalf("rollback to the old-format revision %d: got %+v, err %v; want maintenance-mode on, format %d, no error", rev2, rb, err, FormatCIB)
	}

	// A record of a newer format is refused with what to do.
	newer, _ := json.Marshal(map[string]any{"format": Format + 1, "time": time.Now().UTC(), "by": "future"})
	if _, err := s.kv.Update(ctx, Key, newer, rb.Rev); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Current(ctx); !errors.Is(err, ErrNewerFormat) || !strings.Contains(err.Error(), "upgrade tandem") {
		t.Errorf("newer format: got %v, want ErrNewerFormat saying to upgrade", err)
	}
}

// The follower sees the changes in order, never one twice, and ends with the
// newest, whether the watch, the announcement or the poll brings it.
func TestFollowSeesChanges(t *testing.T) {
	s, model := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	first, _, _, err := s.Seed(ctx, model, "holly", false)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan Revision, 10)
	done := s.Follow(ctx, first.Rev, func(r Revision) { got <- r }, bustest.Logger())
	var want []uint64
	for i := range 3 {
		r, err := s.Update(ctx, "cli", func(c *cib.CIB) (string, error) {
			c.Properties.MaintenanceMode = i%2 == 0
			return fmt.Sprintf("edit %d", i), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, r.Rev)
	}
	last := first.Rev
	for last != want[len(want)-1] {
		select {
		case r := <-got:
			if r.Rev <= last {
				t.Fatalf("revision order: got %d applied after %d, want a revision newer than %d", r.Rev, last, last)
			}
			i := -1
			for k, rev := range want {
				if rev == r.Rev {
					i = k
				}
			}
			if i < 0 || r.Summary != fmt.Sprintf("edit %d", i) || r.CIB.Properties.MaintenanceMode != (i%2 == 0) {
				t.Fatalf("got revision %d (%q), want one of %v with its own content", r.Rev, r.Summary, want)
			}
			last = r.Rev
		case <-time.After(2 * PollInterval):
			t.Fatalf("no revision applied for %v: got last %d, want the newest %d", 2*PollInterval, last, want[len(want)-1])
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the follower did not stop with its context")
	}
	select {
	case r := <-got:
		t.Errorf("after the last change: got revision %d applied (twice, or after it), want nothing more", r.Rev)
	default:
	}
}

// A model with groups is stored in format 3, which a build that knows only
// format 2 refuses instead of running the members as unrelated resources;
// once the groups are gone it is format 2 again.
func TestGroupsNeedFormat3(t *testing.T) {
	s, model := open(t)
	ctx := context.Background()
	if _, _, _, err := s.Seed(ctx, model, "holly", false); err != nil {
		t.Fatal(err)
	}
	grouped, err := s.Update(ctx, "cli", func(c *cib.CIB) (string, error) {
		if _, err := c.AddResource("fs", "systemd:fs", cib.ResourceSpec{}); err != nil {
			return "", err
		}
		_, err := c.GroupAdd("g", []string{"fs"}, cib.GroupPosition{})
		return "group add g fs", err
	})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := s.Current(ctx)
	if err != nil || grouped.Format != FormatCIBExtended || cur.Format != FormatCIBExtended || len(cur.CIB.Groups) != 1 {
		t.Fatalf("after group add: %+v / %+v, %v; want format %d with one group", grouped, cur, err, FormatCIBExtended)
	}
	plain, err := s.Update(ctx, "cli", func(c *cib.CIB) (string, error) {
		_, err := c.GroupRemove("g", nil)
		return "group remove g", err
	})
	if err != nil || plain.Format != FormatCIB || len(plain.CIB.Groups) != 0 {
		t.Fatalf("after ungrouping: %+v, %v; want format %d", plain, err, FormatCIB)
	}
}

// A model with a promotable clone is stored in format 4, which a build
// that knows only format 3 refuses instead of running it as a plain clone.
func TestPromotableNeedsFormat4(t *testing.T) {
	s, model := open(t)
	ctx := context.Background()
	if _, _, _, err := s.Seed(ctx, model, "holly", false); err != nil {
		t.Fatal(err)
	}
	rev, err := s.Update(ctx, "cli", func(c *cib.CIB) (string, error) {
		_, err := c.AddResource("db", "systemd:db", cib.ResourceSpec{Clone: &cib.Clone{Promotable: true}})
		return "resource create db promotable", err
	})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := s.Current(ctx)
	if err != nil || rev.Format != FormatCIBPromotable || cur.Format != FormatCIBPromotable || !cur.CIB.Promotable("db-clone") {
		t.Fatalf("after creating a promotable clone: %+v / %+v, %v; want format %d with db-clone promotable", rev, cur, err, FormatCIBPromotable)
	}
}

// A model with the Unpromoted role in a constraint, or a role on a
// colocation's set, is stored in format 6, which a build that knows only
// format 5 refuses (it would find Unpromoted invalid, or drop the set's
// role); taking them out goes back to format 4.
func TestUnpromotedNeedsFormat6(t *testing.T) {
	s, model := open(t)
	ctx := context.Background()
	if _, _, _, err := s.Seed(ctx, model, "holly", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "cli", func(c *cib.CIB) (string, error) {
		_, err := c.AddResource("db", "systemd:db", cib.ResourceSpec{Clone: &cib.Clone{Promotable: true}})
		if err == nil {
			_, err = c.AddResource("backup", "systemd:backup", cib.ResourceSpec{})
		}
		return "resource create db promotable", err
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		co   cib.Colocation
	}{
		{"with-rsc-role Unpromoted", cib.Colocation{ID: "c", Rsc: "backup", With: "db-clone", WithRole: cib.RoleUnpromoted, Score: cib.Infinity}},
		{"a set's role", cib.Colocation{ID: "c", Score: cib.Infinity, Sets: []cib.ResourceSet{{Resources: []string{"backup"}}, {Resources: []string{"db-clone"}, Role: cib.RolePromoted}}}},
	} {
		rev, err := s.Update(ctx, "cli", func(c *cib.CIB) (string, error) { return "add " + tc.name, c.AddColocation(tc.co) })
		if err != nil || rev.Format != FormatCIBRoles {
			t.Fatalf("%s: %+v, %v; want format %d", tc.name, rev, err, FormatCIBRoles)
		}
		cur, err := s.Current(ctx)
		if err != nil || cur.Format != FormatCIBRoles || !slices.ContainsFunc(cur.CIB.Colocations, func(co cib.Colocation) bool { return reflect.DeepEqual(co, tc.co) }) {
			t.Fatalf("%s: read back %+v, %v: %+v", tc.name, cur, err, cur.CIB.Colocations)
		}
		rev, err = s.Update(ctx, "cli", func(c *cib.CIB) (string, error) {
			return "delete c", c.RemoveConstraint("c")
		})
		if err != nil || rev.Format != FormatCIBPromotable {
			t.Fatalf("%s removed: %+v, %v; want format %d", tc.name, rev, err, FormatCIBPromotable)
		}
	}
}

// A model with utilization or a placement strategy is stored in format 7,
// which a build that knows only format 6 refuses (it would place
// resources beyond the nodes' capacity and drop the values at its next
// edit); taking them all out goes back to the format the rest needs.
func TestUtilizationNeedsFormat7(t *testing.T) {
	s, model := open(t)
	ctx := context.Background()
	if _, _, _, err := s.Seed(ctx, model, "holly", false); err != nil {
		t.Fatal(err)
	}
	node := model.Nodes[0].Name
	rsc := model.Resources[0].ID
	for _, tc := range []struct {
		name       string
		set, unset func(c *cib.CIB) error
		check      func(c *cib.CIB) bool
	}{
		{"node utilization",
			func(c *cib.CIB) error { return c.SetNodeUtilization(node, "cpu", "8") },
			func(c *cib.CIB) error { return c.SetNodeUtilization(node, "cpu", "") },
			func(c *cib.CIB) bool { return c.Node(node).Utilization["cpu"] == 8 }},
		{"resource utilization",
			func(c *cib.CIB) error { return c.SetResourceUtilization(rsc, "memory", "2048") },
			func(c *cib.CIB) error { return c.SetResourceUtilization(rsc, "memory", "") },
			func(c *cib.CIB) bool { r, _ := c.Resource(rsc); return r.Utilization["memory"] == 2048 }},
		{"placement-strategy",
			func(c *cib.CIB) error { return c.SetProperty("placement-strategy", "balanced") },
			func(c *cib.CIB) error { return c.SetProperty("placement-strategy", "default") },
			func(c *cib.CIB) bool { return c.Properties.PlacementStrategy == cib.PlacementBalanced }},
	} {
		rev, err := s.Update(ctx, "cli", func(c *cib.CIB) (string, error) { return "set " + tc.name, tc.set(c) })
		if err != nil || rev.Format != FormatCIBUtilization {
			t.Fatalf("%s: %+v, %v; want format %d", tc.name, rev, err, FormatCIBUtilization)
		}
		cur, err := s.Current(ctx)
		if err != nil || cur.Format != FormatCIBUtilization || !tc.check(cur.CIB) {
			t.Fatalf("%s: read back %+v, %v", tc.name, cur, err)
		}
		rev, err = s.Update(ctx, "cli", func(c *cib.CIB) (string, error) { return "unset " + tc.name, tc.unset(c) })
		if err != nil || rev.Format != FormatCIB {
			t.Fatalf("%s removed: %+v, %v; want format %d", tc.name, rev, err, FormatCIB)
		}
	}
}

// A model with ticket constraints is stored in format 8, which a build
// that knows only format 7 refuses (it would run resources whose ticket is
// revoked and drop the constraints at its next edit); removing them goes
// back to the format the rest needs.
func TestTicketsNeedFormat8(t *testing.T) {
	s, model := open(t)
	ctx := context.Background()
	if _, _, _, err := s.Seed(ctx, model, "holly", false); err != nil {
		t.Fatal(err)
	}
	rsc := model.Resources[0].ID
	var id string
	rev, err := s.Update(ctx, "cli", func(c *cib.CIB) (string, error) {
		tk, err := c.AddTicket(cib.Ticket{Ticket: "site-a", Rsc: cib.ConstraintName(&c.Resources[0]), LossPolicy: cib.LossFreeze})
		id = tk.ID
		return "add ticket", err
	})
	if err != nil || rev.Format != FormatCIBTickets {
		t.Fatalf("add: %+v, %v; want format %d", rev, err, FormatCIBTickets)
	}
	cur, err := s.Current(ctx)
	if err != nil || cur.Format != FormatCIBTickets || len(cur.CIB.Tickets) != 1 || cur.CIB.Tickets[0].LossPolicy != cib.LossFreeze {
		t.Fatalf("read back %+v, %v", cur, err)
	}
	rev, err = s.Update(ctx, "cli", func(c *cib.CIB) (string, error) { return "remove ticket", c.RemoveConstraint(id) })
	if err != nil || rev.Format != FormatCIB {
		t.Fatalf("removed (%s of %s): %+v, %v; want format %d", id, rsc, rev, err, FormatCIB)
	}
}

// A ticket constraint over resource sets is stored in format 9 and a
// notify clone in format 10; this build reads every format it writes back
// (a format added without the reader's knowing it would lock the
// configuration), and removing them goes back to the format the rest
// needs.
func TestTicketSetsAndNotifyNeedTheirFormats(t *testing.T) {
	s, model := open(t)
	ctx := context.Background()
	if _, _, _, err := s.Seed(ctx, model, "holly", false); err != nil {
		t.Fatal(err)
	}
	var clones []string
	for i := range model.Resources {
		if model.Resources[i].Clone != nil {
			clones = append(clones, cib.ConstraintName(&model.Resources[i]))
		}
	}
	if len(clones) < 2 {
		t.Fatalf("the model has clones %v, want two", clones)
	}
	var id string
	rev, err := s.Update(ctx, "cli", func(c *cib.CIB) (string, error) {
		tk, err := c.AddTicket(cib.Ticket{Ticket: "site-a", Sets: []cib.ResourceSet{{Resources: clones}}})
		id = tk.ID
		return "add ticket set", err
	})
	if err != nil || rev.Format != FormatCIBTicketSets {
		t.Fatalf("add: %+v, %v; want format %d", rev, err, FormatCIBTicketSets)
	}
	cur, err := s.Current(ctx)
	if err != nil || cur.Format != FormatCIBTicketSets || len(cur.CIB.Tickets) != 1 || len(cur.CIB.Tickets[0].Sets) != 1 {
		t.Fatalf("read back %+v, %v", cur, err)
	}
	rev, err = s.Update(ctx, "cli", func(c *cib.CIB) (string, error) {
		for i := range c.Resources {
			if c.Resources[i].Clone != nil {
				return "notify", cib.SetCloneOption(c.Resources[i].Clone, "notify", "true")
			}
		}
		return "", errors.New("no clone")
	})
	if err != nil || rev.Format != FormatCIBNotify {
		t.Fatalf("notify: %+v, %v; want format %d", rev, err, FormatCIBNotify)
	}
	cur, err = s.Current(ctx)
	if err != nil || cur.Format != FormatCIBNotify {
		t.Fatalf("read back %+v, %v", cur, err)
	}
	rev, err = s.Update(ctx, "cli", func(c *cib.CIB) (string, error) {
		for i := range c.Resources {
			if c.Resources[i].Clone != nil {
				c.Resources[i].Clone.Notify = false
			}
		}
		return "no notify, no ticket", c.RemoveConstraint(id)
	})
	if err != nil || rev.Format != FormatCIB {
		t.Fatalf("removed: %+v, %v; want format %d", rev, err, FormatCIB)
	}
}

// A model with a globally-unique clone is stored in format 11, which a
// build that knows only format 10 refuses (it would run the clone as an
// anonymous one); several instances on one node are refused, since a
// node's LRM runs one instance of a resource.
func TestGloballyUniqueNeedsFormat11(t *testing.T) {
	s, model := open(t)
	ctx := context.Background()
	if _, _, _, err := s.Seed(ctx, model, "holly", false); err != nil {
		t.Fatal(err)
	}
	var cloned string
	rev, err := s.Update(ctx, "cli", func(c *cib.CIB) (string, error) {
		for i := range c.Resources {
			if cl := c.Resources[i].Clone; cl != nil {
				cl.GloballyUnique = true
				cloned = c.Resources[i].ID
				return "unique", nil
			}
		}
		return "", fmt.Errorf("no clone in the test model")
	})
	if err != nil || rev.Format != FormatCIBUnique {
		t.Fatalf("globally-unique: %+v, %v; want format %d", rev, err, FormatCIBUnique)
	}
	cur, err := s.Current(ctx)
	if err != nil || cur.Format != FormatCIBUnique {
		t.Fatalf("read back %+v, %v", cur, err)
	}
	if r, _ := cur.CIB.Resource(cloned); r == nil || !r.Clone.GloballyUnique {
		t.Fatalf("read back %s without globally-unique: %+v", cloned, r)
	}
	// Several instances on a node: taken, except of a promotable clone.
	if _, err := s.Update(ctx, "cli", func(c *cib.CIB) (string, error) {
		r, _ := c.Resource(cloned)
		r.Clone.NodeMax = 2
		return "two per node", nil
	}); err != nil {
		t.Fatalf("clone-node-max 2: %v", err)
	}
	_, err = s.Update(ctx, "cli", func(c *cib.CIB) (string, error) {
		r, _ := c.Resource(cloned)
		r.Clone.Promotable = true
		return "promotable, two per node", nil
	})
	want := fmt.Sprintf("resource %q: clone-node-max 2 on a promotable clone: a node runs one instance of a promotable clone", cloned)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("promotable, clone-node-max 2: got %v, want %q", err, want)
	}
	rev, err = s.Update(ctx, "cli", func(c *cib.CIB) (string, error) {
		r, _ := c.Resource(cloned)
		r.Clone.GloballyUnique, r.Clone.NodeMax = false, 0
		return "anonymous", nil
	})
	if err != nil || rev.Format == FormatCIBUnique {
		t.Fatalf("anonymous again: %+v, %v; want an older format", rev, err)
	}
}

// A model with a promotable cloned group is stored in format 12, which a
// build that knows only format 11 refuses (it would refuse the group as
// invalid, and its nodes would promote the members on one slot lease);
// made a plain cloned group again, the model goes back to an older format.
func TestPromotableClonedGroupNeedsFormat12(t *testing.T) {
	s, model := open(t)
	ctx := context.Background()
	if _, _, _, err := s.Seed(ctx, model, "holly", false); err != nil {
		t.Fatal(err)
	}
	rev, err := s.Update(ctx, "cli", func(c *cib.CIB) (string, error) {
		for _, id := range []string{"gfs", "gdb"} {
			if _, err := c.AddResource(id, "systemd:"+id, cib.ResourceSpec{}); err != nil {
				return "", err
			}
		}
		if _, err := c.GroupAdd("stack", []string{"gfs", "gdb"}, cib.GroupPosition{}); err != nil {
			return "", err
		}
		return "promotable stack", c.MakePromotable("stack", "", map[string]string{"promoted-max": "1"})
	})
	if err != nil || rev.Format != FormatCIBPromotableGroups {
		t.Fatalf("promotable cloned group: %+v, %v; want format %d", rev, err, FormatCIBPromotableGroups)
	}
	cur, err := s.Current(ctx)
	if err != nil || cur.Format != FormatCIBPromotableGroups {
		t.Fatalf("read back %+v, %v", cur, err)
	}
	if g, _ := cur.CIB.Group("stack"); g == nil || g.Clone == nil || !g.Clone.Promotable || g.Clone.PromotedMax != 1 {
		t.Fatalf("read back stack: %+v", g)
	}
	rev, err = s.Update(ctx, "cli", func(c *cib.CIB) (string, error) {
		g, _ := c.Group("stack")
		g.Clone.Promotable, g.Clone.PromotedMax = false, 0
		return "plain clone", nil
	})
	if err != nil || rev.Format >= FormatCIBPromotableGroups {
		t.Fatalf("plain cloned group again: %+v, %v; want an older format", rev, err)
	}
}

// A model with a globally-unique cloned group is stored in format 13,
// which a build that knows only format 12 refuses (it would find the
// group invalid); several copies of it on one node are refused, as the
// nodes run one instance of a member each; made anonymous again, the
// model goes back to an older format.
func TestUniqueClonedGroupNeedsFormat13(t *testing.T) {
	s, model := open(t)
	ctx := context.Background()
	if _, _, _, err := s.Seed(ctx, model, "holly", false); err != nil {
		t.Fatal(err)
	}
	rev, err := s.Update(ctx, "cli", func(c *cib.CIB) (string, error) {
		for _, id := range []string{"uip", "uweb"} {
			if _, err := c.AddResource(id, "systemd:"+id, cib.ResourceSpec{}); err != nil {
				return "", err
			}
		}
		if _, err := c.GroupAdd("ustack", []string{"uip", "uweb"}, cib.GroupPosition{}); err != nil {
			return "", err
		}
		g, _ := c.Group("ustack")
		g.Clone = &cib.Clone{ID: "ustack-clone", GloballyUnique: true}
		return "unique stack", nil
	})
	if err != nil || rev.Format != FormatCIBUniqueGroups {
		t.Fatalf("unique cloned group: %+v, %v; want format %d", rev, err, FormatCIBUniqueGroups)
	}
	cur, err := s.Current(ctx)
	if err != nil || cur.Format != FormatCIBUniqueGroups {
		t.Fatalf("read back %+v, %v", cur, err)
	}
	if g, _ := cur.CIB.Group("ustack"); g == nil || g.Clone == nil || !g.Clone.GloballyUnique {
		t.Fatalf("read back ustack: %+v", g)
	}
	// Several copies per node run live (each member's instance apart),
	// but not of a promotable cloned group.
	rev, err = s.Update(ctx, "cli", func(c *cib.CIB) (string, error) {
		g, _ := c.Group("ustack")
		g.Clone.NodeMax = 2
		return "two per node", nil
	})
	if err != nil || rev.Format != FormatCIBUniqueGroups {
		t.Fatalf("clone-node-max 2: %+v, %v; want it stored in format %d", rev, err, FormatCIBUniqueGroups)
	}
	_, err = s.Update(ctx, "cli", func(c *cib.CIB) (string, error) {
		g, _ := c.Group("ustack")
		g.Clone.Promotable = true
		return "promotable two per node", nil
	})
	if err == nil || !strings.Contains(err.Error(), "ustack") {
		t.Fatalf("promotable with clone-node-max 2: got %v, want a refusal naming ustack", err)
	}
	rev, err = s.Update(ctx, "cli", func(c *cib.CIB) (string, error) {
		g, _ := c.Group("ustack")
		g.Clone.GloballyUnique, g.Clone.NodeMax = false, 0
		return "anonymous", nil
	})
	if err != nil || rev.Format >= FormatCIBUniqueGroups {
		t.Fatalf("anonymous again: %+v, %v; want an older format", rev, err)
	}
}

// The follower's poll reads the configuration's record (all of it, 72 KB
// with 256 resources) only when the bucket was written since its last
// read: it asks the stream's last sequence first. A write the poll sees
// (here one no announcement told of) is read at the next poll, once.
func TestPollReadsTheRecordOnlyAfterAWrite(t *testing.T) {
	defer func(was time.Duration) { pollEvery = was }(pollEvery)
	pollEvery = 100 * time.Millisecond
	s, model := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, _, _, err := s.Seed(ctx, model, "holly", false)
	if err != nil {
		t.Fatal(err)
	}
	var infos, gets atomic.Int64
	for subject, n := range map[string]*atomic.Int64{
		"$JS.API.STREAM.INFO." + bus.StreamOfBucket(bus.BucketConfig):       &infos,
		"$JS.API.STREAM.MSG.GET." + bus.StreamOfBucket(bus.BucketConfig):    &gets,
		"$JS.API.DIRECT.GET." + bus.StreamOfBucket(bus.BucketConfig) + ".>": &gets,
	} {
		sub, err := s.conn.NC.Subscribe(subject, func(*nats.Msg) { n.Add(1) })
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
	}
	if err := s.conn.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	applied := make(chan Revision, 10)
	s.Follow(ctx, first.Rev, func(r Revision) { applied <- r }, bustest.Logger())
	polls := func(n int64) {
		t.Helper()
		from := infos.Load()
		poll.Until(t, 30*time.Second, 20*time.Millisecond, func() error {
			if got := infos.Load() - from; got < n {
				return fmt.Errorf("%d polls of %d", got, n)
			}
			return nil
		})
	}
	polls(10)
	if n := gets.Load(); n > 1 {
		t.Fatalf("the record was read %d times in 10 polls while nothing was written, want at most once", n)
	}
	// A write no announcement tells of: the watch delivers it, and the
	// poll reads the record once more.
	r, err := s.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := gets.Load()
	r.CIB.Properties.MaintenanceMode = true
	data, err := encode(r.CIB, "cli", "maintenance")
	if err != nil {
		t.Fatal(err)
	}
	rev, err := s.kv.Update(ctx, Key, data, r.Rev)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-applied:
		if got.Rev != rev {
			t.Fatalf("applied %d, want %d", got.Rev, rev)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the write was not applied")
	}
	polls(10)
	if n := gets.Load() - before; n < 1 || n > 2 {
		// Once, or twice if the write fell between a poll's sequence and
		// its read.
		t.Fatalf("the record was read %d times after a write, in 10 polls: want once or twice", n)
	}
}
