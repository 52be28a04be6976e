package membership

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
)

func TestJoinLeaveRejoin(t *testing.T) {
	c := bustest.Start(t, bustest.Topology(t, []string{"solo"}, ""))
	conn := c.Connect("solo", "test")
	var mu sync.Mutex
	var changes []Change
	tr, err := New(func(string) *bus.Conn { return conn }, []string{"a", "b"}, 300*time.Millisecond, func(ch Change) {
		mu.Lock()
		changes = append(changes, ch)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	conn.NC.Flush()

	var seq atomic.Uint64
	t0 := time.Now()
	started := map[string]time.Time{"a1": t0, "b1": t0, "b2": t0.Add(time.Second)} // b2: b restarted
	beat := func(node, inc string) {
		conn.Publish(bus.Heartbeat{Node: node, Incarnation: inc, Seq: seq.Add(1), Started: started[inc]})
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a keeps beating throughout
		defer wg.Done()
		for i := 0; i < 200; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				beat("a", "a1")
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	beat("b", "b1")
	poll.Until(t, 5*time.Second, 20*time.Millisecond, func() error {
		if got := fmt.Sprint(tr.Online()); got != "[a b]" {
			return fmt.Errorf("online: got %s, want %s", got, "[a b]")
		}
		return nil
	})
	// b goes silent: offline after the dead-after interval; a stays.
	poll.Until(t, 5*time.Second, 20*time.Millisecond, func() error {
		if got := fmt.Sprint(tr.Online()); got != "[a]" {
			return fmt.Errorf("online after b went silent: got %s, want %s", got, "[a]")
		}
		return nil
	})
	beat("b", "b2")
	poll.Until(t, 5*time.Second, 20*time.Millisecond, func() error {
		if !tr.IsOnline("b") || tr.Incarnation("b") != "b2" {
			return fmt.Errorf("b: got online %v, incarnation %q; want online, incarnation %q", tr.IsOnline("b"), tr.Incarnation("b"), "b2")
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	var bs []string
	for _, ch := range changes {
		if ch.Member == "b" {
			bs = append(bs, fmt.Sprintf("%v/%v", ch.Online, ch.Rejoined))
		}
	}
	if fmt.Sprint(bs) != "[true/false false/false true/true]" {
		t.Errorf("b's changes (online/rejoined): got %v, want %s", bs, "[true/false false/false true/true]")
	}
}

// A heartbeat's stopped flag (`tandem cluster stop`) is tracked and its
// changes are reported, without a rejoin.
func TestStoppedFlag(t *testing.T) {
	c := bustest.Start(t, bustest.Topology(t, []string{"solo"}, ""))
	conn := c.Connect("solo", "test")
	changes := make(chan Change, 16)
	tr, err := New(func(string) *bus.Conn { return conn }, []string{"a"}, 5*time.Second, func(ch Change) { changes <- ch })
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	conn.NC.Flush()
	next := func() Change {
		t.Helper()
		select {
		case ch := <-changes:
			return ch
		case <-time.After(10 * time.Second):
			t.Fatal("no change reported")
		}
		return Change{}
	}
	conn.Publish(bus.Heartbeat{Node: "a", Incarnation: "a1", Seq: 1})
	if ch := next(); !ch.Online || ch.Stopped || ch.StopChanged || tr.IsStopped("a") {
		t.Errorf("join: got %+v, IsStopped %v; want online, not stopped, no stop change, IsStopped false", ch, tr.IsStopped("a"))
	}
	conn.Publish(bus.Heartbeat{Node: "a", Incarnation: "a1", Seq: 2, Stopped: true})
	if ch := next(); !ch.Online || !ch.Stopped || !ch.StopChanged || ch.Rejoined || !tr.IsStopped("a") {
		t.Errorf("stop: got %+v, IsStopped %v; want online, stopped, stop changed, not rejoined, IsStopped true", ch, tr.IsStopped("a"))
	}
	conn.Publish(bus.Heartbeat{Node: "a", Incarnation: "a1", Seq: 3, Stopped: true})
	conn.Publish(bus.Heartbeat{Node: "a", Incarnation: "a1", Seq: 4})
	if ch := next(); ch.Stopped || !ch.StopChanged || tr.IsStopped("a") {
		t.Errorf("start: got %+v, IsStopped %v; want not stopped, stop changed, IsStopped false", ch, tr.IsStopped("a"))
	}
}

// Only the configured members' own subjects are listened to, each member
// on its own connection: a heartbeat naming another member than its
// subject is ignored and counted, a replayed heartbeat is ignored, and
// heartbeats on any other subject change nothing.
func TestForgedAndReplayedHeartbeatsAreIgnored(t *testing.T) {
	c := bustest.Start(t, bustest.Topology(t, []string{"solo"}, ""))
	conns := map[string]*bus.Conn{"a": c.Connect("solo", "a-hb"), "b": c.Connect("solo", "b-hb")}
	changes := make(chan Change, 16)
	tr, err := New(func(m string) *bus.Conn { return conns[m] }, []string{"a", "b"}, time.Second, func(ch Change) { changes <- ch })
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for _, conn := range conns {
		conn.NC.Flush()
	}
	pub := c.Connect("solo", "test")
	encode := func(h bus.Heartbeat) []byte {
		data, err := bus.Encode(h, "test", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	genuine := encode(bus.Heartbeat{Node: "a", Incarnation: "a1", Seq: 1})
	if err := pub.NC.Publish(bus.SubjectHeartbeat("a"), genuine); err != nil {
		t.Fatal(err)
	}
	select {
	case ch := <-changes:
		if ch.Member != "a" || !ch.Online {
			t.Fatalf("first change: %+v, want a online", ch)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a's heartbeat not seen")
	}
	// b's subject naming a, a stranger's subject naming b, a's subject
	// with a new incarnation for b: none is b or a rejoin of a.
	_ = pub.NC.Publish(bus.SubjectHeartbeat("b"), encode(bus.Heartbeat{Node: "a", Incarnation: "forged"}))
	_ = pub.NC.Publish(bus.SubjectHeartbeat("mallory"), encode(bus.Heartbeat{Node: "b", Incarnation: "forged"}))
	_ = pub.NC.Publish(bus.SubjectHeartbeat("mallory"), encode(bus.Heartbeat{Node: "a", Incarnation: "forged"}))
	poll.Until(t, 10*time.Second, 10*time.Millisecond, func() error {
		if tr.Forged() != 1 {
			return fmt.Errorf("forged: got %d, want 1", tr.Forged())
		}
		return nil
	})
	// a goes silent but its last heartbeat is replayed over and over: a
	// is declared gone all the same.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 1000; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				_ = pub.NC.Publish(bus.SubjectHeartbeat("a"), genuine)
			}
		}
	}()
	defer func() { close(stop); <-done }()
	select {
	case ch := <-changes:
		if ch.Member != "a" || ch.Online {
			t.Fatalf("change while a's heartbeat was replayed: %+v; want a gone", ch)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a not declared gone while its last heartbeat was replayed")
	}
	if got := fmt.Sprint(tr.Online()); got != "[]" {
		t.Errorf("online: %s, want none", got)
	}
}

// A stall of the observing process itself (its sweep ran late) is not
// counted as the members' silence: without it every member flaps when the
// process resumes. Real silence while the process runs is still found.
func TestOwnStallIsNotSilence(t *testing.T) {
	now := time.Unix(1000, 0)
	var changes []Change
	tr := &Tracker{deadAfter: time.Second, now: func() time.Time { return now }, members: map[string]*member{},
		onChange: func(c Change) { changes = append(changes, c) }}
	tr.lastSweep = now
	for _, n := range []string{"a", "b"} {
		tr.members[n] = &member{name: n, followed: true}
	}
	seq := uint64(0)
	beat := func(n string) {
		seq++
		tr.seen(bus.Heartbeat{Node: n, Incarnation: "i-" + n, Seq: seq})
	}
	advance := func(d time.Duration) {
		// The sweep runs every deadAfter/8 while the process runs.
		for step := tr.sweepEvery(); d > 0; d -= step {
			now = now.Add(min(step, d))
			tr.expire()
		}
	}
	beat("a")
	beat("b")
	advance(500 * time.Millisecond)
	beat("a")
	beat("b")
	changes = nil

	// The whole process stalls for 1.5 s: no sweep, no heartbeat read.
	now = now.Add(1500 * time.Millisecond)
	tr.expire()
	if len(changes) != 0 {
		t.Fatalf("after a 1.5 s stall of the observer: %+v, want no change (its own stall is not the members' silence)", changes)
	}
	// The heartbeats queued meanwhile are read: a stays, b really died.
	beat("a")
	advance(800 * time.Millisecond)
	beat("a")
	if len(changes) != 0 {
		t.Fatalf("0.8 s of listening after the stall: %+v, want no change yet", changes)
	}
	advance(300 * time.Millisecond)
	if len(changes) != 1 || changes[0].Member != "b" || changes[0].Online {
		t.Fatalf("1.1 s of listening without b: %+v, want only b gone", changes)
	}
	if !tr.members["a"].online {
		t.Fatal("a went offline, though it was heard throughout")
	}

	// Without the stall compensation the same silence is seen at once: a
	// sweep running on time through 1.1 s of silence takes a member out.
	changes = nil
	advance(1100 * time.Millisecond)
	if len(changes) != 1 || changes[0].Member != "a" {
		t.Fatalf("1.1 s of silence heard on time: %+v, want a gone", changes)
	}
}

// A member that goes silent leaves with the stopped flag it was last heard
// with: the coordinator need not abort a transition for a member whose
// resources were stopped already (a daemon that drained, then stopped).
func TestLeftWithItsStoppedFlag(t *testing.T) {
	c := bustest.Start(t, bustest.Topology(t, []string{"solo"}, ""))
	conn := c.Connect("solo", "test")
	changes := make(chan Change, 16)
	tr, err := New(func(string) *bus.Conn { return conn }, []string{"a", "b"}, 300*time.Millisecond, func(ch Change) { changes <- ch })
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	conn.NC.Flush()
	conn.Publish(bus.Heartbeat{Node: "a", Incarnation: "a1", Seq: 1, Stopped: true})
	conn.Publish(bus.Heartbeat{Node: "b", Incarnation: "b1", Seq: 1})
	left := map[string]Change{}
	deadline := time.After(20 * time.Second)
	for len(left) < 2 {
		select {
		case ch := <-changes:
			if !ch.Online {
				left[ch.Member] = ch
			}
		case <-deadline:
			t.Fatalf("left: %+v; want a and b gone", left)
		}
	}
	if !left["a"].Stopped {
		t.Errorf("a left with %+v: want Stopped (its last heartbeat said so)", left["a"])
	}
	if left["b"].Stopped {
		t.Errorf("b left with %+v: want not Stopped", left["b"])
	}
}

// Members that keep leases another way are named while online: "" and
// "bucket" are one way.
func TestLeaseMismatch(t *testing.T) {
	c := bustest.Start(t, bustest.Topology(t, []string{"solo"}, ""))
	conn := c.Connect("solo", "test")
	tr, err := New(func(string) *bus.Conn { return conn }, []string{"a", "b", "c"}, 300*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	conn.NC.Flush()
	conn.Publish(bus.Heartbeat{Node: "a", Incarnation: "a1", Seq: 1})
	conn.Publish(bus.Heartbeat{Node: "b", Incarnation: "b1", Seq: 1, Leases: bus.LeasesBucket})
	conn.Publish(bus.Heartbeat{Node: "c", Incarnation: "c1", Seq: 1, Leases: bus.LeasesGrants})
	poll.Until(t, 10*time.Second, 10*time.Millisecond, func() error {
		if got := tr.LeaseMismatch(""); got != "c (leases = grants)" {
			return fmt.Errorf("mismatch seen by a bucket member: %q", got)
		}
		if got := tr.LeaseMismatch(bus.LeasesGrants); got != "a (leases = bucket), b (leases = bucket)" {
			return fmt.Errorf("mismatch seen by a grants member: %q", got)
		}
		return nil
	})
	// c goes silent: nobody online disagrees any more.
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		conn.Publish(bus.Heartbeat{Node: "a", Incarnation: "a1", Seq: uint64(time.Now().UnixNano())})
		conn.Publish(bus.Heartbeat{Node: "b", Incarnation: "b1", Seq: uint64(time.Now().UnixNano())})
		if got := tr.LeaseMismatch(bus.LeasesBucket); got != "" {
			return fmt.Errorf("mismatch after c left: %q", got)
		}
		return nil
	})
}

// A tracker that follows some members only (a plain member: the voters)
// learns the others from the coordinator's views in the followed members'
// heartbeats: a view lists who is online, a later heartbeat without a view
// does not push a view out, a view of an earlier tenure is ignored, a view
// says nothing about the followed members (their own heartbeats do), and
// a learned member never expires by silence (it sends nothing here).
func TestLearnsUnfollowedMembersFromTheCoordinatorsView(t *testing.T) {
	c := bustest.Start(t, bustest.Topology(t, []string{"solo"}, ""))
	conn := c.Connect("solo", "test")
	changes := make(chan Change, 64)
	tr, err := NewFollowing(func(string) *bus.Conn { return conn }, []string{"v1", "v2", "p1", "p2"}, []string{"v1", "v2"},
		300*time.Millisecond, 0, func(ch Change) { changes <- ch })
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if tr.Following() != 2 {
		t.Errorf("following %d members, want 2", tr.Following())
	}
	conn.NC.Flush()
	var seq atomic.Uint64
	t0 := time.Now()
	// beat sends a heartbeat of each voter (v1 with view, when given).
	beat := func(view *bus.MembershipView, from string) {
		for _, v := range []string{"v1", "v2"} {
			hb := bus.Heartbeat{Node: v, Incarnation: v, Seq: seq.Add(1), Started: t0}
			if v == from {
				hb.View = view
			}
			conn.Publish(hb)
		}
		// The next heartbeats carry none: the view stays.
		for _, v := range []string{"v1", "v2"} {
			conn.Publish(bus.Heartbeat{Node: v, Incarnation: v, Seq: seq.Add(1), Started: t0})
		}
	}
	vm := func(names ...string) []bus.ViewMember {
		var out []bus.ViewMember
		for _, n := range names {
			out = append(out, bus.ViewMember{Name: n, Incarnation: n + "-1", Leases: "grants"})
		}
		return out
	}
	wantOnline := func(want string, view *bus.MembershipView, from string) {
		t.Helper()
		poll.Until(t, 5*time.Second, 50*time.Millisecond, func() error {
			beat(view, from)
			if got := fmt.Sprint(tr.Online()); got != want {
				return fmt.Errorf("online: got %s, want %s", got, want)
			}
			return nil
		})
	}
	// v1 coordinates (tenure 5): p1 and p2 online; the view's own list of
	// voters (here without v2) changes nothing for them.
	wantOnline("[p1 p2 v1 v2]", &bus.MembershipView{Token: 5, Online: vm("v1", "p1", "p2")}, "v1")
	if tr.Incarnation("p2") != "p2-1" {
		t.Errorf("p2's incarnation %q, want p2-1", tr.Incarnation("p2"))
	}
	if _, ok := tr.Singletons("p1"); ok {
		t.Error("Singletons(p1) is known, but p1's heartbeats are not followed")
	}
	if got := tr.LeaseMismatch(""); got != "p1 (leases = grants), p2 (leases = grants)" {
		t.Errorf("lease mismatch: got %q, want the learned members' lease ways", got)
	}
	// p2 left (tenure 5 still): offline.
	wantOnline("[p1 v1 v2]", &bus.MembershipView{Token: 5, Online: vm("v1", "p1")}, "v1")
	// A view of an earlier tenure (a coordinator that lost its lease) is
	// ignored; one of a later tenure, from v2, is applied.
	beat(&bus.MembershipView{Token: 4, Online: vm("v1", "p1", "p2")}, "v2")
	wantOnline("[v1 v2]", &bus.MembershipView{Token: 6, Online: vm("v2")}, "v2")
	// Silence of the learned members is no reason to expire them.
	wantOnline("[p2 v1 v2]", &bus.MembershipView{Token: 6, Online: vm("p2")}, "v2")
	// Twice the dead-after interval passes while the voters beat (waiting
	// is the point: a learned member expired by silence would be gone).
	deadline := time.Now().Add(600 * time.Millisecond)
	for time.Now().Before(deadline) {
		beat(nil, "")
		time.Sleep(50 * time.Millisecond)
	}
	if got := fmt.Sprint(tr.Online()); got != "[p2 v1 v2]" {
		t.Errorf("online after the dead-after interval: got %s, want [p2 v1 v2]", got)
	}
	// p2 restarted (a new incarnation in the view): a rejoin.
	restarted := &bus.MembershipView{Token: 6, Online: []bus.ViewMember{{Name: "p2", Incarnation: "p2-2"}}}
	poll.Until(t, 5*time.Second, 50*time.Millisecond, func() error {
		beat(restarted, "v2")
		if tr.Incarnation("p2") != "p2-2" {
			return fmt.Errorf("p2's incarnation %q, want p2-2", tr.Incarnation("p2"))
		}
		return nil
	})
	var log []string
	for len(changes) > 0 {
		ch := <-changes
		if ch.Member == "p1" || ch.Member == "p2" {
			log = append(log, fmt.Sprintf("%s %v", ch.Member, ch.Online))
			if ch.Rejoined {
				log[len(log)-1] += " rejoined"
			}
		}
	}
	if got := fmt.Sprint(log); got != "[p1 true p2 true p2 false p1 false p2 true p2 true rejoined]" {
		t.Errorf("changes of the learned members: got %v", got)
	}
}

// With no coordinator's view for the fallback interval (a coordinator of
// an older build sends none), a tracker that follows some members only
// follows them all, and sees the others by their own heartbeats; once a
// view comes, it follows the few again and the view decides.
func TestFollowsEveryMemberWithoutAView(t *testing.T) {
	c := bustest.Start(t, bustest.Topology(t, []string{"solo"}, ""))
	conn := c.Connect("solo", "test")
	tr, err := NewFollowing(func(string) *bus.Conn { return conn }, []string{"v1", "p1", "p2"}, []string{"v1"},
		300*time.Millisecond, 500*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	conn.NC.Flush()
	var seq atomic.Uint64
	t0 := time.Now()
	beat := func(view *bus.MembershipView, nodes ...string) {
		for _, n := range nodes {
			hb := bus.Heartbeat{Node: n, Incarnation: n, Seq: seq.Add(1), Started: t0}
			if n == "v1" {
				hb.View = view
			}
			conn.Publish(hb)
		}
	}
	poll.Until(t, 10*time.Second, 50*time.Millisecond, func() error {
		beat(nil, "v1", "p1", "p2")
		if n := tr.Following(); n != 3 {
			return fmt.Errorf("following %d members, want all 3 after the fallback interval without a view", n)
		}
		if got := fmt.Sprint(tr.Online()); got != "[p1 p2 v1]" {
			return fmt.Errorf("online: got %s, want [p1 p2 v1] (from their own heartbeats)", got)
		}
		return nil
	})
	// A view: v1 alone again; p2 is not in it, so p2 is offline though it
	// still beats (nobody here listens to it any more).
	view := &bus.MembershipView{Token: 3, Online: []bus.ViewMember{{Name: "v1", Incarnation: "v1"}, {Name: "p1", Incarnation: "p1"}}}
	poll.Until(t, 10*time.Second, 50*time.Millisecond, func() error {
		beat(view, "v1", "p1", "p2")
		if n := tr.Following(); n != 1 {
			return fmt.Errorf("following %d members, want 1 once a view came", n)
		}
		if got := fmt.Sprint(tr.Online()); got != "[p1 v1]" {
			return fmt.Errorf("online: got %s, want [p1 v1] (the view's)", got)
		}
		return nil
	})
}

// A flood on a member's own subject (here: messages naming another member,
// which are never kept) holds its genuine heartbeats up behind it, so it
// is not taken for the member's silence: the member is declared gone only
// once its subject has been quiet for the dead-after interval. Before, it
// was declared gone a second after its last heartbeat, in the middle of the
// flood (as TestFloodChangesNoMembershipAndLosesNoLease saw on a busy
// machine with 500,000 messages from the witness's identity).
func TestFloodOnOwnSubjectIsNotSilence(t *testing.T) {
	c := bustest.Start(t, bustest.Topology(t, []string{"solo"}, ""))
	conn := c.Connect("solo", "b-hb")
	var flooding atomic.Bool
	flooding.Store(true)
	changes := make(chan Change, 16)
	var goneInFlood atomic.Bool
	tr, err := New(func(string) *bus.Conn { return conn }, []string{"b"}, time.Second, func(ch Change) {
		if ch.Member == "b" && !ch.Online && flooding.Load() {
			goneInFlood.Store(true)
		}
		changes <- ch
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	conn.NC.Flush()
	pub := c.Connect("solo", "test")
	encode := func(h bus.Heartbeat) []byte {
		data, err := bus.Encode(h, "test", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	if err := pub.NC.Publish(bus.SubjectHeartbeat("b"), encode(bus.Heartbeat{Node: "b", Incarnation: "b1", Seq: 1})); err != nil {
		t.Fatal(err)
	}
	select {
	case ch := <-changes:
		if ch.Member != "b" || !ch.Online {
			t.Fatalf("first change: %+v, want b online", ch)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b's heartbeat not seen")
	}
	// 2.5 s of flood (50 messages every 10 ms, at most 250 rounds), then
	// nothing.
	forged := encode(bus.Heartbeat{Node: "a", Incarnation: "forged", Seq: 1})
	start := time.Now()
	for i := 0; i < 250 && time.Since(start) < 2500*time.Millisecond; i++ {
		for range 50 {
			_ = pub.NC.Publish(bus.SubjectHeartbeat("b"), forged)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := pub.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	flooding.Store(false)
	took := time.Since(start)
	select {
	case ch := <-changes:
		if ch.Member != "b" || ch.Online {
			t.Fatalf("change: %+v, want b gone", ch)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b not declared gone after the flood on its subject ended")
	}
	if goneInFlood.Load() {
		t.Fatalf("b was declared gone during the %s of flood on its subject; want only after it", took.Round(time.Millisecond))
	}
	if tr.Forged() == 0 {
		t.Error("no forged heartbeat counted: the flood never reached the tracker")
	}
}

// A coordinator's stamp that names the view a plain member applied keeps
// that view fresh: no fallback to following every member, though the
// view itself comes no more. A stamp of a view it missed does not: it
// falls back and follows everyone until the view comes whole. Nor does a
// stamp end a fallback: only a view does.
func TestStampsKeepTheViewFresh(t *testing.T) {
	const fallback = time.Second
	conn, tr := onSolo(t, func(conns func(string) *bus.Conn) (*Tracker, error) {
		return NewFollowing(conns, []string{"v1", "p1", "p2"}, []string{"v1"}, 300*time.Millisecond, fallback, nil)
	})
	var seq atomic.Uint64
	t0 := time.Now()
	beat := func(view *bus.MembershipView, stamp *bus.ViewStamp) {
		conn.Publish(bus.Heartbeat{Node: "v1", Incarnation: "v1", Seq: seq.Add(1), Started: t0, View: view, ViewStamp: stamp, TakesStamps: true})
		for _, p := range []string{"p1", "p2"} {
			conn.Publish(bus.Heartbeat{Node: p, Incarnation: p, Seq: seq.Add(1), Started: t0, TakesStamps: true})
		}
	}
	online := []bus.ViewMember{{Name: "v1", Incarnation: "v1"}, {Name: "p1", Incarnation: "p1"}}
	applied := func(view *bus.MembershipView) {
		t.Helper()
		poll.Until(t, 10*time.Second, 50*time.Millisecond, func() error {
			beat(view, nil)
			if n := tr.Following(); n != 1 {
				return fmt.Errorf("following %d members, want 1 with a view", n)
			}
			if got := fmt.Sprint(tr.Online()); got != "[p1 v1]" {
				return fmt.Errorf("online: got %s, want [p1 v1] (the view's)", got)
			}
			return nil
		})
	}
	applied(&bus.MembershipView{Token: 3, Version: 7, Online: online})

	// Three fallback intervals of stamps naming that view (bounded: 60
	// heartbeats): the view stays fresh, p2 stays unseen.
	for i := 0; i < 60; i++ {
		beat(nil, &bus.ViewStamp{Token: 3, Version: 7})
		time.Sleep(fallback / 20)
		if n := tr.Following(); n != 1 {
			t.Fatalf("following %d members after %v of stamps, want 1: the stamps did not keep the view fresh", n, time.Duration(i)*fallback/20)
		}
	}
	if got := fmt.Sprint(tr.Online()); got != "[p1 v1]" {
		t.Fatalf("online after the stamps: got %s, want [p1 v1]", got)
	}

	// A stamp of version 8, a view this member missed: it falls back and
	// sees p2 by its own heartbeats.
	poll.Until(t, 10*time.Second, 50*time.Millisecond, func() error {
		beat(nil, &bus.ViewStamp{Token: 3, Version: 8})
		if n := tr.Following(); n != 3 {
			return fmt.Errorf("following %d members, want all 3 after a stamp of a view missed", n)
		}
		if got := fmt.Sprint(tr.Online()); got != "[p1 p2 v1]" {
			return fmt.Errorf("online: got %s, want [p1 p2 v1]", got)
		}
		return nil
	})
	// Stamps of the view applied do not end the fallback.
	for i := 0; i < 10; i++ {
		beat(nil, &bus.ViewStamp{Token: 3, Version: 7})
		time.Sleep(fallback / 20)
	}
	conn.NC.Flush()
	if n := tr.Following(); n != 3 {
		t.Fatalf("following %d members after stamps during the fallback, want 3: only a view ends it", n)
	}
	// The view whole ends it.
	applied(&bus.MembershipView{Token: 3, Version: 8, Online: online})
}

// TakeStamps: every online member's heartbeats say it takes stamps.
func TestTakeStamps(t *testing.T) {
	conn, tr := onSolo(t, func(conns func(string) *bus.Conn) (*Tracker, error) {
		return New(conns, []string{"v1", "p1"}, 300*time.Millisecond, nil)
	})
	var seq atomic.Uint64
	t0 := time.Now()
	for _, want := range []bool{false, true} {
		poll.Until(t, 10*time.Second, 50*time.Millisecond, func() error {
			conn.Publish(bus.Heartbeat{Node: "v1", Incarnation: "v1", Seq: seq.Add(1), Started: t0, TakesStamps: true})
			conn.Publish(bus.Heartbeat{Node: "p1", Incarnation: "p1", Seq: seq.Add(1), Started: t0, TakesStamps: want})
			if got := fmt.Sprint(tr.Online()); got != "[p1 v1]" {
				return fmt.Errorf("online: got %s, want [p1 v1]", got)
			}
			if got := tr.TakeStamps(); got != want {
				return fmt.Errorf("TakeStamps with p1 taking them %v: got %v", want, got)
			}
			return nil
		})
	}
}

// onSolo is the tracker mk makes on a connection to a one-member bus,
// closed with the test; heartbeats published on that connection reach it.
func onSolo(t *testing.T, mk func(conns func(string) *bus.Conn) (*Tracker, error)) (*bus.Conn, *Tracker) {
	t.Helper()
	c := bustest.Start(t, bustest.Topology(t, []string{"solo"}, ""))
	conn := c.Connect("solo", "test")
	tr, err := mk(func(string) *bus.Conn { return conn })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Close)
	conn.NC.Flush()
	return conn, tr
}
