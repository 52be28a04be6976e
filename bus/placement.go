package bus

import "fmt"

// Where the bus's Raft leaders belong (docs/leases.md, "Where the bus's
// leaders live"). A stream whose leader dies hard is leaderless for a Raft
// election (4-9 s in nats-server), and no lease on it can be renewed or
// taken meanwhile: if the leader sat on the node holding the VIP's lease,
// that node's death would cost the election before the VIP could move.
// So the leaders of the buckets' streams and the JetStream meta leader
// belong on the voter whose death costs least: the witness, which runs no
// resources; without one (or while it is down), a voter that holds no
// singleton lease; when every voter holds some, the one that holds fewest.

// LeaderCandidate is a voter as the placement rule sees it.
type LeaderCandidate struct {
	Name    string
	Witness bool
	// Current: a caught-up replica (of the stream, or a meta peer) that is
	// online; only such a member can take the leadership over.
	Current bool
	// Singletons is how many leases of singletons (resources and promoted
	// roles; not the coordinator's) the member holds.
	Singletons int
}

// Placement is the rule's answer for one Raft group.
type Placement struct {
	// Target is where the leadership should move; "" when it should stay.
	Target string
	// Exposed is set when the leader (after the move, if any) holds
	// singleton leases: no voter is free of them, so the death of that
	// voter costs an election before its singletons can move.
	Exposed bool
}

// PlaceLeader applies the rule to a group led by leader ("" when leaderless:
// nothing can be moved then) whose voters are candidates, in configuration
// order. The current leader keeps the group unless a better place exists:
// leaderships move only for a reason, never back and forth between equals.
func PlaceLeader(candidates []LeaderCandidate, leader string) Placement {
	var cur *LeaderCandidate
	for i := range candidates {
		if candidates[i].Name == leader {
			cur = &candidates[i]
		}
	}
	if cur == nil {
		return Placement{}
	}
	var best *LeaderCandidate
	for i := range candidates {
		c := &candidates[i]
		if c.Current && (best == nil || better(c, best)) {
			best = c
		}
	}
	if best == nil || best == cur || !better(best, cur) || !worthMoving(best, cur) {
		return Placement{Exposed: !cur.Witness && cur.Singletons > 0}
	}
	return Placement{Target: best.Name, Exposed: !best.Witness && best.Singletons > 0}
}

// worthMoving says whether a, a better leader than b, is enough better to
// move the leadership for: the witness, or a voter that holds no
// singleton, always is; between voters that both hold singletons, only one
// that holds at most half as many. A move is a Raft hand-over (the group
// stalls for a moment), and counts that go up and down by one as leases
// move made the leaders go back and forth: at 32 members on 2 cores, one
// voter handed a leader over 80 times in 6 minutes.
func worthMoving(a, b *LeaderCandidate) bool {
	if a.Witness || a.Singletons == 0 {
		return true
	}
	return 2*a.Singletons <= b.Singletons
}

// better says whether a is a strictly better leader than b.
func better(a, b *LeaderCandidate) bool {
	if a.Witness != b.Witness {
		return a.Witness
	}
	return a.Singletons < b.Singletons
}

func (p Placement) String() string {
	switch {
	case p.Target == "" && !p.Exposed:
		return "stays"
	case p.Target == "":
		return "stays (no voter holds fewer singletons)"
	default:
		return fmt.Sprintf("moves to %s", p.Target)
	}
}
