package cli

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
	"github.com/tandem-ha/tandem/host/lease"
)

// The procedure of docs/topology.md, "Replacing a dead voter": of three
// voters (holly, benji, carol) and a member that does not vote (dave),
// carol dies for good; dave becomes a voter in its place (the file names
// the new voters, dave restarts), `tandem cluster remove-voter carol` takes
// carol out of the JetStream meta group and every bucket's replicas end up
// on holly, benji and dave; the others restart with the file, config apply
// drops carol. Then the loss of another voter is survived, as with any
// three voters. Refusals on the way: a voter still online, a member that
// does not vote, a name that is nobody, and a removal that would leave two
// voters.
func TestReplaceADeadVoter(t *testing.T) {
	lc := newLiveClusterShape(t, daemontest.Shape{Nodes: []string{"holly", "benji", "carol", "dave"}}, nil)
	lc.must("resource", "create", "worker", "example:process", "command=/bin/sleep", "args=3600",
		"state_dir="+lc.State+"/{node}", "clone")
	lc.must("resource", "create", "sleeper", "example:process", "command=/bin/sleep", "args=3600",
		"state_dir="+lc.State+"/{node}")
	running := func(nodes ...string) {
		t.Helper()
		poll.Until(t, 90*time.Second, 100*time.Millisecond, func() error {
			w := lc.Where("worker")
			sort.Strings(w)
			if !slices.Equal(w, nodes) {
				return fmt.Errorf("worker on %v, want %v", w, nodes)
			}
			if s := lc.Where("sleeper"); len(s) != 1 || !slices.Contains(nodes, s[0]) {
				return fmt.Errorf("sleeper on %v, want one of %v", s, nodes)
			}
			return nil
		})
	}
	running("benji", "carol", "dave", "holly")
	// The id nats-server gives the meta leader is the one bus.PeerID
	// derives from its name (read from one view of the group, once it
	// has a leader: a leader handed over a moment ago has none yet).
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		meta := metaOf(t, lc.Server("holly"))
		if meta.Leader == "" || meta.Peer == "" {
			return fmt.Errorf("holly sees no meta leader yet (%q, peer %q)", meta.Leader, meta.Peer)
		}
		if id := bus.PeerID(meta.Leader); id != meta.Peer {
			t.Fatalf("bus.PeerID(%s) = %s, nats-server's peer id %s", meta.Leader, id, meta.Peer)
		}
		return nil
	})

	lc.refuse("carol is still online", "cluster", "remove-voter", "carol")
	lc.refuse("dave is not a voter: it is a member that does not vote", "cluster", "remove-voter", "dave")
	lc.refuse("nobody is not a voter", "cluster", "remove-voter", "nobody")

	// carol dies for good.
	lc.Stop("carol")
	lc.Shape.Nodes = []string{"holly", "benji", "dave"}
	running("benji", "dave", "holly")
	// Removing it now would leave two voters (asked once the meta group
	// has elected a leader again, if carol led it: without one, the
	// refusal is that the group has no leader).
	metaLedWithout(t, lc.Server("holly"), "carol")
	lc.refuse("would leave 2 voters", "cluster", "remove-voter", "carol")

	// 1. The file names the new voters, without carol.
	lc.must("config", "pull", lc.Conf)
	data, err := os.ReadFile(lc.Conf)
	if err != nil {
		t.Fatal(err)
	}
	carol := regexp.MustCompile(`(?m)^\[\[node\]\]\nname = "carol"\n(?:[a-z_]+ = .*\n)*`)
	if !carol.Match(data) {
		t.Fatalf("no [[node]] table of carol in %s:\n%s", lc.Conf, data)
	}
	data = carol.ReplaceAll(data, nil)
	data = regexp.MustCompile(`(?m)^\[bus\]\n`).ReplaceAll(data, []byte("[bus]\nvoters = [\"holly\", \"benji\", \"dave\"]\n"))
	if err := os.WriteFile(lc.Conf, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// 2. dave restarts first, as a voter: the meta group has four peers
	// (carol's offline), three online.
	lc.Stop("dave")
	lc.Start("dave")
	poll.Until(t, 60*time.Second, 200*time.Millisecond, func() error {
		mp, err := lc.Server("holly").Meta()
		if err != nil {
			return err
		}
		if !mp.Online["dave"] || mp.Size != 4 {
			return fmt.Errorf("meta group of %d peers %v, online %v; want dave among 4", mp.Size, mp.Names, mp.Online)
		}
		return nil
	})
	running("benji", "dave", "holly")

	// 3. carol leaves the meta group; the buckets' replicas move to dave.
	// A voter killed a moment ago keeps its subscriptions on the others'
	// servers until its route times out (found in the lab: a queue group
	// of the voters handed the request to the dead one): here a
	// subscription on carol's remove-voter subject that never answers.
	stale := lc.Connect()
	staleSub, err := stale.NC.SubscribeSync(bus.SubjectRemoveVoter("carol"))
	if err != nil {
		t.Fatal(err)
	}
	if err := stale.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	out := lc.must("cluster", "remove-voter", "carol")
	t.Logf("remove-voter carol:\n%s", out)
	if n, _, _ := staleSub.Pending(); n != 0 {
		t.Errorf("the request went to carol's own subject %d times: it must only be asked of the voters left", n)
	}
	_ = staleSub.Unsubscribe()
	for _, b := range []string{bus.BucketLeases, bus.BucketConfig, bus.BucketState} {
		if !strings.Contains(out, b+": replicas on ") {
			t.Errorf("remove-voter does not report the replicas of %s:\n%s", b, out)
		}
	}
	c := lc.Connect()
	checkVoters := func(want ...string) {
		t.Helper()
		poll.Until(t, 30*time.Second, 200*time.Millisecond, func() error {
			for _, n := range want {
				mp, err := lc.Server(n).Meta()
				if err != nil {
					return err
				}
				if mp.Size != len(want) || !slices.Equal(mp.Names, want) {
					return fmt.Errorf("%s sees the meta group as %d peers %v, want %v", n, mp.Size, mp.Names, want)
				}
			}
			return bucketsOn(c, want)
		})
	}
	checkVoters("benji", "dave", "holly")

	// 4. The others restart with the file, one at a time; config apply
	// drops carol from the live configuration.
	for _, n := range []string{"holly", "benji"} {
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
	running("benji", "dave", "holly")
	checkVoters("benji", "dave", "holly")
	if r := lc.statusReport(); r.Voters != 3 || len(r.NonVoters) != 0 {
		t.Errorf("status: %d voters, non-voters %v; want 3 and none", r.Voters, r.NonVoters)
	}

	// 5. Another voter fails hard (cut off from the bus), the meta leader
	// when that is not dave: the new voter's replicas count for the
	// quorum, and the singleton moves or stays where it can renew.
	victim := "holly"
	if l := metaOf(t, lc.Server("dave")).Leader; l == "holly" || l == "benji" {
		victim = l
	}
	survivor := map[string]string{"holly": "benji", "benji": "holly"}[victim]
	t.Logf("cutting %s off (the meta group's leader was %s; the sleeper on %v)", victim, metaOf(t, lc.Server("dave")).Leader, lc.Where("sleeper"))
	lc.CutOff(victim)
	begin := time.Now()
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
		if w := lc.Where("sleeper"); len(w) != 1 || w[0] == victim {
			return fmt.Errorf("sleeper on %v", w)
		}
		return nil
	})
	t.Logf("%s cut off: the sleeper runs on %v after %s", victim, lc.Where("sleeper"), time.Since(begin).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := c.KV(ctx, bus.BucketLeases)
	if err != nil {
		t.Fatal(err)
	}
	var first uint64
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		e, err := kv.Get(ctx, lease.Key("sleeper"))
		if err != nil {
			return err
		}
		if first == 0 {
			first = e.Revision()
		}
		if e.Revision() < first+4 {
			return fmt.Errorf("the sleeper's lease at revision %d, not yet renewed 4 times since %d", e.Revision(), first)
		}
		return nil
	})
	lc.Stop(victim)
	lc.Shape.Nodes = []string{survivor, "dave"}
	running(sortedPair(survivor, "dave")...)
}

// metaLedWithout waits until s sees the meta group led by another voter
// than gone (a group whose leader stopped elects one in seconds).
func metaLedWithout(t *testing.T, s *bus.Server, gone string) {
	t.Helper()
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
		if l := metaOf(t, s).Leader; l == "" || l == gone {
			return fmt.Errorf("%s sees the meta leader as %q", s.Member().Name, l)
		}
		return nil
	})
}

// metaOf is the JetStream meta group as s reports it.
func metaOf(t *testing.T, s *bus.Server) *server.MetaClusterInfo {
	t.Helper()
	jsz, err := s.NATS().Jsz(&server.JSzOptions{})
	if err != nil || jsz.Meta == nil {
		t.Fatalf("meta group: %v", err)
	}
	return jsz.Meta
}

func sortedPair(a, b string) []string {
	if a > b {
		a, b = b, a
	}
	return []string{a, b}
}

// bucketsOn says, as an error, how the buckets' replicas differ from one
// on each of want (sorted), all current.
func bucketsOn(c *bus.Conn, want []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, b := range []string{bus.BucketLeases, bus.BucketConfig, bus.BucketState} {
		peers, current, replicas, err := c.StreamPeers(ctx, bus.StreamOfBucket(b))
		if err != nil {
			return err
		}
		sort.Strings(peers)
		if replicas != len(want) || !slices.Equal(peers, want) {
			return fmt.Errorf("%s: replicas on %v (of %d), want %v", b, peers, replicas, want)
		}
		for _, p := range peers {
			if !current[p] {
				return fmt.Errorf("%s: the replica on %s is not current", b, p)
			}
		}
	}
	return nil
}
