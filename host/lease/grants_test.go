package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/e2e/poll"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// A granter's rules, on its own clock: nothing for one TTL after it
// starts; one holder at a time while its grant runs; the holder renews;
// a release or a lapse frees the key; a new tenure's count is larger than
// any it knew, including a token a renewal taught it, and at least the
// wall clock's milliseconds.
func TestGranterRules(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	wall := time.UnixMilli(5_000)
	g := &Granter{name: "witness", ttl: time.Second, now: clk.now, wall: func() time.Time { return wall }, started: clk.now(), grants: map[string]*grant{}}
	ask := func(op, holder string, token uint64) grantReply {
		return g.decide(grantRequest{Op: op, Key: "rsc.VIP", Holder: holder, Token: token})
	}
	if r := ask(grantAcquire, "holly", 0); r.Granted {
		t.Fatalf("granted %+v before a TTL had passed since the granter started", r)
	}
	clk.add(time.Second)
	r := ask(grantAcquire, "holly", 0)
	if !r.Granted || r.Count != 5_000 {
		t.Fatalf("holly's acquire: %+v, want granted with count 5000 (the wall clock's ms)", r)
	}
	first := r.Count
	if r := ask(grantAcquire, "benji", 0); r.Granted || r.Holder != "holly" {
		t.Fatalf("benji's acquire while holly's grant runs: %+v, want refused naming holly", r)
	}
	clk.add(900 * time.Millisecond)
	if r := ask(grantRenew, "holly", first); !r.Granted || r.Count != first {
		t.Fatalf("holly's renewal: %+v, want granted, the same count", r)
	}
	clk.add(900 * time.Millisecond) // 1.8 s after the acquire, 0.9 s after the renewal
	if r := ask(grantAcquire, "benji", 0); r.Granted {
		t.Fatalf("benji's acquire 0.9 s after holly's renewal: %+v, want refused", r)
	}
	// holly's grant lapses: benji's tenure comes next, with a larger count.
	clk.add(200 * time.Millisecond)
	r = ask(grantAcquire, "benji", 0)
	if !r.Granted || r.Count <= first {
		t.Fatalf("benji's acquire after holly's grant lapsed: %+v, want granted with a count above %d", r, first)
	}
	second := r.Count
	// A renewal teaches a larger token (recorded at other voters).
	if r := ask(grantRenew, "benji", second+100); !r.Granted || r.Count != second+100 {
		t.Fatalf("benji's renewal with token %d: %+v, want the count raised to it", second+100, r)
	}
	if r := ask(grantRelease, "holly", 0); !r.Granted {
		t.Fatalf("a release by holly, who does not hold it: %+v (acknowledged, changes nothing)", r)
	}
	if h := g.Holders()["rsc.VIP"]; h != "benji" {
		t.Fatalf("holder after holly's stray release: %q, want benji", h)
	}
	if r := ask(grantRelease, "benji", 0); !r.Granted {
		t.Fatalf("benji's release: %+v", r)
	}
	r = ask(grantAcquire, "holly", 0)
	if !r.Granted || r.Count != second+101 {
		t.Fatalf("holly's acquire after benji's release: %+v, want granted with count %d", r, second+101)
	}
	// A restarted granter (its counts forgotten) counts on from the wall
	// clock, which has moved on since.
	wall = time.UnixMilli(int64(second) + 200_000)
	g2 := &Granter{name: "witness", ttl: time.Second, now: clk.now, wall: func() time.Time { return wall }, started: clk.now().Add(-time.Second), grants: map[string]*grant{}}
	if r := g2.decide(grantRequest{Op: grantAcquire, Key: "rsc.VIP", Holder: "benji"}); !r.Granted || r.Count <= second+101 {
		t.Fatalf("a restarted granter's count: %+v, want above %d", r, second+101)
	}
}

// grantsCluster is holly, benji and the witness director, each running a
// granter, and managers on holly and benji keeping leases by grants.
type grantsCluster struct {
	c            *bustest.Cluster
	holly, benji *Manager
	granters     map[string]*Granter
}

func newGrantsCluster(t *testing.T) grantsCluster {
	t.Helper()
	return newGrantsClusterTTL(t, testTTL)
}

// newGrantsClusterTTL is newGrantsCluster with leases of ttl.
func newGrantsClusterTTL(t *testing.T, ttl time.Duration) grantsCluster {
	t.Helper()
	top := bustest.Topology(t, []string{"holly", "benji"}, "director")
	top.Leases = bus.LeasesGrants
	c := bustest.Start(t, top)
	voters := []string{"holly", "benji", "director"}
	granters := map[string]*Granter{}
	for _, v := range voters {
		g, err := NewGranter(c.Ready(v), v, ttl, nil, bustest.Logger())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Close)
		granters[v] = g
	}
	mk := func(node, peer string) *Manager {
		var m *Manager
		poll.Until(t, 30*time.Second, 100*time.Millisecond, func() (err error) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			m, err = NewManager(ctx, Config{Conn: c.Ready(node), Node: node, Peers: func() []string { return []string{peer} },
				TTL: ttl, Logger: bustest.Logger(), Grants: true, Voters: func() []string { return voters }})
			return err
		})
		t.Cleanup(m.Close)
		return m
	}
	return grantsCluster{c: c, holly: mk("holly", "benji"), benji: mk("benji", "holly"), granters: granters}
}

// Leases by grants, with the lease bucket's stream gone (as while it has
// no leader): holly takes the lease, benji is refused while holly renews it
// for several TTLs, holly's release hands it to benji at once with a larger
// token, and when benji stops renewing (its process gone) holly takes it
// again once benji's grants lapsed, never before benji's deadline.
func TestGrantsNeedNoStream(t *testing.T) {
	gc := newGrantsCluster(t)
	ctx := context.Background()
	if err := gc.c.Ready("holly").JS.DeleteStream(ctx, bus.StreamOfBucket(bus.BucketLeases)); err != nil {
		t.Fatal(err)
	}
	key := Key("VIP-198.18.0.23")
	// The granters grant nothing in their first TTL.
	var l *Lease
	poll.Until(t, 20*time.Second, 50*time.Millisecond, func() (err error) {
		l, err = gc.holly.Acquire(ctx, key, nil)
		return err
	})
	first := l.Deadline()
	poll.Until(t, 30*testTTL, testTTL/4, func() error {
		if _, err := gc.benji.Acquire(ctx, key, nil); !errors.Is(err, ErrHeld) {
			t.Fatalf("benji acquiring holly's lease: got %v, want ErrHeld", err)
		}
		select {
		case <-l.Lost():
			t.Fatal("holly's lease lost while renewed")
		default:
		}
		if d := l.Deadline(); !d.After(first.Add(3 * testTTL)) {
			return fmt.Errorf("deadline %s, want it past %s", d.Format(time.StampMilli), first.Add(3*testTTL).Format(time.StampMilli))
		}
		return nil
	})
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var last time.Time
	renewed := func(d time.Time) { mu.Lock(); last = d; mu.Unlock() }
	start := time.Now()
	b, err := gc.benji.Acquire(ctx, key, renewed)
	if err != nil {
		t.Fatalf("benji acquiring right after holly's release: %v", err)
	}
	t.Logf("benji acquired %s after holly's release", time.Since(start).Round(time.Millisecond))
	if b.Token() <= l.Token() {
		t.Fatalf("benji's token %d, want above holly's %d", b.Token(), l.Token())
	}
	// benji's process is gone: its renewals stop (the lease is left to
	// lapse, as after a crash).
	gc.benji.Close()
	var h *Lease
	poll.Until(t, 20*time.Second, 20*time.Millisecond, func() (err error) {
		h, err = gc.holly.Acquire(ctx, key, nil)
		return err
	})
	took := time.Now()
	mu.Lock()
	bd := last
	mu.Unlock()
	if !took.After(bd) {
		t.Fatalf("holly took the lease at %s, before benji's last deadline %s", took.Format(time.StampMilli), bd.Format(time.StampMilli))
	}
	t.Logf("holly took the lease %s after benji's last deadline", took.Sub(bd).Round(time.Millisecond))
	if h.Token() <= b.Token() {
		t.Fatalf("holly's new token %d, want above benji's %d", h.Token(), b.Token())
	}
}

// A holder cut off from the voters (its bus server stopped) fences at its
// deadline, and the other node takes the lease only after it: a majority of
// grants is never shared.
func TestGrantsCutOffHolderFencesFirst(t *testing.T) {
	gc := newGrantsCluster(t)
	ctx := context.Background()
	key := Key("VIP-198.18.0.23")
	var mu sync.Mutex
	var last time.Time
	renewed := func(d time.Time) { mu.Lock(); last = d; mu.Unlock() }
	var l *Lease
	poll.Until(t, 20*time.Second, 50*time.Millisecond, func() (err error) {
		l, err = gc.holly.Acquire(ctx, key, renewed)
		return err
	})
	gc.c.StopMember("holly")
	var b *Lease
	poll.Until(t, 30*time.Second, 20*time.Millisecond, func() (err error) {
		b, err = gc.benji.Acquire(ctx, key, nil)
		return err
	})
	took := time.Now()
	mu.Lock()
	hd := last
	mu.Unlock()
	if !took.After(hd) {
		t.Fatalf("benji took the lease at %s, before holly's last deadline %s", took.Format(time.StampMilli), hd.Format(time.StampMilli))
	}
	select {
	case <-l.Lost():
	case <-time.After(10 * time.Second):
		t.Fatal("holly, cut off, never fenced")
	}
	t.Logf("benji took the lease %s after holly's last deadline; token %d after %d", took.Sub(hd).Round(time.Millisecond), b.Token(), l.Token())
	if b.Token() <= l.Token() {
		t.Fatalf("benji's token %d, want above holly's %d", b.Token(), l.Token())
	}
}

// While a member keeps leases another way, Acquire refuses, naming it, in
// either mode; a lease already held is still renewed.
func TestMixedLeaseModesRefused(t *testing.T) {
	gc := newGrantsCluster(t)
	ctx := context.Background()
	key := Key("VIP-198.18.0.23")
	var l *Lease
	poll.Until(t, 20*time.Second, 50*time.Millisecond, func() (err error) {
		l, err = gc.holly.Acquire(ctx, key, nil)
		return err
	})
	var mixed sync.Mutex
	who := ""
	for _, m := range []*Manager{gc.holly, gc.benji} {
		m.cfg.Mixed = func() string { mixed.Lock(); defer mixed.Unlock(); return who }
	}
	mixed.Lock()
	who = "carol (leases = bucket)"
	mixed.Unlock()
	_, err := gc.benji.Acquire(ctx, Key("other"), nil)
	if !errors.Is(err, ErrMixed) || !strings.Contains(err.Error(), "carol (leases = bucket)") || !strings.Contains(err.Error(), `"grants"`) {
		t.Fatalf("acquire while carol keeps leases in the bucket: %v; want ErrMixed naming carol and this node's way", err)
	}
	first := l.Deadline()
	poll.Until(t, 20*time.Second, 50*time.Millisecond, func() error {
		if !l.Deadline().After(first.Add(testTTL)) {
			return errors.New("holly's lease not renewed past a TTL yet")
		}
		return nil
	})
	mixed.Lock()
	who = ""
	mixed.Unlock()
	acquireKey := Key("other")
	poll.Until(t, 20*time.Second, 50*time.Millisecond, func() error {
		_, err := gc.benji.Acquire(ctx, acquireKey, nil)
		return err
	})
}

// A node renews all the leases it holds by grants with one request per
// voter a round (every TTL/4), not one per lease: 20 leases renewed for
// 2 s cost the witness's granter no more requests than the rounds.
func TestGrantsRenewedTogether(t *testing.T) {
	gc := newGrantsCluster(t)
	leases := acquireMany(t, gc.holly, 20)
	watch := gc.c.Ready("benji")
	sub, err := watch.NC.SubscribeSync(bus.SubjectLeaseGrant("director"))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := watch.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	was := make([]time.Time, len(leases))
	for i, l := range leases {
		was[i] = l.Deadline()
	}
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		if time.Since(begin) < 2*time.Second {
			return errors.New("renewing for 2 s")
		}
		for i, l := range leases {
			if !l.Deadline().After(was[i].Add(time.Second)) {
				return fmt.Errorf("lease %d not renewed a second past its deadline yet", i)
			}
		}
		return nil
	})
	rounds := time.Since(begin)/(testTTL/4) + 2
	n, _, _ := sub.Pending()
	t.Logf("20 leases renewed for %s: %d requests to director's granter (at most %d rounds)", time.Since(begin).Round(time.Millisecond), n, rounds)
	if n > int(rounds) {
		t.Fatalf("%d grant requests to one voter in %s for 20 leases: want one per round (at most %d)", n, time.Since(begin).Round(time.Millisecond), rounds)
	}
}

// Without a majority of the voters answering, an acquire fails with
// bus.ErrNoQuorum (worth trying again: host/lrm's takeLease does), not as
// held.
func TestGrantsWithoutMajorityIsNoQuorum(t *testing.T) {
	gc := newGrantsCluster(t)
	ctx := context.Background()
	// Wait out the granters' first TTL.
	poll.Until(t, 20*time.Second, 50*time.Millisecond, func() error {
		l, err := gc.holly.Acquire(ctx, Key("probe"), nil)
		if err == nil {
			return l.Release(ctx)
		}
		return err
	})
	gc.c.StopMember("director")
	gc.c.StopMember("benji")
	_, err := gc.holly.Acquire(ctx, Key("VIP"), nil)
	if !errors.Is(err, bus.ErrNoQuorum) || errors.Is(err, ErrHeld) {
		t.Fatalf("acquire with 1 of 3 voters: %v; want bus.ErrNoQuorum", err)
	}
}

// Several nodes ask for one key at the same instant (the members that saw
// the coordinator's lease go): at most one holds it at any time, and every
// other answer is ErrHeld (ErrContended when the voters split, after which
// a random pause lets one ask alone).
func TestGrantsContended(t *testing.T) {
	top := bustest.Topology(t, []string{"n1", "n2", "n3", "n4", "n5"}, "")
	top.Leases = bus.LeasesGrants
	c := bustest.Start(t, top)
	voters := []string{"n1", "n2", "n3"} // bustest's voter_count default
	for _, v := range voters {
		g, err := NewGranter(c.Ready(v), v, testTTL, nil, bustest.Logger())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Close)
	}
	var ms []*Manager
	for _, n := range []string{"n1", "n2", "n3", "n4", "n5"} {
		var m *Manager
		poll.Until(t, 30*time.Second, 100*time.Millisecond, func() (err error) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			m, err = NewManager(ctx, Config{Conn: c.Ready(n), Node: n, Peers: func() []string { return nil },
				TTL: testTTL, Logger: bustest.Logger(), Grants: true, Voters: func() []string { return voters }})
			return err
		})
		t.Cleanup(m.Close)
		ms = append(ms, m)
	}
	// The granters' first TTL: they grant nothing yet.
	poll.Until(t, 20*time.Second, 50*time.Millisecond, func() error {
		l, err := ms[0].Acquire(context.Background(), Key("probe"), nil)
		if err == nil {
			return l.Release(context.Background())
		}
		return err
	})
	var mu sync.Mutex
	holders, contended := map[string]*Lease{}, 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range 20 {
				l, err := m.Acquire(context.Background(), CoordinatorKey, nil)
				mu.Lock()
				switch {
				case err == nil:
					holders[m.cfg.Node] = l
				case errors.Is(err, ErrContended):
					contended++
				case !errors.Is(err, ErrHeld):
					t.Errorf("%s: %v, want held or contended", m.cfg.Node, err)
				}
				n := len(holders)
				mu.Unlock()
				if n > 0 {
					return
				}
				time.Sleep(testTTL/16 + time.Duration(rand.Int64N(int64(testTTL/2))))
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(holders) != 1 {
		t.Fatalf("holders: %v, want exactly one", holders)
	}
	t.Logf("one holder; %d contended answers on the way", contended)
}

// testGranter is the witness's granter on clk (a TTL of 1 s), started now.
func testGranter(clk *fakeClock) *Granter {
	return &Granter{name: "witness", ttl: time.Second, now: clk.now, wall: func() time.Time { return time.UnixMilli(5_000) }, started: clk.now(), grants: map[string]*grant{}}
}

// hollyHolds has holly acquire keys from g and returns them as renew-all
// items.
func hollyHolds(t *testing.T, g *Granter, keys ...string) []grantItem {
	t.Helper()
	var items []grantItem
	for _, k := range keys {
		r := g.decide(grantRequest{Op: grantAcquire, Key: k, Holder: "holly"})
		if !r.Granted {
			t.Fatalf("acquire of %s: %+v", k, r)
		}
		items = append(items, grantItem{Key: k, Token: r.Count})
	}
	return items
}

// A renew-all request that asks for a compact reply gets the count of its
// items when the granter grants every one, and item by item otherwise; a
// request without it (a node of an older build) always gets the items.
func TestCompactRenewReplies(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	g := testGranter(clk)
	clk.add(time.Second)
	items := hollyHolds(t, g, "rsc.a", "rsc.b", "rsc.c")
	if r := g.decide(grantRequest{Op: grantAcquire, Key: "rsc.d", Holder: "benji"}); !r.Granted {
		t.Fatalf("benji's acquire of rsc.d: %+v", r)
	}
	renew := func(compact bool, items ...grantItem) grantReply {
		return g.renewAll(grantRequest{Op: grantRenewAll, Holder: "holly", Items: items, Compact: compact})
	}
	if r := renew(true, items...); r.All != 3 || len(r.Items) != 0 {
		t.Errorf("compact, all granted: %+v, want all 3 and no items", r)
	}
	if r := renew(false, items...); r.All != 0 || len(r.Items) != 3 || !r.Items[0].Granted || !r.Items[2].Granted {
		t.Errorf("not compact: %+v, want 3 items, granted", r)
	}
	r := renew(true, items[0], grantItem{Key: "rsc.d", Token: 1}, items[2])
	if r.All != 0 || len(r.Items) != 3 || !r.Items[0].Granted || r.Items[1].Granted || r.Items[1].Holder != "benji" || !r.Items[2].Granted {
		t.Errorf("compact, one held by benji: %+v, want the 3 items, the second refused naming benji", r)
	}

	// The requester counts either form, and nothing of a reply that
	// does not match its request.
	for _, c := range []struct {
		name             string
		reply            grantReply
		granted, refused []int
	}{
		{"compact", grantReply{Granted: true, All: 3}, []int{1, 1, 1}, []int{0, 0, 0}},
		{"items", r, []int{1, 0, 1}, []int{0, 1, 0}},
		{"compact of another length", grantReply{Granted: true, All: 2}, []int{0, 0, 0}, []int{0, 0, 0}},
		{"items of another length", grantReply{Granted: true, Items: r.Items[:2]}, []int{0, 0, 0}, []int{0, 0, 0}},
		{"both", grantReply{Granted: true, All: 3, Items: r.Items}, []int{1, 0, 1}, []int{0, 1, 0}},
		{"empty", grantReply{Granted: true}, []int{0, 0, 0}, []int{0, 0, 0}},
	} {
		granted, refused := make([]int, 3), make([]int, 3)
		countRenewals(c.reply, granted, refused)
		if fmt.Sprint(granted, refused) != fmt.Sprint(c.granted, c.refused) {
			t.Errorf("%s: granted %v refused %v, want %v %v", c.name, granted, refused, c.granted, c.refused)
		}
	}
}

// A granter remembers the items of a holder's renew-all that names their
// digest, echoes the digest, and renews them when a later request carries
// the digest alone; it answers Unknown for a digest it does not remember
// (another set, or it restarted), remembers nothing of a request whose
// digest is not its items', and refuses by digest a key another holder
// took, item by item, as for the items.
func TestDigestRenewals(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	g := testGranter(clk)
	clk.add(time.Second)
	items := hollyHolds(t, g, "rsc.a", "rsc.b", "rsc.c")
	digest := setDigest(items)
	if d := setDigest([]grantItem{items[0], items[1], {Key: "rsc.c", Token: items[2].Token + 1}}); d == digest {
		t.Fatal("the digest ignores the tokens")
	}
	renew := func(g *Granter, set string, items ...grantItem) grantReply {
		return g.renewAll(grantRequest{Op: grantRenewAll, Holder: "holly", Items: items, Compact: true, Set: set})
	}
	if r := renew(g, digest); !r.Unknown || r.All != 0 {
		t.Errorf("a digest never sent with its items: %+v, want Unknown", r)
	}
	if r := renew(g, "0123", items...); r.Set != "" || r.All != 3 {
		t.Errorf("items under another digest: %+v, want them renewed and no digest echoed", r)
	}
	if r := renew(g, "0123"); !r.Unknown {
		t.Errorf("the wrong digest was remembered: %+v", r)
	}
	if r := renew(g, digest, items...); r.Set != digest || r.All != 3 {
		t.Errorf("items with their digest: %+v, want all 3 and the digest echoed", r)
	}
	clk.add(800 * time.Millisecond)
	if r := renew(g, digest); r.Set != digest || r.All != 3 || r.Unknown {
		t.Errorf("by digest: %+v, want all 3 renewed", r)
	}
	clk.add(800 * time.Millisecond) // 1.6 s after the items were sent: only the digest renewed them
	if h := g.Holders(); len(h) != 3 || h["rsc.a"] != "holly" || h["rsc.c"] != "holly" {
		t.Errorf("holders after a renewal by digest: %v", h)
	}
	if r := g.renewAll(grantRequest{Op: grantRenewAll, Holder: "benji", Compact: true, Set: digest}); !r.Unknown {
		t.Errorf("benji renewing holly's set by its digest: %+v, want Unknown", r)
	}
	// rsc.b lapses (holly stops renewing it, frozen), benji takes it;
	// holly's renewal by the old digest is refused for that item.
	g.mu.Lock()
	g.grants["rsc.b"].until = clk.now()
	g.mu.Unlock()
	if r := g.decide(grantRequest{Op: grantAcquire, Key: "rsc.b", Holder: "benji"}); !r.Granted {
		t.Fatalf("benji's acquire of the lapsed rsc.b: %+v", r)
	}
	r := renew(g, digest)
	if r.All != 0 || len(r.Items) != 3 || !r.Items[0].Granted || r.Items[1].Granted || r.Items[1].Holder != "benji" || !r.Items[2].Granted {
		t.Errorf("by digest, rsc.b held by benji: %+v, want 3 items, the second refused naming benji", r)
	}
	// A restarted granter forgot every set.
	clk.add(time.Second)
	g2 := testGranter(clk)
	clk.add(time.Second)
	if r := renew(g2, digest); !r.Unknown {
		t.Errorf("a restarted granter, by digest: %+v, want Unknown", r)
	}
}

// acquireMany has m take the leases of singleton-0 to singleton-(n-1).
func acquireMany(t *testing.T, m *Manager, n int) []*Lease {
	t.Helper()
	var leases []*Lease
	for i := range n {
		key := Key(fmt.Sprintf("singleton-%d", i))
		poll.Until(t, 20*time.Second, 50*time.Millisecond, func() error {
			l, err := m.Acquire(context.Background(), key, nil)
			if err == nil {
				leases = append(leases, l)
			}
			return err
		})
	}
	return leases
}

// Live: once each voter acknowledged holly's set of leases, her renewals
// carry its digest alone; a granter that restarts answers Unknown and gets
// the items at once, and grants them again once its first TTL passed; a
// granter of an older build, which ignores the digest, gets the items in
// every renewal and keeps granting them.
func TestRenewalsByDigest(t *testing.T) {
	gc := newGrantsCluster(t)
	leases := acquireMany(t, gc.holly, 12)
	var keys []string
	for _, l := range leases {
		keys = append(keys, l.key)
	}
	watch := gc.c.Ready("benji")
	requests := func(voter string) (next func() grantRequest, stop func()) {
		sub, err := watch.NC.SubscribeSync(bus.SubjectLeaseGrant(voter))
		if err != nil {
			t.Fatal(err)
		}
		if err := watch.NC.Flush(); err != nil {
			t.Fatal(err)
		}
		return func() grantRequest {
			t.Helper()
			for {
				msg, err := sub.NextMsg(10 * time.Second)
				if err != nil {
					t.Fatalf("no request to %s: %v", voter, err)
				}
				var req grantRequest
				if err := json.Unmarshal(msg.Data, &req); err != nil {
					t.Fatal(err)
				}
				if req.Op == grantRenewAll && req.Holder == "holly" {
					return req
				}
			}
		}, func() { _ = sub.Unsubscribe() }
	}
	holds := func(g *Granter) error {
		h := g.Holders()
		for _, k := range keys {
			if h[k] != "holly" {
				return fmt.Errorf("%s's granter: %s held by %q", g.name, k, h[k])
			}
		}
		return nil
	}

	next, stop := requests("director")
	poll.Until(t, 20*time.Second, time.Millisecond, func() error {
		if req := next(); len(req.Items) != 0 || req.Set == "" {
			return fmt.Errorf("a renewal of %d items, digest %q", len(req.Items), req.Set)
		}
		return nil
	})
	stop()

	// director's granter restarts: it forgot the set.
	gc.granters["director"].Close()
	g, err := NewGranter(gc.c.Ready("director"), "director", testTTL, nil, bustest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	next, stop = requests("director")
	seenFull := false
	poll.Until(t, 20*time.Second, 10*time.Millisecond, func() error {
		if req := next(); len(req.Items) == len(keys) {
			seenFull = true
		}
		if !seenFull {
			return errors.New("no renewal with the items since director restarted")
		}
		return holds(g)
	})
	stop()
	for _, l := range leases {
		if l.isDone() {
			t.Fatalf("holly lost %s while director restarted", l.key)
		}
	}

	// director's granter is replaced by one of an older build: it answers
	// as before the digests, ignoring the field.
	g.Close()
	old := &Granter{name: "director", ttl: testTTL, now: time.Now, wall: time.Now, started: time.Now().Add(-testTTL), grants: map[string]*grant{}, log: bustest.Logger()}
	oldSub, err := gc.c.Ready("director").NC.Subscribe(bus.SubjectLeaseGrant("director"), func(msg *nats.Msg) {
		var req grantRequest
		if json.Unmarshal(msg.Data, &req) != nil {
			return
		}
		req.Set = ""
		var reply grantReply
		if req.Op == grantRenewAll {
			reply = old.renewAll(req)
		} else {
			reply = old.decide(req)
		}
		data, _ := json.Marshal(reply)
		_ = msg.Respond(data)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer oldSub.Unsubscribe()
	poll.Until(t, 20*time.Second, 50*time.Millisecond, func() error { return holds(old) })
	next, stop = requests("director")
	defer stop()
	for range 8 {
		if req := next(); len(req.Items) != len(keys) {
			t.Fatalf("a renewal to the older granter carried %d items, want all %d", len(req.Items), len(keys))
		}
	}
	if err := holds(old); err != nil {
		t.Fatal(err)
	}
}

// Renewals wait for late grants until their round's deadline: with two of
// the three voters answering after more than a tick (TTL/4) but well
// before the deadline (a loaded machine, a pause), holly keeps every
// lease, renewed round after round. Before, each answer was awaited for a
// tick only, every round failed and the leases were fenced.
func TestRenewalsWaitForLateGrants(t *testing.T) {
	const ttl = 2 * time.Second
	const delay = 700 * time.Millisecond // past TTL/4 (500 ms), before TTL - margin (1.85 s)
	gc := newGrantsClusterTTL(t, ttl)
	leases := acquireMany(t, gc.holly, 6)
	for _, v := range []string{"benji", "director"} {
		g := gc.granters[v]
		g.Close()
		var wg sync.WaitGroup
		sub, err := gc.c.Ready(v).NC.Subscribe(bus.SubjectLeaseGrant(v), func(msg *nats.Msg) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(delay)
				g.answer(msg)
			}()
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe(); wg.Wait() })
	}
	if err := gc.c.Ready("benji").NC.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := gc.c.Ready("director").NC.Flush(); err != nil {
		t.Fatal(err)
	}
	was := make([]time.Time, len(leases))
	for i, l := range leases {
		was[i] = l.Deadline()
	}
	// Three TTLs of slow grants: a lease not renewed would be fenced
	// within one.
	poll.Until(t, 60*time.Second, 50*time.Millisecond, func() error {
		for i, l := range leases {
			if l.isDone() {
				t.Fatalf("holly lost %s with grants coming %s late", l.key, delay)
			}
			if !l.Deadline().After(was[i].Add(3 * ttl)) {
				return fmt.Errorf("%s not renewed three TTLs on yet", l.key)
			}
		}
		return nil
	})
}
