package cluster_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/lab"
	"github.com/tandem-ha/tandem/e2e/labtest"
	"github.com/tandem-ha/tandem/e2e/scenario"
)

// The reference scenario with the seed tutorial's own VIP agent: Debian's
// ocf:heartbeat:IPaddr2, unchanged, run by the ocf bridge (lab tdocf on
// 198.18.0.160/27, shared with tde2e: one lab at a time). It converges,
// and the VIP moves when its holder is hard-killed and when it is cut off,
// with the safety checker throughout: the bridge's lease fencing (the
// agent stopped when the hold lapses, docs/leases.md) keeps the address on
// one node at a time.
func TestIPaddr2VIP(t *testing.T) {
	ref, err := os.ReadFile(filepath.Join("..", "cluster.toml"))
	if err != nil {
		t.Fatal(err)
	}
	subnet := netip.MustParsePrefix("198.18.0.160/27")
	conf, err := lab.WithIPaddr2(ref, subnet.Bits())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cluster.toml")
	if err := os.WriteFile(path, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	l := labtest.Start(t, lab.Options{Prefix: "tdocf", Subnet: subnet, Relocate: true, StartTandem: true, Config: path})
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
