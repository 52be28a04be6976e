// Package cluster_test runs the reference Active/Active scenario end to end in
// an nspawn lab (prefix tde2e on 198.18.0.160/27: holly .182, VIP .183, benji
// .184, director .190) with Tandem started on every member, and puts it
// through the failures of issue 7. Every scenario runs under the safety
// checker (every node's addresses sampled every 20 ms; the VIP on two nodes
// at once fails the test) and leaves the cluster converged for the next.
package cluster_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/tandem-ha/tandem/e2e/lab"
	"github.com/tandem-ha/tandem/e2e/labtest"
	"github.com/tandem-ha/tandem/e2e/scenario"
	"github.com/tandem-ha/tandem/host/status"
)

var opts = lab.Options{Prefix: "tde2e", Subnet: netip.MustParsePrefix("198.18.0.160/27"), Relocate: true, StartTandem: true}

type env struct {
	t *testing.T
	l *lab.Lab
	c *scenario.Cluster
}

func TestActiveActive(t *testing.T) {
	l := labtest.Start(t, opts)
	booted := time.Now()
	c, err := scenario.New(l)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, l: l, c: c}

	t.Run("ConvergesFromCold", func(t *testing.T) {
		e.t = t
		safety := c.WatchSafety()
		defer e.checkSafety(safety)
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		r, err := c.WaitConverged(ctx, c.Nodes[0], c.Nodes)
		if err != nil {
			t.Fatal(err)
		}
		converged := time.Since(booted)
		// Serving, and round robin over both nodes' Apache.
		seen := map[string]int{}
		e.poll(30*time.Second, "the VIP answers from both nodes", func() error {
			body, err := c.Get(ctx, time.Second)
			if err != nil {
				return err
			}
			seen[body]++
			if len(seen) < 2 {
				return fmt.Errorf("answers so far: %v", seen)
			}
			return nil
		})
		for _, n := range c.Nodes {
			if seen["Hello "+strings.ToUpper(n[:1])+n[1:]] == 0 {
				t.Errorf("no answer from %s through the VIP: %v", n, seen)
			}
		}
		if r.Witness == nil || !r.Witness.Online {
			t.Errorf("status does not show the witness online: %+v", r.Witness)
		}
		t.Logf("lab booted to converged in %s, serving (both nodes answered) in %s; coordinator %s",
			converged.Round(10*time.Millisecond), time.Since(booted).Round(10*time.Millisecond), r.Coordinator)
	})

	t.Run("HolderHardKilled", func(t *testing.T) {
		e.t = t
		// An alert agent on every node (a script of the kind Pacemaker's
		// alert_file.sh is) must hear of the failover on the survivor.
		survivor := c.Other(e.holder())
		log := e.alertLog()
		e.failover(func(holder string) error { return l.Kill(holder) }, func(holder string) {
			e.must(l.Restart(e.ctx(60*time.Second), holder))
		})
		e.poll(30*time.Second, "the alert agent on "+survivor+" logs the holder lost and the VIP started there", func() error {
			got := e.execAllowFail(survivor, "cat", log)
			var lost, started bool
			for _, line := range strings.Split(got, "\n") {
				lost = lost || strings.HasPrefix(line, "node node="+c.Other(survivor)+" ") && strings.Contains(line, " desc=lost")
				started = started || strings.HasPrefix(line, "resource node="+survivor+" rsc=VIP-") && strings.Contains(line, " task=start rc=0 ")
			}
			if !lost || !started {
				return fmt.Errorf("node lost logged %v, VIP start logged %v; %s has:\n%s", lost, started, log, got)
			}
			return nil
		})
	})

	t.Run("HolderCutOff", func(t *testing.T) {
		e.t = t
		e.failover(func(holder string) error { return l.Cut(holder) }, func(holder string) {
			e.must(l.Heal(holder))
		})
	})

	t.Run("WitnessKilled", func(t *testing.T) {
		e.t = t
		e.converged()
		holder := e.holder()
		safety := c.WatchSafety()
		defer e.checkSafety(safety)
		client := c.StartClientTimeout(60*time.Second, 3*time.Second) // no request may fail; slow is not failed
		e.waitRequests(client, 10)
		fault := time.Now()
		e.must(l.Kill(c.Witness))
		defer func() {
			e.must(l.Restart(e.ctx(60*time.Second), c.Witness))
			e.converged()
		}()
		// The lease bucket's leader was on the witness: the bus accepts no
		// writes until the nodes elect another (4-9 s). Watch a window
		// longer than that, and the quorum of the two nodes after it.
		e.poll(40*time.Second, "the two nodes keep quorum and the VIP after the witness loss", func() error {
			if time.Since(fault) < 12*time.Second {
				return fmt.Errorf("observing (%s)", time.Since(fault).Round(time.Second))
			}
			r, err := c.Status(e.ctx(10*time.Second), holder)
			if err != nil {
				return err
			}
			if r.Witness != nil && r.Witness.Online {
				return fmt.Errorf("the witness is still online in status")
			}
			return c.Converged(r, c.Nodes)
		})
		rs := client.Stop()
		if n := scenario.Failed(rs); n > 0 {
			t.Errorf("%d of %d requests failed after the witness was killed: %s", n, len(rs), scenario.Errors(rs))
		}
		for _, s := range safety.Samples() {
			if len(s.Holders) != 1 || s.Holders[0] != holder {
				t.Errorf("the VIP moved or went away at %s: on [%s], was on %s", s.At.Format("15:04:05.000"), strings.Join(s.Holders, " "), holder)
			}
		}
		t.Logf("witness killed: %d requests over %s, %d failed; the VIP stayed on %s",
			len(rs), rs[len(rs)-1].End.Sub(rs[0].Start).Round(time.Millisecond), scenario.Failed(rs), holder)
	})

	t.Run("ApacheStoppedBehindOurBack", func(t *testing.T) {
		e.t = t
		e.converged()
		// The seed monitors httpd every 30 s; a test should not wait that long.
		e.tandem(c.Nodes[0], "resource", "update", "httpd", "op", "monitor", "interval=2s")
		defer e.tandem(c.Nodes[0], "resource", "update", "httpd", "op", "monitor", "interval=30s")
		victim := c.Other(e.holder()) // Apache on the node without the VIP
		safety := c.WatchSafety()
		defer e.checkSafety(safety)
		client := c.StartClientTimeout(60*time.Second, 3*time.Second) // no request may fail; slow is not failed
		e.waitRequests(client, 10)
		oldPID := e.mainPID(victim, "apache2.service")
		fault := time.Now()
		e.exec(victim, "systemctl", "stop", "apache2.service")
		e.poll(30*time.Second, "httpd is restarted on "+victim, func() error {
			if pid := e.mainPID(victim, "apache2.service"); pid == "0" || pid == oldPID {
				return fmt.Errorf("apache2 main pid %s (was %s)", pid, oldPID)
			}
			r, err := c.Status(e.ctx(10*time.Second), victim)
			if err != nil {
				return err
			}
			if f := failure(r, "httpd", victim); f == nil || f.Count < 1 {
				return fmt.Errorf("no fail-count for httpd on %s yet: %+v", victim, r.Failures)
			}
			return c.Converged(r, c.Nodes)
		})
		restarted := time.Since(fault)
		e.waitRequests(client, len(client.Requests())+20)
		rs := client.Stop()
		if n := scenario.Failed(rs); n > 0 {
			t.Errorf("%d of %d requests failed while Apache was down on %s: %s", n, len(rs), victim, scenario.Errors(rs))
		}
		e.tandem(c.Nodes[0], "resource", "cleanup", "httpd")
		t.Logf("apache2 stopped on %s: restarted and reported in %s; %d requests, %d failed",
			victim, restarted.Round(time.Millisecond), len(rs), scenario.Failed(rs))
	})

	t.Run("HAProxyFailsPastMigrationThreshold", func(t *testing.T) {
		e.t = t
		e.converged()
		e.tandem(c.Nodes[0], "resource", "update", "haproxy", "op", "monitor", "interval=2s")
		defer e.tandem(c.Nodes[0], "resource", "update", "haproxy", "op", "monitor", "interval=15s")
		holder := e.holder()
		other := c.Other(holder)
		safety := c.WatchSafety()
		defer e.checkSafety(safety)
		cfg := c.ClusterConfig().CIB
		rsc, _ := cfg.Resource("haproxy")
		threshold := cfg.Effective(rsc).MigrationThreshold
		if threshold < 1 || threshold > 5 {
			t.Fatalf("haproxy's migration-threshold in the lab's cluster file is %d, want 1-5", threshold)
		}
		for i := 1; i <= threshold; i++ {
			pid := e.mainPID(holder, "haproxy.service")
			// systemd restarts a killed HAProxy in place (the agent's
			// drop-in) until its start limit: kill it past that.
			e.killHAProxyPastStartLimit(holder)
			e.poll(30*time.Second, fmt.Sprintf("failure %d of haproxy on %s is counted", i, holder), func() error {
				r, err := c.Status(e.ctx(10*time.Second), other)
				if err != nil {
					return err
				}
				if f := failure(r, "haproxy", holder); f == nil || f.Count < i {
					return fmt.Errorf("fail-count of haproxy on %s: %+v", holder, f)
				}
				if i == threshold {
					return nil
				}
				// Restarted in place before the next failure.
				if p := e.mainPID(holder, "haproxy.service"); p == "0" || p == pid {
					return fmt.Errorf("haproxy on %s not restarted yet (pid %s)", holder, p)
				}
				return c.Converged(r, c.Nodes)
			})
		}
		// Banned from the holder: the VIP follows haproxy-clone (colocation).
		moved, err := c.WaitHolder(e.ctx(30*time.Second), holder)
		if err != nil {
			t.Fatal(err)
		}
		var text string
		e.poll(30*time.Second, "status shows haproxy only on "+other+" with its fail-count", func() error {
			r, err := c.Status(e.ctx(10*time.Second), other)
			if err != nil {
				return err
			}
			if got := scenario.StartedOn(r, "haproxy-clone"); strings.Join(got, " ") != other {
				return fmt.Errorf("haproxy-clone started on %v", got)
			}
			if got := scenario.StartedOn(r, c.VIPResource); strings.Join(got, " ") != other {
				return fmt.Errorf("%s started on %v", c.VIPResource, got)
			}
			text = e.tandem(other, "status")
			if !strings.Contains(text, "Failed Resource Actions") || !strings.Contains(text, "haproxy") {
				return fmt.Errorf("status text has no failed haproxy action:\n%s", text)
			}
			return nil
		})
		t.Logf("the VIP moved to %s after %d haproxy failures on %s; status:\n%s", moved, threshold, holder, text)
		e.tandem(other, "resource", "cleanup", "haproxy")
		e.converged()
		r, err := c.Status(e.ctx(10*time.Second), other)
		if err != nil {
			t.Fatal(err)
		}
		if f := failure(r, "haproxy", holder); f != nil {
			t.Errorf("cleanup left a fail-count: %+v", f)
		}
	})

	t.Run("HostProcessKilled", func(t *testing.T) {
		e.t = t
		e.converged()
		holder := e.holder()
		for _, node := range []string{c.Other(holder), holder} {
			safety := c.WatchSafety()
			apache, haproxy := e.mainPID(node, "apache2.service"), e.mainPID(node, "haproxy.service")
			old, err := c.HostPID(e.ctx(10*time.Second), node)
			e.must(err)
			e.exec(node, "systemctl", "kill", "--kill-whom=main", "--signal=KILL", "tandem.service")
			e.poll(30*time.Second, "tandem restarts on "+node, func() error {
				pid, err := c.HostPID(e.ctx(10*time.Second), node)
				if err != nil || pid == old {
					return fmt.Errorf("tandem main pid %s (was %s): %v", pid, old, err)
				}
				return nil
			})
			e.converged()
			if a, h := e.mainPID(node, "apache2.service"), e.mainPID(node, "haproxy.service"); a != apache || h != haproxy {
				t.Errorf("the clones on %s were restarted with the host process: apache2 pid %s -> %s, haproxy %s -> %s", node, apache, a, haproxy, h)
			}
			e.checkSafety(safety)
			now := e.holder()
			t.Logf("tandem SIGKILLed on %s (the VIP's node: %v); clones untouched; the VIP is on %s", node, node == holder, now)
		}
	})

	t.Run("HolderStopsGracefully", func(t *testing.T) {
		e.t = t
		e.converged()
		holder := e.holder()
		survivor := c.Other(holder)
		safety := c.WatchSafety()
		defer e.checkSafety(safety)
		client := c.StartClient(60 * time.Second)
		e.waitRequests(client, 10)
		at := time.Now()
		// tandem stops this node's resources itself, singletons first so
		// that the VIP moves, then exits.
		e.exec(holder, "systemctl", "stop", "tandem.service")
		stopped := time.Since(at)
		defer e.exec(holder, "systemctl", "start", "tandem.service")
		for _, unit := range []string{"apache2.service", "haproxy.service"} {
			if st := strings.TrimSpace(e.execAllowFail(holder, "systemctl", "is-active", unit)); st != "inactive" {
				t.Errorf("%s on %s is %s after tandem stopped, want inactive", unit, holder, st)
			}
		}
		if got, err := c.WaitHolder(e.ctx(10*time.Second), holder); err != nil || got != survivor {
			t.Fatalf("the VIP is on %q (%v), want %s", got, err, survivor)
		}
		e.poll(30*time.Second, "the VIP serves from "+survivor, func() error {
			body, err := c.Get(e.ctx(5*time.Second), time.Second)
			if err != nil {
				return err
			}
			if body != "Hello "+strings.ToUpper(survivor[:1])+survivor[1:] {
				return fmt.Errorf("answered %q", body)
			}
			return nil
		})
		rs := client.Stop()
		_, allOK := scenario.Recovery(rs, at)
		t.Logf("systemctl stop tandem on %s took %s; every request answered %s after it began (%d of %d failed)",
			holder, stopped.Round(time.Millisecond), allOK.Sub(at).Round(time.Millisecond), scenario.Failed(rs), len(rs))
	})

	t.Run("HealthCheckTakesHttpdOff", func(t *testing.T) {
		// health:http as httpd's monitor (plugins/health/README.md): httpd
		// runs only where its check runs, and a failed check bans the check.
		e.t = t
		e.converged()
		victim := c.Other(e.holder())
		other := c.Other(victim)
		e.tandem(c.Nodes[0], "resource", "create", "httpd-check", "health:http", "url=http://{node_address}/", "expect_body=Hello",
			"op", "monitor", "interval=2s", "meta", "migration-threshold=1", "clone")
		defer func() {
			e.tandem(c.Nodes[0], "resource", "delete", "httpd-check")
			e.exec(victim, "sh", "-c", "echo Hello "+strings.ToUpper(victim[:1])+victim[1:]+" >/var/www/html/index.html")
			e.converged()
		}()
		e.poll(60*time.Second, "httpd-check-clone runs on both nodes", func() error {
			r, err := c.Status(e.ctx(10*time.Second), other)
			if err != nil {
				return err
			}
			if got := scenario.StartedOn(r, "httpd-check-clone"); len(got) != 2 {
				return fmt.Errorf("httpd-check-clone started on %v", got)
			}
			return nil
		})
		e.tandem(c.Nodes[0], "constraint", "order", "httpd-clone", "then", "httpd-check-clone")
		e.tandem(c.Nodes[0], "constraint", "colocation", "add", "httpd-clone", "with", "httpd-check-clone")
		e.converged()
		safety := c.WatchSafety()
		defer e.checkSafety(safety)
		// The page breaks on the victim (Apache still runs: only the check sees it).
		e.exec(victim, "sh", "-c", "echo Goodbye >/var/www/html/index.html")
		e.poll(60*time.Second, "httpd leaves "+victim, func() error {
			r, err := c.Status(e.ctx(10*time.Second), other)
			if err != nil {
				return err
			}
			if got := scenario.StartedOn(r, "httpd-clone"); strings.Join(got, " ") != other {
				return fmt.Errorf("httpd-clone started on %v", got)
			}
			if f := failure(r, "httpd-check", victim); f == nil {
				return fmt.Errorf("no failure of httpd-check on %s", victim)
			}
			return nil
		})
		want := "Hello " + strings.ToUpper(other[:1]) + other[1:]
		e.poll(30*time.Second, "the VIP answers from "+other+" only", func() error {
			for range 4 {
				body, err := c.Get(e.ctx(5*time.Second), time.Second)
				if err != nil {
					return err
				}
				if body != want {
					return fmt.Errorf("answered %q", body)
				}
			}
			return nil
		})
		// Repaired and cleaned up: httpd returns to the victim.
		e.exec(victim, "sh", "-c", "echo Hello "+strings.ToUpper(victim[:1])+victim[1:]+" >/var/www/html/index.html")
		e.tandem(c.Nodes[0], "resource", "cleanup", "httpd-check")
		e.converged()
		t.Logf("a failed check on %s took its httpd instance out; after cleanup it runs there again", victim)
	})

	t.Run("HolderHostFrozen", func(t *testing.T) {
		e.t = t
		e.converged()
		holder := e.holder()
		survivor := c.Other(holder)
		safety := c.WatchSafety()
		defer e.checkSafety(safety)
		pid, err := c.HostPID(e.ctx(10*time.Second), holder)
		e.must(err)
		fault := time.Now()
		e.exec(holder, "kill", "-STOP", pid)
		resumed := false
		resume := func() {
			if !resumed {
				resumed = true
				e.exec(holder, "kill", "-CONT", pid)
			}
		}
		defer resume()
		got, err := c.WaitHolder(e.ctx(20*time.Second), holder)
		if err != nil {
			t.Fatal(err)
		}
		if got != survivor {
			t.Fatalf("the VIP went to %s, want %s", got, survivor)
		}
		moved := time.Since(fault)
		// Keep it frozen for 5 s in all, then resume.
		e.poll(10*time.Second, "5 s frozen", func() error {
			if d := time.Since(fault); d < 5*time.Second {
				return fmt.Errorf("frozen for %s", d.Round(time.Millisecond))
			}
			return nil
		})
		resume()
		e.converged()
		if now := e.holder(); now != survivor {
			t.Errorf("after the resume the VIP is on %s, want it to stay on %s", now, survivor)
		}
		t.Logf("tandem frozen on %s: the VIP was on %s alone after %s", holder, survivor, moved.Round(time.Millisecond))
	})
}

// failover runs a fault against the VIP's holder under a client loop and the
// safety checker, checks that the survivor takes over and serves alone,
// then undoes the fault and waits for the cluster to converge again.
func (e *env) failover(fault func(holder string) error, undo func(holder string)) {
	t, c := e.t, e.c
	e.converged()
	holder := e.holder()
	survivor := c.Other(holder)
	safety := c.WatchSafety()
	defer e.checkSafety(safety)
	client := c.StartClient(60 * time.Second)
	e.waitRequests(client, 10)
	at := time.Now()
	e.must(fault(holder))
	undone := false
	defer func() {
		if !undone {
			undo(holder)
		}
	}()
	got, err := c.WaitHolder(e.ctx(30*time.Second), holder)
	if err != nil {
		t.Fatal(err)
	}
	if got != survivor {
		t.Fatalf("the VIP went to %s, want %s", got, survivor)
	}
	// The checker samples on its own clock: wait for its sample of the move.
	var vipAt time.Time
	e.poll(5*time.Second, "the safety checker sees the VIP on "+survivor, func() error {
		var ok bool
		if vipAt, ok = safety.FirstOn(survivor, at); !ok {
			return fmt.Errorf("not sampled yet")
		}
		return nil
	})
	// Serving again: 40 answered requests (2 s) in a row after the fault.
	e.poll(30*time.Second, "the VIP serves from "+survivor, func() error {
		rs := client.Requests()
		if run := scenario.AnsweredInARow(rs, at); run < 40 {
			return fmt.Errorf("%d answered requests in a row since the fault", run)
		}
		return nil
	})
	rs := client.Stop()
	firstOK, allOK := scenario.Recovery(rs, at)
	if firstOK.IsZero() || allOK.IsZero() {
		t.Fatalf("no recovery in the client's requests: %s", scenario.Errors(rs))
	}
	want := "Hello " + strings.ToUpper(survivor[:1]) + survivor[1:]
	for _, r := range rs {
		if !r.Start.Before(allOK) && r.Body != want {
			t.Errorf("after the failover a request was answered %q, want %q (only %s is left)", r.Body, want, survivor)
			break
		}
	}
	t.Logf("%s: VIP on %s after %s, first answer after %s, every request answered after %s (%d of %d failed)",
		holder, survivor, vipAt.Sub(at).Round(time.Millisecond), firstOK.Sub(at).Round(time.Millisecond),
		allOK.Sub(at).Round(time.Millisecond), scenario.Failed(rs), len(rs))
	undone = true
	undo(holder)
	e.converged()
	if n, err := c.Holders(); err != nil || len(n) != 1 {
		t.Errorf("after %s is back the VIP is on %v (%v)", holder, n, err)
	}
}

// alertLog installs an alert agent script on every node and configures it
// for the cluster (alert "lablog", recipient the log file whose path it
// returns); the test's cleanup removes the alert.
func (e *env) alertLog() string {
	e.t.Helper()
	const script, log = "/usr/local/sbin/tandem-lab-alert", "/var/log/tandem-lab-alerts.log"
	body := "#!/bin/sh\necho \"$CRM_alert_kind node=$CRM_alert_node rsc=$CRM_alert_rsc task=$CRM_alert_task rc=$CRM_alert_rc desc=$CRM_alert_desc\" >> \"$CRM_alert_recipient\"\n"
	for _, n := range e.c.Nodes {
		e.exec(n, "sh", "-c", "printf '%s' \"$1\" > "+script+" && chmod 755 "+script+" && rm -f "+log, "sh", body)
	}
	const added = `summary="alert recipient add lablog`
	applied := func(n string) int {
		return strings.Count(e.execAllowFail(n, "journalctl", "-u", "tandem", "-o", "cat", "--no-pager"), added)
	}
	before := map[string]int{}
	for _, n := range e.c.Nodes {
		before[n] = applied(n)
	}
	e.tandem(e.c.Nodes[0], "alert", "create", "id=lablog", "path="+script)
	e.tandem(e.c.Nodes[0], "alert", "recipient", "add", "lablog", "value="+log)
	// A fault before a node has the alert would not be heard there:
	// wait until every node applied the revision that adds the recipient.
	for _, n := range e.c.Nodes {
		e.poll(30*time.Second, n+" applied the lab's alert", func() error {
			if applied(n) <= before[n] {
				return fmt.Errorf("no live configuration change with the recipient on %s yet", n)
			}
			return nil
		})
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := e.c.Tandem(ctx, e.c.Nodes[0], "alert", "remove", "lablog"); err != nil {
			e.t.Errorf("removing the lab's alert: %v", err)
		}
	})
	return log
}

func (e *env) ctx(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	e.t.Cleanup(cancel)
	return ctx
}

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// converged waits for the scenario to run on both nodes.
func (e *env) converged() {
	e.t.Helper()
	if _, err := e.c.WaitConverged(e.ctx(90*time.Second), e.c.Nodes[0], e.c.Nodes); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) holder() string {
	e.t.Helper()
	h, err := e.c.WaitHolder(e.ctx(10*time.Second), "")
	e.must(err)
	return h
}

func (e *env) checkSafety(s *scenario.Safety) {
	e.t.Helper()
	if err := s.Stop(); err != nil {
		e.t.Error(err)
	}
	e.t.Logf("safety checker: %d samples, longest gap %s", s.Count(), s.MaxGap().Round(time.Millisecond))
}

func (e *env) poll(total time.Duration, what string, check func() error) {
	e.t.Helper()
	poll.Until(e.t, total, 100*time.Millisecond, poll.About(what, check))
}

func (e *env) waitRequests(cl *scenario.Client, n int) {
	e.t.Helper()
	e.poll(30*time.Second, fmt.Sprintf("%d client requests", n), func() error {
		if got := len(cl.Requests()); got < n {
			return fmt.Errorf("%d requests", got)
		}
		return nil
	})
}

func (e *env) exec(node string, argv ...string) string {
	e.t.Helper()
	out, err := e.l.Exec(e.ctx(30*time.Second), node, argv...)
	e.must(err)
	return out
}

func (e *env) execAllowFail(node string, argv ...string) string {
	e.t.Helper()
	out, _ := e.l.Exec(e.ctx(30*time.Second), node, argv...)
	return out
}

func (e *env) tandem(node string, args ...string) string {
	e.t.Helper()
	out, err := e.c.Tandem(e.ctx(60*time.Second), node, args...)
	e.must(err)
	return out
}

func (e *env) mainPID(node, unit string) string {
	e.t.Helper()
	return strings.TrimSpace(e.exec(node, "systemctl", "show", "-p", "MainPID", "--value", unit))
}

func failure(r *status.Report, rsc, node string) *status.Failure {
	for i := range r.Failures {
		if r.Failures[i].Resource == rsc && r.Failures[i].Node == node {
			return &r.Failures[i]
		}
	}
	return nil
}
