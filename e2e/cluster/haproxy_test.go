package cluster_test

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/lab"
	"github.com/tandem-ha/tandem/e2e/labtest"
	"github.com/tandem-ha/tandem/e2e/scenario"
)

// HAProxy killed on the VIP's holder gets a lab of its own (prefix
// tdhakill).
var haKillOpts = lab.Options{Prefix: "tdhakill", Subnet: netip.MustParsePrefix("198.18.0.96/27"), Relocate: true, StartTandem: true}

// TestHAProxyKilled kills -9 every HAProxy process on the VIP's holder.
// systemd restarts it in place (the haproxy agent's drop-in:
// Restart=on-failure), so requests through the VIP are answered again
// without the cluster's recovery: no failure is counted, the VIP stays,
// and status warns that systemd restarted it. Killed again and again,
// past systemd's start limit, it is the cluster's again: a failure is
// counted and the resource recovered. Times are logged, not asserted.
func TestHAProxyKilled(t *testing.T) {
	l := labtest.Start(t, haKillOpts)
	c, err := scenario.New(l)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, l: l, c: c}
	e.converged()
	e.tandem(c.Nodes[0], "resource", "update", "haproxy", "op", "monitor", "interval=2s")

	t.Run("RestartedInPlace", func(t *testing.T) {
		e.t = t
		e.converged()
		holder := e.holder()
		safety := c.WatchSafety()
		defer e.checkSafety(safety)
		client := c.StartClient(60 * time.Second)
		defer client.Stop()
		e.waitRequests(client, 10)
		pid := e.mainPID(holder, "haproxy.service")
		at := time.Now()
		e.killHAProxy(holder)
		e.poll(30*time.Second, "the VIP serves again", func() error {
			if run := scenario.AnsweredInARow(client.Requests(), at); run < 40 {
				return fmt.Errorf("%d answered requests in a row since the kill", run)
			}
			return nil
		})
		rs := client.Stop()
		if p := e.mainPID(holder, "haproxy.service"); p == "0" || p == pid {
			t.Errorf("haproxy.service on %s: main pid %s after the kill (was %s): not restarted", holder, p, pid)
		}
		if now := e.holder(); now != holder {
			t.Errorf("the VIP moved from %s to %s: a HAProxy systemd restarts in place is no reason to move", holder, now)
		}
		var text string
		e.poll(30*time.Second, "status warns that systemd restarted haproxy on "+holder, func() error {
			text = e.tandem(holder, "status")
			if !strings.Contains(text, "Resource haproxy on "+holder+" is degraded") || !strings.Contains(text, "systemd restarted haproxy.service") {
				return fmt.Errorf("no warning yet:\n%s", text)
			}
			return nil
		})
		r, err := c.Status(e.ctx(10*time.Second), holder)
		e.must(err)
		if f := failure(r, "haproxy", holder); f != nil {
			t.Errorf("a restart by systemd counted a failure of haproxy on %s: %+v", holder, f)
		}
		if err := c.Converged(r, c.Nodes); err != nil {
			t.Errorf("after the restart in place: %v", err)
		}
		firstOK, allOK := scenario.Recovery(rs, at)
		if firstOK.IsZero() || allOK.IsZero() {
			t.Fatalf("no recovery in the client's requests: %s", scenario.Errors(rs))
		}
		t.Logf("HAProxy killed on %s: restarted by systemd (pid %s -> %s); first answer after %s, every request answered after %s (%d of %d failed); status:\n%s",
			holder, pid, e.mainPID(holder, "haproxy.service"), firstOK.Sub(at).Round(time.Millisecond), allOK.Sub(at).Round(time.Millisecond),
			scenario.Failed(rs), len(rs), text)
	})

	t.Run("PastTheStartLimit", func(t *testing.T) {
		e.t = t
		e.converged()
		holder := e.holder()
		safety := c.WatchSafety()
		defer e.checkSafety(safety)
		client := c.StartClient(60 * time.Second)
		defer client.Stop()
		e.waitRequests(client, 10)
		first := time.Now()
		kills, at := e.killHAProxyPastStartLimit(holder)
		e.poll(30*time.Second, "a failure of haproxy on "+holder+" is counted", func() error {
			r, err := c.Status(e.ctx(10*time.Second), holder)
			if err != nil {
				return err
			}
			if f := failure(r, "haproxy", holder); f == nil {
				return fmt.Errorf("no failure of haproxy on %s counted", holder)
			}
			return nil
		})
		e.poll(40*time.Second, "the VIP serves again", func() error {
			if run := scenario.AnsweredInARow(client.Requests(), at); run < 40 {
				return fmt.Errorf("%d answered requests in a row since the last kill", run)
			}
			return nil
		})
		rs := client.Stop()
		now := e.holder()
		firstOK, allOK := scenario.Recovery(rs, at)
		if firstOK.IsZero() || allOK.IsZero() {
			t.Fatalf("no recovery in the client's requests: %s", scenario.Errors(rs))
		}
		t.Logf("HAProxy killed %d times on %s in %s, systemd gave up; the VIP on %s; from the last kill: first answer after %s, every request answered after %s (%d of %d requests failed since the first kill)",
			kills, holder, at.Sub(first).Round(time.Millisecond), now, firstOK.Sub(at).Round(time.Millisecond), allOK.Sub(at).Round(time.Millisecond),
			scenario.Failed(rs), len(rs))
		e.tandem(holder, "resource", "cleanup", "haproxy")
		e.converged()
		r, err := c.Status(e.ctx(10*time.Second), holder)
		e.must(err)
		if f := failure(r, "haproxy", holder); f != nil {
			t.Errorf("cleanup left a fail-count: %+v", f)
		}
	})
}

// killHAProxySh is the shell command that kills -9 every HAProxy process
// (master and workers) on a node; it fails when none runs. A process that
// exits between pidof and kill (a worker whose master just died) is no
// error.
const killHAProxySh = "p=$(pidof haproxy) || { echo no haproxy process; exit 1; }; kill -9 $p 2>/dev/null; exit 0"

// killHAProxy kills -9 every HAProxy process (master and workers) on node.
func (e *env) killHAProxy(node string) {
	e.t.Helper()
	e.exec(node, "sh", "-c", killHAProxySh)
}

// killHAProxyPastStartLimit kills HAProxy on node as many times as
// systemd may start it within its start-limit interval (StartLimitBurst:
// the cluster's start, which resets the count, then a restart by systemd
// after each kill but the last), each kill once systemd has restarted it.
// After the last kill systemd gives up; the cluster then recovers the unit
// at once, often before a poll could see it failed, so this returns
// without waiting: the callers wait for the failure the cluster counts. It
// returns the number of kills and the time of the last.
func (e *env) killHAProxyPastStartLimit(node string) (int, time.Time) {
	e.t.Helper()
	burst, err := strconv.Atoi(strings.TrimSpace(e.exec(node, "systemctl", "show", "-p", "StartLimitBurst", "--value", "haproxy.service")))
	if err != nil || burst < 1 || burst > 10 {
		e.t.Fatalf("%s: haproxy.service's StartLimitBurst: %d (%v), want 1-10 (the agent's drop-in sets it)", node, burst, err)
	}
	var last time.Time
	for kills := 1; kills <= burst; kills++ {
		pid := e.mainPID(node, "haproxy.service")
		last = time.Now()
		e.killHAProxy(node)
		if kills == burst {
			return kills, last
		}
		e.poll(30*time.Second, fmt.Sprintf("haproxy.service on %s restarted by systemd after kill %d of %d", node, kills, burst), func() error {
			state := strings.TrimSpace(e.exec(node, "systemctl", "show", "-p", "ActiveState", "--value", "haproxy.service"))
			if p := e.mainPID(node, "haproxy.service"); state != "active" || p == "0" || p == pid {
				return fmt.Errorf("%s, main pid %s (was %s)", state, p, pid)
			}
			return nil
		})
	}
	return burst, last
}
