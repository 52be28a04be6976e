// Package membership tells which members are alive, from their heartbeats
// on the bus: a member is online from its first heartbeat until no heartbeat
// has arrived for the dead-after interval. A new incarnation (the process
// restarted) is reported as a rejoin. A node's heartbeat also says whether
// its resources are stopped (`tandem cluster stop`); a change of that flag is
// reported too.
package membership

import (
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/tandem-ha/tandem/bus"
)

// DefaultDeadAfter is how long a member may stay silent before it counts as
// gone: four heartbeats at the default 250 ms interval.
const DefaultDeadAfter = time.Second

// Change says a member came or went.
type Change struct {
	Member      string
	Online      bool
	Witness     bool
	Incarnation string
	Rejoined    bool // online again with a new incarnation (it restarted)
	// Stopped: the member's resources are stopped (`tandem cluster stop`).
	Stopped bool
	// StopChanged: only Stopped changed (`tandem cluster stop` or `start`).
	StopChanged bool
}

// Tracker follows heartbeats.
type Tracker struct {
	deadAfter time.Duration
	now       func() time.Time
	onChange  func(Change)

	mu      sync.Mutex
	members map[string]*member
	sub     *nats.Subscription
	stop    chan struct{}
	wg      sync.WaitGroup
}

type member struct {
	last        time.Time
	incarnation string
	witness     bool
	online      bool
	stopped     bool
}

// New starts tracking heartbeats on conn. onChange is called (from the
// tracker's goroutine, never concurrently) for every member that comes or
// goes.
func New(conn *bus.Conn, deadAfter time.Duration, onChange func(Change)) (*Tracker, error) {
	if deadAfter == 0 {
		deadAfter = DefaultDeadAfter
	}
	t := &Tracker{deadAfter: deadAfter, now: time.Now, onChange: onChange, members: map[string]*member{}, stop: make(chan struct{})}
	events := make(chan bus.Heartbeat, 256)
	sub, err := bus.Subscribe(conn, bus.SubjectHeartbeats, func(h bus.Heartbeat, _ bus.Envelope) {
		select {
		case events <- h:
		default: // a burst: the next heartbeat will do
		}
	})
	if err != nil {
		return nil, err
	}
	t.sub = sub
	t.wg.Add(1)
	go t.loop(events)
	return t, nil
}

func (t *Tracker) loop(events <-chan bus.Heartbeat) {
	defer t.wg.Done()
	sweep := time.NewTicker(t.deadAfter / 8)
	defer sweep.Stop()
	for {
		select {
		case <-t.stop:
			return
		case h := <-events:
			t.seen(h)
		case <-sweep.C:
			t.expire()
		}
	}
}

func (t *Tracker) seen(h bus.Heartbeat) {
	now := t.now()
	t.mu.Lock()
	m := t.members[h.Node]
	var change *Change
	switch {
	case m == nil:
		m = &member{}
		t.members[h.Node] = m
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
	t.mu.Unlock()
	if change != nil && t.onChange != nil {
		t.onChange(*change)
	}
}

func (t *Tracker) expire() {
	now := t.now()
	var gone []Change
	t.mu.Lock()
	for name, m := range t.members {
		if m.online && now.Sub(m.last) > t.deadAfter {
			m.online = false
			gone = append(gone, Change{Member: name, Online: false, Witness: m.witness, Incarnation: m.incarnation})
		}
	}
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
	_ = t.sub.Unsubscribe()
	close(t.stop)
	t.wg.Wait()
}
