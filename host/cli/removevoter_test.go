package cli

import (
	"slices"
	"testing"
)

// Of five voters, erin and dave were killed; erin is removed first. The
// leases bucket had replicas on benji, dave and erin: with two of three
// gone it has no leader, the meta leader cannot place a third replica, and
// the stream's info (answered without a leader) marks no replica offline.
// The lab found remove-voter waiting its whole --wait for it and failing
// (TestRemoveNodesInLab); dave, whose daemon does not answer a ping, is
// what blocks the bucket, and remove-voter must say so and return.
func TestReplicaStateBlockedByAVoterTheStreamDoesNotMarkOffline(t *testing.T) {
	peers := []string{"benji", "dave"}
	current := map[string]bool{"benji": false, "dave": false}
	b := replicaState("tandem-leases", "erin", peers, current, 3, nil, []string{"dave"})
	if b.problem != "tandem-leases: 2 of 3 replicas placed (benji, dave)" || !b.blocked || !slices.Equal(b.offline, []string{"dave"}) {
		t.Errorf("got %+v, want 2 of 3 placed, blocked by dave offline", b)
	}
	// Without a voter offline, a missing replica is not blocked: it is
	// being placed.
	if b := replicaState("tandem-leases", "erin", peers, current, 3, nil, nil); b.blocked || len(b.offline) != 0 {
		t.Errorf("got %+v, want not blocked", b)
	}
	// The stream's own word still counts, and the removed voter is never
	// one of the offline replicas that block.
	b = replicaState("tandem-state", "erin", []string{"benji", "carol", "dave"}, map[string]bool{"benji": true, "carol": true}, 3, []string{"dave", "erin"}, nil)
	if b.problem != "tandem-state: the replicas on dave are not current yet" || !b.blocked || !slices.Equal(b.offline, []string{"dave"}) {
		t.Errorf("got %+v, want dave behind, blocked by dave offline", b)
	}
	// A replica behind on a voter that is online is not blocked.
	b = replicaState("tandem-state", "erin", []string{"benji", "carol", "dave"}, map[string]bool{"benji": true, "dave": true}, 3, nil, []string{"dave"})
	if b.blocked || b.problem != "tandem-state: the replicas on carol are not current yet" {
		t.Errorf("got %+v, want carol behind, not blocked", b)
	}
	// Whole: no problem.
	if b := replicaState("tandem-config", "erin", []string{"benji", "carol", "holly"}, map[string]bool{"benji": true, "carol": true, "holly": true}, 3, nil, []string{"dave"}); b.problem != "" {
		t.Errorf("got %+v, want whole", b)
	}
}
