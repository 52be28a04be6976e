package lease

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
)

// testTTL is the lease TTL the tests give their managers: the shortest
// JetStream takes (a per-message TTL is whole seconds, at least one), so
// that a test waits as little as the bus allows, whatever the production
// default.
const testTTL = time.Second

func newManager(t *testing.T, conn *bus.Conn, node string, peers ...string) *Manager {
	t.Helper()
	var m *Manager
	// A member that has just (re)joined may need a moment before its
	// JetStream API answers: poll rather than fail on the first timeout.
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() (err error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		m, err = NewManager(ctx, Config{Conn: conn, Node: node, Peers: func() []string { return peers },
			TTL: testTTL, Logger: bustest.Logger()})
		return err
	})
	t.Cleanup(m.Close)
	return m
}

func acquire(t *testing.T, m *Manager, key string) *Lease {
	t.Helper()
	var l *Lease
	poll.Until(t, 20*time.Second, 50*time.Millisecond, func() (err error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		l, err = m.Acquire(ctx, key, nil)
		return err
	})
	return l
}

func TestLeaseIsExclusiveRenewedAndReleased(t *testing.T) {
	c := bustest.Start(t, bustest.Topology(t, []string{"holly", "benji"}, "director"))
	hc, bc := c.Ready("holly"), c.Ready("benji")
	holly := newManager(t, hc, "holly", "benji")
	benji := newManager(t, bc, "benji", "holly")
	key := Key("VIP-10.10.10.23")
	if key != "rsc.VIP-10.10.10.23" {
		t.Fatalf("Key(\"VIP-10.10.10.23\"): got %q, want %q", key, "rsc.VIP-10.10.10.23")
	}
	l := acquire(t, holly, key)
	first := l.Deadline()

	// Held across several TTLs: benji never gets it, and the renewals move
	// the deadline on.
	poll.Until(t, 20*testTTL, testTTL/4, func() error {
		if _, err := benji.Acquire(context.Background(), key, nil); !errors.Is(err, ErrHeld) {
			t.Fatalf("benji acquiring a held lease: got %v, want ErrHeld", err)
		}
		select {
		case <-l.Lost():
			t.Fatal("lease lost while renewed")
		default:
		}
		if d := l.Deadline(); !d.After(first.Add(3 * testTTL)) {
			return fmt.Errorf("deadline %s, want it past %s (3 TTLs after the first)", d.Format(time.StampMilli), first.Add(3*testTTL).Format(time.StampMilli))
		}
		return nil
	})

	if err := l.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	acquire(t, benji, key)
	t.Logf("acquired %s after release", time.Since(start).Round(time.Millisecond))
}

// A tenure's fencing token is the revision of the Create that began it:
// readers see it at once (the creating write's revision), it stays across
// renewals, and the next holder's is larger.
func TestTenureTokens(t *testing.T) {
	c := bustest.Start(t, bustest.Topology(t, []string{"holly", "benji"}, "director"))
	hc, bc := c.Ready("holly"), c.Ready("benji")
	holly := newManager(t, hc, "holly", "benji")
	benji := newManager(t, bc, "benji", "holly")
	ctx := context.Background()
	l := acquire(t, holly, CoordinatorKey)
	first := l.Token()
	if first == 0 {
		t.Fatal("token 0")
	}
	ten, err := benji.Tenure(ctx, CoordinatorKey)
	if err != nil || ten.Node != "holly" || ten.Token != first {
		t.Fatalf("tenure read by benji: %+v, %v; want holly's, token %d", ten, err, first)
	}
	// Renewed: the record carries the token and the revision moved on.
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		ten, err = benji.Tenure(ctx, CoordinatorKey)
		if err != nil || ten.Legacy || ten.Token != first || ten.Revision == first {
			return fmt.Errorf("tenure after renewals: %+v, %v; want token %d written, a newer revision", ten, err, first)
		}
		return nil
	})
	if l.Token() != first {
		t.Fatalf("token changed on renewal: %d, was %d", l.Token(), first)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := benji.Tenure(ctx, CoordinatorKey); !errors.Is(err, ErrNoHolder) {
		t.Fatalf("tenure after release: got %v, want ErrNoHolder", err)
	}
	next := acquire(t, benji, CoordinatorKey)
	if next.Token() <= ten.Revision {
		t.Fatalf("next holder's token %d, want it past the previous tenure's revisions (%d)", next.Token(), ten.Revision)
	}
	if ten, err := holly.Tenure(ctx, CoordinatorKey); err != nil || ten.Node != "benji" || ten.Token != next.Token() {
		t.Fatalf("tenure after the move: %+v, %v; want benji's, token %d", ten, err, next.Token())
	}
	if holly.LostCount() != 0 {
		t.Errorf("LostCount after a release: %d, want 0", holly.LostCount())
	}
}

// unreadable is a lease bucket whose reads fail, as they do while the
// stream has no leader after a fault.
type unreadable struct{ jetstream.KeyValue }

func (unreadable) Get(context.Context, string) (jetstream.KeyValueEntry, error) {
	return nil, jetstream.ErrNoStreamResponse
}

// The holder knows its own tenure without reading the bus: a new
// coordinator's first plan runs on its own node while the lease stream
// still elects a leader.
func TestHolderKnowsItsTenureWithoutTheBus(t *testing.T) {
	c := bustest.Start(t, bustest.Topology(t, []string{"holly", "benji"}, "director"))
	hc, bc := c.Ready("holly"), c.Ready("benji")
	holly := newManager(t, hc, "holly", "benji")
	benji := newManager(t, bc, "benji", "holly")
	l := acquire(t, holly, CoordinatorKey)
	holly.kv, benji.kv = unreadable{holly.kv}, unreadable{benji.kv}
	ctx := context.Background()
	if ten, err := holly.Tenure(ctx, CoordinatorKey); err != nil || ten.Node != "holly" || ten.Token != l.Token() {
		t.Fatalf("holder's own tenure with the bucket unreadable: %+v, %v; want holly's, token %d", ten, err, l.Token())
	}
	if ten, err := benji.Tenure(ctx, CoordinatorKey); err == nil {
		t.Fatalf("another node's read with the bucket unreadable: %+v, want an error", ten)
	}
}

// A holder that stops renewing (it crashed) fences itself before the other
// node can take the lease.
func TestSilentHolderFencesBeforeTakeover(t *testing.T) {
	c := bustest.Start(t, bustest.Topology(t, []string{"holly", "benji"}, "director"))
	hc, bc := c.Ready("holly"), c.Ready("benji")
	holly := newManager(t, hc, "holly", "benji")
	benji := newManager(t, bc, "benji", "holly")
	key := Key("vip")
	l := acquire(t, holly, key)

	holly.Close() // renewals stop, as when the holder dies
	stopped := time.Now()
	fencedAt := make(chan time.Time, 1)
	go func() {
		<-l.Lost()
		fencedAt <- time.Now()
	}()
	var got time.Time
	poll.Until(t, 10*time.Second, 10*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := benji.Acquire(ctx, key, nil)
		if err == nil {
			got = time.Now()
		}
		return err
	})
	var fenced time.Time
	select {
	case fenced = <-fencedAt:
	default:
		t.Fatalf("other node acquired at %v: got the holder not fenced yet, want it fenced first", got.Format(time.StampMilli))
	}
	if !fenced.Before(got) {
		t.Fatalf("holder fenced at %v, other node acquired at %v: want the fence first", fenced.Format(time.StampMilli), got.Format(time.StampMilli))
	}
	if n := holly.LostCount(); n != 1 {
		t.Errorf("holder's LostCount after the fence: got %d, want 1", n)
	}
	t.Logf("renewals stopped -> other node holds: %s (holder's fence came %s before)",
		got.Sub(stopped).Round(time.Millisecond), got.Sub(fenced).Round(time.Millisecond))
}

// When the bus accepts no writes, the holder keeps its lease on the peers'
// promises, and keeps it after the bus recovers even if the key expired.
func TestLeaderlessBusKeepsLeaseOnPromises(t *testing.T) {
	c, hc, bc, others := leaderlessSetup(t)
	holly := newManager(t, hc, "holly", "benji")
	benji := newManager(t, bc, "benji", "holly")
	key := Key("vip")
	l := acquire(t, holly, key)

	for _, m := range others {
		c.StopMember(m)
	}
	// Well past the TTL: still held, and benji is bound by its promise. (benji
	// does not try to acquire meanwhile: while its own Create is in flight
	// it cannot promise, by design, see answerPromise.)
	select {
	case <-l.Lost():
		t.Fatal("lease lost while the peer promised")
	case <-time.After(4 * testTTL):
	}
	if _, err := benji.Acquire(context.Background(), key, nil); !errors.Is(err, ErrPromised) {
		t.Fatalf("benji while holly holds the lease on promises: got %v, want ErrPromised", err)
	}
	if !l.Deadline().After(time.Now()) {
		t.Fatal("deadline not extended")
	}
	for _, m := range others {
		c.StartMember(m)
	}
	// Once the bus is back, the lease is renewed (or re-created) normally:
	// its deadline runs well past the recovery, never lost on the way.
	recovered := time.Now()
	poll.Until(t, 30*time.Second, testTTL/4, func() error {
		select {
		case <-l.Lost():
			t.Fatal("lease lost after the bus recovered")
		default:
		}
		if d := l.Deadline(); !d.After(recovered.Add(2 * testTTL)) {
			return fmt.Errorf("deadline %s, want it past %s (renewed through the recovered bus)", d.Format(time.StampMilli), recovered.Add(2*testTTL).Format(time.StampMilli))
		}
		return nil
	})
	poll.Until(t, 20*time.Second, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		e, err := hc.JS.KeyValue(ctx, bus.BucketLeases)
		if err != nil {
			return err
		}
		v, err := e.Get(ctx, key)
		if err != nil {
			return err
		}
		if string(v.Value()) == "" {
			return fmt.Errorf("lease %s in the bucket: got an empty value, want the holder's record", key)
		}
		return nil
	})
	if _, err := benji.Acquire(context.Background(), key, nil); !errors.Is(err, ErrHeld) && !errors.Is(err, ErrPromised) {
		t.Fatalf("benji after recovery: got %v, want ErrHeld or ErrPromised", err)
	}
}

// A peer that refuses a promise now and then (while, say, its own Create of
// the key is in flight) does not fence the holder while the bus takes no
// writes: a refused round is asked again before the deadline, instead of
// waiting for the KV attempt to time out.
func TestLeaderlessBusSurvivesRefusedPromises(t *testing.T) {
	c, hc, bc, others := leaderlessSetup(t)
	holly := newManager(t, hc, "holly", "benji")
	// benji's side: refuses two requests of every three, grants the third.
	var mu sync.Mutex
	var seen, granted int
	sub, err := bc.NC.Subscribe(bus.SubjectLeasePromise("benji"), func(msg *nats.Msg) {
		mu.Lock()
		seen++
		grant := seen%3 == 0
		if grant {
			granted++
		}
		mu.Unlock()
		reply := `{"reason":"I am acquiring it"}`
		if grant {
			reply = `{"granted":true}`
		}
		_ = msg.Respond([]byte(reply))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := bc.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	l := acquire(t, holly, Key("vip"))
	for _, m := range others {
		c.StopMember(m)
	}
	select {
	case <-l.Lost():
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("lease lost while the peer granted one promise request in three (%d asked, %d granted)", seen, granted)
	case <-time.After(6 * testTTL):
	}
	mu.Lock()
	defer mu.Unlock()
	if granted < 4 {
		t.Fatalf("only %d of %d promise requests granted in %s: the bus did not stall writes as the test means", granted, seen, 6*testTTL)
	}
	t.Logf("lease kept over %s on %d granted of %d promise requests", 6*testTTL, granted, seen)
}

// leaderlessSetup starts five voters and places the lease bucket's three
// replicas away from benji, so that stopping the replicas other than holly
// leaves holly and benji connected while the bucket accepts no writes: what
// a hard-killed bucket leader looks like until a new one is elected.
func leaderlessSetup(t *testing.T) (c *bustest.Cluster, holly, benji *bus.Conn, others []string) {
	c = bustest.Start(t, bustest.Topology(t, []string{"holly", "benji", "x1", "x2"}, "director"))
	c.StopMember("benji")
	holly = c.Ready("holly")
	c.StartMember("benji")
	benji = c.Connect("benji", "benji")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := holly.JS.Stream(ctx, "KV_"+bus.BucketLeases)
	if err != nil {
		t.Fatal(err)
	}
	ci := st.CachedInfo().Cluster
	for _, n := range append([]string{ci.Leader}, replicaNames(ci)...) {
		if n != "holly" {
			others = append(others, n)
		}
	}
	if len(others) < 2 {
		t.Fatalf("lease bucket replicas: got leader %s, members other than holly %v; want at least 2 other than holly", ci.Leader, others)
	}
	return c, holly, benji, others
}

func replicaNames(ci *jetstream.ClusterInfo) []string {
	var names []string
	for _, r := range ci.Replicas {
		names = append(names, r.Name)
	}
	return names
}

// Without a promise from every peer the holder fences at its deadline.
func TestNoPromiseNoLease(t *testing.T) {
	c, hc, _, others := leaderlessSetup(t)
	// benji runs no lease manager: nobody answers holly's promise requests.
	holly := newManager(t, hc, "holly", "benji")
	l := acquire(t, holly, Key("vip"))
	for _, m := range others {
		c.StopMember(m)
	}
	select {
	case <-l.Lost():
	case <-time.After(5 * testTTL):
		t.Fatal("lease kept without quorum and without promises")
	}
}

func TestPromiseBlocksAcquire(t *testing.T) {
	c := bustest.Start(t, bustest.Topology(t, []string{"solo"}, ""))
	m := newManager(t, c.Ready("solo"), "solo")
	ok := false
	poll.Until(t, 5*time.Second, 50*time.Millisecond, func() error {
		_, ok = m.askPromises("rsc.x")
		if !ok {
			return fmt.Errorf("askPromises(\"rsc.x\"): got not granted, want granted")
		}
		return nil
	})
	// solo has no peers, so ask its own answerer directly.
	msg, err := c.Connect("solo", "t").NC.Request(bus.SubjectLeasePromise("solo"), []byte(`{"key":"rsc.x","from":"other","duration":1000000000}`), time.Second)
	if err != nil || string(msg.Data) != `{"granted":true}` {
		t.Fatalf("promise request: got %s (err %v), want %s", func() []byte {
			if msg == nil {
				return nil
			}
			return msg.Data
		}(), err, `{"granted":true}`)
	}
	if _, err := m.Acquire(context.Background(), "rsc.x", nil); !errors.Is(err, ErrPromised) {
		t.Fatalf("acquire while promised: got %v, want ErrPromised", err)
	}
}
