package bus

import "testing"

func TestPlaceLeader(t *testing.T) {
	c := func(name string, singletons int) LeaderCandidate {
		return LeaderCandidate{Name: name, Current: true, Singletons: singletons}
	}
	w := LeaderCandidate{Name: "w", Witness: true, Current: true}
	stale := func(l LeaderCandidate) LeaderCandidate { l.Current = false; return l }
	for _, tc := range []struct {
		name       string
		candidates []LeaderCandidate
		leader     string
		want       Placement
	}{
		{"witness leads", []LeaderCandidate{c("a", 1), c("b", 0), w}, "w", Placement{}},
		{"to the witness", []LeaderCandidate{c("a", 0), c("b", 0), w}, "a", Placement{Target: "w"}},
		{"witness not current: free node stays", []LeaderCandidate{c("a", 0), c("b", 0), stale(w)}, "a", Placement{}},
		{"witness not current: off the VIP's node", []LeaderCandidate{c("a", 1), c("b", 0), stale(w)}, "a", Placement{Target: "b"}},
		{"free node keeps it", []LeaderCandidate{c("a", 1), c("b", 0), c("c", 0)}, "c", Placement{}},
		{"first free node in configuration order", []LeaderCandidate{c("a", 2), c("b", 0), c("c", 0)}, "a", Placement{Target: "b"}},
		{"fewest singletons", []LeaderCandidate{c("a", 3), c("b", 1), c("c", 2)}, "a", Placement{Target: "b", Exposed: true}},
		{"half as many", []LeaderCandidate{c("a", 16), c("b", 8), c("c", 12)}, "a", Placement{Target: "b", Exposed: true}},
		{"fewer, not half as many: no move", []LeaderCandidate{c("a", 16), c("b", 9), c("c", 15)}, "a", Placement{Exposed: true}},
		{"one fewer: no move", []LeaderCandidate{c("a", 3), c("b", 2)}, "a", Placement{Exposed: true}},
		{"none rather than one", []LeaderCandidate{c("a", 1), c("b", 0)}, "a", Placement{Target: "b"}},
		{"equals: no move", []LeaderCandidate{c("a", 1), c("b", 1), c("c", 1)}, "b", Placement{Exposed: true}},
		{"only a stale voter is free", []LeaderCandidate{c("a", 1), stale(c("b", 0)), c("c", 1)}, "a", Placement{Exposed: true}},
		{"leaderless", []LeaderCandidate{c("a", 1), c("b", 0)}, "", Placement{}},
	} {
		if got := PlaceLeader(tc.candidates, tc.leader); got != tc.want {
			t.Errorf("%s: got %+v (%s), want %+v", tc.name, got, got, tc.want)
		}
	}
}
