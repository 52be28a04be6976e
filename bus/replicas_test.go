package bus

import (
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

func TestReplicasFor(t *testing.T) {
	for n, want := range map[int]int{0: 1, 1: 1, 2: 1, 3: 3, 4: 3, 5: 5, 6: 5, 7: 5} {
		if got := ReplicasFor(n); got != want {
			t.Errorf("ReplicasFor(%d) = %d, want %d", n, got, want)
		}
		// A cold start needs only three voters online.
		if got := createReplicas(n); got != min(want, 3) {
			t.Errorf("createReplicas(%d) = %d, want %d", n, got, min(want, 3))
		}
	}
}

// The buckets' replicas follow the voters: five voters, five replicas once
// the five are online; a meta group shrunk by remove-voter shrinks them.
func TestBucketTarget(t *testing.T) {
	group := func(size int, online ...string) MetaPeers {
		mp := MetaPeers{Size: size, Online: map[string]bool{}}
		for i := range size {
			n := fmt.Sprintf("v%d", i)
			mp.Names = append(mp.Names, n)
		}
		for _, n := range online {
			mp.Online[n] = true
		}
		return mp
	}
	all := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("v%d", i))
		}
		return out
	}
	for _, c := range []struct {
		name       string
		mp         MetaPeers
		want       int // the file's ReplicasFor
		target     int
		grow       bool
		explaining string
	}{
		{"three voters", group(3, all(3)...), 3, 3, true, "the default"},
		{"five voters online", group(5, all(5)...), 5, 5, true, "grown from the 3 they were created with"},
		{"five voters, one down", group(5, all(4)...), 5, 5, false, "not grown while a voter is down (nothing is shrunk either)"},
		{"five voters, two down", group(5, all(3)...), 5, 5, false, "kept at 5: two failures leave every bucket its quorum"},
		{"one removed of five", group(4, all(3)...), 5, 3, true, "shrunk with the group: the replicas on voters that are down go"},
		{"two removed of five", group(3, all(3)...), 5, 3, true, "three voters left"},
		{"file says three, group of five", group(5, all(5)...), 3, 3, true, "the file's voters rule"},
		{"replacement added before the removal", group(6, all(5)...), 5, 5, true, "a dead voter not removed yet"},
		{"a single member", group(1, "v0"), 1, 1, true, "a development cluster"},
	} {
		target, grow := BucketTarget(c.mp, c.want)
		if target != c.target || grow != c.grow {
			t.Errorf("%s (%s): target %d, grow %v; want %d, %v", c.name, c.explaining, target, grow, c.target, c.grow)
		}
	}
}

// After a removal, a replica kept on a voter that is down is moved to an
// online voter that holds none, and only then.
func TestMisplaced(t *testing.T) {
	mp := MetaPeers{Size: 4, Names: []string{"benji", "carol", "dave", "holly"},
		Online: map[string]bool{"benji": true, "carol": true, "holly": true}}
	info := func(leader string, replicas ...string) *jetstream.ClusterInfo {
		ci := &jetstream.ClusterInfo{Leader: leader}
		for _, r := range replicas {
			ci.Replicas = append(ci.Replicas, &jetstream.PeerInfo{Name: r})
		}
		return ci
	}
	for _, c := range []struct {
		name           string
		ci             *jetstream.ClusterInfo
		offline, spare string
	}{
		{"dave kept over carol", info("holly", "benji", "dave"), "dave", "carol"},
		{"on the three online", info("holly", "benji", "carol"), "", ""},
		{"no spare online", info("holly", "benji", "carol", "dave"), "", ""},
		{"a peer known by id only", info("holly", "benji", unknownName("XyZ12345")), "", ""},
		{"no cluster info", nil, "", ""},
	} {
		offline, spare := misplaced(c.ci, mp)
		if offline != c.offline || spare != c.spare {
			t.Errorf("%s: %q to %q, want %q to %q", c.name, offline, spare, c.offline, c.spare)
		}
	}
}
