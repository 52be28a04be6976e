package cli

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
)

// The procedure of docs/topology.md, "Removing a node": of holly, benji
// and carol (the voters) and dave (a member that does not vote), dave
// leaves for good. It is put in standby and its resources move (the
// singleton that prefers it goes elsewhere, its clone instance stops), it
// is stopped, the file loses its [[node]] table, the others restart with
// the file one at a time and config apply drops it from the live
// configuration. config apply before the restarts refuses, naming each
// member that still runs with dave. The voters' meta group never changes.
func TestRemoveANodeThatDoesNotVote(t *testing.T) {
	lc := newLiveClusterShape(t, daemontest.Shape{Nodes: []string{"holly", "benji", "carol", "dave"}}, nil)
	lc.must("resource", "create", "worker", "example:process", "command=/bin/sleep", "args=3600",
		"state_dir="+lc.State+"/{node}", "clone")
	lc.must("resource", "create", "sleeper", "example:process", "command=/bin/sleep", "args=3600",
		"state_dir="+lc.State+"/{node}")
	lc.must("constraint", "location", "sleeper", "prefers", "dave=100")
	running := func(worker []string, sleeper func(string) bool) {
		t.Helper()
		poll.Until(t, 90*time.Second, 100*time.Millisecond, func() error {
			if w := lc.Where("worker"); !slices.Equal(w, worker) {
				return fmt.Errorf("worker on %v, want %v", w, worker)
			}
			if s := lc.Where("sleeper"); len(s) != 1 || !sleeper(s[0]) {
				return fmt.Errorf("sleeper on %v", s)
			}
			return nil
		})
	}
	running([]string{"benji", "carol", "dave", "holly"}, func(n string) bool { return n == "dave" })
	if r := lc.statusReport(); r.Voters != 3 || strings.Join(r.NonVoters, " ") != "dave" {
		t.Fatalf("status: %d voters, non-voters %v; want 3, [dave]", r.Voters, r.NonVoters)
	}

	// 1. dave in standby: its resources move; then it stops for good.
	begin := time.Now()
	lc.must("node", "standby", "dave")
	running([]string{"benji", "carol", "holly"}, func(n string) bool { return n != "dave" })
	t.Logf("standby dave: its resources moved after %s", time.Since(begin).Round(time.Millisecond))
	lc.Stop("dave")
	lc.Shape.Nodes = []string{"holly", "benji", "carol"}

	// 2. The file without dave's [[node]] table.
	lc.must("config", "pull", lc.Conf)
	data, err := os.ReadFile(lc.Conf)
	if err != nil {
		t.Fatal(err)
	}
	dave := regexp.MustCompile(`(?m)^\[\[node\]\]\nname = "dave"\n(?:[a-z_]+ = .*\n)*`)
	if !dave.Match(data) {
		t.Fatalf("no [[node]] table of dave in %s:\n%s", lc.Conf, data)
	}
	data = dave.ReplaceAll(data, nil)
	if err := os.WriteFile(lc.Conf, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// The location preference still names dave: the file is refused
	// (a member would not start with it), naming the constraint, so the
	// constraints that name dave go too.
	if _, errs, code := lc.run("config", "apply", lc.Conf); code != ExitConfig || !regexp.MustCompile(`cluster\.toml:\d+: location sleeper on dave: no node "dave" \(nodes: holly, benji, carol\)`).MatchString(errs) {
		t.Errorf("config apply with a location on dave left: exit %d, %s", code, errs)
	}
	location := regexp.MustCompile(`(?m)^\[\[location\]\]\n(?:[a-z_]+ = .*\n)*?node = "dave"\n(?:[a-z_]+ = .*\n)*`)
	if !location.Match(data) {
		t.Fatalf("no location of sleeper on dave in %s:\n%s", lc.Conf, data)
	}
	data = location.ReplaceAll(data, nil)
	if err := os.WriteFile(lc.Conf, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// Before the restarts, config apply refuses, naming each member that
	// still runs with dave in its file.
	lc.refuse(`node "dave": removed (running on `, "config", "apply", lc.Conf)
	_, errs, _ := lc.run("config", "apply", lc.Conf)
	for _, n := range []string{"holly", "benji", "carol"} {
		if !regexp.MustCompile(`node "dave": removed \(running on [a-z, ]*\b` + n + `\b`).MatchString(errs) {
			t.Errorf("config apply before the restarts does not name %s:\n%s", n, errs)
		}
	}
	t.Logf("config apply before the restarts:\n%s", errs)

	// 3. The others restart with the file, one at a time; then config
	// apply drops dave from the live configuration.
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
	poll.Until(t, 60*time.Second, 200*time.Millisecond, func() error {
		_, errs, code := lc.run("config", "apply", lc.Conf)
		if code != 0 {
			return fmt.Errorf("config apply: exit %d: %s", code, errs)
		}
		return nil
	})
	t.Logf("dave removed: %s from standby to config apply", time.Since(begin).Round(time.Millisecond))
	if nodes := lc.live().CIB.NodeNames(); !slices.Equal(nodes, []string{"holly", "benji", "carol"}) {
		t.Errorf("the live configuration's nodes: %v, want holly, benji, carol", nodes)
	}
	running([]string{"benji", "carol", "holly"}, func(n string) bool { return n != "dave" })
	r := lc.statusReport()
	var names []string
	for _, m := range r.Nodes {
		names = append(names, m.Name)
	}
	if !slices.Equal(names, []string{"holly", "benji", "carol"}) || r.Voters != 3 || r.VotersUp != 3 || len(r.NonVoters) != 0 || !r.Quorum {
		t.Errorf("status: nodes %v, %d voters (%d up), non-voters %v, quorum %v; want holly, benji, carol, 3 voters up, none other",
			names, r.Voters, r.VotersUp, r.NonVoters, r.Quorum)
	}
	if r.Live == nil || r.Live.DiffersFromFile {
		t.Errorf("status: the live configuration %+v, want it equal to the file", r.Live)
	}
	if text := lc.must("status"); strings.Contains(text, "dave") {
		t.Errorf("status still shows dave:\n%s", text)
	}
	// The voters' meta group did not change.
	for _, n := range []string{"holly", "benji", "carol"} {
		mp, err := lc.Server(n).Meta()
		if err != nil {
			t.Fatal(err)
		}
		if mp.Size != 3 || !slices.Equal(mp.Names, []string{"benji", "carol", "holly"}) {
			t.Errorf("%s sees the meta group as %d peers %v, want benji, carol, holly", n, mp.Size, mp.Names)
		}
	}
}
