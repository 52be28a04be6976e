package cli

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"
)

// Groups through the commands, on a real three-member cluster: create into
// a group (at the end and --before a member), the members start together
// on one node and are listed as a group, the group moves as a whole, a
// member leaves, the group is disabled and deleted with its members.
func TestLiveGroups(t *testing.T) {
	lc := newLiveCluster(t)
	create := func(id string, extra ...string) {
		t.Helper()
		lc.must(append(append(append([]string{"resource", "create", id, "example:process"}, lc.params()...), "op", "monitor", "interval=500ms"), extra...)...)
	}
	create("fs", "--group", "db")
	create("pg", "--group", "db")
	create("ip", "--group", "db", "--before", "pg")
	create("other")
	if out := lc.must("resource", "group", "list"); out != "db: fs ip pg\n" {
		t.Errorf("group list: %q", out)
	}
	var node string
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		fs, ip, pg := lc.Where("fs"), lc.Where("ip"), lc.Where("pg")
		if len(fs) != 1 || strings.Join(ip, " ") != fs[0] || strings.Join(pg, " ") != fs[0] {
			return fmt.Errorf("fs on %v, ip on %v, pg on %v: want all three on one node", fs, ip, pg)
		}
		node = fs[0]
		return nil
	})
	poll.Until(t, 10*time.Second, 100*time.Millisecond, func() error {
		out := lc.must("resource", "list")
		want := fmt.Sprintf("  * Resource Group: db:\n    * fs\t(example:process):\t Started %[1]s\n    * ip\t(example:process):\t Started %[1]s\n    * pg\t(example:process):\t Started %[1]s\n", node)
		if !strings.HasPrefix(out, want) {
			return fmt.Errorf("resource list:\n%s\nwant it to start with:\n%s", out, want)
		}
		return nil
	})
	if out := lc.must("resource", "config", "db"); !strings.HasPrefix(out, "Group: db\n  Resource: fs (agent=example:process)\n") {
		t.Errorf("resource config db:\n%s", out)
	}

	// simulate --live plans on the live configuration (the cluster file
	// has none of these resources) and what the nodes run: nothing to do;
	// and if the group's node went down, the group would move in order.
	other := map[string]string{"holly": "benji", "benji": "holly"}[node]
	var out string
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		// other may still be starting: the cluster is settled once
		// simulating on it finds nothing to do.
		out = lc.must("simulate", "--live")
		if !strings.Contains(out, "  fs (group db)  "+node+"\n") || !strings.Contains(out, "Transition: nothing to do") {
			return fmt.Errorf("simulate --live:\n%s", out)
		}
		return nil
	})
	out = lc.must("simulate", "--live", "--node-down", node)
	for _, want := range []string{"  ip (group db)  " + other + "\n", "start ip on " + other + "\n      after 1\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("simulate --live --node-down %s lacks %q:\n%s", node, want, out)
		}
	}
	lc.refuse("--live and --state", "simulate", "--live", "--state", "x.json")

	// Sets: other is kept away from the group and starts after it.
	lc.must("constraint", "colocation", "set", "db", "other", "setoptions", "score=-INFINITY")
	lc.must("constraint", "order", "set", "db", "set", "other")
	if out := lc.must("constraint"); !strings.Contains(out, "Ordering Constraints:\n  Resource Sets:\n    set db set other\n") ||
		!strings.Contains(out, "Colocation Constraints:\n  Resource Sets:\n    set db other setoptions score=-INFINITY\n") {
		t.Errorf("constraint:\n%s", out)
	}
	lc.expectOn("other", map[string]string{"holly": "benji", "benji": "holly"}[node])
	lc.refuse(`unknown set option "sequental"`, "constraint", "order", "set", "db", "sequental=false", "set", "other")

	lc.refuse(`"db" is a group; groups cannot be nested`, "resource", "group", "add", "g2", "db")
	lc.refuse(`group db: "nope" is not a member (members: fs, ip, pg)`, "resource", "group", "add", "db", "other", "--after", "nope")
	lc.refuse(`--before and --after place the resource in a group: give --group too`, "resource", "create", "x", "example:process", "--before", "pg")
	lc.refuse("a group and its own member are ordered already", "constraint", "order", "db", "then", "pg")

	lc.must("constraint", "remove", "pcs_rsc_colocation_set_db_other")
	lc.must("resource", "move", "db", other)
	lc.expectOn("fs", other)
	lc.expectOn("ip", other)
	lc.expectOn("pg", other)
	lc.must("resource", "clear", "db")

	lc.must("resource", "group", "remove", "db", "ip")
	if out := lc.must("resource", "group", "list"); out != "db: fs pg\n" {
		t.Errorf("group list after remove: %q", out)
	}
	lc.must("resource", "disable", "db")
	lc.expectOn("fs")
	lc.expectOn("pg")
	out = lc.must("resource", "delete", "db")
	if !strings.HasPrefix(out, "Attempting to stop: db...Stopped\n") {
		t.Errorf("delete db: %q", out)
	}
	cur := lc.live()
	if len(cur.CIB.Orders) != 0 {
		t.Errorf("the order set naming only db and other should have gone with db: %+v", cur.CIB.Orders)
	}
	if len(cur.CIB.Groups) != 0 || len(cur.CIB.Resources) != 2 {
		t.Errorf("after delete db: groups %+v, %d resources (want ip and other)", cur.CIB.Groups, len(cur.CIB.Resources))
	}

	// A location rule on a node attribute moves ip off the node where it
	// runs.
	ipOn := lc.Where("ip")
	if len(ipOn) != 1 {
		t.Fatalf("ip on %v", ipOn)
	}
	lc.must("node", "attribute", ipOn[0], "rack=r2", "ssd=true")
	if out := lc.must("node", "attribute"); out != "Node Attributes:\n "+ipOn[0]+": rack=r2 ssd=true\n" {
		t.Errorf("node attribute: %q", out)
	}
	lc.refuse("#uname", "node", "attribute", ipOn[0], "#uname=x")
	lc.refuse("mixes and and or", "constraint", "location", "ip", "rule", "rack", "eq", "r2", "and", "defined", "ssd", "or", "#uname", "eq", "x")
	lc.must("constraint", "location", "ip", "rule", "score=-INFINITY", "rack", "eq", "r2", "and", "defined", "ssd")
	lc.expectOn("ip", map[string]string{"holly": "benji", "benji": "holly"}[ipOn[0]])
}
