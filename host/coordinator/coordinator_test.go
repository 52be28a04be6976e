package coordinator

import (
	"testing"

	"github.com/tandem-ha/tandem/bus"
)

// A report changes the plan's input when a resource's state changes, and
// also when only a promotable instance's role or promotion score does (the
// first monitor after a start reports the score: without a new plan
// nothing would be promoted).
func TestNewlyFailedSeesRolesAndScores(t *testing.T) {
	seen := map[string]seenState{}
	five, six := 5, 6
	report := func(state, role string, score *int) bus.NodeResources {
		return bus.NodeResources{Node: "holly", Resources: []bus.ResourceState{{Resource: "db", State: state, Role: role, PromotionScore: score}}}
	}
	for i, step := range []struct {
		r       bus.NodeResources
		failed  string
		changed bool
	}{
		{report(bus.StateStarted, "", nil), "", true},
		{report(bus.StateStarted, "", nil), "", false},
		{report(bus.StateStarted, "", &five), "", true},
		{report(bus.StateStarted, "", &five), "", false},
		{report(bus.StateStarted, "", &six), "", true},
		{report(bus.StateStarted, "Promoted", &six), "", true},
		{report(bus.StateStarted, "", &six), "", true},
		{report(bus.StateFailed, "", &six), "db", true},
		{report(bus.StateFailed, "", nil), "", true},
	} {
		failed, changed := newlyFailed(seen, step.r)
		if failed != step.failed || changed != step.changed {
			t.Errorf("report %d: failed %q changed %v, want %q %v", i, failed, changed, step.failed, step.changed)
		}
	}
}
