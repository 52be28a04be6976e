package cli

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/liveconfig"
)

// A globally-unique clone on a live cluster: created with pcs's clone
// option, stored in format 9, one instance per node started, listed
// instance by instance by status and with its option by resource config;
// several instances on one node (which the nodes cannot run yet) and
// clone-node-max without globally-unique are refused, changing nothing.
func TestLiveGloballyUnique(t *testing.T) {
	lc := newLiveCluster(t)
	create := func(id string, clone ...string) []string {
		args := append([]string{"resource", "create", id, "example:process"}, lc.params()...)
		return append(append(args, "op", "monitor", "interval=500ms", "clone"), clone...)
	}
	lc.refuse(`resource "u2": clone-node-max 2 needs globally-unique = true`, create("u2", "clone-node-max=2")...)
	lc.refuse(`resource "u2": clone-node-max 2: a node runs one instance of a resource`, create("u2", "globally-unique=true", "clone-node-max=2")...)
	lc.must(create("u", "globally-unique=true")...)
	if rev := lc.live(); rev.Format != liveconfig.FormatCIBUnique {
		t.Errorf("live configuration in format %d, want %d", rev.Format, liveconfig.FormatCIBUnique)
	}
	nodes := len(lc.Where("u"))
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		if nodes = len(lc.Where("u")); nodes < 2 {
			return fmt.Errorf("u runs on %v", lc.Where("u"))
		}
		return nil
	})
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		out := lc.must("status")
		want := []string{"* Clone Set: u-clone [u] (unique):\n"}
		for i := 0; i < nodes; i++ {
			want = append(want, fmt.Sprintf("* u:%d\t(example:process):\t Started ", i))
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				return fmt.Errorf("status does not show %q:\n%s", w, out)
			}
		}
		return nil
	})
	if out := lc.must("resource", "config", "u"); !strings.Contains(out, "Meta Attrs: globally-unique=true") {
		t.Errorf("resource config u:\n%s", out)
	}
}
