package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"
)

// A resource already running on both nodes made promotable on the live
// cluster (resource promotable RSC): one instance is promoted without a
// failed promote, and the primary's node stops promptly (its drain does
// not wait on the instance it ran as a plain resource).
func TestLiveRunningMadePromotable(t *testing.T) {
	lc := newLiveCluster(t)
	lc.must(append(append([]string{"resource", "create", "db", "example:process"}, lc.params()...),
		"promotion_score=5", "op", "monitor", "interval=300ms")...)
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
		if w := lc.Where("db"); len(w) != 1 {
			return fmt.Errorf("db on %v, want one node", w)
		}
		return nil
	})
	start := time.Now()
	lc.must("resource", "promotable", "db")
	primaries := func() []string {
		var out []string
		for _, n := range []string{"benji", "holly"} {
			files, _ := filepath.Glob(filepath.Join(lc.State, n, "db*.promoted"))
			if len(files) > 0 && len(lc.Pids(n)) > 0 {
				out = append(out, n)
			}
		}
		return out
	}
	var primary, replica string
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
		p := primaries()
		if len(p) != 1 {
			return fmt.Errorf("primaries on %v, want one", p)
		}
		primary, replica = p[0], map[string]string{"benji": "holly", "holly": "benji"}[p[0]]
		out, _, _ := lc.run("status")
		if want := fmt.Sprintf("* Clone Set: db-clone [db] (promotable):\n    * Promoted: [ %s ]\n    * Unpromoted: [ %s ]\n", primary, replica); !strings.Contains(out, want) {
			return fmt.Errorf("status lacks %q:\n%s", want, out)
		}
		return nil
	})
	t.Logf("promoted on %s %v after resource promotable", primary, time.Since(start))
	if out := lc.must("status"); strings.Contains(out, "Failed") {
		t.Errorf("status shows a failure after making db promotable:\n%s", out)
	}
	start = time.Now()
	lc.Stop(primary)
	t.Logf("%s stopped in %v", primary, time.Since(start))
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
		if p := primaries(); strings.Join(p, " ") != replica {
			return fmt.Errorf("primaries on %v, want %s after %s stopped", p, replica, primary)
		}
		return nil
	})
}
