package cluster_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/lab"
	"github.com/tandem-ha/tandem/e2e/labtest"
	"github.com/tandem-ha/tandem/e2e/scenario"
)

// devLab is a lab test's prefix and subnet: its defaults, or
// TANDEM_CLUSTERTEST_PREFIX and TANDEM_CLUSTERTEST_SUBNET, for a developer
// whose session has its own range (make test runs this package's labs one
// at a time, several on one subnet).
func devLab(prefix, subnet string) (string, netip.Prefix) {
	if s := os.Getenv("TANDEM_CLUSTERTEST_PREFIX"); s != "" {
		prefix = s
	}
	if s := os.Getenv("TANDEM_CLUSTERTEST_SUBNET"); s != "" {
		subnet = s
	}
	return prefix, netip.MustParsePrefix(subnet)
}

// The reference scenario with the seed tutorial's own agents, Debian's
// ocf:heartbeat:IPaddr2 for the VIP and ocf:heartbeat:apache for
// httpd-clone, unchanged, run by the ocf bridge. It converges, curl
// through the VIP alternates between Holly and Benji, and the VIP moves
// when its holder is hard-killed and when it is cut off, with the safety
// checker throughout: the bridge's lease fencing (the agent stopped when
// the hold lapses, docs/leases.md) keeps the address on one node at a
// time. Then a promotable clone of ocf:heartbeat:Stateful and an lsb init
// script on the same cluster, and agents that fail, hang or are missing.
func TestIPaddr2VIP(t *testing.T) {
	ref, err := os.ReadFile(filepath.Join("..", "cluster.toml"))
	if err != nil {
		t.Fatal(err)
	}
	// tdocf on 198.18.0.160/27, shared with tde2e.
	prefix, subnet := devLab("tdocf", "198.18.0.160/27")
	conf, err := lab.WithIPaddr2(ref, subnet.Bits())
	if err != nil {
		t.Fatal(err)
	}
	if conf, err = lab.WithApacheOCF(conf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cluster.toml")
	if err := os.WriteFile(path, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	l := labtest.Start(t, lab.Options{Prefix: prefix, Subnet: subnet, Relocate: true, StartTandem: true, Config: path})
	c, err := scenario.New(l)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, l: l, c: c}

	t.Run("ConvergesFromCold", func(t *testing.T) {
		e.t = t
		safety := c.WatchSafety()
		defer e.checkSafety(safety)
		e.converged()
		e.poll(30*time.Second, "the VIP answers", func() error {
			_, err := c.Get(e.ctx(5*time.Second), time.Second)
			return err
		})
		holder := e.holder()
		// The address is IPaddr2's: the resource runs on the holder with
		// the ocf agent.
		r, err := c.Status(e.ctx(10*time.Second), holder)
		e.must(err)
		res := scenario.Resource(r, c.VIPResource)
		if res == nil || res.Agent != "ocf:heartbeat:IPaddr2" {
			t.Fatalf("the VIP resource in status: %+v, want agent ocf:heartbeat:IPaddr2", res)
		}
		if on := scenario.StartedOn(r, c.VIPResource); len(on) != 1 || on[0] != holder {
			t.Errorf("%s started on %v, the address on %s", c.VIPResource, on, holder)
		}
		// Apache is the apache agent's: started by it, not by systemd.
		if res := scenario.Resource(r, "httpd-clone"); res == nil || res.Agent != "ocf:heartbeat:apache" {
			t.Fatalf("httpd-clone in status: %+v, want agent ocf:heartbeat:apache", res)
		}
		for _, n := range c.Nodes {
			if pids := strings.Fields(e.execAllowFail(n, "pgrep", "-x", "apache2")); len(pids) == 0 {
				t.Errorf("%s: no apache2 process while httpd-clone is started there", n)
			}
			if st := strings.TrimSpace(e.execAllowFail(n, "systemctl", "is-active", "apache2.service")); st == "active" {
				t.Errorf("%s: apache2.service is active: Apache should be the OCF agent's, not systemd's", n)
			}
		}
		answers := waitAlternating(t, e.ctx(90*time.Second), c)
		t.Logf("curl http://%s (x6): %s", c.VIP, strings.Join(answers, ", "))
	})

	t.Run("HolderHardKilled", func(t *testing.T) {
		e.t = t
		e.failover(func(holder string) error { return l.Kill(holder) }, func(holder string) {
			e.must(l.Restart(e.ctx(60*time.Second), holder))
		})
	})

	t.Run("HolderCutOff", func(t *testing.T) {
		e.t = t
		e.failover(func(holder string) error { return l.Cut(holder) }, func(holder string) {
			e.must(l.Heal(holder))
		})
	})

	// A promotable clone of Debian's ocf:heartbeat:Stateful, unchanged:
	// its instance is promoted on one node (the agent's own crm_master
	// scores through the bridge's shim), and on the other when the
	// promoted node is hard-killed, then when it is cut off (the bridge
	// demotes it when the role's hold lapses), never on two nodes at once
	// (a checker reads both nodes' state files every 5 ms), the VIP's
	// safety checker running too.
	t.Run("PromotableStateful", func(t *testing.T) {
		e.t = t
		e.converged()
		safety := c.WatchSafety()
		defer e.checkSafety(safety)
		const stateFile = "/run/tandemtest-db.state"
		ck := watchRoles(c.Nodes, statefulRoles(l, stateFile))
		defer func() {
			if err := ck.stop(); err != nil {
				t.Error(err)
			}
			t.Logf("promoted-role checker: %d samples, longest gap %s", ck.count(), ck.maxGap().Round(time.Millisecond))
		}()
		began := time.Now()
		e.tandem(c.Nodes[0], "resource", "create", "db", "ocf:heartbeat:Stateful", "state="+stateFile, "op", "monitor", "interval=2s", "promotable")
		defer e.tandem(c.Nodes[0], "resource", "delete", "db")
		settled := func(what string) string {
			t.Helper()
			var primary string
			e.poll(90*time.Second, what, func() error {
				s := ck.last()
				if len(s.primaries) != 1 || !slices.Equal(s.running, c.Nodes) {
					return fmt.Errorf("promoted on %v, running on %v, want one promoted and running on %v", s.primaries, s.running, c.Nodes)
				}
				primary = s.primaries[0]
				r, err := c.Status(e.ctx(10*time.Second), c.Nodes[0])
				if err != nil {
					return err
				}
				res := scenario.Resource(r, "db-clone")
				if res == nil || !res.Promotable || res.Agent != "ocf:heartbeat:Stateful" {
					return fmt.Errorf("db-clone in status: %+v", res)
				}
				for _, n := range c.Nodes {
					want := "Unpromoted"
					if n == primary {
						want = "Promoted"
					}
					if res.Nodes[n] != want {
						return fmt.Errorf("status shows db %v, the state files promoted on %s", res.Nodes, primary)
					}
				}
				return nil
			})
			return primary
		}
		primary := settled("db promoted on one node, unpromoted on the other")
		t.Logf("db: promoted on %s %s after its create", primary, time.Since(began).Round(100*time.Millisecond))

		for _, f := range []struct {
			name  string
			fault func(string) error
			undo  func(string) error
		}{
			{"hard kill", l.Kill, func(n string) error { return l.Restart(e.ctx(90*time.Second), n) }},
			{"cut-off", l.Cut, l.Heal},
		} {
			victim, survivor := primary, c.Other(primary)
			at := time.Now()
			e.must(f.fault(victim))
			undone := false
			defer func() {
				if !undone {
					e.must(f.undo(victim))
				}
			}()
			var promotedAt time.Time
			e.poll(60*time.Second, "db promoted on "+survivor, func() error {
				var ok bool
				if promotedAt, ok = ck.firstPrimary(survivor, at); !ok {
					return fmt.Errorf("promoted on %v", ck.last().primaries)
				}
				return nil
			})
			gone := "killed with its node"
			if last, ok := ck.lastPrimary(primary, at); ok {
				gone = fmt.Sprintf("demoted there %s after the fault", last.Sub(at).Round(time.Millisecond))
			}
			t.Logf("%s of %s, db's promoted node: promoted on %s %s after the fault; %s", f.name, primary, survivor, promotedAt.Sub(at).Round(time.Millisecond), gone)
			undone = true
			e.must(f.undo(primary))
			if p := settled(primary + " back, unpromoted"); p != survivor {
				t.Errorf("after %s came back db is promoted on %s, want it to stay on %s", primary, p, survivor)
			}
			primary = survivor
		}
		e.converged()
	})

	// An init script, /etc/init.d/tandemtest written on both nodes, as
	// lsb:tandemtest: started on one node, its status run as the monitor
	// (the service killed behind the cluster's back is noticed and
	// started again), stopped when the resource is disabled.
	t.Run("LSBInitScript", func(t *testing.T) {
		e.t = t
		e.converged()
		const running, log = "/run/tandemtest.running", "/run/tandemtest.log"
		for _, n := range c.Nodes {
			installInitScript(e, n, running, log)
		}
		e.tandem(c.Nodes[0], "resource", "create", "lsbtest", "lsb:tandemtest", "op", "monitor", "interval=2s")
		defer e.tandem(c.Nodes[0], "resource", "delete", "lsbtest", "--force")
		var on string
		startedOn := func(what string, not string) {
			t.Helper()
			e.poll(60*time.Second, what, func() error {
				r, err := c.Status(e.ctx(10*time.Second), c.Nodes[0])
				if err != nil {
					return err
				}
				got := scenario.StartedOn(r, "lsbtest")
				if len(got) != 1 || got[0] == not {
					return fmt.Errorf("lsbtest started on %v", got)
				}
				on = got[0]
				if _, err := e.l.Exec(e.ctx(10*time.Second), on, "test", "-f", running); err != nil {
					return fmt.Errorf("lsbtest started on %s, %s not there", on, running)
				}
				return nil
			})
		}
		startedOn("lsbtest started, its script's start run", "")
		first := on
		// Monitored: status runs every 2 s.
		e.poll(30*time.Second, "lsbtest's status run as its monitor", func() error {
			if n := strings.Count(e.execAllowFail(on, "cat", log), "status\n"); n < 3 {
				return fmt.Errorf("status run %d times on %s", n, on)
			}
			return nil
		})
		e.exec(on, "rm", "-f", running)
		e.poll(60*time.Second, "the monitor's failure of lsbtest on "+on, func() error {
			r, err := c.Status(e.ctx(10*time.Second), c.Nodes[0])
			if err != nil {
				return err
			}
			if f := failure(r, "lsbtest", on); f == nil || f.Op != "monitor" {
				return fmt.Errorf("failure of lsbtest on %s: %+v", on, f)
			}
			return nil
		})
		startedOn("lsbtest started again after its monitor failed", "-")
		t.Logf("lsbtest: started on %s; its service removed there, the monitor's failure noticed, started again on %s", first, on)
		e.tandem(c.Nodes[0], "resource", "disable", "lsbtest")
		e.poll(60*time.Second, "lsbtest stopped by its script's stop", func() error {
			r, err := c.Status(e.ctx(10*time.Second), c.Nodes[0])
			if err != nil {
				return err
			}
			if got := scenario.StartedOn(r, "lsbtest"); len(got) > 0 {
				return fmt.Errorf("lsbtest still started on %v", got)
			}
			for _, n := range c.Nodes {
				if _, err := e.l.Exec(e.ctx(10*time.Second), n, "test", "-f", running); err == nil {
					return fmt.Errorf("%s still there on %s", running, n)
				}
			}
			if !strings.Contains(e.execAllowFail(on, "cat", log), "stop\n") {
				return fmt.Errorf("the script's stop did not run on %s", on)
			}
			return nil
		})
		e.tandem(c.Nodes[0], "resource", "cleanup", "lsbtest")
	})

	// Agents that fail, hang or are not there, on a real node: each ends
	// stopped with its reason in status, nothing is left running, and the
	// scenario is untouched.
	t.Run("BrokenAgents", func(t *testing.T) {
		e.t = t
		e.converged()
		holder := e.holder()
		safety := c.WatchSafety()
		defer e.checkSafety(safety)
		for _, n := range c.Nodes {
			installTestAgent(e, n, "failing", `echo "cannot start: the test agent always fails" >&2; exit 1`)
			installTestAgent(e, n, "hanging", `sleep 3600; exit 0`)
		}

		// Missing: refused or, if stored, failed as not installed; never
		// started.
		out, err := c.Tandem(e.ctx(60*time.Second), c.Nodes[0], "resource", "create", "ra-missing", "ocf:tandemtest:missing")
		if err != nil {
			if !strings.Contains(out+err.Error(), "ocf:tandemtest:missing") || !strings.Contains(out+err.Error(), "not installed") {
				t.Errorf("creating a resource of a missing agent failed without saying the agent is not installed: %v\n%s", err, out)
			}
			if cfg, err := c.Tandem(e.ctx(30*time.Second), c.Nodes[0], "resource", "config", "ra-missing"); err == nil {
				t.Errorf("the refused resource was stored: %s", cfg)
			}
			t.Logf("a missing agent: refused: %s", strings.TrimSpace(out))
		} else {
			defer e.tandem(c.Nodes[0], "resource", "delete", "ra-missing", "--force")
			e.waitFailedEverywhere("ra-missing", "start", "not installed")
			t.Logf("a missing agent: stored, failed on every node as not installed")
		}

		for _, rsc := range []struct{ id, agent, op, why string }{
			{"ra-failing", "ocf:tandemtest:failing", "start", "cannot start: the test agent always fails"},
			{"ra-hanging", "ocf:tandemtest:hanging", "start", "timed out"},
		} {
			began := time.Now()
			e.tandem(c.Nodes[0], "resource", "create", rsc.id, rsc.agent, "op", "start", "timeout=5s")
			e.waitFailedEverywhere(rsc.id, rsc.op, rsc.why)
			t.Logf("%s: failed on every node and stopped %s after its create", rsc.agent, time.Since(began).Round(100*time.Millisecond))
			e.tandem(c.Nodes[0], "resource", "delete", rsc.id, "--force")
		}
		// The hanging start's process group was killed on both nodes.
		for _, n := range c.Nodes {
			if ps := e.execAllowFail(n, "pgrep", "-af", "sleep 3600"); strings.TrimSpace(ps) != "" {
				t.Errorf("%s: the hanging agent's processes outlived its timeout: %s", n, ps)
			}
		}
		// The scenario did not notice.
		e.converged()
		if h := e.holder(); h != holder {
			t.Errorf("the VIP moved from %s to %s while other resources failed", holder, h)
		}
	})
}

// installTestAgent writes an OCF agent ocf:tandemtest:NAME on node whose
// start runs startBody; stop succeeds, monitor says not running.
func installTestAgent(e *env, node, name, startBody string) {
	e.t.Helper()
	script := fmt.Sprintf(`#!/bin/sh
case "$1" in
meta-data) cat <<'XML'
<?xml version="1.0"?>
<resource-agent name="%[1]s" version="1.0">
<version>1.1</version>
<longdesc lang="en">A test agent.</longdesc>
<shortdesc lang="en">test</shortdesc>
<parameters/>
<actions>
<action name="start" timeout="20s"/>
<action name="stop" timeout="20s"/>
<action name="monitor" timeout="20s" interval="10s"/>
<action name="meta-data" timeout="5s"/>
<action name="validate-all" timeout="5s"/>
</actions>
</resource-agent>
XML
exit 0;;
start) %[2]s;;
stop) exit 0;;
monitor) exit 7;;
validate-all) exit 0;;
*) exit 3;;
esac
`, name, startBody)
	dir := "/usr/lib/ocf/resource.d/tandemtest"
	e.exec(node, "sh", "-c", "mkdir -p "+dir+" && printf '%s' \"$1\" > "+dir+"/"+name+" && chmod 755 "+dir+"/"+name, "sh", script)
}

// statefulRoles reads ocf:heartbeat:Stateful's state file (its state
// parameter) through each node's own mount namespace: the instance runs
// while the file says "slave" or "master", promoted while "master". /run
// is the node's tmpfs: a killed node's state goes with it.
func statefulRoles(l *lab.Lab, stateFile string) rolesProbe {
	return func(n string) (running, primary bool) {
		p, err := l.LivePath(n, stateFile)
		if err != nil {
			return false, false
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return false, false
		}
		switch strings.TrimSpace(string(b)) {
		case "master":
			return true, true
		case "slave":
			return true, false
		}
		return false, false
	}
}

// installInitScript writes /etc/init.d/tandemtest on node: start creates
// running, stop removes it, status says whether it is there (0 or 3); each
// run appends its action to log.
func installInitScript(e *env, node, running, log string) {
	e.t.Helper()
	script := fmt.Sprintf(`#!/bin/sh
### BEGIN INIT INFO
# Provides:          tandemtest
# Short-Description: Tandem lab test service
# Description:       An init script of the lab test: a file for a service.
### END INIT INFO
echo "$1" >> %[2]s
case "$1" in
start) touch %[1]s; exit 0;;
stop) rm -f %[1]s; exit 0;;
status) [ -f %[1]s ] && exit 0; exit 3;;
*) exit 3;;
esac
`, running, log)
	const path = "/etc/init.d/tandemtest"
	e.exec(node, "sh", "-c", "printf '%s' \"$1\" > "+path+" && chmod 755 "+path+" && rm -f "+running+" "+log, "sh", script)
}

// waitFailedEverywhere waits until rsc has failed its op on every node, the
// failure saying why, and runs nowhere.
func (e *env) waitFailedEverywhere(rsc, op, why string) {
	e.t.Helper()
	e.poll(90*time.Second, rsc+" failed on every node and stopped", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, err := e.c.Status(ctx, e.c.Nodes[0])
		if err != nil {
			return err
		}
		for _, n := range e.c.Nodes {
			f := failure(r, rsc, n)
			if f == nil {
				return fmt.Errorf("no failure of %s on %s yet", rsc, n)
			}
			if f.Op != op || !strings.Contains(f.Message, why) {
				return fmt.Errorf("%s on %s: failed %s with %q, want %s failing with %q", rsc, n, f.Op, f.Message, op, why)
			}
		}
		if on := scenario.StartedOn(r, rsc); len(on) > 0 {
			return fmt.Errorf("%s still started on %v", rsc, on)
		}
		return nil
	})
}
