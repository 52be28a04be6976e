package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
	"github.com/tandem-ha/tandem/host/status"
)

// The procedure of docs/topology.md, "Adding a node": a fourth node joins
// a running cluster of three as a member that does not vote (the default
// voter_count keeps three voters), through a rolling restart, and runs its
// clone instance once config apply adds it to the live model. The cluster
// keeps quorum and its resources throughout.
func TestAddANodeThatDoesNotVote(t *testing.T) {
	lc := newLiveClusterShape(t, daemontest.Shape{Nodes: []string{"holly", "benji", "carol"}}, nil)
	lc.must("resource", "create", "worker", "example:process", "command=/bin/sleep", "args=3600",
		"state_dir="+lc.State+"/{node}", "clone")
	running := func(n int) {
		t.Helper()
		poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
			if w := lc.Where("worker"); len(w) != n {
				return fmt.Errorf("worker on %v, want %d nodes", w, n)
			}
			return nil
		})
	}
	running(3)

	// 1. The file gets what the CLI changed, then the new node, whose
	// certificate comes from the cluster's CA.
	lc.must("config", "pull", lc.Conf)
	f, err := config.Load(lc.Conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Issue(f.Topology.TLS.Dir, bus.Identity{Role: bus.RoleMember, Name: "dave"}); err != nil {
		t.Fatal(err)
	}
	p := bustest.FreePorts(t, 2)
	data, err := os.ReadFile(lc.Conf)
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, fmt.Sprintf("\n[[node]]\nname = \"dave\"\naddress = \"127.0.0.1\"\nclient_port = %d\ncluster_port = %d\n", p[0], p[1])...)
	if err := os.WriteFile(lc.Conf, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// config apply first says the members must restart with the file.
	lc.refuse(`node "dave": added (address 127.0.0.1)`, "config", "apply", lc.Conf)

	// 2. The members restart one at a time, each waiting for the one
	// before to be back.
	for _, n := range []string{"holly", "benji", "carol"} {
		lc.Stop(n)
		lc.Start(n)
		poll.Until(t, 60*time.Second, 200*time.Millisecond, func() error {
			r := lc.statusReport()
			if !r.Quorum || !lc.member(r, n).Online {
				return fmt.Errorf("%s not back (quorum %v)", n, r.Quorum)
			}
			return nil
		})
	}
	// 3. The new node starts, then config apply adds it to the model.
	lc.Shape.Nodes = append(lc.Shape.Nodes, "dave")
	lc.Start("dave")
	poll.Until(t, 60*time.Second, 200*time.Millisecond, func() error {
		_, errs, code := lc.run("config", "apply", lc.Conf)
		if code != 0 {
			return fmt.Errorf("config apply: exit %d: %s", code, errs)
		}
		return nil
	})
	running(4)
	out := lc.must("status", "--output", "json")
	var r status.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Voters != 3 || strings.Join(r.NonVoters, " ") != "dave" || !lc.member(r, "dave").Online {
		t.Errorf("status: %d voters, non-voters %v, dave online %v; want 3, [dave], true", r.Voters, r.NonVoters, lc.member(r, "dave").Online)
	}
	if text := lc.must("status"); !strings.Contains(text, "3 voters; members that do not vote: dave") {
		t.Errorf("status does not name the member that does not vote:\n%s", text)
	}
}
