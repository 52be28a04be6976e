package cluster_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
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
	"github.com/tandem-ha/tandem/host/status"
)

// docs/topology.md's "Adding a node" and "Replacing a dead voter by a node
// of another name", with real `tandem` and `systemctl` commands in the nodes
// of a lab (tdvote on 198.18.0.160/27, shared with tde2e: one lab at a
// time), running the reference resources. holly, benji and carol vote;
// dave is added as a member that does not vote (config pull, its [[node]]
// table, its certificate from `tandem pki issue` on the host that keeps the
// CA, the others restarted one at a time, dave started, config apply).
// Then carol (or benji, if carol holds the VIP) is killed for good; the
// file is pulled and edited on a member (the dead voter's [[node]] table
// out, `voters` naming the two left and dave) and copied to every member;
// dave restarts first, as a voter; `tandem cluster remove-voter` takes the
// dead one out of the JetStream meta group (a second one is refused: it is
// no voter any more) and every bucket's replicas end up on the three
// voters, current; the others restart one at a time, and `tandem config
// apply` drops the dead node. A client loop runs against the VIP and the
// safety checker throughout. Then the VIP's holder is hard-killed: the two
// voters left keep quorum, and the VIP moves.
func TestReplaceADeadVoterInLab(t *testing.T) {
	begin := time.Now()
	ref, err := os.ReadFile(filepath.Join("..", "cluster.toml"))
	if err != nil {
		t.Fatal(err)
	}
	conf, err := lab.TopologyConfig(ref, "five")
	if err != nil {
		t.Fatal(err)
	}
	// Four nodes: erin's table out, the voters named.
	conf, err = dropNode(conf, "erin")
	if err != nil {
		t.Fatal(err)
	}
	conf, err = setVoters(conf, "holly", "benji", "carol")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cluster.toml")
	if err := os.WriteFile(path, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	prefix, subnet := devLab("tdvote", "198.18.0.160/27")
	// The lab makes dave's machine and certificate, but dave's Tandem is
	// not started, and the others' file does not list it yet.
	l := labtest.Start(t, lab.Options{Prefix: prefix, Subnet: subnet, Relocate: true, Config: path})
	c, err := scenario.New(l)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, l: l, c: c}
	if strings.Join(c.Nodes, " ") != "holly benji carol dave" {
		t.Fatalf("nodes %v, want holly benji carol dave", c.Nodes)
	}
	const file = "/etc/tandem/cluster.toml"
	installed, err := os.ReadFile(filepath.Join(l.RootDir("holly"), file))
	e.must(err)
	daveTable := regexp.MustCompile(`(?m)^\[\[node\]\]\nname = "dave"\n(?:[a-z_]+ = .*\n)*`).Find(installed)
	if daveTable == nil {
		t.Fatalf("no [[node]] table of dave in %s:\n%s", file, installed)
	}
	three, err := dropNode(installed, "dave")
	e.must(err)
	for _, n := range []string{"holly", "benji", "carol"} {
		e.must(os.WriteFile(filepath.Join(l.RootDir(n), file), three, 0o644))
		e.must(l.StartTandem(e.ctx(60*time.Second), n))
	}
	if _, err := c.WaitConverged(e.ctx(90*time.Second), "holly", []string{"holly", "benji", "carol"}); err != nil {
		t.Fatal(err)
	}
	converged := time.Now()
	t.Logf("three nodes converged %s after the test began", converged.Sub(begin).Round(100*time.Millisecond))

	safety := c.WatchSafety()
	defer e.checkSafety(safety)

	// A client for the whole procedure: requests bounded by 3 s (a slow
	// answer on a busy machine is not a failure), the loop by 6 minutes.
	client := c.StartClientTimeout(6*time.Minute, 3*time.Second)
	defer client.Stop()
	e.waitRequests(client, 10)
	// The steps, for the client's figures per step.
	type step struct {
		what string
		at   time.Time
	}
	var steps []step
	mark := func(what string) time.Time {
		now := time.Now()
		steps = append(steps, step{what, now})
		return now
	}
	served := func(what string, since time.Time) {
		t.Helper()
		e.poll(60*time.Second, "the VIP answers after "+what, func() error {
			if run := scenario.AnsweredInARow(client.Requests(), since); run < 20 {
				return fmt.Errorf("%d answered requests in a row since then", run)
			}
			return nil
		})
	}
	// restart restarts a member, and waits until status shows it back
	// online with quorum and the resources on members.
	restart := func(n string, members []string) {
		t.Helper()
		at := mark(n + " restarted")
		e.exec(n, "systemctl", "restart", "tandem")
		e.poll(90*time.Second, n+" back online with quorum, the resources on "+strings.Join(members, " "), func() error {
			r, err := c.Status(e.ctx(10*time.Second), n)
			if err != nil {
				return err
			}
			if m := member(r, n); m == nil || !m.Online {
				return fmt.Errorf("%s not online in status", n)
			}
			return c.Converged(r, members)
		})
		served(n+" restarted", at)
		t.Logf("%s restarted: back with its resources after %s", n, time.Since(at).Round(100*time.Millisecond))
	}

	// Adding a node (docs/topology.md): dave joins as a member that does
	// not vote.
	adding := mark("config pull, dave's table and certificate")
	e.tandem("holly", "config", "pull", file)
	data, err := os.ReadFile(filepath.Join(l.RootDir("holly"), file))
	e.must(err)
	carolTable := regexp.MustCompile(`(?m)^\[\[node\]\]\nname = "carol"\n(?:[a-z_]+ = .*\n)*`).FindIndex(data)
	if carolTable == nil {
		t.Fatalf("no [[node]] table of carol in %s after config pull:\n%s", file, data)
	}
	data = slices.Concat(data[:carolTable[1]], []byte("\n"), daveTable, data[carolTable[1]:])
	// The CA is kept on the host (the lab's PKI directory).
	newFile := filepath.Join(t.TempDir(), "cluster.toml")
	e.must(os.WriteFile(newFile, data, 0o644))
	bin := os.Getenv(lab.EnvBin)
	if bin == "" {
		bin = filepath.Join("..", "..", "bin")
	}
	if out, err := exec.Command(filepath.Join(bin, "tandem"), "pki", "issue", "--role", "member", "dave",
		"--config", newFile, "--dir", l.PKIDir()).CombinedOutput(); err != nil {
		t.Fatalf("tandem pki issue --role member dave: %v\n%s", err, out)
	}
	for _, f := range []string{"ca.crt", "dave.crt", "dave.key"} {
		b, err := os.ReadFile(filepath.Join(l.PKIDir(), f))
		e.must(err)
		e.must(os.WriteFile(filepath.Join(l.RootDir("dave"), "etc/tandem/pki", f), b, 0o600))
	}
	for _, n := range c.Nodes {
		e.must(os.WriteFile(filepath.Join(l.RootDir(n), file), data, 0o644))
	}
	for _, n := range []string{"holly", "benji", "carol"} {
		restart(n, []string{"holly", "benji", "carol"})
	}
	mark("dave started, config apply")
	e.must(l.StartTandem(e.ctx(60*time.Second), "dave"))
	e.poll(60*time.Second, "config apply "+file+" with dave", func() error {
		_, err := c.Tandem(e.ctx(30*time.Second), "holly", "config", "apply", file)
		return err
	})
	e.poll(90*time.Second, "dave a member that does not vote, its clone instances started", func() error {
		r, err := c.Status(e.ctx(10*time.Second), "dave")
		if err != nil {
			return err
		}
		if r.Voters != 3 || strings.Join(r.NonVoters, " ") != "dave" {
			return fmt.Errorf("status: %d voters, non-voters %v; want 3 and dave", r.Voters, r.NonVoters)
		}
		return c.Converged(r, c.Nodes)
	})
	t.Logf("dave added in %s (config pull to its resources started)", time.Since(adding).Round(100*time.Millisecond))

	// The dead voter: carol, unless it holds the VIP.
	holder := e.holder()
	dead := "carol"
	if holder == dead {
		dead = "benji"
	}
	var left []string // the voters left, then the voters
	for _, n := range []string{"holly", "benji", "carol"} {
		if n != dead {
			left = append(left, n)
		}
	}
	voters := append(append([]string(nil), left...), "dave")
	members := voters // every member left, in the file's order below
	sorted := append([]string(nil), voters...)
	sort.Strings(sorted)

	// 1. The dead voter stays down: its machine is gone.
	at := mark(dead + " killed")
	e.must(l.Kill(dead))
	e.poll(90*time.Second, "the three nodes left converged without "+dead, func() error {
		r, err := c.Status(e.ctx(10*time.Second), left[0])
		if err != nil {
			return err
		}
		return c.Converged(r, members)
	})
	served(dead+" killed", at)
	t.Logf("%s (a voter without the VIP, which is on %s) killed: the others converged after %s",
		dead, holder, time.Since(at).Round(100*time.Millisecond))

	// 2. config pull on a member; in the file, the new voters and no
	// [[node]] table of the dead one; copied to every member.
	procedure := mark("config pull, the file copied")
	e.tandem(left[0], "config", "pull", file)
	data, err = os.ReadFile(filepath.Join(l.RootDir(left[0]), file))
	e.must(err)
	if data, err = dropNode(data, dead); err != nil {
		t.Fatalf("%s of %s after config pull: %v", file, left[0], err)
	}
	if data, err = setVoters(data, voters...); err != nil {
		t.Fatalf("%s of %s after config pull: %v", file, left[0], err)
	}
	for _, n := range members {
		e.must(os.WriteFile(filepath.Join(l.RootDir(n), file), data, 0o644))
	}

	// 3. dave restarts first, as a voter; 4. remove-voter; 5. the others
	// restart one at a time, each after the one before is back.
	restart("dave", members)

	at = mark("remove-voter " + dead)
	// A route to a node killed hard stays up until NATS's pings find it
	// stale (a few seconds): until then the answering voter still sees
	// the dead voter online, and remove-voter refuses, as it must.
	var out string
	e.poll(60*time.Second, "remove-voter "+dead+" once no voter has a route to it", func() error {
		o, err := c.Tandem(e.ctx(60*time.Second), left[0], "cluster", "remove-voter", dead)
		if err != nil && strings.Contains(err.Error()+o, "is still online") {
			return err
		}
		e.must(err)
		out = o
		return nil
	})
	t.Logf("remove-voter %s (%s):\n%s", dead, time.Since(at).Round(100*time.Millisecond), out)
	replicas := regexp.MustCompile(`(?m)^([a-z_-]+): replicas on (.*), current$`)
	got := map[string]string{}
	for _, m := range replicas.FindAllStringSubmatch(out, -1) {
		got[m[1]] = m[2]
	}
	for _, cfg := range bus.BucketConfigs(3) {
		peers := strings.Split(got[cfg.Bucket], ", ")
		sort.Strings(peers)
		if !slices.Equal(peers, sorted) {
			t.Errorf("remove-voter: the replicas of %s are on %q, want %s", cfg.Bucket, got[cfg.Bucket], strings.Join(sorted, ", "))
		}
	}
	// The dead voter is no peer of the meta group any more: a second
	// removal is refused, naming the group's peers.
	again, err := c.Tandem(e.ctx(60*time.Second), left[0], "cluster", "remove-voter", dead)
	if want := dead + " is not a voter: the voters are " + strings.Join(sorted, ", "); err == nil || !strings.Contains(again, want) || !strings.Contains(err.Error(), "exit status 2") {
		t.Errorf("a second remove-voter %s: %v\n%s\nwant it refused (exit 2) with %q", dead, err, again, want)
	}

	for _, n := range left {
		restart(n, members)
	}
	mark("config apply")
	e.poll(60*time.Second, "config apply "+file, func() error {
		_, err := c.Tandem(e.ctx(30*time.Second), left[0], "config", "apply", file)
		return err
	})
	e.poll(60*time.Second, "status shows the voters "+strings.Join(voters, " "), func() error {
		r, err := c.Status(e.ctx(10*time.Second), "dave")
		if err != nil {
			return err
		}
		var names []string
		for _, m := range r.Nodes {
			names = append(names, m.Name)
		}
		if !slices.Equal(names, voters) || r.Voters != 3 || r.VotersUp != 3 || len(r.NonVoters) != 0 {
			return fmt.Errorf("status: nodes %v, %d voters (%d up), non-voters %v; want the voters %v all up", names, r.Voters, r.VotersUp, r.NonVoters, voters)
		}
		if r.Live == nil {
			return fmt.Errorf("status shows no live configuration")
		}
		if r.Live.DiffersFromFile {
			return fmt.Errorf("the live configuration (revision %d) differs from %s", r.Live.Revision, file)
		}
		return c.Converged(r, members)
	})
	conn, err := l.Connect("voters-test")
	e.must(err)
	defer conn.Close()
	e.poll(30*time.Second, "every bucket's replicas on "+strings.Join(sorted, ", ")+", current", func() error {
		return bucketsOn(e.ctx(5*time.Second), conn, sorted)
	})
	rs := client.Stop()
	t.Logf("%s replaced by dave in %s (config pull to config apply); the client: %d of %d requests failed, longest without an answer %s: %s",
		dead, time.Since(procedure).Round(100*time.Millisecond), scenario.Failed(rs), len(rs), longestOutage(rs).Round(time.Millisecond), scenario.Errors(rs))
	for i, s := range steps {
		end := time.Now()
		if i+1 < len(steps) {
			end = steps[i+1].at
		}
		var in []scenario.Request
		for _, r := range rs {
			if !r.Start.Before(s.at) && r.Start.Before(end) {
				in = append(in, r)
			}
		}
		t.Logf("  %s (%s): %d of %d requests failed, longest without an answer %s",
			s.what, end.Sub(s.at).Round(100*time.Millisecond), scenario.Failed(in), len(in), longestOutage(in).Round(time.Millisecond))
		// Taking a voter out of the bus's groups moves nothing that
		// serves: no request may fail meanwhile.
		if strings.HasPrefix(s.what, "remove-voter") && scenario.Failed(in) > 0 {
			t.Errorf("%d requests failed during remove-voter: %s", scenario.Failed(in), scenario.Errors(in))
		}
	}

	// 6. The VIP's holder is hard-killed: the two voters left keep quorum.
	holder = e.holder()
	var survivors []string
	for _, n := range members {
		if n != holder {
			survivors = append(survivors, n)
		}
	}
	kill := c.StartClient(90 * time.Second)
	defer kill.Stop()
	e.waitRequests(kill, 10)
	at = time.Now()
	e.must(l.Kill(holder))
	to, err := c.WaitHolder(e.ctx(30*time.Second), holder)
	e.must(err)
	e.poll(30*time.Second, "the VIP serves from "+to, func() error {
		if run := scenario.AnsweredInARow(kill.Requests(), at); run < 40 {
			return fmt.Errorf("%d answered requests in a row since the fault", run)
		}
		return nil
	})
	rs = kill.Stop()
	first, all := scenario.Recovery(rs, at)
	if first.IsZero() || all.IsZero() {
		t.Fatalf("no recovery in the client's requests: %s", scenario.Errors(rs))
	}
	t.Logf("%s (holding the VIP) killed: the VIP on %s, first answer after %s, every request answered after %s (%d of %d failed)",
		holder, to, first.Sub(at).Round(time.Millisecond), all.Sub(at).Round(time.Millisecond), scenario.Failed(rs), len(rs))
	e.poll(90*time.Second, "the two voters left converged, with quorum", func() error {
		r, err := c.Status(e.ctx(10*time.Second), to)
		if err != nil {
			return err
		}
		if r.VotersUp != 2 {
			return fmt.Errorf("%d voters up, want 2", r.VotersUp)
		}
		return c.Converged(r, survivors)
	})
	t.Logf("test duration %s (from converged: %s)", time.Since(begin).Round(time.Second), time.Since(converged).Round(time.Second))
}

// dropNode removes the [[node]] table of name from a cluster file.
func dropNode(data []byte, name string) ([]byte, error) {
	re := regexp.MustCompile(`(?m)^\[\[node\]\]\nname = "` + regexp.QuoteMeta(name) + `"\n(?:[a-z_]+ = .*\n)*\n?`)
	if n := len(re.FindAllIndex(data, -1)); n != 1 {
		return nil, fmt.Errorf("%d [[node]] tables of %s, want one", n, name)
	}
	return re.ReplaceAll(data, nil), nil
}

// setVoters names the voters in a cluster file's [bus] table, replacing
// the voters it named.
func setVoters(data []byte, voters ...string) ([]byte, error) {
	q := make([]string, len(voters))
	for i, v := range voters {
		q[i] = fmt.Sprintf("%q", v)
	}
	line := []byte("voters = [" + strings.Join(q, ", ") + "]\n")
	if re := regexp.MustCompile(`(?m)^voters = .*\n`); re.Match(data) {
		return re.ReplaceAll(data, line), nil
	}
	re := regexp.MustCompile(`(?m)^\[bus\]\n`)
	if !re.Match(data) {
		return nil, fmt.Errorf("no [bus] table")
	}
	return re.ReplaceAll(data, append([]byte("[bus]\n"), line...)), nil
}

func member(r *status.Report, name string) *status.Member {
	for i := range r.Nodes {
		if r.Nodes[i].Name == name {
			return &r.Nodes[i]
		}
	}
	return nil
}

// longestOutage is the longest time the client's requests went unanswered:
// from the end of an answered request to the end of the next answered one,
// over failed requests between them.
func longestOutage(rs []scenario.Request) time.Duration {
	var longest time.Duration
	var lastOK time.Time
	failed := false
	for _, r := range rs {
		switch {
		case !r.OK():
			failed = true
		case failed && !lastOK.IsZero():
			if d := r.End.Sub(lastOK); d > longest {
				longest = d
			}
			failed, lastOK = false, r.End
		default:
			failed, lastOK = false, r.End
		}
	}
	return longest
}

// bucketsOn says, as an error, how the buckets' replicas differ from one
// on each of want (sorted), all current.
func bucketsOn(ctx context.Context, conn *bus.Conn, want []string) error {
	for _, cfg := range bus.BucketConfigs(3) {
		peers, current, n, err := conn.StreamPeers(ctx, bus.StreamOfBucket(cfg.Bucket))
		if err != nil {
			return err
		}
		sort.Strings(peers)
		if n != len(want) || !slices.Equal(peers, want) {
			return fmt.Errorf("%s: replicas on %v (of %d)", cfg.Bucket, peers, n)
		}
		for _, p := range peers {
			if !current[p] {
				return fmt.Errorf("%s: the replica on %s is not current", cfg.Bucket, p)
			}
		}
	}
	return nil
}
