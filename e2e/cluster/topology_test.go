package cluster_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/lab"
	"github.com/tandem-ha/tandem/e2e/labtest"
	"github.com/tandem-ha/tandem/e2e/memstat"
	"github.com/tandem-ha/tandem/e2e/scenario"
)

// The reference resources on five nodes, three of them voters (holly,
// benji, carol) and two plain members (dave, erin), no witness, in lab
// tde2e5 on 198.18.0.160/27 (shared with tde2e: one lab at a time): converge from cold with HAProxy balancing over
// all five httpds, the VIP holder hard-killed, a member that does not vote
// killed, and a voter that holds no VIP killed; the safety checker runs
// throughout each.
func TestFiveNodesThreeVoters(t *testing.T) {
	ref, err := os.ReadFile(filepath.Join("..", "cluster.toml"))
	if err != nil {
		t.Fatal(err)
	}
	conf, err := lab.TopologyConfig(ref, "five")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cluster.toml")
	if err := os.WriteFile(path, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	l := labtest.Start(t, lab.Options{Prefix: "tde2e5", Subnet: netip.MustParsePrefix("198.18.0.160/27"), Relocate: true, StartTandem: true, Config: path})
	c, err := scenario.New(l)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, l: l, c: c}
	if len(c.Nodes) != 5 {
		t.Fatalf("nodes %v, want five", c.Nodes)
	}

	t.Run("ConvergesFromCold", func(t *testing.T) {
		e.t = t
		safety := c.WatchSafety()
		defer e.checkSafety(safety)
		e.converged()
		seen := map[string]int{}
		e.poll(60*time.Second, "the VIP answers from every node's httpd", func() error {
			body, err := c.Get(e.ctx(5*time.Second), time.Second)
			if err != nil {
				return err
			}
			seen[body]++
			for _, n := range c.Nodes {
				if seen["Hello "+strings.ToUpper(n[:1])+n[1:]] == 0 {
					return fmt.Errorf("no answer from %s yet (seen %v)", n, seen)
				}
			}
			return nil
		})
		r, err := c.Status(e.ctx(10*time.Second), c.Nodes[0])
		e.must(err)
		if r.Voters != 3 || strings.Join(r.NonVoters, " ") != "dave erin" {
			t.Errorf("status: %d voters, non-voters %v; want 3 and dave erin", r.Voters, r.NonVoters)
		}
		// A figure, not a check (issue 15's target: a member that does
		// not vote in 40 MB): each node's tandem and its plugins.
		for _, n := range c.Nodes {
			role := "voter"
			if strings.Contains(" "+strings.Join(r.NonVoters, " ")+" ", " "+n+" ") {
				role = "member that does not vote"
			}
			if u, err := l.TandemMemory(n); err == nil {
				t.Logf("memory of %s (%s): %s", n, role, u)
			} else {
				t.Logf("memory of %s: %v", n, err)
			}
			// Each process alone: the member's own process, then its
			// plugins (the same binary, so their file pages are shared).
			pids, _ := l.ServicePIDs(n, l.Unit(n))
			for _, pid := range pids {
				argv, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
				name, _, _ := strings.Cut(string(argv), "\x00")
				if err != nil || !strings.HasPrefix(filepath.Base(name), "tandem") {
					continue
				}
				if u, err := memstat.Measure([]int{pid}); err == nil {
					t.Logf("  %s %s: %.1f MB (%.1f MB anonymous)", n, filepath.Base(name), float64(u.Distinct)/(1<<20), float64(u.DistinctAnon)/(1<<20))
				}
			}
		}
	})

	t.Run("HolderHardKilled", func(t *testing.T) {
		e.t = t
		e.converged()
		holder := e.holder()
		safety := c.WatchSafety()
		defer e.checkSafety(safety)
		client := c.StartClient(60 * time.Second)
		e.waitRequests(client, 10)
		at := time.Now()
		e.must(l.Kill(holder))
		defer func() {
			e.must(l.Restart(e.ctx(90*time.Second), holder))
			e.converged()
		}()
		got, err := c.WaitHolder(e.ctx(30*time.Second), holder)
		e.must(err)
		e.poll(30*time.Second, "the VIP serves from "+got, func() error {
			if run := scenario.AnsweredInARow(client.Requests(), at); run < 40 {
				return fmt.Errorf("%d answered requests in a row since the fault", run)
			}
			return nil
		})
		rs := client.Stop()
		first, all := scenario.Recovery(rs, at)
		if first.IsZero() || all.IsZero() {
			t.Fatalf("no recovery in the client's requests: %s", scenario.Errors(rs))
		}
		t.Logf("%s killed: the VIP on %s, first answer after %s, every request answered after %s (%d of %d failed)",
			holder, got, first.Sub(at).Round(time.Millisecond), all.Sub(at).Round(time.Millisecond), scenario.Failed(rs), len(rs))
	})

	// A node whose death moves no singleton: the VIP stays where it is,
	// and the service keeps answering (HAProxy drops the dead node's
	// httpd from its rotation).
	bystander := func(t *testing.T, what string, pick func(holder string) string) {
		e.t = t
		e.converged()
		holder := e.holder()
		victim := pick(holder)
		if victim == "" {
			t.Fatalf("no %s other than the VIP's node %s", what, holder)
		}
		safety := c.WatchSafety()
		defer e.checkSafety(safety)
		client := c.StartClientTimeout(60*time.Second, 3*time.Second)
		e.waitRequests(client, 10)
		at := time.Now()
		e.must(l.Kill(victim))
		defer func() {
			e.must(l.Restart(e.ctx(90*time.Second), victim))
			e.converged()
		}()
		var rest []string
		for _, n := range c.Nodes {
			if n != victim {
				rest = append(rest, n)
			}
		}
		// Longer than a Raft election (4-9 s), then the survivors converged.
		e.poll(60*time.Second, "the other four nodes converged after "+victim+" was killed", func() error {
			if time.Since(at) < 12*time.Second {
				return fmt.Errorf("observing (%s)", time.Since(at).Round(time.Second))
			}
			r, err := c.Status(e.ctx(10*time.Second), holder)
			if err != nil {
				return err
			}
			return c.Converged(r, rest)
		})
		e.poll(30*time.Second, "the VIP serves", func() error {
			if run := scenario.AnsweredInARow(client.Requests(), at); run < 40 {
				return fmt.Errorf("%d answered requests in a row since the fault", run)
			}
			return nil
		})
		rs := client.Stop()
		on, err := c.Holders()
		e.must(err)
		t.Logf("%s (%s) killed, the VIP on %s: now on %v; %d of %d requests failed: %s",
			victim, what, holder, on, scenario.Failed(rs), len(rs), scenario.Errors(rs))
	}
	t.Run("MemberThatDoesNotVoteKilled", func(t *testing.T) {
		bystander(t, "a member that does not vote", func(holder string) string {
			for _, m := range l.Config().Topology.Members {
				if m.NonVoter && m.Name != holder {
					return m.Name
				}
			}
			return ""
		})
	})
	t.Run("VoterWithoutTheVIPKilled", func(t *testing.T) {
		bystander(t, "a voter without the VIP", func(holder string) string {
			for _, m := range l.Config().Topology.Voters() {
				if m.Name != holder {
					return m.Name
				}
			}
			return ""
		})
	})
}
