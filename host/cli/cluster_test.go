package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/tandem-ha/tandem/host/daemon/daemontest"
	"github.com/tandem-ha/tandem/host/status"
	"github.com/tandem-ha/tandem/plugins/sdk/example"
)

// statusReport runs `tandem status --output json`.
func (lc *liveCluster) statusReport() status.Report {
	lc.t.Helper()
	out, errs, _ := lc.run("status", "--output", "json")
	var r status.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		lc.t.Fatalf("status --output json: %v\n%s%s", err, out, errs)
	}
	return r
}

func (lc *liveCluster) member(r status.Report, name string) status.Member {
	for _, m := range r.Nodes {
		if m.Name == name {
			return m
		}
	}
	lc.t.Fatalf("no node %s in the status report", name)
	return status.Member{}
}

// status: the live-config warning, --watch, and cluster stop/start on a
// real three-member cluster: a stopped node's singleton moves and its
// clone instance stops, nothing new is placed there, it stays stopped
// across a restart of its daemon, status lists it OFFLINE, start brings it
// back; stop --all and start --all; bad input; the systemctl fallback of a
// local start.
func TestClusterStopStart(t *testing.T) {
	begin := time.Now()
	lc := newLiveCluster(t)
	t.Logf("cluster up: %s", time.Since(begin).Round(time.Millisecond))

	// Seeded from the file: no warning. No resource uses the example
	// plugin yet: it has not been launched.
	out := lc.must("status")
	if strings.Contains(out, "WARNINGS") || !strings.Contains(out, "holly: tandem: active, bus: active (2 peers, quorum), plugins: example idle\n") {
		t.Errorf("status of a fresh cluster:\n%s", out)
	}

	lc.must(append(append([]string{"resource", "create", "web", "example:process"}, lc.params()...), "op", "monitor", "interval=500ms", "clone")...)
	lc.must(append(append([]string{"resource", "create", "vip", "example:process"}, lc.params()...), "op", "monitor", "interval=500ms")...)
	lc.must("constraint", "location", "vip", "prefers", "benji=100")
	lc.expectOn("web", "benji", "holly")
	lc.expectOn("vip", "benji")

	// Edited: status says the live configuration is not the file's.
	rev := lc.live().Rev
	out = lc.must("status")
	if want := fmt.Sprintf("\nWARNINGS:\nLive configuration (revision %d) differs from %s; the cluster runs the live one.\n  See the difference: tandem config apply --dry-run %s\n", rev, lc.Conf, lc.Conf); !strings.Contains(out, want) {
		t.Errorf("status lacks %q:\n%s", want, out)
	}
	if r := lc.statusReport(); r.Live == nil || !r.Live.DiffersFromFile || r.Live.Revision != rev {
		t.Errorf("status json live_config: %+v", r.Live)
	}
	// Once per change: the next status says it in one line, not under
	// WARNINGS; a new revision warns in full again.
	out = lc.must("status")
	if want := fmt.Sprintf("Live configuration: revision %d, differs from %s (tandem config pull %s)\n", rev, lc.Conf, lc.Conf); strings.Contains(out, "WARNINGS") || !strings.Contains(out, want) {
		t.Errorf("second status of the same drift: want no WARNINGS and %q:\n%s", want, out)
	}
	lc.must("constraint", "location", "vip", "prefers", "benji=200")
	out = lc.must("status")
	if want := fmt.Sprintf("\nWARNINGS:\nLive configuration (revision %d) differs from", lc.live().Rev); lc.live().Rev == rev || !strings.Contains(out, want) {
		t.Errorf("status after another change: want %q:\n%s", want, out)
	}

	// --watch: --count reports, separated by a blank line off a terminal.
	out = lc.must("status", "--watch", "--interval", "100ms", "--count", "3")
	name := "Cluster name: " + daemontest.Name + "\n"
	if n := strings.Count(out, name); n != 3 || !strings.Contains(out, "\n\n"+name) {
		t.Errorf("status --watch --count 3: %d reports:\n%s", n, out)
	}
	// ... and until Ctrl-C (the command's context ends), exit 0.
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		out  string
		code int
	}
	done := make(chan result, 1)
	watchBegan := time.Now()
	go func() {
		out, _, code := lc.runContext(ctx, "status", "--watch", "--interval", "50ms")
		done <- result{out, code}
	}()
	poll.Until(t, 30*time.Second, 20*time.Millisecond, func() error {
		if time.Since(watchBegan) < 300*time.Millisecond {
			return fmt.Errorf("let it draw a few times")
		}
		return nil
	})
	cancel()
	select {
	case r := <-done:
		if r.code != 0 || strings.Count(r.out, "Cluster name: "+daemontest.Name+"\n") < 1 {
			t.Errorf("status --watch ended by its context: exit %d\n%s", r.code, r.out)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("status --watch did not end with its context")
	}
	if _, errs, code := lc.run("status", "--count", "2"); code != ExitConfig || !strings.Contains(errs, "go with --watch") {
		t.Errorf("status --count without --watch: exit %d %s", code, errs)
	}

	// Bad input.
	lc.refuse(`"director" is the witness`, "cluster", "stop", "director")
	lc.refuse(`no node "bob"`, "cluster", "stop", "bob")
	lc.refuse("not both", "cluster", "stop", "--all", "benji")
	t.Setenv(EnvNode, "")
	if _, errs, code := lc.run("cluster", "stop"); code != ExitConfig || !strings.Contains(errs, "cannot tell which node this machine is") {
		t.Errorf("cluster stop without a node on an ambiguous machine: exit %d %s", code, errs)
	}

	// stop benji: the VIP moves to holly, web stops on benji.
	began := time.Now()
	out = lc.must("cluster", "stop", "benji")
	t.Logf("cluster stop benji: %s", time.Since(began).Round(time.Millisecond))
	if out != "benji: Stopping Cluster (tandem)...\n" {
		t.Errorf("cluster stop benji said %q", out)
	}
	// stop waited: it is done when it returns.
	if w := lc.Where("vip"); strings.Join(w, " ") != "holly" {
		t.Errorf("after cluster stop benji, vip runs on %v", w)
	}
	if w := lc.Where("web"); strings.Join(w, " ") != "holly" {
		t.Errorf("after cluster stop benji, web runs on %v", w)
	}
	r := lc.statusReport()
	if b := lc.member(r, "benji"); !b.Online || !b.Stopped || !r.Quorum || r.VotersUp != 3 {
		t.Errorf("status after stop: benji %+v, quorum %v, %d voters up", b, r.Quorum, r.VotersUp)
	}
	out = lc.must("status")
	for _, want := range []string{"Online: [ holly ]\nOFFLINE: [ benji ]\n", "  benji: tandem: inactive (cluster stopped), bus: active (2 peers, quorum), plugins: example@" + example.Version + " running\n",
		"  * vip\t(example:process):\t Started holly\n", "    * Started: [ holly ]\n    * Stopped: [ benji ]\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("status after stop lacks %q:\n%s", want, out)
		}
	}
	// A stopped node is given nothing new.
	lc.must(append(append([]string{"resource", "create", "extra", "example:process"}, lc.params()...), "clone")...)
	lc.expectOn("extra", "holly")
	// Stopping it again changes nothing and says the same.
	if out := lc.must("cluster", "stop", "benji"); out != "benji: Stopping Cluster (tandem)...\n" {
		t.Errorf("second stop said %q", out)
	}

	// A restart of benji's daemon keeps it stopped.
	lc.Stop("benji")
	lc.Start("benji")
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
		s, err := openSession(lc.Conf)
		if err != nil {
			return err
		}
		defer s.close()
		cur, err := s.current()
		if err != nil {
			return err
		}
		// The coordinator has planned with the new benji, stopped.
		_, err = s.waitControlled(cur.CIB.NodeNames(), []string{"benji"}, true, 0)
		return err
	})
	if b := lc.member(lc.statusReport(), "benji"); !b.Stopped {
		t.Errorf("benji after a restart of its daemon: %+v", b)
	}
	if w := lc.Where("web"); strings.Join(w, " ") != "holly" {
		t.Errorf("after benji's daemon restarted stopped, web runs on %v", w)
	}

	// start benji --wait: the clones come back, the VIP returns (it
	// prefers benji).
	began = time.Now()
	if out := lc.must("cluster", "start", "benji", "--wait"); out != "benji: Starting Cluster (tandem)...\n" {
		t.Errorf("cluster start said %q", out)
	}
	t.Logf("cluster start benji --wait: %s", time.Since(began).Round(time.Millisecond))
	lc.expectOn("web", "benji", "holly")
	lc.expectOn("extra", "benji", "holly")
	lc.expectOn("vip", "benji")
	if b := lc.member(lc.statusReport(), "benji"); b.Stopped {
		t.Errorf("benji after start: %+v", b)
	}

	// stop --all: nothing runs anywhere, the bus keeps quorum; start --all.
	began = time.Now()
	lc.must("cluster", "stop", "--all")
	t.Logf("cluster stop --all: %s", time.Since(began).Round(time.Millisecond))
	for _, rsc := range []string{"web", "vip", "extra"} {
		if w := lc.Where(rsc); len(w) != 0 {
			t.Errorf("after stop --all, %s runs on %v", rsc, w)
		}
	}
	out = lc.must("status")
	if strings.Contains(out, "Online: [") || !strings.Contains(out, "\nOFFLINE: [ benji holly ]\n") || !strings.Contains(out, "partition with quorum (3 of 3 voters online)") {
		t.Errorf("status after stop --all:\n%s", out)
	}
	lc.must("cluster", "start", "--all", "--wait=1m")
	lc.expectOn("web", "benji", "holly")
	lc.expectOn("vip", "benji")

	// A local start with the local daemon down starts the service.
	t.Setenv(EnvNode, "holly")
	lc.Stop("holly")
	started := false
	orig := startService
	defer func() { startService = orig }()
	startService = func(context.Context) error {
		started = true
		lc.Start("holly")
		return nil
	}
	out, errs, code := lc.run("cluster", "start")
	if code != 0 || !started || out != "holly: Starting Cluster (tandem)...\nholly: the tandem daemon is not running here: starting it with systemctl start tandem\n" {
		t.Errorf("cluster start with holly's daemon down: exit %d, started %v\n%s%s", code, started, out, errs)
	}
	// holly's daemon rejoins the bus, catches up and probes before the
	// coordinator starts anything there: allow for a busy machine.
	began = time.Now()
	poll.Until(t, 90*time.Second, 50*time.Millisecond, func() error {
		if got := lc.Where("web"); strings.Join(got, " ") != "benji holly" {
			return fmt.Errorf("web runs on %v, want [benji holly]", got)
		}
		return nil
	})
	t.Logf("holly's daemon started to web running there: %s", time.Since(began).Round(time.Millisecond))
	t.Logf("whole test: %s", time.Since(begin).Round(time.Millisecond))
}
