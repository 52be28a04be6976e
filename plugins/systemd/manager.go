package systemd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
)

// ErrNoSystemd says that systemd is not the init of this node, so no unit
// can run here. A systemd that is the init but does not answer in time is
// a plain error.
var ErrNoSystemd = errors.New("systemd is not reachable over D-Bus")

// Manager talks to the node's systemd over D-Bus: unit state, start, stop
// and reload jobs (waiting for their results), runtime drop-ins. The
// haproxy agent uses it for haproxy.service. It reconnects by itself when
// systemd restarts (daemon-reexec) and is safe for concurrent use.
type Manager struct {
	runtimeDir string

	mu   sync.Mutex
	conn *dbus.Conn

	dropMu    sync.Mutex          // one drop-in install (and reload) at a time
	preparing map[string]struct{} // units with a Prepare in flight (under mu)
}

// NewManager returns a Manager that writes drop-ins under runtimeDir
// (DefaultRuntimeDir when empty). It connects on first use.
func NewManager(runtimeDir string) *Manager {
	if runtimeDir == "" {
		runtimeDir = DefaultRuntimeDir
	}
	return &Manager{runtimeDir: runtimeDir, preparing: map[string]struct{}{}}
}

// Close drops the D-Bus connection.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conn != nil {
		m.conn.Close()
		m.conn = nil
	}
}

// bootedDir exists when systemd is the init of this system (sd_booted).
const bootedDir = "/run/systemd/system"

// retryEvery spaces the attempts to reach a systemd that is away.
const retryEvery = 100 * time.Millisecond

// connect returns the live connection, dialling systemd's private socket
// first (no dbus-daemon needed, root only) and the system bus second.
func (m *Manager) connect(ctx context.Context) (*dbus.Conn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conn != nil && m.conn.Connected() {
		return m.conn, nil
	}
	if m.conn != nil {
		m.conn.Close()
		m.conn = nil
	}
	c, err := dbus.NewSystemdConnectionContext(ctx)
	if err != nil {
		var err2 error
		if c, err2 = dbus.NewSystemConnectionContext(ctx); err2 != nil {
			return nil, fmt.Errorf("no connection (/run/systemd/private: %v; system bus: %v): is systemd PID 1 here, and is the plugin root?", err, err2)
		}
	}
	// systemd sends job signals (JobRemoved, which ends a wait) only to
	// subscribed clients.
	if err := c.Subscribe(); err != nil {
		c.Close()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	m.conn = c
	return c, nil
}

// drop forgets c if it is still the current connection, so that the next
// call dials again.
func (m *Manager) drop(c *dbus.Conn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conn == c {
		m.conn.Close()
		m.conn = nil
	}
}

// transient reports whether err says systemd is away for a moment rather
// than refusing the call: the connection broke (systemd re-executes itself
// on upgrades, daemon-reexec, and drops every client), or the bus has no
// systemd to deliver the call to.
func transient(c *dbus.Conn, err error) bool {
	if !c.Connected() || errors.Is(err, godbus.ErrClosed) {
		return true
	}
	var name string
	var de godbus.Error
	var dp *godbus.Error
	if errors.As(err, &de) {
		name = de.Name
	} else if errors.As(err, &dp) {
		name = dp.Name
	}
	switch name {
	case "org.freedesktop.DBus.Error.NoReply", "org.freedesktop.DBus.Error.Disconnected",
		"org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner":
		return true
	}
	return false
}

// do runs f on a live connection. While systemd is away (re-executing,
// reloading the bus) it reconnects and tries again every retryEvery until
// ctx ends: a monitor must not fail, nor report "not installed", because
// systemd was busy for a second. The error of a node without systemd as
// init wraps ErrNoSystemd.
func (m *Manager) do(ctx context.Context, f func(*dbus.Conn) error) error {
	for attempt := 0; ; attempt++ {
		c, err := m.connect(ctx)
		if err == nil {
			if err = f(c); err == nil || !transient(c, err) {
				return err
			}
			m.drop(c)
		} else if _, serr := os.Stat(bootedDir); serr != nil {
			return fmt.Errorf("%w: systemd is not the init of this system (no %s): %v", ErrNoSystemd, bootedDir, err)
		}
		if attempt == 0 {
			slog.Info("systemd is away; trying again until the operation's deadline", "error", err)
		}
		t := time.NewTimer(retryEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("systemd did not answer before the operation's deadline: %w", err)
		case <-t.C:
		}
	}
}

// State reads a unit's state. A unit systemd has no file for has LoadState
// "not-found" (no error).
func (m *Manager) State(ctx context.Context, unit string) (UnitState, error) {
	s := UnitState{Unit: unit}
	err := m.do(ctx, func(c *dbus.Conn) error {
		props, err := c.GetUnitPropertiesContext(ctx, unit)
		if err != nil {
			return err
		}
		str := func(k string) string { v, _ := props[k].(string); return v }
		s.LoadState, s.ActiveState, s.SubState, s.UnitFileState = str("LoadState"), str("ActiveState"), str("SubState"), str("UnitFileState")
		s.NeedDaemonReload, _ = props["NeedDaemonReload"].(bool)
		if us, _ := props["ActiveEnterTimestamp"].(uint64); us > 0 {
			s.ActiveEnter = time.UnixMicro(int64(us))
		}
		if filepath.Ext(unit) == ".service" && s.Installed() {
			sp, err := c.GetUnitTypePropertiesContext(ctx, unit, "Service")
			if err != nil {
				return err
			}
			s.Type, _ = sp["Type"].(string)
			s.Restart, _ = sp["Restart"].(string)
			s.Result, _ = sp["Result"].(string)
			s.MainPID, _ = sp["MainPID"].(uint32)
			s.ExecMainCode, _ = sp["ExecMainCode"].(int32)
			s.ExecMainStatus, _ = sp["ExecMainStatus"].(int32)
			s.NRestarts, _ = sp["NRestarts"].(uint32)
		}
		return nil
	})
	if err != nil {
		return UnitState{}, fmt.Errorf("read the state of %s: %w", unit, err)
	}
	return s, nil
}

// Settle reads the unit's state until it is no longer in transition
// (activating, deactivating, reloading) or ctx ends; it returns the last
// state read.
func (m *Manager) Settle(ctx context.Context, unit string) (UnitState, error) {
	const poll = 100 * time.Millisecond
	for {
		s, err := m.State(ctx, unit)
		if err != nil || !s.Transitional() {
			return s, err
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return s, nil
		case <-t.C:
		}
	}
}

// Confirm watches a unit that start just made active until it has stayed
// active, with the same main process, for window (or until ctx's deadline
// is near). It returns the settled state as soon as the unit leaves active
// (a main process that exited at once), else the last state read.
func (m *Manager) Confirm(ctx context.Context, unit string, s UnitState, window time.Duration) (UnitState, error) {
	const poll = 20 * time.Millisecond
	end := time.Now().Add(window)
	if d, ok := ctx.Deadline(); ok {
		// Keep a tenth of what is left for the answer.
		if late := d.Add(-time.Until(d) / 10); late.Before(end) {
			end = late
		}
	}
	for time.Now().Before(end) {
		t := time.NewTimer(min(poll, time.Until(end)))
		select {
		case <-ctx.Done():
			t.Stop()
			return s, nil
		case <-t.C:
		}
		now, err := m.State(ctx, unit)
		if err != nil {
			return s, err
		}
		if now.ActiveState != "active" || now.MainPID != s.MainPID {
			return m.Settle(ctx, unit)
		}
		s = now
	}
	return s, nil
}

type jobFunc func(ctx context.Context, name, mode string, ch chan<- string) (int, error)

// jobUnknown is the result of a job whose end the Manager could not see:
// systemd dropped the connection while it ran (it keeps the job across a
// re-execution). The unit's state says how it went.
const jobUnknown = "unknown"

// job enqueues a job ("replace" mode, as systemctl does) and waits for its
// result: done, canceled, timeout, failed, dependency, skipped, or
// jobUnknown.
func (m *Manager) job(ctx context.Context, what, unit string, f func(*dbus.Conn) jobFunc) (string, error) {
	ch := make(chan string, 1) // buffered: the connection never blocks on us
	var c *dbus.Conn
	var id int
	err := m.do(ctx, func(conn *dbus.Conn) error {
		c = conn
		var err error
		id, err = f(conn)(ctx, unit, "replace", ch)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", what, unit, err)
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case r := <-ch:
			return r, nil
		case <-ctx.Done():
			return "", fmt.Errorf("%s %s: no job result before the operation's deadline: %w", what, unit, ctx.Err())
		case <-tick.C:
		}
		if c.Connected() {
			continue
		}
		// The signal will not come on this connection: wait for the job
		// to leave systemd's queue on a new one.
		slog.Info("connection to systemd lost during a job; following it on a new one", "job", what, "unit", unit, "id", id)
		m.drop(c)
		for {
			var queued bool
			err := m.do(ctx, func(conn *dbus.Conn) error {
				jobs, err := conn.ListJobsContext(ctx)
				queued = false
				for _, j := range jobs {
					queued = queued || int(j.Id) == id
				}
				return err
			})
			if err != nil {
				return "", fmt.Errorf("%s %s: %w", what, unit, err)
			}
			if !queued {
				return jobUnknown, nil
			}
			select {
			case <-ctx.Done():
				return "", fmt.Errorf("%s %s: no job result before the operation's deadline: %w", what, unit, ctx.Err())
			case <-tick.C:
			}
		}
	}
}

// Start starts unit and returns the job's result.
func (m *Manager) Start(ctx context.Context, unit string) (string, error) {
	return m.job(ctx, "start", unit, func(c *dbus.Conn) jobFunc { return c.StartUnitContext })
}

// Stop stops unit and returns the job's result.
func (m *Manager) Stop(ctx context.Context, unit string) (string, error) {
	return m.job(ctx, "stop", unit, func(c *dbus.Conn) jobFunc { return c.StopUnitContext })
}

// Reload runs the unit's ExecReload and returns the job's result.
func (m *Manager) Reload(ctx context.Context, unit string) (string, error) {
	return m.job(ctx, "reload", unit, func(c *dbus.Conn) jobFunc { return c.ReloadUnitContext })
}

// ResetFailed clears the unit's failed state (systemctl reset-failed).
func (m *Manager) ResetFailed(ctx context.Context, unit string) error {
	err := m.do(ctx, func(c *dbus.Conn) error { return c.ResetFailedUnitContext(ctx, unit) })
	if err != nil {
		return fmt.Errorf("reset-failed %s: %w", unit, err)
	}
	return nil
}

// EnsureDropIn writes content as the unit's tandem drop-in when it differs
// from what is there, and reloads systemd when it wrote it or when systemd
// says its view of the unit is out of date (a crash between the two). It
// reports whether it reloaded.
func (m *Manager) EnsureDropIn(ctx context.Context, unit, content string) (bool, error) {
	return m.ensureDropIn(ctx, unit, content, nil)
}

// Prepare installs unit's drop-in in the background when it is missing or
// out of date, so that the first start does not pay for systemd's reload
// (0.5-1.5 s on a busy node, on the critical path of a cold start: the
// reference scenario starts httpd then haproxy, one reload each). Agents call
// it when a monitor or probe finds the unit stopped: the unit is the
// cluster's from the moment it is configured as a resource. A start that
// comes meanwhile waits for it (and then finds nothing to do).
func (m *Manager) Prepare(unit, content string) {
	if old, err := os.ReadFile(DropInPath(m.runtimeDir, unit)); err == nil && bytes.Equal(old, []byte(content)) {
		return
	}
	m.mu.Lock()
	if _, busy := m.preparing[unit]; busy {
		m.mu.Unlock()
		return
	}
	m.preparing[unit] = struct{}{}
	m.mu.Unlock()
	go func() {
		defer func() {
			m.mu.Lock()
			delete(m.preparing, unit)
			m.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// Only for a unit that exists (an unknown one gets nothing on disk)
		// and is stopped (a running one is the start's business).
		s, err := m.State(ctx, unit)
		if err != nil || !s.Installed() || s.LoadState == "masked" || s.ActiveState == "active" {
			return
		}
		reloaded, err := m.ensureDropIn(ctx, unit, content, &s)
		switch {
		case err != nil:
			slog.Warn("drop-in not installed ahead of the start (the start will try again)", "unit", unit, "err", err)
		case reloaded:
			slog.Info("installed drop-in ahead of the first start and reloaded systemd", "unit", unit, "path", DropInPath(m.runtimeDir, unit))
		}
	}()
}

// ensureDropIn is EnsureDropIn with the unit's state when the caller has
// just read it (nil: read it here if needed), saving a D-Bus round trip.
func (m *Manager) ensureDropIn(ctx context.Context, unit, content string, known *UnitState) (bool, error) {
	m.dropMu.Lock()
	defer m.dropMu.Unlock()
	path := DropInPath(m.runtimeDir, unit)
	old, err := os.ReadFile(path)
	changed := err != nil || !bytes.Equal(old, []byte(content))
	if changed {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return false, fmt.Errorf("drop-in for %s: %w", unit, err)
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			return false, fmt.Errorf("drop-in for %s: %w", unit, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return false, fmt.Errorf("drop-in for %s: %w", unit, err)
		}
	} else {
		if known == nil {
			s, err := m.State(ctx, unit)
			if err != nil {
				return false, err
			}
			known = &s
		}
		if !known.NeedDaemonReload {
			return false, nil
		}
	}
	// One daemon-reload at a time across the node's agents (the systemd and
	// haproxy plugins are separate processes; a reload costs 0.5-1.5 s and
	// reads every unit file): under the lock, reload only if systemd has
	// not picked this drop-in up through another agent's reload meanwhile.
	unlock, err := lockFile(ctx, filepath.Join(m.runtimeDir, ".tandem-daemon-reload.lock"))
	if err != nil {
		return false, fmt.Errorf("daemon-reload after writing %s: %w", path, err)
	}
	defer unlock()
	if changed {
		s, err := m.State(ctx, unit)
		if err == nil && !s.NeedDaemonReload {
			return false, nil
		}
	}
	if err := m.do(ctx, func(c *dbus.Conn) error { return c.ReloadContext(ctx) }); err != nil {
		return false, fmt.Errorf("daemon-reload after writing %s: %w", path, err)
	}
	return true, nil
}

// lockFile takes an exclusive flock on path (created if missing) within ctx.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
