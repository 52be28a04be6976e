package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// A kind of fault: how to inject it into the running cluster and undo it.
// run sets f.at when the fault begins and returns once it is undone (the
// node restarted, healed, thawed...); the cluster's recovery is measured
// from f.at in the client's requests.
type kind struct {
	name string
	// moves: the fault takes the VIP's node away (or may), so a move of
	// the VIP during it is the failover, not a spurious move.
	moves bool
	run   func(b *bench, f *fault) error
}

var kinds = []kind{
	{"holder hard-killed", true, (*bench).holderKill},
	{"holder cut off", true, (*bench).holderCut},
	{"holder frozen 5 s", true, (*bench).holderFreeze},
	{"witness hard-killed", false, (*bench).witnessKill},
	{"tandem host SIGKILL (holder)", true, (*bench).hostKill},
	{"tandem host SIGSTOP 5 s (holder)", true, (*bench).hostStop},
	{"vip plugin SIGKILL (holder)", false, (*bench).pluginKill},
	{"Apache killed", false, (*bench).apacheKill},
	{"HAProxy killed (holder)", false, (*bench).haproxyKill},
	{"holder's link flapping", true, (*bench).linkFlap},
	{"a stop that fails", false, (*bench).failingStop},
	{"CPU starvation of the holder", false, (*bench).cpuStarve},
}

func (b *bench) holderKill(f *fault) error {
	h, err := b.holder()
	if err != nil {
		return err
	}
	f.target, f.at = h, time.Now()
	if err := b.l.Kill(h); err != nil {
		return err
	}
	b.waitServing(f.at, time.Minute)
	return b.l.Restart(b.timeout(2*time.Minute), h)
}

func (b *bench) holderCut(f *fault) error {
	h, err := b.holder()
	if err != nil {
		return err
	}
	f.target, f.at = h, time.Now()
	if err := b.l.Cut(h); err != nil {
		return err
	}
	b.waitServing(f.at, time.Minute)
	return b.l.Heal(h)
}

func (b *bench) holderFreeze(f *fault) error {
	h, err := b.holder()
	if err != nil {
		return err
	}
	f.target, f.at = h, time.Now()
	if err := b.l.Freeze(h); err != nil {
		return err
	}
	b.waitServing(f.at, time.Minute)
	b.sleepUntil(f.at.Add(5 * time.Second))
	f.thawed = time.Now()
	return b.l.Thaw(h)
}

func (b *bench) witnessKill(f *fault) error {
	w := b.c.Witness
	f.target, f.at = w, time.Now()
	if err := b.l.Kill(w); err != nil {
		return err
	}
	// Longer than the bus's leader election (4-9 s).
	b.sleepUntil(f.at.Add(12 * time.Second))
	return b.l.Restart(b.timeout(2*time.Minute), w)
}

func (b *bench) hostKill(f *fault) error {
	h, err := b.holder()
	if err != nil {
		return err
	}
	f.target = h
	if _, err := b.l.Exec(b.timeout(30*time.Second), h, "systemctl", "kill", "--kill-whom=main", "--signal=KILL", "tandem.service"); err != nil {
		return err
	}
	f.at = time.Now()
	b.waitServing(f.at, time.Minute)
	return nil
}

func (b *bench) hostStop(f *fault) error {
	h, err := b.holder()
	if err != nil {
		return err
	}
	pid, err := b.c.HostPID(b.timeout(10*time.Second), h)
	if err != nil {
		return err
	}
	f.target = h
	if _, err := b.l.Exec(b.timeout(10*time.Second), h, "kill", "-STOP", pid); err != nil {
		return err
	}
	f.at = time.Now()
	b.waitServing(f.at, time.Minute)
	b.sleepUntil(f.at.Add(5 * time.Second))
	_, err = b.l.Exec(b.timeout(10*time.Second), h, "kill", "-CONT", pid)
	return err
}

func (b *bench) pluginKill(f *fault) error {
	h, err := b.holder()
	if err != nil {
		return err
	}
	pids, err := b.l.ServicePIDs(h, "tandem.service")
	if err != nil {
		return err
	}
	victim := 0
	for _, pid := range pids {
		if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && strings.Contains(string(cmd), "tandem-plugin-vip") {
			victim = pid
		}
	}
	if victim == 0 {
		return fmt.Errorf("no vip plugin process in tandem.service on %s", h)
	}
	f.target, f.at = h, time.Now()
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		return err
	}
	b.waitServing(f.at, time.Minute)
	return nil
}

func (b *bench) apacheKill(f *fault) error {
	n := b.c.Nodes[b.rng.IntN(len(b.c.Nodes))]
	return b.unitKill(f, n, "apache2.service")
}

func (b *bench) haproxyKill(f *fault) error {
	h, err := b.holder()
	if err != nil {
		return err
	}
	return b.unitKill(f, h, "haproxy.service")
}

// unitKill kills a resource's unit behind the cluster's back and waits
// until the cluster has started it again (its monitor finds it failed):
// status converged is not enough, it still says started until then.
func (b *bench) unitKill(f *fault, node, unit string) error {
	pid := func() string {
		out, _ := b.l.Exec(b.timeout(10*time.Second), node, "systemctl", "show", "-p", "MainPID", "--value", unit)
		return strings.TrimSpace(out)
	}
	old := pid()
	f.target = node
	if _, err := b.l.Exec(b.timeout(30*time.Second), node, "systemctl", "kill", "--signal=KILL", unit); err != nil {
		return err
	}
	f.at = time.Now()
	deadline := f.at.Add(2 * time.Minute)
	for {
		if p := pid(); p != "0" && p != "" && p != old {
			return nil
		}
		if time.Now().After(deadline) || b.ctx.Err() != nil {
			return fmt.Errorf("%s on %s not started again within 2 minutes", unit, node)
		}
		b.sleepUntil(time.Now().Add(500 * time.Millisecond))
	}
}

// linkFlap cuts the holder's link for 2 s and heals it for 2 s, for
// b.flap in all.
func (b *bench) linkFlap(f *fault) error {
	h, err := b.holder()
	if err != nil {
		return err
	}
	f.target, f.at = h, time.Now()
	for time.Since(f.at) < b.flap && b.ctx.Err() == nil {
		if err := b.l.Cut(h); err != nil {
			return err
		}
		b.sleepUntil(time.Now().Add(2 * time.Second))
		if err := b.l.Heal(h); err != nil {
			return err
		}
		b.sleepUntil(time.Now().Add(2 * time.Second))
	}
	return nil
}

// failingStop makes httpd's stop fail on the node without the VIP (the
// unit refuses a manual stop) and bans httpd from there: the instance ends
// blocked. It counts the transitions that name httpd for 30 s of blocked
// state, then fixes the unit, lifts the ban and cleans up.
func (b *bench) failingStop(f *fault) error {
	h, err := b.holder()
	if err != nil {
		return err
	}
	victim := b.c.Other(h)
	const dropIn = "/etc/systemd/system/apache2.service.d/refuse-stop.conf"
	if _, err := b.l.Exec(b.timeout(30*time.Second), victim, "sh", "-c",
		"mkdir -p "+dropIn[:strings.LastIndex(dropIn, "/")]+" && printf '[Unit]\\nRefuseManualStop=yes\\n' >"+dropIn+" && systemctl daemon-reload"); err != nil {
		return err
	}
	defer func() {
		_, _ = b.l.Exec(b.timeout(30*time.Second), victim, "sh", "-c", "rm -f "+dropIn+" && systemctl daemon-reload")
		_, _ = b.c.Tandem(b.timeout(60*time.Second), h, "resource", "clear", "httpd-clone")
		_, _ = b.c.Tandem(b.timeout(60*time.Second), h, "resource", "cleanup", "httpd")
	}()
	f.target, f.at = victim, time.Now()
	if _, err := b.c.Tandem(b.timeout(60*time.Second), h, "resource", "ban", "httpd-clone", victim); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		r, err := b.c.Status(b.timeout(10*time.Second), h)
		if err == nil && r != nil {
			if res := resource(r, "httpd-clone"); res != nil && res.Nodes[victim] == "FAILED (blocked)" {
				break
			}
		}
		if time.Now().After(deadline) || b.ctx.Err() != nil {
			return fmt.Errorf("httpd did not end blocked on %s within a minute", victim)
		}
		b.sleepUntil(time.Now().Add(200 * time.Millisecond))
	}
	from, begin := b.httpdTransitions.Load(), time.Now()
	b.sleepUntil(begin.Add(30 * time.Second))
	b.blockedFor += time.Since(begin)
	b.blockedTransitions += int(b.httpdTransitions.Load() - from)
	return nil
}

// cpuStarve runs a busy loop on every core inside the holder for b.starve.
func (b *bench) cpuStarve(f *fault) error {
	h, err := b.holder()
	if err != nil {
		return err
	}
	secs := fmt.Sprint(int(b.starve.Seconds()))
	f.target, f.at = h, time.Now()
	_, err = b.l.Exec(b.timeout(b.starve+time.Minute), h, "sh", "-c",
		"for i in $(seq $(nproc)); do timeout "+secs+" sh -c 'while :; do :; done' & done; wait")
	return err
}
