package systemd

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// unitSuffixes are the unit types an agent type may name explicitly; a name
// without one of them is a service ("apache2" is apache2.service).
var unitSuffixes = []string{".service", ".socket", ".target", ".mount", ".timer", ".path"}

// UnitName turns an agent type ("apache2", "apache2.service",
// "getty@tty1") into a systemd unit name. It refuses names systemd would
// refuse, so that a typo is reported by validate and not by D-Bus.
func UnitName(agentType string) (string, error) {
	s := strings.TrimSpace(agentType)
	if s == "" {
		return "", fmt.Errorf("no unit named: use agent = \"systemd:<unit>\", e.g. systemd:apache2")
	}
	name := s
	hasSuffix := false
	for _, suf := range unitSuffixes {
		if strings.HasSuffix(s, suf) {
			hasSuffix = true
			break
		}
	}
	if !hasSuffix {
		if i := strings.LastIndexByte(s, '.'); i > 0 && !strings.Contains(s[i:], "@") && isUnitType(s[i+1:]) {
			return "", fmt.Errorf("unit %q: systemd:%s manages %s units only", s, s, strings.Join(unitSuffixes, ", "))
		}
		name = s + ".service"
	}
	if len(name) > 255 {
		return "", fmt.Errorf("unit %q: longer than systemd's 255 characters", s)
	}
	stem := name[:strings.LastIndexByte(name, '.')]
	if stem == "" || strings.HasPrefix(stem, "@") {
		return "", fmt.Errorf("unit %q: no name before the suffix", s)
	}
	for _, r := range stem {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(":-_.\\@", r)) {
			return "", fmt.Errorf("unit %q: %q is not allowed in a unit name (letters, digits and :-_.\\@ only)", s, r)
		}
	}
	if strings.Count(stem, "@") > 1 {
		return "", fmt.Errorf("unit %q: more than one @", s)
	}
	return name, nil
}

// isUnitType reports whether s is a unit type systemd knows but this agent
// does not manage (a device or a slice cannot be started by the cluster).
func isUnitType(s string) bool {
	switch s {
	case "device", "swap", "automount", "slice", "scope":
		return true
	}
	return false
}

// DropInName is the file this agent writes into a unit's runtime drop-in
// directory. 50- sorts after the vendor's usual 10-/20- and before an
// admin's 90- overrides.
const DropInName = "50-tandem.conf"

// DefaultRuntimeDir is systemd's runtime unit directory (a tmpfs: the drop-in
// goes away at reboot, as the cluster's hold on the unit does).
const DefaultRuntimeDir = "/run/systemd/system"

// DropInPath is where the drop-in for unit goes under runtimeDir.
func DropInPath(runtimeDir, unit string) string {
	return filepath.Join(runtimeDir, unit+".d", DropInName)
}

// DropIn is the drop-in the agent installs before the first start, as
// Pacemaker does: the description tells an admin who owns the unit, and
// Restart=no leaves restarts to the cluster (a unit systemd restarts behind
// the cluster's back is counted neither as a failure nor as a start). extra
// lines go into the [Service] section.
func DropIn(unit string, extra ...string) string {
	return dropIn(unit, nil, extra...)
}

// Restarts is a restart policy systemd applies by itself, for an agent
// whose process is best restarted in place at once (HAProxy: a worker
// killed on the VIP's holder is back in about 0.1 s, where the cluster's
// monitor and recovery take seconds). Within Burst starts in Interval
// systemd restarts the unit after RestartSec; past that it gives up, the
// unit is failed (result start-limit-hit) and the agent's monitor reports
// the failure, so that the cluster recovers or moves the resource.
type Restarts struct {
	Burst    int           // StartLimitBurst
	Interval time.Duration // StartLimitIntervalSec
	Delay    time.Duration // RestartSec
}

// DefaultRestarts is 5 starts in 60 s, each 100 ms after the death.
var DefaultRestarts = Restarts{Burst: 5, Interval: 60 * time.Second, Delay: 100 * time.Millisecond}

// DropInRestarting is DropIn with Restart=on-failure under r instead of
// Restart=no (the haproxy agent's). The start limit also counts the
// cluster's own starts; a start by the agent resets it first when the unit
// is failed.
func DropInRestarting(unit string, r Restarts, extra ...string) string {
	return dropIn(unit, &r, extra...)
}

func dropIn(unit string, r *Restarts, extra ...string) string {
	stem := strings.TrimSuffix(unit, ".service")
	var b strings.Builder
	if r == nil {
		b.WriteString("# Written by tandem (systemd agent): the cluster starts, stops and restarts this unit.\n")
	} else {
		b.WriteString("# Written by tandem: the cluster starts and stops this unit; systemd restarts it in place\n")
		b.WriteString("# after a crash, until the start limit, then the cluster recovers it.\n")
	}
	b.WriteString("# It lives under /run and is gone at reboot. Do not edit: the next start rewrites it.\n")
	b.WriteString("[Unit]\n")
	fmt.Fprintf(&b, "Description=Cluster Controlled %s\n", stem)
	// No ordering against tandem.service: with Before=tandem.service (as
	// Pacemaker's drop-in has for pacemaker.service) a stop job for this unit
	// waits for tandem's own stop job, so tandem could not stop its
	// resources while it stops (the job would hang until the op timeout).
	if r != nil {
		fmt.Fprintf(&b, "StartLimitIntervalSec=%s\nStartLimitBurst=%d\n", sdSeconds(r.Interval), r.Burst)
	}
	if strings.HasSuffix(unit, ".service") {
		if r == nil {
			b.WriteString("\n[Service]\nRestart=no\n")
		} else {
			fmt.Fprintf(&b, "\n[Service]\nRestart=on-failure\nRestartSec=%s\n", sdSeconds(r.Delay))
		}
		for _, l := range extra {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// sdSeconds writes d as a systemd time span (100ms, 60s).
func sdSeconds(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

// restartOf is the Restart= a drop-in sets ("no" when it sets none).
func restartOf(dropIn string) string {
	want := "no"
	for _, l := range strings.Split(dropIn, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "Restart="); ok {
			want = v
		}
	}
	return want
}

// UnitState is what the agent reads of a unit over D-Bus.
type UnitState struct {
	Unit             string
	LoadState        string // loaded, not-found, masked, error, bad-setting
	ActiveState      string // active, reloading, inactive, failed, activating, deactivating
	SubState         string // running, exited, dead, failed, start-pre, ...
	UnitFileState    string // enabled, disabled, static, masked, ...
	Type             string // services: simple, exec, forking, oneshot, notify, dbus, idle
	Restart          string // services: no, always, on-failure, ... (as in force)
	Result           string // services: success, exit-code, signal, timeout, core-dump, ...
	MainPID          uint32
	ExecMainCode     int32 // CLD_EXITED 1, CLD_KILLED 2, CLD_DUMPED 3
	ExecMainStatus   int32 // exit status or signal number
	NeedDaemonReload bool
	// NRestarts counts systemd's own restarts (Restart=) since the unit
	// was last started by a job: a start by the cluster resets it.
	NRestarts uint32
	// ActiveEnter is when the unit last became active (zero: never).
	ActiveEnter time.Time
}

// Installed reports whether systemd has a unit file for the unit.
func (s UnitState) Installed() bool {
	return s.LoadState != "not-found" && s.LoadState != ""
}

// Transitional reports whether the unit is on its way somewhere: a monitor
// waits (within its timeout) for it to settle.
func (s UnitState) Transitional() bool {
	switch s.ActiveState {
	case "activating", "deactivating", "reloading", "refreshing":
		return true
	}
	return false
}

// SpawnOnly reports whether a successful start job says no more than that
// the main process was spawned (Type=simple, exec, idle): systemd cannot
// tell whether it then exits at once. Forking, notify, dbus and oneshot
// services report their readiness (or failure) in the job itself.
func (s UnitState) SpawnOnly() bool {
	switch s.Type {
	case "simple", "exec", "idle":
		return true
	}
	return false
}

// EnabledAtBoot reports whether systemd would start the unit at boot by
// itself, which fights the cluster's placement.
func (s UnitState) EnabledAtBoot() bool {
	return s.UnitFileState == "enabled" || s.UnitFileState == "enabled-runtime"
}

// String is the unit's state as systemctl shows it, with why it failed.
func (s UnitState) String() string {
	out := fmt.Sprintf("%s %s (%s)", s.Unit, s.ActiveState, s.SubState)
	if s.ActiveState == "failed" || (s.Result != "" && s.Result != "success") {
		out += ", result " + s.Result
		switch s.ExecMainCode {
		case 1:
			out += fmt.Sprintf(", main process exited with status %d", s.ExecMainStatus)
		case 2, 3:
			out += fmt.Sprintf(", main process killed by signal %d", s.ExecMainStatus)
		}
	}
	return out
}

// Classify maps a settled unit state to a monitor result: active (any
// sub-state, "exited" for a oneshot with RemainAfterExit) is running,
// inactive is cleanly stopped, failed is a failure, masked or not. A unit still in
// transition at the monitor's deadline is a failure too: it neither runs
// nor has stopped.
func Classify(s UnitState) sdk.Result {
	switch {
	case !s.Installed():
		return sdk.Resultf(sdk.NotRunning, "%s is not installed on this node", s.Unit)
	case s.LoadState == "masked":
		// A mask does not stop a running unit: it is classified by its
		// state like any other, or the cluster would start a second copy.
		r := Classify(UnitState{Unit: s.Unit, LoadState: "loaded", ActiveState: s.ActiveState, SubState: s.SubState,
			Result: s.Result, ExecMainCode: s.ExecMainCode, ExecMainStatus: s.ExecMainStatus})
		r.Message += "; the unit is masked"
		return r
	}
	switch s.ActiveState {
	case "active", "reloading", "refreshing":
		return sdk.Result{Code: sdk.OK, Message: s.String()}
	case "inactive":
		return sdk.Result{Code: sdk.NotRunning, Message: s.String()}
	case "failed":
		return sdk.Resultf(sdk.ErrGeneric, "%s; see journalctl -u %s", s, s.Unit)
	case "activating", "deactivating":
		return sdk.Resultf(sdk.ErrGeneric, "%s: still %s when the operation's time ran out", s, s.ActiveState)
	}
	return sdk.Resultf(sdk.ErrGeneric, "%s: unknown active state %q", s, s.ActiveState)
}
