package cluster_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/e2e/lab"
	"github.com/tandem-ha/tandem/e2e/labtest"
	"github.com/tandem-ha/tandem/e2e/scenario"
)

// docs/topology.md's "Removing a node" and "To remove voters without
// replacing them", one after the other on one lab (tdrm on
// 198.18.0.224/27, shared with tdseed: one lab at a time), with real
// `tandem` and `systemctl` commands in the nodes, the reference resources
// (the VIP, httpd and HAProxy on every node), a client loop against the VIP
// and the safety checker throughout. Six nodes: holly, benji, carol, dave
// and erin vote (voter_count = 5), frank does not.
//
// RemoveANodeThatDoesNotVote: the VIP is made to prefer frank (tandem
// constraint location), so it runs there; `tandem node standby frank` moves
// it and stops frank's clone instances; frank is stopped for good
// (systemctl disable --now tandem); config pull, frank's [[node]] table out
// (config apply refuses while the location naming frank is left), the
// location out; config apply refuses, naming the five members that still
// run with frank; the file is copied to every member, the five restart one
// at a time, config apply drops frank; status no longer shows it.
//
// FiveVotersDownToThree: every bucket keeps 5 replicas, one on each
// voter; two voters without the VIP are killed for good, and the VIP
// answers again before any removal (every bucket kept its quorum);
// `tandem cluster remove-voter` takes each out in turn (the first may say
// the rest waits for the other offline voter); a second removal of the
// first is refused (not a voter); config pull, the three voters left named
// in the file and the dead ones' tables out, copied, the three restarted
// one at a time, config apply; status shows the three voters, all online,
// and every bucket's replicas are on them, current. Then the VIP's holder
// is hard-killed: the two voters left keep quorum and the VIP moves; its
// removal is refused (it would leave 2 voters).
func TestRemoveNodesInLab(t *testing.T) {
	begin := time.Now()
	ref, err := os.ReadFile(filepath.Join("..", "cluster.toml"))
	if err != nil {
		t.Fatal(err)
	}
	conf, err := lab.TopologyConfig(ref, "five")
	if err != nil {
		t.Fatal(err)
	}
	// frank after erin, and the first five nodes voting.
	erin := regexp.MustCompile(`(?m)^\[\[node\]\]\nname = "erin"\n(?:[a-z_]+ = .*\n)*`).FindIndex(conf)
	if erin == nil {
		t.Fatalf("no [[node]] table of erin in the five-node topology:\n%s", conf)
	}
	conf = slices.Concat(conf[:erin[1]], []byte("\n[[node]]\nname = \"frank\"\naddress = \"198.18.0.29\"\n"), conf[erin[1]:])
	if !regexp.MustCompile(`(?m)^\[bus\]\n`).Match(conf) {
		t.Fatalf("no [bus] table in the five-node topology:\n%s", conf)
	}
	conf = regexp.MustCompile(`(?m)^\[bus\]\n`).ReplaceAll(conf, []byte("[bus]\nvoter_count = 5\n"))
	path := filepath.Join(t.TempDir(), "cluster.toml")
	if err := os.WriteFile(path, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	prefix, subnet := devLab("tdrm", "198.18.0.224/27")
	l := labtest.Start(t, lab.Options{Prefix: prefix, Subnet: subnet, Relocate: true, StartTandem: true, Config: path})
	c, err := scenario.New(l)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, l: l, c: c}
	all := []string{"holly", "benji", "carol", "dave", "erin", "frank"}
	if !slices.Equal(c.Nodes, all) {
		t.Fatalf("nodes %v, want %v", c.Nodes, all)
	}
	if _, err := c.WaitConverged(e.ctx(3*time.Minute), "holly", all); err != nil {
		t.Fatal(err)
	}
	converged := time.Now()
	t.Logf("six nodes converged %s after the test began", converged.Sub(begin).Round(100*time.Millisecond))
	r, err := c.Status(e.ctx(10*time.Second), "holly")
	e.must(err)
	if r.Voters != 5 || strings.Join(r.NonVoters, " ") != "frank" {
		t.Fatalf("status: %d voters, non-voters %v; want 5 and frank", r.Voters, r.NonVoters)
	}

	const file = "/etc/tandem/cluster.toml"
	rm := &removal{env: e, file: file}
	safety := c.WatchSafety()
	defer e.checkSafety(safety)
	// A client for both procedures: requests bounded by 3 s (a slow answer
	// on a busy machine is not a failure), the loop by 12 minutes.
	rm.client = c.StartClientTimeout(12*time.Minute, 3*time.Second)
	defer rm.client.Stop()
	e.waitRequests(rm.client, 10)

	five := []string{"holly", "benji", "carol", "dave", "erin"}
	ok := t.Run("RemoveANodeThatDoesNotVote", func(t *testing.T) {
		e.t = t
		rm.removeANode("frank", five)
	})
	e.t = t
	if !ok {
		t.Fatal("frank's removal failed: the voters' removal needs its end state")
	}
	t.Run("FiveVotersDownToThree", func(t *testing.T) {
		e.t = t
		rm.fiveVotersDownToThree(five)
	})
	e.t = t

	rs := rm.client.Stop()
	t.Logf("the client, over both procedures: %d of %d requests failed, longest without an answer %s: %s",
		scenario.Failed(rs), len(rs), longestOutage(rs).Round(time.Millisecond), scenario.Errors(rs))
	for i, s := range rm.steps {
		end := time.Now()
		if i+1 < len(rm.steps) {
			end = rm.steps[i+1].at
		}
		var in []scenario.Request
		for _, r := range rs {
			if !r.Start.Before(s.at) && r.Start.Before(end) {
				in = append(in, r)
			}
		}
		t.Logf("  %s (%s): %d of %d requests failed, longest without an answer %s",
			s.what, end.Sub(s.at).Round(100*time.Millisecond), scenario.Failed(in), len(in), longestOutage(in).Round(time.Millisecond))
	}
	if !t.Failed() {
		rm.lastVoterKilled()
	}
	t.Logf("test duration %s (from converged: %s)", time.Since(begin).Round(time.Second), time.Since(converged).Round(time.Second))
}

// removal is the state TestRemoveNodesInLab's steps share: the client loop
// and the steps it marked, for the client's figures per step.
type removal struct {
	*env
	file   string
	client *scenario.Client
	steps  []struct {
		what string
		at   time.Time
	}
}

func (rm *removal) mark(what string) time.Time {
	now := time.Now()
	rm.steps = append(rm.steps, struct {
		what string
		at   time.Time
	}{what, now})
	return now
}

// served waits until the VIP has answered 20 requests in a row since.
func (rm *removal) served(what string, since time.Time) {
	rm.t.Helper()
	rm.poll(90*time.Second, "the VIP answers after "+what, func() error {
		if run := scenario.AnsweredInARow(rm.client.Requests(), since); run < 20 {
			return fmt.Errorf("%d answered requests in a row since then", run)
		}
		return nil
	})
}

// restart restarts a member (systemctl restart tandem), and waits until
// status shows it back online with quorum and the resources on members.
func (rm *removal) restart(n string, members []string) {
	rm.t.Helper()
	at := rm.mark(n + " restarted")
	rm.exec(n, "systemctl", "restart", "tandem")
	rm.poll(90*time.Second, n+" back online with quorum, the resources on "+strings.Join(members, " "), func() error {
		r, err := rm.c.Status(rm.ctx(10*time.Second), n)
		if err != nil {
			return err
		}
		if m := member(r, n); m == nil || !m.Online {
			return fmt.Errorf("%s not online in status", n)
		}
		return rm.c.Converged(r, members)
	})
	rm.served(n+" restarted", at)
	rm.t.Logf("%s restarted: back with its resources after %s", n, time.Since(at).Round(100*time.Millisecond))
}

// copyFile puts the file on every member.
func (rm *removal) copyFile(data []byte, members []string) {
	rm.t.Helper()
	for _, n := range members {
		rm.must(os.WriteFile(filepath.Join(rm.l.RootDir(n), rm.file), data, 0o644))
	}
}

// applied runs config apply on from until it succeeds, then waits until
// status shows members (in the file's order) as the nodes, voters of
// them all online, the live configuration equal to the file and the
// resources on members.
func (rm *removal) applied(from string, members []string, voters int) {
	rm.t.Helper()
	rm.poll(60*time.Second, "config apply "+rm.file, func() error {
		_, err := rm.c.Tandem(rm.ctx(30*time.Second), from, "config", "apply", rm.file)
		return err
	})
	rm.poll(60*time.Second, "status shows the nodes "+strings.Join(members, " "), func() error {
		r, err := rm.c.Status(rm.ctx(10*time.Second), from)
		if err != nil {
			return err
		}
		var names []string
		for _, m := range r.Nodes {
			names = append(names, m.Name)
		}
		if !slices.Equal(names, members) || r.Voters != voters || r.VotersUp != voters || len(r.NonVoters) != 0 {
			return fmt.Errorf("status: nodes %v, %d voters (%d up), non-voters %v; want the nodes %v, %d voters all up, none other",
				names, r.Voters, r.VotersUp, r.NonVoters, members, voters)
		}
		if r.Live == nil {
			return fmt.Errorf("status shows no live configuration")
		}
		if r.Live.DiffersFromFile {
			return fmt.Errorf("the live configuration (revision %d) differs from %s", r.Live.Revision, rm.file)
		}
		return rm.c.Converged(r, members)
	})
}

// removeANode follows "Removing a node" for gone, a member that does not
// vote; members are the others.
func (rm *removal) removeANode(gone string, members []string) {
	t, c, l := rm.t, rm.c, rm.l
	vip := c.VIPResource
	// A constraint that names gone, as an operator's would: the VIP
	// prefers it, and runs there.
	at := rm.mark("the VIP moved to " + gone + " (location prefers)")
	rm.tandem("holly", "constraint", "location", vip, "prefers", gone)
	rm.poll(90*time.Second, "the VIP on "+gone, func() error {
		on, err := c.Holders()
		if err != nil {
			return err
		}
		if strings.Join(on, " ") != gone {
			return fmt.Errorf("the VIP on %v", on)
		}
		return nil
	})
	rm.served("the VIP moved to "+gone, at)

	// 1. Standby: its resources move; then it stops for good.
	began := rm.mark("node standby " + gone)
	rm.tandem("holly", "node", "standby", gone)
	rm.poll(90*time.Second, "the resources moved off "+gone, func() error {
		r, err := c.Status(rm.ctx(10*time.Second), "holly")
		if err != nil {
			return err
		}
		return c.Converged(r, members)
	})
	moved := time.Since(began)
	rm.served("node standby "+gone, began)
	holder := rm.holder()
	t.Logf("node standby %s: the VIP on %s and %s's clone instances stopped after %s", gone, holder, gone, moved.Round(100*time.Millisecond))
	rm.exec(gone, "systemctl", "disable", "--now", "tandem")

	// 2. config pull; its [[node]] table out, and the location naming it.
	procedure := rm.mark("config pull, " + gone + "'s table and location out")
	rm.tandem("holly", "config", "pull", rm.file)
	onHolly := filepath.Join(l.RootDir("holly"), rm.file)
	data, err := os.ReadFile(onHolly)
	rm.must(err)
	if data, err = dropNode(data, gone); err != nil {
		t.Fatalf("%s of holly after config pull: %v\n%s", rm.file, err, data)
	}
	rm.must(os.WriteFile(onHolly, data, 0o644))
	// With the location left, the file is refused, naming it.
	out, err := c.Tandem(rm.ctx(30*time.Second), "holly", "config", "apply", rm.file)
	refused := regexp.MustCompile(`cluster\.toml:\d+: location \S+ on ` + gone + `: no node "` + gone + `" \(nodes: ` + strings.Join(members, ", ") + `\)`)
	if err == nil || !strings.Contains(err.Error(), "exit status 2") || !refused.MatchString(out) {
		t.Errorf("config apply with the location on %s left: %v\n%s\nwant it refused (exit 2), matching %s", gone, err, out, refused)
	}
	location := regexp.MustCompile(`(?m)^\[\[location\]\]\n(?:[a-z_-]+ = .*\n)*?node = "` + gone + `"\n(?:[a-z_-]+ = .*\n)*\n?`)
	if n := len(location.FindAll(data, -1)); n != 1 {
		t.Fatalf("%d [[location]] tables naming %s in %s after config pull, want one:\n%s", n, gone, rm.file, data)
	}
	data = location.ReplaceAll(data, nil)
	if strings.Contains(string(data), `"`+gone+`"`) {
		t.Fatalf("%s still names %s:\n%s", rm.file, gone, data)
	}
	rm.must(os.WriteFile(onHolly, data, 0o644))
	// Before the restarts, config apply refuses, naming each member that
	// still runs with gone.
	out, err = c.Tandem(rm.ctx(30*time.Second), "holly", "config", "apply", rm.file)
	sorted := slices.Sorted(slices.Values(members))
	want := `node "` + gone + `": removed (running on ` + strings.Join(sorted, ", ") + `)`
	if err == nil || !strings.Contains(err.Error(), "exit status 2") || !strings.Contains(out, want) {
		t.Errorf("config apply before the restarts: %v\n%s\nwant it refused (exit 2) with %q", err, out, want)
	}
	t.Logf("config apply before the restarts:\n%s", out)

	// 3. The file on every member, each restarted in turn.
	rm.copyFile(data, members)
	for _, n := range members {
		rm.restart(n, members)
	}
	// 4. config apply drops it.
	rm.mark("config apply without " + gone)
	rm.applied("holly", members, 5)
	if text := rm.tandem("holly", "status"); strings.Contains(text, gone) {
		t.Errorf("status still shows %s:\n%s", gone, text)
	}
	t.Logf("%s removed in %s (node standby to config apply; config pull to config apply: %s)",
		gone, time.Since(began).Round(100*time.Millisecond), time.Since(procedure).Round(100*time.Millisecond))
}

// fiveVotersDownToThree follows "To remove voters without replacing them":
// two of the five voters, neither holding the VIP, die for good.
func (rm *removal) fiveVotersDownToThree(voters []string) {
	t, c, l := rm.t, rm.c, rm.l
	holder := rm.holder()
	var dead, left []string
	for _, n := range []string{"erin", "dave", "carol"} {
		if n != holder && len(dead) < 2 {
			dead = append(dead, n)
		}
	}
	for _, n := range voters {
		if !slices.Contains(dead, n) {
			left = append(left, n)
		}
	}
	sorted := slices.Sorted(slices.Values(left))
	from := left[0]

	// Five voters keep every bucket on five replicas (created with 3,
	// grown once the five are online), so that two of them dying leaves
	// every bucket its quorum.
	conn, err := l.Connect("remove-test")
	rm.must(err)
	defer conn.Close()
	all5 := slices.Sorted(slices.Values(voters))
	rm.poll(60*time.Second, "every bucket's replicas on the five voters, current", func() error {
		return bucketsOn(rm.ctx(5*time.Second), conn, all5)
	})

	// 1. They stay down: their machines are gone.
	killed := rm.mark("killed " + strings.Join(dead, " and "))
	for _, n := range dead {
		rm.must(l.Kill(n))
	}
	t.Logf("%s (voters without the VIP, which is on %s) killed", strings.Join(dead, " and "), holder)
	// Every bucket keeps its quorum: the VIP answers before any removal.
	rm.served("two of five voters killed, none removed yet", killed)
	t.Logf("the VIP answers again %s after the kills, before any removal", time.Since(killed).Round(100*time.Millisecond))

	// 2. remove-voter, one at a time, before config pull. A route to a
	// node killed hard stays up until NATS's pings find it stale: until
	// then the answering voter sees it online, and remove-voter refuses.
	removeVoter := func(n string) string {
		t.Helper()
		at := rm.mark("remove-voter " + n)
		var out string
		rm.poll(90*time.Second, "remove-voter "+n+" once no voter has a route to it", func() error {
			o, err := c.Tandem(rm.ctx(3*time.Minute), from, "cluster", "remove-voter", n)
			if err != nil && strings.Contains(err.Error()+o, "is still online") {
				return err
			}
			if err != nil {
				t.Fatalf("remove-voter %s: %v\n%s", n, err, o)
			}
			out = o
			return nil
		})
		t.Logf("remove-voter %s (%s):\n%s", n, time.Since(at).Round(100*time.Millisecond), out)
		return out
	}
	first := removeVoter(dead[0])
	if waits := "the rest waits for the voters that are offline (" + dead[1] + ")"; strings.Contains(first, "the rest waits") && !strings.Contains(first, waits) {
		t.Errorf("the first remove-voter says the rest waits, but not %q:\n%s", waits, first)
	}
	second := removeVoter(dead[1])
	replicas := regexp.MustCompile(`(?m)^([a-z_-]+): replicas on (.*), current$`)
	got := map[string]string{}
	for _, m := range replicas.FindAllStringSubmatch(second, -1) {
		got[m[1]] = m[2]
	}
	for _, cfg := range bus.BucketConfigs(3) {
		peers := strings.Split(got[cfg.Bucket], ", ")
		sort.Strings(peers)
		if !slices.Equal(peers, sorted) {
			t.Errorf("the second remove-voter: the replicas of %s are on %q, want %s", cfg.Bucket, got[cfg.Bucket], strings.Join(sorted, ", "))
		}
	}
	// The first is no peer of the meta group any more.
	again, err := c.Tandem(rm.ctx(60*time.Second), from, "cluster", "remove-voter", dead[0])
	if want := dead[0] + " is not a voter: the voters are " + strings.Join(sorted, ", "); err == nil || !strings.Contains(again, want) || !strings.Contains(err.Error(), "exit status 2") {
		t.Errorf("remove-voter %s again: %v\n%s\nwant it refused (exit 2) with %q", dead[0], err, again, want)
	}
	rm.poll(90*time.Second, "the three voters left converged", func() error {
		r, err := c.Status(rm.ctx(10*time.Second), from)
		if err != nil {
			return err
		}
		return c.Converged(r, left)
	})
	rm.served("the voters removed", killed)
	// What the client saw from the kills to the removals: a figure, not
	// a check.
	var since []scenario.Request
	for _, r := range rm.client.Requests() {
		if !r.Start.Before(killed) {
			since = append(since, r)
		}
	}
	t.Logf("%s killed: the three left converged, serving, %s later; meanwhile %d of %d requests failed, longest without an answer %s",
		strings.Join(dead, " and "), time.Since(killed).Round(100*time.Millisecond), scenario.Failed(since), len(since), longestOutage(since).Round(time.Millisecond))

	// 3. config pull; the voters left named, the dead ones' tables out;
	// copied to every member.
	procedure := rm.mark("config pull, the file copied")
	rm.tandem(from, "config", "pull", rm.file)
	data, err := os.ReadFile(filepath.Join(l.RootDir(from), rm.file))
	rm.must(err)
	count := regexp.MustCompile(`(?m)^voter_count = 5\n`)
	if !count.Match(data) {
		t.Errorf("%s after config pull has no voter_count = 5:\n%s", rm.file, data)
	}
	data = count.ReplaceAll(data, nil)
	for _, n := range dead {
		if data, err = dropNode(data, n); err != nil {
			t.Fatalf("%s of %s after config pull: %v\n%s", rm.file, from, err, data)
		}
	}
	if data, err = setVoters(data, left...); err != nil {
		t.Fatalf("%s of %s after config pull: %v", rm.file, from, err)
	}
	rm.copyFile(data, left)
	// 4. Restarts, one at a time; config apply.
	for _, n := range left {
		rm.restart(n, left)
	}
	rm.mark("config apply")
	rm.applied(from, left, 3)
	rm.poll(30*time.Second, "every bucket's replicas on "+strings.Join(sorted, ", ")+", current", func() error {
		return bucketsOn(rm.ctx(5*time.Second), conn, sorted)
	})
	t.Logf("%s removed: %s from the kill to config apply done (config pull to config apply: %s)",
		strings.Join(dead, " and "), time.Since(killed).Round(100*time.Millisecond), time.Since(procedure).Round(100*time.Millisecond))
}

// lastVoterKilled hard-kills the VIP's holder among the three voters left:
// the two others keep quorum and the VIP moves; its removal is refused, as
// it would leave 2 voters.
func (rm *removal) lastVoterKilled() {
	t, c, l := rm.t, rm.c, rm.l
	holder := rm.holder()
	r, err := c.Status(rm.ctx(10*time.Second), holder)
	rm.must(err)
	var survivors []string
	for _, m := range r.Nodes {
		if m.Name != holder {
			survivors = append(survivors, m.Name)
		}
	}
	if len(survivors) != 2 {
		t.Fatalf("nodes %v besides %s, want two", survivors, holder)
	}
	kill := c.StartClient(90 * time.Second)
	defer kill.Stop()
	rm.waitRequests(kill, 10)
	at := time.Now()
	rm.must(l.Kill(holder))
	to, err := c.WaitHolder(rm.ctx(30*time.Second), holder)
	rm.must(err)
	rm.poll(30*time.Second, "the VIP serves from "+to, func() error {
		if run := scenario.AnsweredInARow(kill.Requests(), at); run < 40 {
			return fmt.Errorf("%d answered requests in a row since the fault", run)
		}
		return nil
	})
	rs := kill.Stop()
	first, all := scenario.Recovery(rs, at)
	if first.IsZero() || all.IsZero() {
		t.Fatalf("no recovery in the client's requests: %s", scenario.Errors(rs))
	}
	t.Logf("%s (holding the VIP) killed: the VIP on %s, first answer after %s, every request answered after %s (%d of %d failed)",
		holder, to, first.Sub(at).Round(time.Millisecond), all.Sub(at).Round(time.Millisecond), scenario.Failed(rs), len(rs))
	rm.poll(90*time.Second, "the two voters left converged, with quorum", func() error {
		r, err := c.Status(rm.ctx(10*time.Second), to)
		if err != nil {
			return err
		}
		if r.VotersUp != 2 {
			return fmt.Errorf("%d voters up, want 2", r.VotersUp)
		}
		return c.Converged(r, survivors)
	})
	// A third removal would leave 2 voters: refused (once no voter has a
	// route to the dead one, which until then is still online).
	var out string
	rm.poll(60*time.Second, "remove-voter "+holder+" refused for leaving 2 voters", func() error {
		o, err := c.Tandem(rm.ctx(60*time.Second), to, "cluster", "remove-voter", holder)
		if err != nil && strings.Contains(err.Error()+o, "is still online") {
			return err
		}
		out = o
		if want := "removing " + holder + " would leave 2 voters"; err == nil || !strings.Contains(err.Error(), "exit status 2") || !strings.Contains(o, want) {
			t.Fatalf("remove-voter %s with 3 voters: %v\n%s\nwant it refused (exit 2) with %q", holder, err, o, want)
		}
		return nil
	})
	t.Logf("remove-voter %s refused:\n%s", holder, out)
}
