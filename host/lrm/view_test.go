package lrm

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/policies"
)

// The agents' cluster view goes with every action and every monitor: it is
// built once per change of the nodes' reports (or of the members online)
// and shared until the next, not built from every report for each call.
func TestClusterViewIsBuiltOncePerChange(t *testing.T) {
	_, _, holly, _, conn := setup(t)
	// What both nodes published since they started has arrived when two
	// calls in a row give the same view; from then on, each call does.
	var first string
	poll.Until(t, 10*time.Second, 50*time.Millisecond, func() error {
		a, b := holly.lrm.View(), holly.lrm.View()
		if a != b {
			return fmt.Errorf("two calls with no report in between built two views")
		}
		first = fmt.Sprint(a.Active)
		return nil
	})
	v := holly.lrm.View()
	for range 100 {
		if holly.lrm.View() != v {
			t.Fatal("the view was built again with nothing changed")
		}
	}
	// benji's report changes (vip started there): a new view says so.
	if r := run(t, conn, "t1", policies.OpStart, "benji"); !r.OK() {
		t.Fatalf("start on benji: %+v", r)
	}
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		got := holly.lrm.View()
		if got == v || !strings.Contains(fmt.Sprint(got.Active), "vip:[benji]") {
			return fmt.Errorf("holly's view %v (before: %s), want vip active on benji", got.Active, first)
		}
		return nil
	})
}
