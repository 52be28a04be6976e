package daemon

// Drain: a node asked to stop moves its resources away first.

import (
	"time"

	"github.com/tandem-ha/tandem/bus"
)

// DrainTimeout bounds how long a stopping node waits for the coordinator to
// move its resources away before it stops what is left itself.
var DrainTimeout = 30 * time.Second

// drain runs when the daemon is asked to stop (SIGTERM: systemctl stop
// tandem) with its services up: like `tandem cluster stop`, but not kept
// across the restart, it flags the node stopped so that the coordinator
// moves singletons away at once (stop here, start elsewhere) and stops the
// clones, instead of the others noticing the node gone a second later. It
// keeps heartbeating meanwhile and returns when nothing runs here any more
// and no transition it coordinates is in flight,
// when no other node is online to take over (a last node stops its
// resources itself), or after DrainTimeout; the resource manager then stops
// whatever is left.
func (m *Member) drain(hb <-chan time.Time) {
	s := m.svc.Load()
	if s == nil || s.lrm == nil {
		return
	}
	others := false
	for _, n := range s.members.Online() {
		if n != m.name && !m.top.IsWitness(n) {
			others = true
		}
	}
	if !others {
		return
	}
	idle := func() bool {
		for _, r := range s.lrm.Report().Resources {
			// A blocked resource (its stop failed) waits for an admin.
			if r.State != bus.StateStopped && r.State != bus.StateBlocked {
				return false
			}
		}
		return true
	}
	if idle() {
		return
	}
	start := time.Now()
	if !m.stopped.Swap(true) {
		m.heartbeat()
		_ = m.conn.Publish(bus.NodeEvent{Node: m.name, Event: "stopped", Reason: "tandem is stopping (SIGTERM)"})
	}
	m.log.Info("stopping: the coordinator moves this node's resources away first", "timeout", DrainTimeout)
	deadline := time.NewTimer(DrainTimeout)
	defer deadline.Stop()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	// waitFor heartbeats until done, or says false at the deadline.
	waitFor := func(done func() bool) bool {
		for !done() {
			select {
			case <-deadline.C:
				return false
			case <-hb:
				m.heartbeat()
			case <-poll.C:
			}
		}
		return true
	}
	if !waitFor(idle) {
		m.log.Warn("resources still here after the drain timeout; stopping them here", "waited", time.Since(start).Round(time.Millisecond))
		return
	}
	m.log.Info("drained: nothing runs here any more", "took", time.Since(start).Round(time.Millisecond))
	// The coordinator's own transition may go on after this node's stops
	// (a singleton's start elsewhere, a promote and its notifications):
	// leaving now would hand the lease to a new coordinator, which aborts
	// whatever is in flight. Pacemaker's DC, too, finishes its transition
	// before it leaves.
	if s.coord == nil || !s.coord.Busy() {
		return
	}
	waited := time.Now()
	if !waitFor(func() bool { return !s.coord.Busy() }) {
		m.log.Warn("this node's transition still in flight after the drain timeout; leaving it to the next coordinator")
		return
	}
	m.log.Info("the transition this node coordinated is done", "waited", time.Since(waited).Round(time.Millisecond))
}
