// Package systemd is the agent of systemd units (agent = "systemd:<unit>",
// e.g. systemd:apache2), and the small D-Bus client (Manager) the haproxy
// agent shares. Start and stop wait for systemd's job result; monitor reads
// ActiveState/SubState. Before the first start the agent installs a runtime
// drop-in that names the unit "Cluster Controlled <unit>" and turns off
// systemd's own restarts, as Pacemaker does: restarts are the cluster's.
package systemd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Name is the plugin's name: agent = "systemd:<unit>".
const Name = "systemd"

// Version is the agent's own version.
const Version = "1.0.0"

var _ sdk.Agent = (*Agent)(nil)

// Options configure an Agent.
type Options struct {
	// RuntimeDir is where drop-ins go (default DefaultRuntimeDir).
	RuntimeDir string
}

// Agent manages systemd units. All methods are safe for concurrent use.
type Agent struct {
	m *Manager
}

// New returns the agent the plugin binary serves.
func New() *Agent { return NewWith(Options{}) }

// NewWith returns an agent configured by o.
func NewWith(o Options) *Agent { return &Agent{m: NewManager(o.RuntimeDir)} }

// Close drops the agent's D-Bus connection.
func (a *Agent) Close() { a.m.Close() }

// Info describes the plugin: it serves any unit.
func (a *Agent) Info() sdk.Info {
	return sdk.Info{Name: Name, Types: []string{"*"}, Version: Version, APIVersions: sdk.APIVersions}
}

// MetaData documents systemd:<unit>. The agent takes no parameters: what
// the unit runs is the unit file's business.
func (a *Agent) MetaData(agentType string) (sdk.MetaData, error) {
	unit, err := UnitName(agentType)
	if err != nil {
		return sdk.MetaData{}, err
	}
	return sdk.MetaData{
		Type: agentType, Version: Version,
		ShortDesc: "systemd unit " + unit,
		LongDesc: "Starts and stops " + unit + " through systemd over D-Bus and waits for the job's result. " +
			"Monitor maps ActiveState: active is running, inactive is stopped, failed is a failure, and a unit that is " +
			"activating or deactivating is waited for within the monitor's timeout. Before the first start a runtime drop-in " +
			DropInPath(DefaultRuntimeDir, unit) + " sets Description=Cluster Controlled <unit> and Restart=no, so that restarts " +
			"are the cluster's. The start job of a Type=simple, exec or idle service only says that its process was spawned, so " +
			"start watches such a service for " + StartConfirm.String() + " more and fails if it exits. " +
			"Disable the unit (systemctl disable) so that it does not start at boot either. " +
			"Its one parameter, configfile, is optional: the file the unit's service reads (the seed tutorial's " +
			"`pcs resource create httpd systemd:httpd configfile=/etc/httpd/conf/httpd.conf` passes it); validate and start " +
			"check that it exists on the node, so that a missing file is reported before systemd fails on it. " +
			"It is not passed to the unit.",
		Params: paramSpecs,
		Actions: []sdk.ActionSpec{
			{Name: "start", Timeout: 100 * time.Second},
			{Name: "stop", Timeout: 100 * time.Second},
			{Name: "monitor", Timeout: 100 * time.Second, Interval: 60 * time.Second},
			{Name: "validate", Timeout: 20 * time.Second},
		},
	}, nil
}

// ParamConfigFile names the configuration file the unit reads.
const ParamConfigFile = "configfile"

// paramSpecs are the parameters of every systemd:<unit> agent type.
var paramSpecs = []sdk.ParamSpec{{Name: ParamConfigFile, Type: "string",
	Description: "configuration file the unit reads; checked to exist (absolute path), not passed to the unit"}}

func checkParams(params map[string]string) error {
	v := sdk.ParseParams("systemd:<unit>", paramSpecs, params)
	if len(v.Unknown()) > 0 {
		v.Problem("", "anything else belongs in the unit itself (e.g. a drop-in)")
	}
	if f := v.String(ParamConfigFile); v.Given(ParamConfigFile) {
		if !filepath.IsAbs(f) {
			v.Invalid(ParamConfigFile, "give an absolute path")
		} else if st, err := os.Stat(f); err != nil {
			v.Invalid(ParamConfigFile, "%v (the unit's configuration file must exist on every node)", err)
		} else if !st.Mode().IsRegular() {
			v.Invalid(ParamConfigFile, "is not a regular file")
		}
	}
	if err := v.Err(); err != nil {
		return errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return nil
}

// Validate checks the unit name and the params, and asks systemd whether
// the unit exists on this node.
func (a *Agent) Validate(ctx context.Context, req sdk.ValidateRequest) sdk.Result {
	unit, err := UnitName(req.AgentType)
	if err != nil {
		return sdk.Result{Code: sdk.ErrNotConfigured, Message: err.Error()}
	}
	if err := checkParams(req.Params); err != nil {
		return sdk.Result{Code: sdk.ErrNotConfigured, Message: err.Error()}
	}
	s, err := a.m.State(ctx, unit)
	if err != nil {
		return systemdError(err)
	}
	if !s.Installed() {
		return notInstalled(unit)
	}
	if s.LoadState == "masked" {
		return masked(unit)
	}
	msg := s.String()
	if w := enabledWarning(s); w != "" {
		msg += "; " + w
	}
	return sdk.Result{Code: sdk.OK, Message: msg}
}

func notInstalled(unit string) sdk.Result {
	return sdk.Resultf(sdk.ErrNotInstalled, "%s is not installed on this node (systemd has no unit file for it; install its package or fix the name)", unit)
}

func masked(unit string) sdk.Result {
	return sdk.Resultf(sdk.ErrNotInstalled, "%s is masked on this node; `systemctl unmask %s` to let the cluster start it", unit, unit)
}

// systemdError is the result for a failure to reach or ask systemd.
func systemdError(err error) sdk.Result {
	if errors.Is(err, ErrNoSystemd) {
		return sdk.Result{Code: sdk.ErrNotInstalled, Message: err.Error()}
	}
	return sdk.Result{Code: sdk.ErrGeneric, Message: err.Error()}
}

// restartWarning is for a service whose Restart= is not the one its drop-in
// sets (want): a drop-in that sorts after the agent's (an admin's
// override.conf) set Restart= again.
func restartWarning(s UnitState, want string) string {
	if s.Restart == "" || s.Restart == want {
		return ""
	}
	if want == "no" {
		return fmt.Sprintf("warning: %s has Restart=%s despite %s (a drop-in sorting after it sets Restart again; `systemctl cat %s`), so systemd restarts it behind the cluster's back", s.Unit, s.Restart, DropInName, s.Unit)
	}
	return fmt.Sprintf("warning: %s has Restart=%s, not the Restart=%s of %s (a drop-in sorting after it sets Restart again; `systemctl cat %s`)", s.Unit, s.Restart, want, DropInName, s.Unit)
}

func enabledWarning(s UnitState) string {
	if !s.EnabledAtBoot() {
		return ""
	}
	return fmt.Sprintf("warning: %s is enabled at boot, so systemd starts it before the cluster decides where it runs; run `systemctl disable %s`", s.Unit, s.Unit)
}

// StartConfirm is how long start watches a Type=simple, exec or idle
// service after its job is done, so that a main process that exits at once
// fails the start instead of the next monitor.
const StartConfirm = 250 * time.Millisecond

// Start installs the drop-in (reloading systemd when it changed), starts
// the unit, waits for the job and then for the unit to be active.
func (a *Agent) Start(ctx context.Context, req sdk.Request) sdk.Result {
	unit, err := UnitName(req.AgentType)
	if err != nil {
		return sdk.Result{Code: sdk.ErrNotConfigured, Message: err.Error()}
	}
	if err := checkParams(req.Params); err != nil {
		return sdk.Result{Code: sdk.ErrNotConfigured, Message: err.Error()}
	}
	return StartUnit(ctx, a.m, unit, DropIn(unit))
}

// StartUnit is Start for any agent built on a unit: dropIn is the unit's
// drop-in (the haproxy agent adds its configuration to DropIn's).
func StartUnit(ctx context.Context, m *Manager, unit, dropIn string) sdk.Result {
	s, err := m.State(ctx, unit)
	if err != nil {
		return systemdError(err)
	}
	if !s.Installed() {
		return notInstalled(unit)
	}
	if s.LoadState == "masked" {
		return masked(unit)
	}
	var notes []string
	if w := enabledWarning(s); w != "" {
		slog.Warn(w, "unit", unit)
		notes = append(notes, w)
	}
	reloaded, err := m.ensureDropIn(ctx, unit, dropIn, &s)
	if err != nil {
		return sdk.Result{Code: sdk.ErrGeneric, Message: err.Error()}
	}
	if reloaded {
		slog.Info("installed drop-in and reloaded systemd", "unit", unit, "path", DropInPath(m.runtimeDir, unit))
	}
	if s.ActiveState == "active" && !reloaded {
		if w := restartWarning(s, restartOf(dropIn)); w != "" {
			notes = append(notes, w)
		}
		return withNotes(sdk.Result{Code: sdk.OK, Message: "already running: " + s.String()}, notes)
	}
	if s.ActiveState == "failed" {
		// A unit left failed by an earlier run would make the start
		// report stale results; systemctl start also clears it.
		if err := m.ResetFailed(ctx, unit); err != nil {
			return sdk.Result{Code: sdk.ErrGeneric, Message: err.Error()}
		}
	} else if s.ActiveState == "inactive" && restartOf(dropIn) != "no" {
		// A unit systemd restarts by itself (DropInRestarting) gets its
		// start limit back with each start by the cluster: the limit
		// counts systemd's restarts since then, not the cluster's starts.
		// An inactive unit systemd has unloaded ("not loaded") has no
		// count to reset: the error is of no consequence.
		if err := m.ResetFailed(ctx, unit); err != nil {
			slog.Debug("reset-failed before the start", "unit", unit, "err", err)
		}
	}
	began := time.Now()
	job, err := m.Start(ctx, unit)
	if err != nil {
		return sdk.Result{Code: sdk.ErrGeneric, Message: err.Error()}
	}
	s, err = m.Settle(ctx, unit)
	if err != nil {
		return sdk.Result{Code: sdk.ErrGeneric, Message: err.Error()}
	}
	// jobUnknown (systemd re-executed during the job): the state decides.
	if job != "done" && job != jobUnknown {
		return withNotes(sdk.Resultf(sdk.ErrGeneric, "start %s: job %s; %s; see journalctl -u %s", unit, job, s, unit), notes)
	}
	if s.ActiveState == "active" && s.SpawnOnly() {
		// The job of a Type=simple service is done once its process is
		// forked: a daemon that exits at once (bad option, port in use)
		// would pass for started.
		if s, err = m.Confirm(ctx, unit, s, StartConfirm); err != nil {
			return sdk.Result{Code: sdk.ErrGeneric, Message: err.Error()}
		}
	}
	if w := restartWarning(s, restartOf(dropIn)); w != "" {
		slog.Warn(w, "unit", unit)
		notes = append(notes, w)
	}
	// "done" for Type=simple means forked, not running: the state decides.
	res := Classify(s)
	switch res.Code {
	case sdk.OK:
		res.Message = fmt.Sprintf("started in %s: %s", time.Since(began).Round(time.Millisecond), s)
	case sdk.NotRunning:
		res = sdk.Resultf(sdk.ErrGeneric, "start %s: the job succeeded but the unit is %s (it exited at once); see journalctl -u %s", unit, s, unit)
	default:
		res.Message = fmt.Sprintf("start %s: the job succeeded but then %s", unit, res.Message)
	}
	return withNotes(res, notes)
}

func withNotes(r sdk.Result, notes []string) sdk.Result {
	if len(notes) > 0 {
		r.Message += "; " + strings.Join(notes, "; ")
	}
	return r
}

// Stop stops the unit and waits for the job. A unit that is not installed
// or already stopped is stopped. A unit that failed on its way down is
// reset, so that the next monitor sees it stopped, not failed.
func (a *Agent) Stop(ctx context.Context, req sdk.Request) sdk.Result {
	unit, err := UnitName(req.AgentType)
	if err != nil {
		return sdk.Result{Code: sdk.ErrNotConfigured, Message: err.Error()}
	}
	return StopUnit(ctx, a.m, unit)
}

// StopUnit is Stop for any agent built on a unit.
func StopUnit(ctx context.Context, m *Manager, unit string) sdk.Result {
	s, err := m.State(ctx, unit)
	if err != nil {
		return systemdError(err)
	}
	if !s.Installed() {
		return sdk.Resultf(sdk.OK, "%s is not installed, so not running", unit)
	}
	if s.ActiveState != "inactive" {
		job, err := m.Stop(ctx, unit)
		if err != nil {
			return sdk.Result{Code: sdk.ErrGeneric, Message: err.Error()}
		}
		if s, err = m.Settle(ctx, unit); err != nil {
			return sdk.Result{Code: sdk.ErrGeneric, Message: err.Error()}
		}
		if job != "done" && s.ActiveState != "inactive" && s.ActiveState != "failed" {
			return sdk.Resultf(sdk.ErrGeneric, "stop %s: job %s; %s; see journalctl -u %s", unit, job, s, unit)
		}
	}
	if s.ActiveState == "failed" {
		if err := m.ResetFailed(ctx, unit); err != nil {
			return sdk.Result{Code: sdk.ErrGeneric, Message: err.Error()}
		}
		return sdk.Resultf(sdk.OK, "stopped (it had failed: %s; reset)", s)
	}
	if s.ActiveState != "inactive" {
		return sdk.Resultf(sdk.ErrGeneric, "stop %s: still %s", unit, s)
	}
	return sdk.Resultf(sdk.OK, "stopped: %s", s)
}

// Monitor reads the unit's state, waiting within the deadline while it is
// activating or deactivating.
func (a *Agent) Monitor(ctx context.Context, req sdk.Request) sdk.Result {
	unit, err := UnitName(req.AgentType)
	if err != nil {
		return sdk.Result{Code: sdk.ErrNotConfigured, Message: err.Error()}
	}
	r := MonitorUnit(ctx, a.m, unit)
	if r.Code == sdk.NotRunning {
		a.m.Prepare(unit, DropIn(unit))
	}
	return r
}

// MonitorUnit is Monitor for any agent built on a unit.
func MonitorUnit(ctx context.Context, m *Manager, unit string) sdk.Result {
	// Leave a little of the deadline for the answer.
	wait := ctx
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		wait, cancel = context.WithDeadline(ctx, d.Add(-time.Until(d)/10))
		defer cancel()
	}
	s, err := m.Settle(wait, unit)
	if err != nil {
		return systemdError(err)
	}
	return Classify(s)
}
