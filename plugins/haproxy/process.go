package haproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/systemd"
)

// controller starts, reloads and stops HAProxy's master process. There are
// two: the systemd unit (production) and a master-worker process the agent
// runs itself (unit = "", and hosts without systemd). Both run HAProxy in
// master-worker mode, where a reload (SIGUSR2 to the master) starts new
// workers that take the listening sockets over from the old ones.
type controller interface {
	// start starts HAProxy on its configuration; it returns once the
	// master runs (the caller waits for the stats socket).
	start(ctx context.Context) error
	// reload asks the master for new workers on the current configuration.
	reload(ctx context.Context) error
	// stop stops HAProxy; stopping a stopped one succeeds.
	stop(ctx context.Context) error
	// status says whether the master runs.
	status(ctx context.Context) (procStatus, error)
}

type procStatus struct {
	running bool
	failed  bool   // a unit in the failed state
	detail  string // for messages
	// restarted says systemd restarted HAProxy by itself (Restart=
	// on-failure) since the cluster started it, within the start limit's
	// interval: running, but worth an admin's look ("" otherwise).
	restarted string
}

// --- a process of our own ---------------------------------------------------

// direct runs "haproxy -W -D": a daemonised master-worker, re-parented away
// from the plugin, so that a plugin restart leaves HAProxy running. The pid
// file names the master.
type direct struct {
	binary, config, pidFile, logFile string
	// masterSock is the master CLI (-S): reload goes through it, and it
	// answering says the master is ready for one (a SIGUSR2 sent while a
	// fresh master is still setting up is lost).
	masterSock string
}

func (d direct) start(ctx context.Context) error {
	log, err := os.OpenFile(d.logFile, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	// Output goes to a file, never to the plugin's stdout/stderr; the
	// daemon keeps no pipe of ours open.
	_ = os.Remove(d.masterSock)
	cmd := exec.CommandContext(ctx, d.binary, "-W", "-D", "-f", d.config, "-p", d.pidFile, "-S", d.masterSock+",mode,600")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(d.logFile)
		return fmt.Errorf("%s -W -D -f %s: %v: %s", d.binary, d.config, err, strings.ReplaceAll(haproxyMessage(string(out)), "\n", " | "))
	}
	return d.masterReady(ctx)
}

// masterReady waits until the master answers on its CLI.
func (d direct) masterReady(ctx context.Context) error {
	for {
		out, err := stats{d.masterSock}.cmd(ctx, "show proc")
		if err == nil && strings.Contains(out, "master") {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("the HAProxy master did not answer on %s: %v", d.masterSock, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// masterPID returns the master's pid when it is alive and is ours (its
// command line names our pid file, which guards against pid reuse).
func (d direct) masterPID() (int, bool) {
	// A reloading master re-executes itself and rewrites the pid file
	// (truncate, then write): an empty or partial file for a moment means
	// "being written", not "not running". Read again for up to 200 ms.
	var pid int
	for try := 0; ; try++ {
		b, err := os.ReadFile(d.pidFile)
		if err != nil {
			return 0, false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && pid > 1 {
			break
		}
		if try == 10 {
			return 0, false
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !alive(pid) {
		return pid, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte(d.pidFile)) {
		return pid, false
	}
	return pid, true
}

// alive is false for a zombie: a master that exited but was not reaped
// (its parent is init, which may be slow or, in a container, absent).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}

func (d direct) reload(ctx context.Context) error {
	if _, ok := d.masterPID(); !ok {
		return fmt.Errorf("HAProxy is not running (no live master in %s)", d.pidFile)
	}
	// Right after a start or a reload the master re-executes itself and
	// its CLI refuses connections for a moment: wait for it.
	if err := d.masterReady(ctx); err != nil {
		return err
	}
	out, err := stats{d.masterSock}.cmd(ctx, "reload")
	if err != nil {
		return fmt.Errorf("reload through the master CLI: %w", err)
	}
	if msg := strings.TrimSpace(out); msg != "" {
		return fmt.Errorf("reload through the master CLI %s: %s", d.masterSock, msg)
	}
	return nil
}

func (d direct) stop(ctx context.Context) error {
	pid, ok := d.masterPID()
	if !ok {
		d.clean()
		return nil
	}
	// SIGTERM: the master stops its workers at once (hard stop), as
	// systemd's stop of haproxy.service does.
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if waitGone(ctx, pid, time.Until(deadlineOf(ctx, 10*time.Second))*3/4) {
		d.clean()
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGKILL) // workers follow their master
	if waitGone(ctx, pid, time.Until(deadlineOf(ctx, 2*time.Second))) {
		d.clean()
		return nil
	}
	return fmt.Errorf("HAProxy master %d did not exit after SIGTERM and SIGKILL", pid)
}

func (d direct) clean() {
	_ = os.Remove(d.pidFile)
	_ = os.Remove(d.masterSock)
}

func (d direct) status(ctx context.Context) (procStatus, error) {
	pid, ok := d.masterPID()
	if !ok && pid != 0 {
		// stop removes the pid file: a master gone without it crashed or
		// was killed behind the cluster's back.
		return procStatus{failed: true, detail: fmt.Sprintf("HAProxy master %d (from %s) is gone; see %s", pid, d.pidFile, d.logFile)}, nil
	}
	if !ok {
		return procStatus{detail: "not running"}, nil
	}
	return procStatus{running: true, detail: fmt.Sprintf("master pid %d", pid)}, nil
}

func deadlineOf(ctx context.Context, def time.Duration) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(def)
}

func waitGone(ctx context.Context, pid int, within time.Duration) bool {
	end := time.Now().Add(within)
	for {
		if !alive(pid) {
			return true
		}
		if time.Now().After(end) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// --- the systemd unit -------------------------------------------------------

// unit runs HAProxy as the distribution's haproxy.service (Debian's runs
// "haproxy -Ws -f $CONFIG" and reloads with SIGUSR2), pointed at the
// configuration by a runtime drop-in that sets CONFIG. The drop-in also
// has systemd restart a HAProxy that dies (killed, crashed) in place,
// within restarts (DropInRestarting): on the VIP's holder that is an
// outage of about 0.4 s in the lab (README) instead of the monitor's
// interval and the cluster's recovery. Once systemd gives up (start-limit-hit) the unit is
// failed and the monitor says so: the cluster recovers it or moves it.
type unit struct {
	m      *systemd.Manager
	name   string
	config string
}

// restarts is the unit's restart policy: systemd.DefaultRestarts, 5
// starts in 60 s (the cluster's start and 4 restarts), 100 ms apart.
var restarts = systemd.DefaultRestarts

func (u unit) dropIn() string {
	return systemd.DropInRestarting(u.name, restarts, fmt.Sprintf("Environment=\"CONFIG=%s\"", u.config))
}

func resultErr(r sdk.Result) error {
	if r.Code == sdk.OK {
		return nil
	}
	return errors.New(r.Message)
}

func (u unit) start(ctx context.Context) error {
	return resultErr(systemd.StartUnit(ctx, u.m, u.name, u.dropIn()))
}

func (u unit) reload(ctx context.Context) error {
	// The drop-in names the configuration; make sure systemd has it
	// (a config path change needs it before the reload reads $CONFIG).
	if _, err := u.m.EnsureDropIn(ctx, u.name, u.dropIn()); err != nil {
		return err
	}
	job, err := u.m.Reload(ctx, u.name)
	if err != nil {
		return err
	}
	if job != "done" {
		s, _ := u.m.State(ctx, u.name)
		return fmt.Errorf("reload %s: job %s; %s; see journalctl -u %s", u.name, job, s, u.name)
	}
	return nil
}

func (u unit) stop(ctx context.Context) error {
	return resultErr(systemd.StopUnit(ctx, u.m, u.name))
}

// status waits, within ctx, for a unit systemd is restarting
// (activating, auto-restart) to settle: a restart in progress is neither a
// failure nor a stop.
func (u unit) status(ctx context.Context) (procStatus, error) {
	s, err := u.m.Settle(ctx, u.name)
	if err != nil {
		return procStatus{}, err
	}
	r := systemd.Classify(s)
	ps := procStatus{running: r.Code == sdk.OK, failed: r.Code != sdk.OK && r.Code != sdk.NotRunning, detail: r.Message}
	if ps.failed && s.Restart == "on-failure" {
		// Restart=on-failure restarts every failure until the start
		// limit: failed means systemd gave up (its last result is the
		// death's, e.g. signal, or start-limit-hit).
		ps.detail = fmt.Sprintf("%s: systemd gave up restarting HAProxy (at most %d starts in %s); see journalctl -u %s",
			s, restarts.Burst, restarts.Interval, u.name)
	}
	if ps.running {
		ps.restarted = restartNote(s, time.Now())
	}
	return ps, nil
}

// restartNote says that systemd restarted the unit by itself since the
// cluster started it, while the last restart is within the start limit's
// interval (a crash then still counts towards the limit); "" otherwise.
func restartNote(s systemd.UnitState, now time.Time) string {
	if s.NRestarts == 0 || s.ActiveEnter.IsZero() || now.Sub(s.ActiveEnter) >= restarts.Interval {
		return ""
	}
	return fmt.Sprintf("systemd restarted %s %d time(s) since the cluster started it, last at %s (HAProxy died: see journalctl -u %s); "+
		"past %d starts in %s systemd gives up and the cluster recovers it", s.Unit, s.NRestarts, s.ActiveEnter.Format("15:04:05.000"), s.Unit,
		restarts.Burst, restarts.Interval)
}
