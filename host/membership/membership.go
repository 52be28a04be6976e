// Package membership tells which members are alive, from their heartbeats
// on the bus: a member is online from its first heartbeat until no heartbeat
// has arrived for the dead-after interval. A new incarnation (the process
// restarted) is reported as a rejoin. A node's heartbeat also says whether
// its resources are stopped (`tandem cluster stop`); a change of that flag is
// reported too.
//
// A tracker need not follow every member (NewFollowing): the members it
// does not follow it learns from the views the coordinator's heartbeats
// carry (bus.MembershipView). Only the voters coordinate, so a voter
// follows every member and a plain member only the voters: the heartbeats
// delivered at rest grow linearly in the members, not as their square.
package membership

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/tandem-ha/tandem/bus"
)

// DefaultDeadAfter is how long a member may stay silent before it counts as
// gone: four heartbeats at the default 250 ms interval.
const DefaultDeadAfter = time.Second

// DefaultFallback is how long a tracker that follows some members only
// goes without a coordinator's view before it follows every member
// (NewFollowing): a settled coordinator sends one at least once a second.
const DefaultFallback = 5 * time.Second

// Change says a member came or went.
type Change struct {
	Member      string
	Online      bool
	Witness     bool
	Incarnation string
	Rejoined    bool // online again with a new incarnation (it restarted)
	// Stopped: the member's resources are stopped (`tandem cluster stop`);
	// for a member that left, whether they were when it was last heard.
	Stopped bool
	// StopChanged: only Stopped changed (`tandem cluster stop` or `start`).
	StopChanged bool
}

// Tracker follows heartbeats.
//
// Flood resistance (docs/leases.md): each configured member is followed on
// its own subject (bus.SubjectHeartbeat), on the connection conns gives for
// it, so that heartbeats published anywhere else never reach the tracker,
// and a flood on one member's subject cannot crowd out another's. Each
// subscription checks a heartbeat before keeping it: one that names another
// member than its subject is ignored and counted (Forged), and so is one
// that is not newer than the last kept (a replay: same incarnation and no
// higher sequence number, or an incarnation that started earlier). Only the
// latest heartbeat kept is looked at (coalescing): however many arrive, the
// tracker handles one per member per round, and a burst of bad ones never
// pushes a genuine one out. A view in a kept heartbeat is kept aside the
// same way (the latest per member), so that a later heartbeat without one
// does not push it out.
type Tracker struct {
	deadAfter time.Duration
	now       func() time.Time
	onChange  func(Change)

	conns func(member string) *bus.Conn
	// fallback: with no view applied for this long, every member is
	// followed until one is (0: never).
	fallback time.Duration

	mu      sync.Mutex
	members map[string]*member
	// Under mu: when a view was last applied (or the tracker started),
	// and the subscriptions of the members followed for want of a view.
	lastView time.Time
	extra    map[string]*nats.Subscription
	// Under mu: the tenure and version of the last view applied (0: none
	// yet), and how many changes the tracker has seen (View's version).
	viewToken, viewVersion uint64
	version                uint64

	subs   []*nats.Subscription
	wake   chan struct{} // a heartbeat was kept
	forged atomic.Uint64
	stop   chan struct{}
	wg     sync.WaitGroup

	// Pauses of this process (see expire), under mu: when the sweep last
	// ran, and how long the tracker has been unable to run in all.
	lastSweep time.Time
	paused    time.Duration
}

type member struct {
	name   string
	latest atomic.Pointer[bus.Heartbeat]      // the newest heartbeat kept, not looked at yet
	view   atomic.Pointer[bus.MembershipView] // the newest view kept from its heartbeats, not looked at yet
	stamp  atomic.Pointer[bus.ViewStamp]      // the newest view stamp kept from its heartbeats, not looked at yet
	// handled counts the messages its subscription handled on this
	// member's subject, kept or not; see expire.
	handled atomic.Uint64

	// Under Tracker.mu: handled at the last sweep, and when its subject
	// last carried a flood (see expire).
	handledAtSweep uint64
	floodedAt      time.Time

	// Under Tracker.mu:
	// followed: its heartbeats are followed; otherwise it is learned from
	// the coordinator's views only.
	followed    bool
	last        time.Time
	incarnation string
	witness     bool
	online      bool
	stopped     bool
	singletons  int
	leases      string        // its heartbeat's Leases
	takesStamps bool          // its heartbeat's TakesStamps
	pausedAt    time.Duration // Tracker.paused when last was set
}

// New starts tracking the heartbeats of members, each on the connection
// conns returns for it (the daemon gives each member a connection of its
// own; one connection for all works too). onChange is called (from the
// tracker's goroutine, never concurrently) for every member that comes or
// goes. Heartbeats of anyone not in members are not listened to.
func New(conns func(member string) *bus.Conn, members []string, deadAfter time.Duration, onChange func(Change)) (*Tracker, error) {
	return NewFollowing(conns, members, members, deadAfter, 0, onChange)
}

// NewFollowing is New that follows the heartbeats of the members in follow
// only (a plain member: the voters and itself). Each other member of
// members is online while the latest view of the coordinator (the one of
// the highest tenure, in the heartbeats of a followed member) lists it.
//
// With no view applied for fallback (0: never), it follows every member
// until a view comes again: a coordinator that sends none (an older build,
// during a rolling upgrade), or none at all (no quorum), leaves the
// members otherwise learned from views neither stale nor unseen.
func NewFollowing(conns func(member string) *bus.Conn, members, follow []string, deadAfter, fallback time.Duration, onChange func(Change)) (*Tracker, error) {
	followed := map[string]bool{}
	for _, f := range follow {
		followed[f] = true
	}
	if deadAfter == 0 {
		deadAfter = DefaultDeadAfter
	}
	t := &Tracker{deadAfter: deadAfter, now: time.Now, onChange: onChange, members: map[string]*member{},
		wake: make(chan struct{}, 1), stop: make(chan struct{}), conns: conns, fallback: fallback, extra: map[string]*nats.Subscription{}}
	t.lastSweep = t.now()
	t.lastView = t.lastSweep
	for _, name := range members {
		if _, dup := t.members[name]; dup {
			continue
		}
		m := &member{name: name, followed: followed[name]}
		t.members[name] = m
		if !m.followed {
			continue
		}
		sub, err := t.subscribe(m)
		if err != nil {
			t.unsubscribe()
			return nil, fmt.Errorf("following %s's heartbeats: %w", name, err)
		}
		t.subs = append(t.subs, sub)
	}
	t.wg.Add(1)
	go t.loop()
	return t, nil
}

// subscribe follows m's heartbeats on its own subject and connection.
func (t *Tracker) subscribe(m *member) (*nats.Subscription, error) {
	// NATS calls a subscription's handler from one goroutine at a time:
	// kept, the last heartbeat this subscription kept, needs no lock.
	var kept bus.Heartbeat
	// Every heartbeat of this member has this in it, as encoding/json
	// writes it: without it, the payload is not worth decoding.
	quoted, _ := json.Marshal(m.name)
	mark := append([]byte(`"node":`), quoted...)
	conn := t.conns(m.name)
	if conn == nil {
		return nil, fmt.Errorf("no connection to follow %s's heartbeats on", m.name)
	}
	return conn.NC.Subscribe(bus.SubjectHeartbeat(m.name), func(msg *nats.Msg) {
		m.handled.Add(1)
		if !bytes.Contains(msg.Data, mark) {
			t.forged.Add(1)
			return
		}
		h, _, err := bus.Decode[bus.Heartbeat](msg.Data)
		if err != nil || h.Node != m.name {
			t.forged.Add(1)
			return
		}
		if !newer(h, kept) {
			return
		}
		kept = h
		if h.View != nil {
			m.view.Store(h.View)
		}
		if h.ViewStamp != nil {
			m.stamp.Store(h.ViewStamp)
		}
		m.latest.Store(&h)
		select {
		case t.wake <- struct{}{}:
		default:
		}
	})
}

// fallBack follows every member not followed yet once no view was applied
// for the fallback interval; each keeps its state and is given deadAfter
// from now to be heard. Called from the tracker's goroutine.
func (t *Tracker) fallBack(now time.Time) {
	if t.fallback <= 0 {
		return
	}
	t.mu.Lock()
	var todo []*member
	if now.Sub(t.lastView) > t.fallback {
		for _, m := range t.members {
			if !m.followed {
				todo = append(todo, m)
			}
		}
	}
	t.mu.Unlock()
	// Subscribed outside mu: a connection may have to be made first.
	// No view is applied meanwhile (this goroutine applies them).
	for _, m := range todo {
		sub, err := t.subscribe(m)
		if err != nil {
			continue // tried again at the next sweep
		}
		t.mu.Lock()
		t.extra[m.name] = sub
		m.followed = true
		m.last, m.pausedAt = t.now(), t.paused
		t.mu.Unlock()
	}
}

// unfallBackLocked stops following the members followed for want of a
// view (one was just applied). Under mu.
func (t *Tracker) unfallBackLocked() {
	for name, sub := range t.extra {
		_ = sub.Unsubscribe()
		m := t.members[name]
		m.followed = false
		m.latest.Store(nil)
		delete(t.extra, name)
	}
}

// newer says whether h comes after prev (the zero Heartbeat: none yet) from
// the same member: a later sequence number of the same incarnation, or a
// new incarnation that did not start before prev's.
func newer(h, prev bus.Heartbeat) bool {
	if h.Incarnation == prev.Incarnation {
		return h.Seq > prev.Seq
	}
	return !h.Started.Before(prev.Started)
}

func (t *Tracker) unsubscribe() {
	for _, s := range t.subs {
		_ = s.Unsubscribe()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.extra {
		_ = s.Unsubscribe()
	}
}

func (t *Tracker) loop() {
	defer t.wg.Done()
	sweep := time.NewTicker(t.sweepEvery())
	defer sweep.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-t.wake:
			var view *bus.MembershipView
			var stamps []bus.ViewStamp
			for _, m := range t.members {
				if h := m.latest.Swap(nil); h != nil {
					t.seen(*h)
				}
				if v := m.view.Swap(nil); v != nil && (view == nil || v.Token > view.Token) {
					view = v
				}
				if st := m.stamp.Swap(nil); st != nil {
					stamps = append(stamps, *st)
				}
			}
			if view != nil {
				t.learn(*view)
			}
			t.stamped(stamps)
		case <-sweep.C:
			t.expire()
			t.fallBack(t.now())
		}
	}
}

// Forged is how many heartbeats were ignored because they named another
// member than the subject they came on (or were not heartbeats).
func (t *Tracker) Forged() uint64 { return t.forged.Load() }

func (t *Tracker) seen(h bus.Heartbeat) {
	now := t.now()
	t.mu.Lock()
	m := t.members[h.Node]
	if !m.followed {
		t.mu.Unlock()
		return // kept just before the fallback ended
	}
	var change *Change
	switch {
	case m.last.IsZero():
		change = &Change{Member: h.Node, Online: true, Witness: h.Witness, Incarnation: h.Incarnation, Stopped: h.Stopped}
	case !m.online:
		change = &Change{Member: h.Node, Online: true, Witness: h.Witness, Incarnation: h.Incarnation,
			Rejoined: m.incarnation != h.Incarnation, Stopped: h.Stopped}
	case m.incarnation != h.Incarnation:
		change = &Change{Member: h.Node, Online: true, Witness: h.Witness, Incarnation: h.Incarnation, Rejoined: true, Stopped: h.Stopped}
	case m.stopped != h.Stopped:
		change = &Change{Member: h.Node, Online: true, Witness: h.Witness, Incarnation: h.Incarnation, Stopped: h.Stopped, StopChanged: true}
	}
	m.last, m.incarnation, m.witness, m.online, m.stopped = now, h.Incarnation, h.Witness, true, h.Stopped
	m.pausedAt = t.paused
	m.singletons = h.Singletons
	m.leases = h.Leases
	m.takesStamps = h.TakesStamps
	if change != nil {
		t.version++
	}
	t.mu.Unlock()
	if change != nil && t.onChange != nil {
		t.onChange(*change)
	}
}

// learn applies a coordinator's view to the members not followed, unless
// a view of a later tenure was applied already: those it lists are
// online (with their incarnation and stopped flag), the others offline.
// The followed members are left to their own heartbeats.
func (t *Tracker) learn(v bus.MembershipView) {
	listed := map[string]bus.ViewMember{}
	for _, vm := range v.Online {
		listed[vm.Name] = vm
	}
	var changes []Change
	t.mu.Lock()
	if v.Token < t.viewToken {
		t.mu.Unlock()
		return
	}
	t.viewToken, t.viewVersion = v.Token, v.Version
	t.lastView = t.now()
	t.unfallBackLocked()
	for name, m := range t.members {
		if m.followed {
			continue
		}
		vm, in := listed[name]
		switch {
		case !in && m.online:
			m.online = false
			changes = append(changes, Change{Member: name, Online: false, Witness: m.witness, Incarnation: m.incarnation, Stopped: m.stopped})
			continue
		case !in:
			continue
		case !m.online:
			changes = append(changes, Change{Member: name, Online: true, Witness: vm.Witness, Incarnation: vm.Incarnation,
				Rejoined: m.incarnation != "" && m.incarnation != vm.Incarnation, Stopped: vm.Stopped})
		case m.incarnation != vm.Incarnation:
			changes = append(changes, Change{Member: name, Online: true, Witness: vm.Witness, Incarnation: vm.Incarnation, Rejoined: true, Stopped: vm.Stopped})
		case m.stopped != vm.Stopped:
			changes = append(changes, Change{Member: name, Online: true, Witness: vm.Witness, Incarnation: vm.Incarnation, Stopped: vm.Stopped, StopChanged: true})
		}
		m.online, m.incarnation, m.witness, m.stopped, m.leases = true, vm.Incarnation, vm.Witness, vm.Stopped, vm.Leases
	}
	t.version += uint64(len(changes))
	t.mu.Unlock()
	sort.Slice(changes, func(i, j int) bool { return changes[i].Member < changes[j].Member })
	for _, c := range changes {
		if t.onChange != nil {
			t.onChange(c)
		}
	}
}

// stamped keeps the view applied last as fresh as if it came again when
// a coordinator's stamp names it (its tenure and a version it has), so
// that the tracker does not fall back to following every member. A stamp
// of another view (one missed, or a newer tenure's) changes nothing: the
// coordinator sends its view whole every 4 s, before the fallback. Nor does
// one during a fallback (members followed for want of a view): a view ends
// it, and until then a member whose heartbeats could not be followed yet
// is tried again at each sweep.
func (t *Tracker) stamped(stamps []bus.ViewStamp) {
	if len(stamps) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.viewVersion == 0 || len(t.extra) > 0 {
		return
	}
	for _, st := range stamps {
		if st.Token == t.viewToken && st.Version == t.viewVersion {
			t.lastView = t.now()
			return
		}
	}
}

// TakeStamps says whether every online member's heartbeats say it keeps
// its view fresh from a stamp (bus.Heartbeat.TakesStamps); a member known
// from views only counts as one that does not.
func (t *Tracker) TakeStamps() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range t.members {
		if m.online && !m.takesStamps {
			return false
		}
	}
	return true
}

// View lists the members online, sorted, as a coordinator's heartbeats
// carry them, with the number of changes seen so far: a heartbeat
// carries the view again when that number moved.
func (t *Tracker) View() ([]bus.ViewMember, uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []bus.ViewMember
	for name, m := range t.members {
		if m.online {
			out = append(out, bus.ViewMember{Name: name, Incarnation: m.incarnation, Witness: m.witness, Stopped: m.stopped, Leases: m.leases})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, t.version
}

// Following is how many members' heartbeats the tracker follows (one
// subscription each).
func (t *Tracker) Following() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.subs) + len(t.extra)
}

func (t *Tracker) sweepEvery() time.Duration { return t.deadAfter / 8 }

// floodPerSweep is how many messages on a member's subject between two
// sweeps (deadAfter/8) make it a flood (expire).
const floodPerSweep = 16

// expire takes offline the members silent for longer than deadAfter.
//
// Silence is counted only while this tracker could listen. When this
// process itself stalls (a starved or frozen host, a VM pause: the sweep
// runs late by more than a sweep), every member's heartbeats queue
// unread meanwhile; were the stall counted, every member would be
// declared gone at once when the process resumes, before the queued
// heartbeats are read, and come back a moment later: a flap of the whole
// membership, with the plans it triggers, caused by the observer alone.
// So the time the sweep ran late is added to paused and left out of every
// member's silence. A member that really died during the stall is
// declared gone deadAfter of listening later. Leases do not depend on
// this: a holder whose process stalls past its fence deadline fences
// (docs/leases.md).
//
// Nor is a member silent while its subject is flooded: more than
// floodPerSweep messages handled on it between two sweeps (at the default
// 1 s, 128 a second, 32 times its heartbeat rate), heartbeats or not.
// Only the member's own identity may publish there (and the voters'
// servers, which route it); and behind such a flood its genuine heartbeats
// queue (in the servers, on the routes, in this subscription), so that
// their absence says nothing until the flood has drained. That is how a
// flood from a member's own identity on its own subject (a stolen key, a
// runaway process) made the other members declare it gone while it was
// alive: its 500,000 messages took seconds to cross a busy machine. So a
// member counts as gone after deadAfter of silence that began after its
// subject last carried a flood. Whoever holds its key could as well
// publish heartbeats that the tracker keeps, so this grants them nothing
// more; the leases, not membership, keep resources from running twice.
// Replays and strays at a heartbeat's pace are no flood: a member whose
// last heartbeat is replayed a few times a second is still gone.
func (t *Tracker) expire() {
	now := t.now()
	var gone []Change
	t.mu.Lock()
	if late := now.Sub(t.lastSweep) - t.sweepEvery(); late > t.sweepEvery() {
		t.paused += late
	}
	t.lastSweep = now
	for name, m := range t.members {
		handled := m.handled.Load()
		if handled-m.handledAtSweep > floodPerSweep {
			m.floodedAt = now
		}
		m.handledAtSweep = handled
		if m.followed && m.online && now.Sub(m.last)-(t.paused-m.pausedAt) > t.deadAfter && now.Sub(m.floodedAt) > t.deadAfter {
			m.online = false
			gone = append(gone, Change{Member: name, Online: false, Witness: m.witness, Incarnation: m.incarnation, Stopped: m.stopped})
		}
	}
	t.version += uint64(len(gone))
	t.mu.Unlock()
	sort.Slice(gone, func(i, j int) bool { return gone[i].Member < gone[j].Member })
	for _, c := range gone {
		if t.onChange != nil {
			t.onChange(c)
		}
	}
}

// Online lists the members currently online, sorted.
func (t *Tracker) Online() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for name, m := range t.members {
		if m.online {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// IsOnline says whether member is online.
func (t *Tracker) IsOnline(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.members[name]
	return m != nil && m.online
}

// IsStopped says whether member is online with its resources stopped
// (`tandem cluster stop`).
func (t *Tracker) IsStopped(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.members[name]
	return m != nil && m.online && m.stopped
}

// Singletons is how many singleton leases an online member said it holds
// in its last heartbeat; ok is false when it is offline or its heartbeats
// are not followed.
func (t *Tracker) Singletons(name string) (n int, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.members[name]
	if m == nil || !m.online || !m.followed {
		return 0, false
	}
	return m.singletons, true
}

// Incarnation is the member's current incarnation ("" if never seen).
func (t *Tracker) Incarnation(name string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if m := t.members[name]; m != nil {
		return m.incarnation
	}
	return ""
}

// Close stops tracking.
func (t *Tracker) Close() {
	t.unsubscribe()
	close(t.stop)
	t.wg.Wait()
}

// LeaseMismatch names an online member whose heartbeats say it keeps
// leases another way than mine ([bus] leases; "" and bus.LeasesBucket are
// the same), as "benji (leases = grants)"; "" when every online member
// agrees. Two ways at once could each grant a lease to another node.
func (t *Tracker) LeaseMismatch(mine string) string {
	norm := func(s string) string {
		if s == "" {
			return bus.LeasesBucket
		}
		return s
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var names []string
	for name, m := range t.members {
		if m.online && norm(m.leases) != norm(mine) {
			names = append(names, fmt.Sprintf("%s (leases = %s)", name, norm(m.leases)))
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
