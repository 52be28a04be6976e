package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/daemon"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/sdk/sdktest"
)

// An OCF agent on a live cluster through the ocf plugin (the bridge's test
// agent ocf:tandem:Well under a test OCF_ROOT): created with pcs's words,
// validated from its meta-data and validate-all, started on one node,
// moved to the other; names outside the tree refused.
func TestOCFAgentOnALiveCluster(t *testing.T) {
	root, err := filepath.Abs("../../plugins/ocf/testdata/root")
	if err != nil {
		t.Fatal(err)
	}
	// The plugins inherit the members' environment: this process's.
	t.Setenv("OCF_ROOT", root)
	lc := newLiveClusterWith(t, func(c *daemontest.Cluster) {
		bin := sdktest.Build(t, "github.com/tandem-ha/tandem/plugins/ocf/cmd/tandem-plugin-ocf")
		data, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(c.Plugins, "tandem-plugin-ocf"), data, 0o755); err != nil {
			t.Fatal(err)
		}
	})
	state := filepath.Join(lc.Dir, "ocf")
	for _, n := range []string{"holly", "benji"} {
		if err := os.MkdirAll(filepath.Join(state, n), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The nodes launch the ocf plugin and read the agent's meta-data at
	// their first validation: wait until both answer one, so that the
	// commands below (which give the nodes 2 s) get every node's verdict
	// on a loaded machine too.
	conn := lc.Connect()
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
		answers, err := daemon.AskValidate(conn, "ocf:tandem:Well", map[string]string{"state": state + "/{node}/well.state"}, 2, 5*time.Second)
		if err != nil {
			return err
		}
		if len(answers) != 2 {
			return fmt.Errorf("%d nodes answered: %+v", len(answers), answers)
		}
		for _, a := range answers {
			// Checked by the meta-data and validate-all: no note.
			if !a.Known || a.Code != sdk.OK || a.Message != "" {
				return fmt.Errorf("%+v", a)
			}
		}
		return nil
	})
	lc.refuse(`agent "ocf:../../bin:sh" is not ocf:PROVIDER:TYPE`, "resource", "create", "x", "ocf:../../bin:sh")
	lc.refuse(`resource x: unknown parameter "stat": did you mean state?`,
		"resource", "create", "x", "ocf:tandem:Well", "stat=/tmp/x")
	lc.refuse(`): ocf:tandem:Well validate-all: OCF_ERR_CONFIGURED (not configured): directory /nonexistent of the state file does not exist`,
		"resource", "create", "x", "ocf:tandem:Well", "state=/nonexistent/s")
	lc.refuse(`cannot run it: ocf:tandem:Nope is not installed on this node`,
		"resource", "create", "x", "ocf:tandem:Nope")

	lc.must("resource", "create", "W", "ocf:tandem:Well", "state="+state+"/{node}/well.state", "op", "monitor", "interval=1s")
	where := func() []string {
		var on []string
		for _, n := range []string{"benji", "holly"} {
			if _, err := os.Stat(filepath.Join(state, n, "well.state")); err == nil {
				on = append(on, n)
			}
		}
		return on
	}
	var on string
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		w := where()
		if len(w) != 1 {
			return fmt.Errorf("W started on %v", w)
		}
		on = w[0]
		if out := lc.must("resource", "list"); !strings.Contains(out, "* W\t(ocf:tandem:Well):\t Started "+on) {
			return fmt.Errorf("resource list:\n%s", out)
		}
		return nil
	})
	other := map[string]string{"holly": "benji", "benji": "holly"}[on]
	lc.must("resource", "move", "W", other)
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		if w := where(); len(w) != 1 || w[0] != other {
			return fmt.Errorf("W on %v, want %s", w, other)
		}
		if out := lc.must("resource", "list"); !strings.Contains(out, "* W\t(ocf:tandem:Well):\t Started "+other) {
			return fmt.Errorf("resource list:\n%s", out)
		}
		return nil
	})
	lc.must("resource", "delete", "W")
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		if w := where(); len(w) != 0 {
			return fmt.Errorf("W still on %v after delete", w)
		}
		return nil
	})
}
