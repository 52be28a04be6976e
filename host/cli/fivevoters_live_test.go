package cli

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
	"github.com/tandem-ha/tandem/host/lease"
)

// The procedure of docs/topology.md, "Removing a voter": five voters
// (holly, benji, carol, dave, erin) go down to three when two of them,
// neither holding the singleton, are gone for good. The file names the
// three left; `remove-voter` takes the dead ones out one at a time (5 -> 4
// -> 3 peers); the members restart one at a time and config apply drops
// the dead. Then the meta group is the three on every voter, every
// bucket's replicas are on them and current, a third removal is refused
// (it would leave 2), and the cluster survives the loss of one more voter.
func TestFiveVotersDownToThree(t *testing.T) {
	all := []string{"holly", "benji", "carol", "dave", "erin"}
	lc := newLiveClusterShape(t, daemontest.Shape{Nodes: all, Bus: `voters = ["holly", "benji", "carol", "dave", "erin"]`}, nil)
	lc.must("resource", "create", "worker", "example:process", "command=/bin/sleep", "args=3600",
		"state_dir="+lc.State+"/{node}", "clone")
	lc.must("resource", "create", "sleeper", "example:process", "command=/bin/sleep", "args=3600",
		"state_dir="+lc.State+"/{node}")
	running := func(nodes ...string) {
		t.Helper()
		nodes = slices.Sorted(slices.Values(nodes))
		poll.Until(t, 90*time.Second, 100*time.Millisecond, func() error {
			if w := lc.Where("worker"); !slices.Equal(w, nodes) {
				return fmt.Errorf("worker on %v, want %v", w, nodes)
			}
			if s := lc.Where("sleeper"); len(s) != 1 || !slices.Contains(nodes, s[0]) {
				return fmt.Errorf("sleeper on %v, want one of %v", s, nodes)
			}
			return nil
		})
	}
	running(all...)
	c := lc.Connect()
	buckets := func() map[string][]string {
		t.Helper()
		out := map[string][]string{}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, b := range []string{bus.BucketLeases, bus.BucketConfig, bus.BucketState} {
			peers, cur, _, err := c.StreamPeers(ctx, bus.StreamOfBucket(b))
			if err != nil {
				out[b] = []string{err.Error()}
				continue
			}
			out[b] = append(peers, fmt.Sprint(cur))
		}
		return out
	}
	checkVoters := func(want ...string) {
		t.Helper()
		want = slices.Sorted(slices.Values(want))
		poll.Until(t, 60*time.Second, 200*time.Millisecond, func() error {
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
	if mp, err := lc.Server("holly").Meta(); err != nil || mp.Size != 5 {
		t.Fatalf("meta group: %+v, %v; want 5 peers", mp, err)
	}
	// The buckets are created with 3 replicas (a cold start needs only
	// three voters) and grown to 5 once the five are online.
	all5 := slices.Sorted(slices.Values(all))
	poll.Until(t, 60*time.Second, 200*time.Millisecond, func() error { return bucketsOn(c, all5) })
	sleeper := lc.Where("sleeper")[0]
	lc.refuse(sleeper+" is still online", "cluster", "remove-voter", sleeper)
	// Two voters without the singleton die for good. Every bucket keeps
	// 5 replicas, so every bucket keeps its quorum with two of them dead
	// (with 3 replicas, two dead voters held two replicas of one bucket
	// in every run, and it had none until they were removed).
	var dead, left []string
	for _, n := range slices.Backward(all) {
		if n != sleeper && len(dead) < 2 {
			dead = append(dead, n)
		} else {
			left = append(left, n)
		}
	}
	slices.Reverse(left)
	t.Logf("sleeper on %s; buckets %v; dead for good: %v", sleeper, buckets(), dead)
	for _, n := range dead {
		lc.Stop(n)
	}
	lc.Shape.Nodes = left
	t.Logf("after the deaths: buckets %v", buckets())
	// With two of five voters dead, every bucket takes writes: the
	// singleton's lease is renewed, a fail-count cleared (the state
	// bucket), the configuration changed (its bucket) and read back.
	renewed := func(key string) {
		t.Helper()
		var first uint64
		poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			leases, err := c.KV(ctx, bus.BucketLeases)
			if err != nil {
				return err
			}
			e, err := leases.Get(ctx, key)
			if err != nil {
				return err
			}
			if first == 0 {
				first = e.Revision()
			}
			if e.Revision() < first+4 {
				return fmt.Errorf("the lease %s at revision %d, not yet renewed 4 times since %d", key, e.Revision(), first)
			}
			return nil
		})
	}
	renewed(lease.Key("sleeper"))
	lc.must("resource", "cleanup", "worker")
	lc.must("resource", "update", "sleeper", "args=3601")
	poll.Until(t, 30*time.Second, 200*time.Millisecond, func() error {
		out, errs, code := lc.run("resource", "config", "sleeper")
		if code != 0 || !strings.Contains(out, "3601") {
			return fmt.Errorf("resource config sleeper: exit %d, %s%s: the update is not in it", code, out, errs)
		}
		return nil
	})
	running(left...)

	// 1. remove-voter one at a time: 5 -> 4 -> 3 peers. The first may
	// end with buckets that wait for the second (it says so).
	begin := time.Now()
	out := lc.must("cluster", "remove-voter", dead[0])
	t.Logf("remove-voter %s (%s):\n%s", dead[0], time.Since(begin).Round(time.Millisecond), out)
	if !strings.Contains(out, "waits for the voters that are offline ("+dead[1]+")") && strings.Count(out, ": replicas on ") != 3 {
		t.Errorf("remove-voter %s reports neither every bucket's replicas nor the wait for %s:\n%s", dead[0], dead[1], out)
	}
	if mp, err := lc.Server(left[0]).Meta(); err != nil || mp.Size != 4 {
		t.Errorf("meta group after the first removal: %+v, %v; want 4 peers", mp, err)
	}
	second := time.Now()
	out = lc.must("cluster", "remove-voter", dead[1])
	t.Logf("remove-voter %s (%s):\n%s", dead[1], time.Since(second).Round(time.Millisecond), out)
	for _, b := range []string{bus.BucketLeases, bus.BucketConfig, bus.BucketState} {
		if !strings.Contains(out, b+": replicas on ") {
			t.Errorf("remove-voter %s does not report the replicas of %s:\n%s", dead[1], b, out)
		}
	}
	checkVoters(left...)
	t.Logf("meta group and buckets on %v: %s after the first remove-voter", left, time.Since(begin).Round(time.Millisecond))
	lc.refuse(dead[0]+" is not a voter", "cluster", "remove-voter", dead[0])

	// 2. The file names the three voters left, without the dead.
	lc.must("config", "pull", lc.Conf)
	data, err := os.ReadFile(lc.Conf)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range dead {
		table := regexp.MustCompile(`(?m)^\[\[node\]\]\nname = "` + n + `"\n(?:[a-z_]+ = .*\n)*`)
		if !table.Match(data) {
			t.Fatalf("no [[node]] table of %s in %s:\n%s", n, lc.Conf, data)
		}
		data = table.ReplaceAll(data, nil)
	}
	// config pull writes the five voters as voter_count = 5.
	voters := regexp.MustCompile(`(?m)^(voters|voter_count) = .*\n`)
	if !voters.Match(data) {
		t.Fatalf("no voters in [bus] of %s:\n%s", lc.Conf, data)
	}
	data = voters.ReplaceAll(data, nil)
	data = regexp.MustCompile(`(?m)^\[bus\]\n`).ReplaceAll(data, []byte(fmt.Sprintf("[bus]\nvoters = [%q, %q, %q]\n", left[0], left[1], left[2])))
	if err := os.WriteFile(lc.Conf, data, 0o644); err != nil {
		t.Fatal(err)
	}

	// 3. The members restart one at a time; config apply drops the dead.
	for _, n := range left {
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
	t.Logf("five voters down to three: %s from the first remove-voter to config apply", time.Since(begin).Round(time.Millisecond))
	running(left...)
	checkVoters(left...)
	r := lc.statusReport()
	var names []string
	for _, m := range r.Nodes {
		names = append(names, m.Name)
	}
	if !slices.Equal(names, left) || r.Voters != 3 || r.VotersUp != 3 || len(r.NonVoters) != 0 || !r.Quorum {
		t.Errorf("status: nodes %v, %d voters (%d up), non-voters %v, quorum %v; want %v, 3 voters up, none other", names, r.Voters, r.VotersUp, r.NonVoters, r.Quorum, left)
	}

	// 4. One more voter fails hard (cut off from the bus), the meta
	// leader: the two left keep the buckets' quorum and the singleton's
	// lease is renewed; removing it would leave 2 voters: refused.
	victim := metaOf(t, lc.Server(left[0])).Leader
	if !slices.Contains(left, victim) {
		t.Fatalf("meta leader %q, not one of %v", victim, left)
	}
	survivors := slices.DeleteFunc(slices.Clone(left), func(n string) bool { return n == victim })
	t.Logf("cutting %s off (the meta group's leader; the sleeper on %v)", victim, lc.Where("sleeper"))
	lc.CutOff(victim)
	cut := time.Now()
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
		if w := lc.Where("sleeper"); len(w) != 1 || w[0] == victim {
			return fmt.Errorf("sleeper on %v", w)
		}
		return nil
	})
	t.Logf("%s cut off: the sleeper runs on %v after %s", victim, lc.Where("sleeper"), time.Since(cut).Round(time.Millisecond))
	renewed(lease.Key("sleeper"))
	lc.Stop(victim)
	lc.Shape.Nodes = survivors
	running(survivors...)
	metaLedWithout(t, lc.Server(survivors[0]), victim)
	lc.refuse("would leave 2 voters", "cluster", "remove-voter", victim)
}
