package daemon

// Where the bus's Raft leaders live (docs/leases.md): the witness pulls
// them to itself; without one, a node that leads a group while it holds
// singleton leases hands the group over to a voter that holds fewer. A
// node that dies then rarely takes a leader with it.

import (
	"context"
	"time"

	"github.com/tandem-ha/tandem/bus"
)

// How often the witness checks where the bus's leaders are: normally, and
// for leaderFastFor after a stream elected a leader other than the witness.
// A node checks at leaderCheckFast: its check is local (does it lead a
// group, does it hold singletons) until it has something to hand over.
const (
	leaderCheckSlow = time.Second
	leaderCheckFast = 250 * time.Millisecond
	leaderFastFor   = 3 * time.Second
)

// The buckets whose stream leaders are placed, with the meta group.
var placedBuckets = bus.Buckets()

// keepLeaders keeps the Raft leaders of the bus on the witness, which runs
// no resources: the lease bucket's (a node that dies then never takes it
// with it, and a lease moves within its TTL instead of after a 4-9 s
// election), the config and state buckets' (read from their leader; the
// coordinator plans from them) and the JetStream meta leader's (watches).
func (m *Member) keepLeaders(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for _, b := range placedBuckets {
		moved, err := m.conn.PreferStreamLeader(ctx, bus.StreamOfBucket(b), m.name)
		switch {
		case err != nil:
			m.log.Debug("bucket leader not moved", "bucket", b, "err", err)
		case moved:
			m.log.Info("moved a bucket's leader to the witness", "bucket", b)
		}
	}
	moved, err := m.server.PreferMetaLeader(ctx)
	switch {
	case err != nil:
		m.log.Debug("meta leader not moved", "err", err)
	case moved:
		m.log.Info("moved the JetStream meta leader to the witness")
	}
}

// ledBuckets lists the placed buckets whose stream this member leads.
func (m *Member) ledBuckets() []string {
	var led []string
	for _, b := range placedBuckets {
		if m.server.LeadsStream(bus.StreamOfBucket(b)) {
			led = append(led, b)
		}
	}
	return led
}

// placeLeaders runs on a node: every Raft group this member leads while it
// holds singleton leases goes to the voter bus.PlaceLeader prefers (the
// witness, else the voter holding the fewest singletons, as its heartbeats
// say). A node that holds none keeps what it leads: it is already a good
// place (the witness, if there is one, pulls the groups to itself).
func (m *Member) placeLeaders(ctx context.Context, s *services) {
	own := s.leases.Singletons()
	led := m.ledBuckets()
	meta := m.server.LeadsMeta()
	if own == 0 || (len(led) == 0 && !meta) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	candidates := func(current map[string]bool) []bus.LeaderCandidate {
		var cs []bus.LeaderCandidate
		for _, v := range m.top.Members {
			c := bus.LeaderCandidate{Name: v.Name, Witness: v.Witness, Current: current[v.Name]}
			if v.Name == m.name {
				c.Singletons = own
			} else if n, ok := s.members.Singletons(v.Name); ok {
				c.Singletons = n
			} else {
				c.Current = false // not heard from: not a place to move to
			}
			cs = append(cs, c)
		}
		return cs
	}
	// Asking each group's state costs a JetStream API request (and its
	// advisory) per group 4 times a second. When no voter would be a
	// better leader even if every one were caught up (every voter holds
	// singletons: no better place exists), none is asked.
	voting := map[string]bool{}
	for _, v := range m.top.Voters() {
		voting[v.Name] = true
	}
	if bus.PlaceLeader(candidates(voting), m.name).Target == "" {
		return
	}
	place := func(group string, g bus.GroupState, move func(target string) error) {
		if g.Leader != m.name {
			return // moved meanwhile
		}
		p := bus.PlaceLeader(candidates(g.Current), m.name)
		if p.Target == "" {
			return // no voter holds fewer (tandem status says so)
		}
		if err := move(p.Target); err != nil {
			m.log.Debug("bus leader not handed over", "group", group, "to", p.Target, "err", err)
			return
		}
		m.log.Info("handed a bus leader over: this node holds singleton leases", "group", group, "to", p.Target, "singletons", own)
	}
	for _, b := range led {
		stream := bus.StreamOfBucket(b)
		g, err := m.conn.StreamState(ctx, stream)
		if err != nil {
			m.log.Debug("bucket leader not placed", "bucket", b, "err", err)
			continue
		}
		place(b, g, func(target string) error { return m.conn.MoveStreamLeader(ctx, stream, target) })
	}
	if meta {
		g, err := m.server.MetaState()
		if err != nil {
			m.log.Debug("meta leader not placed", "err", err)
		} else {
			place("meta", g, func(target string) error { return m.server.MoveMetaLeader(ctx, target) })
		}
	}
}

// fitEvery is how often the meta leader checks that the buckets keep as
// many replicas as the voters call for (bus.FitBuckets).
const fitEvery = 5 * time.Second

// fitBuckets runs on the meta leader: it grows the buckets to 5 replicas
// once five voters are online, and shrinks them with the meta group.
func (m *Member) fitBuckets(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	changed, _, err := m.server.FitBuckets(ctx, m.conn, false)
	for _, c := range changed {
		m.log.Info("bucket replicas changed to what the voters call for", "change", c)
	}
	if err != nil {
		m.log.Debug("bucket replicas not checked", "err", err)
	}
}
