package daemon_test

import (
	"slices"
	"testing"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/daemon"
)

// remove-voter's answer names the peers before the removal: a peer the
// answering voter knows only by its id is the removed voter when the id is
// its own, else shown by its id.
func TestRemoveVoterNamesUnnamedPeers(t *testing.T) {
	mp := bus.MetaPeers{Names: []string{"benji", "dave", "holly"}, Unnamed: []string{bus.PeerID("carol"), "X1y2Z3w4"}}
	got := daemon.PeerNames(mp, "carol")
	want := []string{"benji", "carol", "dave", "holly", "peer X1y2Z3w4"}
	if !slices.Equal(got, want) {
		t.Errorf("peer names %v, want %v", got, want)
	}
	if got := daemon.PeerNames(bus.MetaPeers{Names: []string{"a", "b", "c"}}, "c"); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("peer names %v, want a b c", got)
	}
}
