package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/coordinator"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
	"github.com/tandem-ha/tandem/host/failures"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/host/status"
)

// liveCluster runs holly, benji and the witness director in this process
// (daemontest: bus, real plugin subprocesses, resource manager,
// coordinator) with the SDK's example plugin, and runs tandem commands
// in-process against it.
type liveCluster struct {
	*daemontest.Cluster
	t *testing.T
}

func newLiveCluster(t *testing.T) *liveCluster {
	t.Helper()
	return newLiveClusterWith(t, nil)
}

// newLiveClusterWith is newLiveCluster with setup run before the members
// start (to install another plugin).
func newLiveClusterWith(t *testing.T, setup func(*daemontest.Cluster)) *liveCluster {
	t.Helper()
	return newLiveClusterShape(t, daemontest.Reference, setup)
}

// newLiveClusterShape is newLiveClusterWith for the members of shape.
func newLiveClusterShape(t *testing.T, shape daemontest.Shape, setup func(*daemontest.Cluster)) *liveCluster {
	t.Helper()
	lc := &liveCluster{Cluster: daemontest.NewShape(t, shape, ""), t: t}
	if setup != nil {
		setup(lc.Cluster)
	}
	lc.StartAll()
	// A failed test shows what the cluster saw (failures with their
	// messages); it runs before the cluster's own cleanup.
	t.Cleanup(func() {
		if t.Failed() {
			out, errs, code := lc.run("status", "--wait", "2s")
			t.Logf("status at the failure (exit %d):\n%s%s", code, out, errs)
		}
	})
	// Ready when both nodes answer state requests, probed.
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
		// status is bounded by its --wait; the commands on the live
		// configuration would wait up to 15 s for a bus without quorum.
		out, _, code := lc.run("status", "--wait", "500ms", "--output", "json")
		var r status.Report
		if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 || r.Live == nil {
			return fmt.Errorf("status: exit %d, no live configuration yet %s", code, out)
		}
		out, _, code = lc.run("resource", "list")
		if code != 0 {
			return fmt.Errorf("resource list: exit %d %s", code, out)
		}
		_, _, code = lc.run("config", "show")
		if code != 0 {
			return errors.New("no live configuration yet")
		}
		s, err := openSession(lc.Conf)
		if err != nil {
			return err
		}
		defer s.close()
		cur, err := s.current()
		if err != nil {
			return err
		}
		reps := s.reports(cur.CIB.NodeNames(), time.Second)
		if len(reps) != len(shape.Nodes) {
			return fmt.Errorf("%d nodes answer state requests: %+v", len(reps), reps)
		}
		for _, r := range reps {
			if !r.Probed {
				return fmt.Errorf("%s has not probed yet", r.Node)
			}
		}
		return nil
	})
	return lc
}

// run runs one tandem command in-process; --config is added at the end.
func (lc *liveCluster) run(args ...string) (stdout, stderr string, code int) {
	return lc.runContext(context.Background(), args...)
}

// runWith runs one tandem command with another cluster file.
func (lc *liveCluster) runWith(conf string, args ...string) (stdout, stderr string, code int) {
	return lc.runConf(context.Background(), conf, args...)
}

// runContext runs a command with ctx (as Ctrl-C would end it).
func (lc *liveCluster) runContext(ctx context.Context, args ...string) (stdout, stderr string, code int) {
	return lc.runConf(ctx, lc.Conf, args...)
}

func (lc *liveCluster) runConf(ctx context.Context, conf string, args ...string) (stdout, stderr string, code int) {
	root := NewRoot()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(append(append([]string{}, args...), "--config", conf))
	err := root.ExecuteContext(ctx)
	if err != nil {
		code = 1
		var ee *ExitError
		if errors.As(err, &ee) {
			code = ee.Code
		}
		fmt.Fprintf(&errb, "tandem: %v\n", err)
	}
	return out.String(), errb.String(), code
}

// must runs a command that has to succeed and returns its output.
func (lc *liveCluster) must(args ...string) string {
	lc.t.Helper()
	out, errs, code := lc.run(args...)
	if code != 0 {
		lc.t.Fatalf("tandem %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// refuse runs a command that must fail with exit code 2, say want, and
// leave the live configuration as it was.
func (lc *liveCluster) refuse(want string, args ...string) {
	lc.t.Helper()
	before := lc.live()
	out, errs, code := lc.run(args...)
	if code != ExitConfig || !strings.Contains(errs, want) {
		lc.t.Errorf("tandem %s: exit %d (want %d), stderr %q, want %q\n%s", strings.Join(args, " "), code, ExitConfig, errs, want, out)
	}
	if after := lc.live(); after.Rev != before.Rev {
		lc.t.Errorf("tandem %s changed the live configuration (revision %d -> %d)", strings.Join(args, " "), before.Rev, after.Rev)
	}
}

// port is a member's client_port or cluster_port in the cluster file.
func (lc *liveCluster) port(member, key string) int {
	lc.t.Helper()
	f, err := config.Load(lc.Conf)
	if err != nil {
		lc.t.Fatal(err)
	}
	m, ok := f.Topology.Member(member)
	if !ok {
		lc.t.Fatalf("no member %s in %s", member, lc.Conf)
	}
	if key == "client_port" {
		return m.ClientPort
	}
	return m.ClusterPort
}

func (lc *liveCluster) live() liveconfig.Revision {
	lc.t.Helper()
	s, err := openSession(lc.Conf)
	if err != nil {
		lc.t.Fatal(err)
	}
	defer s.close()
	rev, err := s.current()
	if err != nil {
		lc.t.Fatal(err)
	}
	return rev
}

func (lc *liveCluster) history() []liveconfig.Revision {
	lc.t.Helper()
	s, err := openSession(lc.Conf)
	if err != nil {
		lc.t.Fatal(err)
	}
	defer s.close()
	h, err := s.store.History(context.Background())
	if err != nil {
		lc.t.Fatal(err)
	}
	return h
}

// coordinatorStatus reads what the coordinator last planned.
func (lc *liveCluster) coordinatorStatus() coordinator.Status {
	lc.t.Helper()
	s, err := openSession(lc.Conf)
	if err != nil {
		lc.t.Fatal(err)
	}
	defer s.close()
	st, _ := coordinator.ReadStatus(context.Background(), s.conn)
	return st
}

// expectOn waits until resource runs on exactly nodes (none: stopped).
func (lc *liveCluster) expectOn(resource string, nodes ...string) {
	lc.t.Helper()
	poll.Until(lc.t, 30*time.Second, 50*time.Millisecond, func() error {
		if got := lc.Where(resource); strings.Join(got, " ") != strings.Join(nodes, " ") {
			return fmt.Errorf("%s runs on %v, want %v", resource, got, nodes)
		}
		return nil
	})
}

func (lc *liveCluster) params() []string {
	return []string{"command=/bin/sleep", "args=3600", "state_dir=" + lc.State + "/{node}"}
}

// Every command against a real three-member cluster: the seed's sequence
// with the example agent, bad input refused without a change, move, ban,
// standby, maintenance-mode, disable, restart, cleanup, config show, apply,
// history, rollback and delete.
func TestLiveCommands(t *testing.T) {
	begin := time.Now()
	lc := newLiveCluster(t)
	t.Logf("cluster up: %s", time.Since(begin).Round(time.Millisecond))

	// The seed's lines, with the example agent for apache and haproxy.
	lc.must(append(append([]string{"resource", "create", "httpd", "example:process"}, lc.params()...), "op", "monitor", "interval=500ms", "clone")...)
	lc.must(append(append([]string{"resource", "create", "haproxy", "example:process"}, lc.params()...), "op", "monitor", "interval=500ms", "clone")...)
	lc.must(append(append([]string{"resource", "create", "VIP-10.10.10.23", "example:process"}, lc.params()...), "op", "monitor", "interval=500ms", "stop", "timeout=10s")...)
	if out := lc.must("constraint", "order", "VIP-10.10.10.23", "then", "haproxy-clone"); out != "Adding VIP-10.10.10.23 haproxy-clone (kind: Mandatory) (Options: first-action=start then-action=start)\n" {
		t.Errorf("order echo: %q", out)
	}
	if out := lc.must("constraint", "order", "httpd-clone", "then", "haproxy-clone"); out != "Adding httpd-clone haproxy-clone (kind: Mandatory) (Options: first-action=start then-action=start)\n" {
		t.Errorf("order echo: %q", out)
	}
	if out := lc.must("constraint", "colocation", "add", "VIP-10.10.10.23", "with", "haproxy-clone"); out != "" {
		t.Errorf("colocation add printed %q (pcs prints nothing)", out)
	}
	// Completion offers the live configuration's ids (none of these
	// resources is in the cluster file).
	root := NewRoot()
	var comp bytes.Buffer
	root.SetOut(&comp)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"__complete", "resource", "move", "--config", lc.Conf, "h"})
	if err := root.Execute(); err != nil || comp.String() != "haproxy\nhaproxy-clone\nhttpd\nhttpd-clone\n:4\n" {
		t.Errorf("completing resource move h: %v %q", err, comp.String())
	}
	want := `Location Constraints:
Ordering Constraints:
  start VIP-10.10.10.23 then start haproxy-clone (kind:Mandatory)
  start httpd-clone then start haproxy-clone (kind:Mandatory)
Colocation Constraints:
  VIP-10.10.10.23 with haproxy-clone (score:INFINITY)
`
	if out := lc.must("constraint"); out != want {
		t.Errorf("constraint:\n%s\nwant:\n%s", out, want)
	}
	lc.expectOn("httpd", "benji", "holly")
	lc.expectOn("haproxy", "benji", "holly")
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		if w := lc.Where("VIP-10.10.10.23"); len(w) != 1 {
			return fmt.Errorf("VIP on %v", w)
		}
		return nil
	})
	t.Logf("seed sequence to everything running: %s", time.Since(begin).Round(time.Millisecond))
	poll.Until(t, 10*time.Second, 100*time.Millisecond, func() error {
		out := lc.must("resource", "list")
		for _, w := range []string{"Clone Set: httpd-clone [httpd]:\n    * Started: [ benji holly ]", "* VIP-10.10.10.23\t(example:process):\t Started "} {
			if !strings.Contains(out, w) {
				return fmt.Errorf("resource list lacks %q:\n%s", w, out)
			}
		}
		return nil
	})

	// Bad input: a precise message, exit 2, nothing changed.
	lc.refuse(`unknown agent "nosuch:thing": no node has a plugin for it`, "resource", "create", "x", "nosuch:thing")
	lc.refuse(`agent example:process refused the parameters`, "resource", "create", "x", "example:process", "command=sleep")
	lc.refuse(`param "command" is given twice`, "resource", "create", "x", "example:process", "command=/bin/sleep", "command=/bin/true")
	lc.refuse(`malformed op clause: "monitr" is not an operation`, "resource", "create", "x", "example:process", "command=/bin/sleep", "op", "monitr", "interval=1s")
	lc.refuse(`malformed meta clause: unknown meta attribute "stickiness"`, "resource", "create", "x", "example:process", "meta", "stickiness=1")
	lc.refuse(`id "httpd" is already used by a resource`, "resource", "create", "httpd", "example:process", "command=/bin/sleep")
	lc.refuse("ordering cycle: start VIP-10.10.10.23 then start haproxy-clone then start VIP-10.10.10.23", "constraint", "order", "haproxy-clone", "then", "VIP-10.10.10.23")
	lc.refuse(`no resource or clone "nope"`, "constraint", "colocation", "add", "nope", "with", "haproxy-clone")
	lc.refuse(`"httpd" is cloned; constraints name the clone: use "httpd-clone"`, "constraint", "order", "httpd", "then", "VIP-10.10.10.23")
	lc.refuse(`no node "bob"`, "resource", "move", "VIP-10.10.10.23", "bob")
	lc.refuse(`no resource or clone "nope"`, "resource", "disable", "nope")
	lc.refuse(`no constraint "order-x"`, "constraint", "remove", "order-x")
	lc.refuse(`unknown property "maintenance"`, "property", "set", "maintenance=true")
	lc.refuse(`"director" is the witness`, "node", "standby", "director")

	// move and clear; ban a clone from a node.
	vipOn := lc.Where("VIP-10.10.10.23")[0]
	other := map[string]string{"holly": "benji", "benji": "holly"}[vipOn]
	_, warn, _ := lc.run("resource", "move", "VIP-10.10.10.23", other)
	if !strings.Contains(warn, "Creating location constraint 'cli-prefer-VIP-10.10.10.23' with a score of INFINITY") {
		t.Errorf("move said %q", warn)
	}
	lc.expectOn("VIP-10.10.10.23", other)
	if out := lc.must("constraint", "--full"); !strings.Contains(out, "  Resource: VIP-10.10.10.23\n    Enabled on: "+other+" (score:INFINITY) (id:cli-prefer-VIP-10.10.10.23)\n") {
		t.Errorf("constraint --full after move:\n%s", out)
	}
	if out := lc.must("resource", "clear", "VIP-10.10.10.23"); out != "Removing constraint: cli-prefer-VIP-10.10.10.23\n" {
		t.Errorf("clear: %q", out)
	}
	// move without a node (pcs habit): away from where it runs, as a ban.
	lc.expectOn("VIP-10.10.10.23", other)
	_, warn, _ = lc.run("resource", "move", "VIP-10.10.10.23")
	if !strings.Contains(warn, "Creating location constraint 'cli-ban-VIP-10.10.10.23-on-"+other+"' with a score of -INFINITY") {
		t.Errorf("move without a node said %q", warn)
	}
	lc.expectOn("VIP-10.10.10.23", vipOn)
	if out := lc.must("resource", "clear", "VIP-10.10.10.23"); out != "Removing constraint: cli-ban-VIP-10.10.10.23-on-"+other+"\n" {
		t.Errorf("clear after move without a node: %q", out)
	}
	lc.refuse(`"httpd-clone" is cloned: name the node to move away from`, "resource", "move", "httpd-clone")
	// stonith-enabled (pcs habit) is accepted with a note, and not stored.
	if _, note, code := lc.run("property", "set", "stonith-enabled=false"); code != 0 || !strings.Contains(note, "stonith-enabled=false accepted and not stored: Tandem fences with leases") {
		t.Errorf("property set stonith-enabled=false: exit %d, %q", code, note)
	}
	lc.refuse(`stonith-enabled="maybe": want true or false`, "property", "set", "stonith-enabled=maybe")
	lc.must("resource", "ban", "httpd-clone", "benji")
	lc.expectOn("httpd", "holly")
	lc.must("resource", "clear", "httpd-clone")
	lc.expectOn("httpd", "benji", "holly")

	// standby moves everything off a node; unstandby lets it back.
	lc.must("node", "standby", "holly")
	lc.expectOn("httpd", "benji")
	lc.expectOn("VIP-10.10.10.23", "benji")
	if out := lc.must("config", "show"); !strings.Contains(out, "Nodes: holly (standby) benji") {
		t.Errorf("config show after standby:\n%s", out)
	}
	if out := lc.must("status"); !strings.Contains(out, "\nNode holly: standby\nOnline: [ benji ]\n") {
		t.Errorf("status after standby lacks the standby mark:\n%s", out)
	}
	lc.must("node", "unstandby", "holly")
	lc.expectOn("httpd", "benji", "holly")
	// haproxy starts on holly after httpd there (order): wait for it too,
	// or maintenance-mode below would freeze it unstarted.
	lc.expectOn("haproxy", "benji", "holly")

	// maintenance-mode: a disabled resource keeps running until it ends.
	lc.must("property", "set", "maintenance-mode=true")
	lc.must("resource", "disable", "haproxy-clone")
	if out := lc.must("property"); !strings.Contains(out, "maintenance-mode: true") {
		t.Errorf("property: %s", out)
	}
	if out := lc.must("status"); !strings.Contains(out, "*** Resource management is DISABLED ***") {
		t.Errorf("status in maintenance-mode lacks the banner:\n%s", out)
	}
	poll.Until(t, 10*time.Second, 100*time.Millisecond, func() error {
		// Both nodes have applied the disable and still run haproxy.
		s, err := openSession(lc.Conf)
		if err != nil {
			return err
		}
		defer s.close()
		cur, _ := s.current()
		reps := s.reports(cur.CIB.NodeNames(), time.Second)
		if len(reps) != 2 || reps[0].ConfigRev < cur.Rev || reps[1].ConfigRev < cur.Rev {
			return fmt.Errorf("nodes have not applied revision %d", cur.Rev)
		}
		return nil
	})
	if w := lc.Where("haproxy"); len(w) != 2 {
		t.Errorf("haproxy stopped on %v in maintenance-mode", w)
	}
	lc.must("property", "set", "maintenance-mode=false")
	lc.expectOn("haproxy")
	lc.must("resource", "enable", "haproxy-clone")
	lc.expectOn("haproxy", "benji", "holly")

	// restart: a new process, same place.
	poll.Until(t, 10*time.Second, 50*time.Millisecond, func() error {
		if w := lc.Where("VIP-10.10.10.23"); len(w) != 1 {
			return fmt.Errorf("VIP on %v", w)
		}
		return nil
	})
	vipOn = lc.Where("VIP-10.10.10.23")[0]
	pid := lc.Pids("")[vipOn+"/VIP-10.10.10.23"]
	if out := lc.must("resource", "restart", "VIP-10.10.10.23"); out != "VIP-10.10.10.23 successfully restarted\n" {
		t.Errorf("restart: %q", out)
	}
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		w := lc.Where("VIP-10.10.10.23")
		if len(w) != 1 || lc.Pids("")[w[0]+"/VIP-10.10.10.23"] == pid {
			return fmt.Errorf("VIP on %v, pid %d (was %d)", w, lc.Pids("")[vipOn+"/VIP-10.10.10.23"], pid)
		}
		return nil
	})

	// cleanup: a failure bans the VIP from its preferred node
	// (migration-threshold=1); cleanup forgets it and the coordinator
	// replans at once, so it comes back.
	lc.must("resource", "update", "VIP-10.10.10.23", "meta", "migration-threshold=1")
	lc.must("constraint", "location", "VIP-10.10.10.23", "prefers", "holly=100")
	lc.expectOn("VIP-10.10.10.23", "holly")
	if err := syscall.Kill(lc.Pids("")["holly/VIP-10.10.10.23"], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	lc.expectOn("VIP-10.10.10.23", "benji")
	// The coordinator is idle, with the failure in its last plan: only
	// the cleanup's Refresh makes it plan again.
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		st := lc.coordinatorStatus()
		placed := ""
		for _, a := range st.Placement {
			if a.Resource == "VIP-10.10.10.23" {
				placed = a.Node
			}
		}
		if len(st.Pending) > 0 || len(st.Failures) == 0 || placed != "benji" {
			return fmt.Errorf("coordinator status: pending %v, failures %v, VIP placed on %q", st.Pending, st.Failures, placed)
		}
		return nil
	})
	out := lc.must("resource", "cleanup", "VIP-10.10.10.23")
	if !strings.HasPrefix(out, "Cleaned up VIP-10.10.10.23 on holly (fail-count ") {
		t.Errorf("cleanup: %q", out)
	}
	lc.expectOn("VIP-10.10.10.23", "holly")
	s, err := openSession(lc.Conf)
	if err != nil {
		t.Fatal(err)
	}
	fs, _ := failures.Open(context.Background(), s.conn)
	if recs, err := fs.List(context.Background()); err != nil || len(recs) != 0 {
		t.Errorf("fail-counts after cleanup: %v %v", recs, err)
	}
	s.close()

	// config show --toml, history, rollback, apply.
	toml := lc.must("config", "show", "--toml")
	if _, err := config.Parse("show", []byte(toml)); err != nil {
		t.Fatalf("config show --toml does not parse: %v\n%s", err, toml)
	}
	hist := lc.must("config", "history")
	lines := strings.Split(strings.TrimSpace(hist), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "(current)") || !strings.HasSuffix(last, "admin@"+hostname()+"  constraint location VIP-10.10.10.23 prefers holly=100") {
		t.Errorf("history's last line: %q", last)
	}
	for _, w := range []string{"seeded from cluster.toml", "resource create httpd (example:process)"} {
		if !strings.Contains(hist, w) {
			t.Errorf("history lacks %q:\n%s", w, hist)
		}
	}
	before := lc.live()
	revs := lc.history()
	lc.must("config", "rollback", strconv.FormatUint(revs[len(revs)-2].Rev, 10))
	if after := lc.live(); len(after.CIB.Locations) != 0 || after.Rev <= before.Rev {
		t.Errorf("rollback: revision %d, locations %+v", after.Rev, after.CIB.Locations)
	}
	lc.refuse("is not kept", "config", "rollback", "99999")
	toml = lc.must("config", "show", "--toml")

	next := strings.Replace(toml, "[[order]]", "[[resource]]\nid = \"extra\"\nagent = \"example:process\"\n[resource.params]\ncommand = \"/bin/sleep\"\nargs = \"3600\"\nstate_dir = \""+lc.State+"/{node}\"\n\n[[order]]", 1)
	file := filepath.Join(lc.Dir, "next.toml")
	if err := os.WriteFile(file, []byte(next), 0o644); err != nil {
		t.Fatal(err)
	}
	rev := lc.live().Rev
	// The bootstrap settings are not live: a file that moves benji's
	// route port is refused, with what differs and who runs the old
	// value, and nothing changes.
	port := lc.port("benji", "cluster_port")
	moved := filepath.Join(lc.Dir, "moved.toml")
	if err := os.WriteFile(moved, []byte(strings.Replace(next, fmt.Sprintf("cluster_port = %d", port), fmt.Sprintf("cluster_port = %d", port+1), 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	lc.refuse(fmt.Sprintf("changes settings the members read only when they start; nothing was changed:\n  node \"benji\" cluster_port: %d, not %d (running on benji, director, holly)", port+1, port),
		"config", "apply", moved)
	if lc.live().Rev != rev {
		t.Errorf("a refused apply changed the live configuration from revision %d to %d", rev, lc.live().Rev)
	}
	out = lc.must("config", "apply", "--dry-run", file)
	for _, w := range []string{"+ id = \"extra\"", "start extra on ", "Dry run: nothing changed"} {
		if !strings.Contains(out, w) {
			t.Errorf("apply --dry-run lacks %q:\n%s", w, out)
		}
	}
	if lc.live().Rev != rev {
		t.Errorf("dry run changed the live configuration")
	}
	out = lc.must("config", "apply", file)
	if !strings.Contains(out, "Applied: revision ") || lc.live().Rev == rev {
		t.Errorf("apply:\n%s", out)
	}
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		if w := lc.Where("extra"); len(w) != 1 {
			return fmt.Errorf("extra on %v", w)
		}
		return nil
	})

	// delete stops first and says so, then removes it and its constraints.
	out = lc.must("resource", "delete", "haproxy-clone")
	if want := "Attempting to stop: haproxy-clone...Stopped\nRemoving Constraint - order-VIP-10.10.10.23-haproxy-clone-mandatory\nRemoving Constraint - order-httpd-clone-haproxy-clone-mandatory\nRemoving Constraint - colocation-VIP-10.10.10.23-haproxy-clone-INFINITY\n"; out != want {
		t.Errorf("delete:\n%s\nwant:\n%s", out, want)
	}
	if w := lc.Where("haproxy"); len(w) != 0 {
		t.Errorf("haproxy runs on %v after delete", w)
	}
	if out := lc.must("constraint"); out != "Location Constraints:\nOrdering Constraints:\nColocation Constraints:\n" {
		t.Errorf("constraints after delete:\n%s", out)
	}
	if out := lc.must("resource", "config", "httpd"); out != "Clone: httpd-clone\n  Resource: httpd (agent=example:process)\n    Attributes: args=3600 command=/bin/sleep state_dir="+lc.State+"/{node}\n    Operations: monitor interval=500ms\n" {
		t.Errorf("resource config httpd:\n%s", out)
	}

	// A host with another cluster's PKI is told its credentials were
	// refused (exit 4), not shown an outage.
	foreign := t.TempDir()
	if err := bus.InitCA(foreign, "other"); err != nil {
		t.Fatal(err)
	}
	if err := bus.Issue(foreign, bus.Identity{Role: bus.RoleAdmin, Name: bus.AdminIdentity}); err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(lc.Conf)
	if err != nil {
		t.Fatal(err)
	}
	foreignConf := filepath.Join(lc.Dir, "foreign.toml")
	if err := os.WriteFile(foreignConf, regexp.MustCompile(`(?m)^\[bus\.tls\]\ndir = ".*"$`).ReplaceAll(conf, []byte(fmt.Sprintf("[bus.tls]\ndir = %q", foreign))), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code := lc.runWith(foreignConf, "status")
	if code != ExitCredentials || !strings.Contains(out, "This host's credentials were refused: ") || strings.Contains(out, "OFFLINE") {
		t.Errorf("status with another cluster's PKI: exit %d (want %d)\n%s%s", code, ExitCredentials, out, errs)
	}
	if _, errs, code := lc.runWith(foreignConf, "resource", "list"); code != ExitCredentials || !strings.Contains(errs, "credentials") {
		t.Errorf("resource list with another cluster's PKI: exit %d (want %d): %s", code, ExitCredentials, errs)
	}

	// pull writes the live configuration back to the cluster file: status
	// stops warning that they differ, durations stay as written, the old
	// file is kept, and a second pull writes nothing.
	if out := lc.must("status"); !strings.Contains(out, "differs from") {
		t.Errorf("status before pull does not say the live configuration differs from the file:\n%s", out)
	}
	out = lc.must("config", "pull")
	if !strings.Contains(out, "Wrote the live configuration (revision ") || !strings.Contains(out, lc.Conf+".bak") {
		t.Errorf("config pull:\n%s", out)
	}
	pulled, err := os.ReadFile(lc.Conf)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`interval = "500ms"`, `timeout = "10s"`, `id = "extra"`} {
		if !strings.Contains(string(pulled), w) {
			t.Errorf("pulled file lacks %s:\n%s", w, pulled)
		}
	}
	if out := lc.must("status"); strings.Contains(out, "differs from") {
		t.Errorf("status after pull still warns:\n%s", out)
	}
	if out := lc.must("config", "pull"); !strings.Contains(out, "is already the live configuration") {
		t.Errorf("second config pull:\n%s", out)
	}
	t.Logf("whole sequence: %s", time.Since(begin).Round(time.Millisecond))

	t.Run("Events", func(t *testing.T) { followEvents(t, lc) })
	t.Run("ConcurrentEditors", func(t *testing.T) { concurrentEditors(t, lc) })
}

// Two admins editing at once: every change lands (each edit is a
// compare-and-swap that retries on the newer revision).
func concurrentEditors(t *testing.T, lc *liveCluster) {
	before := lc.live()
	const perEditor = 6
	var wg sync.WaitGroup
	errs := make(chan string, 2*perEditor)
	for e := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perEditor {
				id := fmt.Sprintf("ed%d-%d", e, i)
				out, stderr, code := lc.run("resource", "create", id, "example:process", "command=/bin/sleep", "--disabled", "--force")
				if code != 0 {
					errs <- fmt.Sprintf("%s: exit %d %s%s", id, code, out, stderr)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	after := lc.live()
	for e := range 2 {
		for i := range perEditor {
			if r, _ := after.CIB.Resource(fmt.Sprintf("ed%d-%d", e, i)); r == nil {
				t.Errorf("ed%d-%d was lost", e, i)
			}
		}
	}
	n := 0
	for _, r := range lc.history() {
		if r.Rev > before.Rev && strings.HasPrefix(r.Summary, "resource create ed") {
			n++
		}
	}
	if n != 2*perEditor {
		t.Errorf("%d revisions for %d edits", n, 2*perEditor)
	}
}

// events --follow prints the events a change causes, one line each.
func followEvents(t *testing.T, lc *liveCluster) {
	if _, errs, code := lc.run("events"); code != ExitConfig || !strings.Contains(errs, "give --follow") {
		t.Errorf("events without --follow: exit %d %q", code, errs)
	}
	type result struct {
		out, errs string
		code      int
	}
	done := make(chan result, 1)
	go func() {
		out, errs, code := lc.run("events", "--follow", "--count", "6", "--timeout", "30s")
		done <- result{out, errs, code}
	}()
	var r result
	role := []string{"disable", "enable"}
	for i := 0; ; i++ {
		select {
		case r = <-done:
		case <-time.After(300 * time.Millisecond):
			if i < 60 {
				lc.must("resource", role[i%2], "httpd-clone")
			}
			continue
		}
		break
	}
	lc.must("resource", "enable", "httpd-clone")
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if r.code != 0 || len(lines) != 6 {
		t.Fatalf("events: exit %d, %d lines:\n%s%s", r.code, len(lines), r.out, r.errs)
	}
	kinds := map[string]bool{}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 4 || len(f[0]) != len("15:04:05.000") {
			t.Errorf("event line %q is not TIME SOURCE KIND TEXT", l)
			continue
		}
		kinds[f[2]] = true
	}
	if !kinds["config"] && !kinds["transition"] && !kinds["action"] {
		t.Errorf("no config, transition or action event among:\n%s", r.out)
	}
	t.Logf("events:\n%s", r.out)
}

// A promotable clone made with the CLI on a real cluster (the example
// agent as primary/replica, the same promotion score on both nodes): stored
// in format 4 (6 once a colocation names the Unpromoted role), listed with
// its roles; one instance is promoted (its agent marks the primary), status
// shows Promoted and Unpromoted, what must stay away from the primary and
// what goes with the replica run on the replica; when the primary's node
// stops, the other instance is promoted.
func TestLivePromotable(t *testing.T) {
	lc := newLiveCluster(t)
	_, errs, code := lc.run(append(append([]string{"resource", "create", "db", "example:process"}, lc.params()...),
		"promotion_score=5", "op", "monitor", "interval=300ms", "promotable")...)
	if code != 0 || strings.Contains(errs, "not fenced") {
		t.Fatalf("resource create ... promotable: exit %d, stderr %q", code, errs)
	}
	lc.must(append(append([]string{"resource", "create", "app", "example:process"}, lc.params()...), "op", "monitor", "interval=500ms")...)
	lc.must("constraint", "colocation", "add", "app", "with", "Promoted", "db-clone", "-INFINITY")
	if r := lc.live(); r.Format != liveconfig.FormatCIBPromotable || !r.CIB.Promotable("db-clone") {
		t.Fatalf("live configuration: format %d, db-clone promotable %t; want format %d", r.Format, r.CIB.Promotable("db-clone"), liveconfig.FormatCIBPromotable)
	}
	if out := lc.must("constraint"); !strings.Contains(out, "app with db-clone (score:-INFINITY) (rsc-role:Started) (with-rsc-role:Promoted)") {
		t.Errorf("constraint list:\n%s", out)
	}
	lc.refuse(`"app" is not a promotable clone`, "constraint", "colocation", "add", "db-clone", "with", "Promoted", "app")
	// backup runs with the replica (the Unpromoted role): format 6.
	lc.must(append(append([]string{"resource", "create", "backup", "example:process"}, lc.params()...), "op", "monitor", "interval=500ms")...)
	lc.must("constraint", "colocation", "add", "backup", "with", "Unpromoted", "db-clone")
	if r := lc.live(); r.Format != liveconfig.FormatCIBRoles {
		t.Fatalf("live configuration with an Unpromoted colocation: format %d, want %d", r.Format, liveconfig.FormatCIBRoles)
	}
	if out := lc.must("constraint"); !strings.Contains(out, "backup with db-clone (score:INFINITY) (rsc-role:Started) (with-rsc-role:Unpromoted)") {
		t.Errorf("constraint list:\n%s", out)
	}
	lc.expectOn("db", "benji", "holly")
	// primaries lists the nodes where the agent marks the primary.
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
		if w := lc.Where("app"); strings.Join(w, " ") != replica {
			return fmt.Errorf("app on %v, want %s (away from the primary)", w, replica)
		}
		if w := lc.Where("backup"); strings.Join(w, " ") != replica {
			return fmt.Errorf("backup on %v, want %s (with the replica)", w, replica)
		}
		return nil
	})
	t.Logf("primary on %s", primary)
	lc.Stop(primary)
	poll.Until(t, 90*time.Second, 100*time.Millisecond, func() error {
		if p := primaries(); strings.Join(p, " ") != replica {
			return fmt.Errorf("primaries on %v, want %s after %s stopped", p, replica, primary)
		}
		if w := lc.Where("app"); len(w) != 0 {
			return fmt.Errorf("app on %v, want nowhere (the only node left has the primary)", w)
		}
		if w := lc.Where("backup"); len(w) != 0 {
			return fmt.Errorf("backup on %v, want nowhere (no replica left)", w)
		}
		return nil
	})
}

// A promotable cloned group on an in-process cluster: created member by
// member into a group (disabled), made promotable with resource
// promotable GROUP, then enabled; its
// copy on one node is promoted (both members, the role files of the
// example agent), status lists it as crm_mon does, the coordinator and
// simulate --live read the members' roles (nothing left to do), and when
// the primary's node stops, the other copy is promoted.
func TestLivePromotableGroup(t *testing.T) {
	lc := newLiveCluster(t)
	for _, id := range []string{"fs", "db"} {
		lc.must(append(append([]string{"resource", "create", id, "example:process"}, lc.params()...),
			"promotion_score=5", "op", "monitor", "interval=300ms", "--group", "stack", "--disabled")...)
	}
	lc.must("resource", "promotable", "stack")
	lc.must("resource", "enable", "fs", "db")
	if r := lc.live(); r.Format != liveconfig.FormatCIBPromotableGroups || !r.CIB.Promotable("stack-clone") {
		t.Fatalf("live configuration: format %d, stack-clone promotable %t; want format %d", r.Format, r.CIB.Promotable("stack-clone"), liveconfig.FormatCIBPromotableGroups)
	}
	// primaries lists, for each member, the nodes where the agent marks
	// it primary.
	primaries := func(member string) []string {
		var out []string
		for _, n := range []string{"benji", "holly"} {
			files, _ := filepath.Glob(filepath.Join(lc.State, n, member+"*.promoted"))
			if len(files) > 0 && len(lc.Pids(n)) > 0 {
				out = append(out, n)
			}
		}
		return out
	}
	var primary, replica string
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
		fs, db := primaries("fs"), primaries("db")
		if len(fs) != 1 || strings.Join(db, " ") != fs[0] {
			return fmt.Errorf("fs primary on %v, db on %v: want both on one node", fs, db)
		}
		primary, replica = fs[0], map[string]string{"benji": "holly", "holly": "benji"}[fs[0]]
		out, _, _ := lc.run("status")
		if want := fmt.Sprintf("* Clone Set: stack-clone [stack] (promotable):\n    * Promoted: [ %s ]\n    * Unpromoted: [ %s ]\n", primary, replica); !strings.Contains(out, want) {
			return fmt.Errorf("status lacks %q:\n%s", want, out)
		}
		if out := lc.must("simulate", "--live"); !strings.Contains(out, "Transition: nothing to do") {
			return fmt.Errorf("simulate --live:\n%s", out)
		}
		return nil
	})
	t.Logf("primary on %s", primary)
	lc.Stop(primary)
	poll.Until(t, 90*time.Second, 100*time.Millisecond, func() error {
		if fs, db := primaries("fs"), primaries("db"); strings.Join(fs, " ") != replica || strings.Join(db, " ") != replica {
			return fmt.Errorf("fs primary on %v, db on %v; want both on %s after %s stopped", fs, db, replica, primary)
		}
		return nil
	})
}
