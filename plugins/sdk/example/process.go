// Package example is the SDK's example plugin: the "process" agent runs a
// program as a resource, the way Pacemaker's ocf:heartbeat:anything does.
// Start spawns the program in its own session and records its pid (with
// the process's start time, so a recycled pid is not mistaken for it) in a
// pid file; monitor checks that very process; stop sends SIGTERM, then
// SIGKILL when it lingers. The program outlives a restart of the plugin,
// which is what the host expects of every agent.
//
// As a promotable clone, an instance is a replica until promoted: promote
// marks it the primary (a role file beside the pid file, which the program
// may read), demote makes it a replica again, and monitor says
// RunningPromoted for the primary and reports promotion_score, when set,
// as its wish to be promoted.
//
// As a clone with notify = true, each clone notification the instance
// gets is written to a notify file beside the pid file (the last one,
// replaced atomically), for the program to read: "type pre", "operation
// start", then one line per list ("active 0@holly 1@benji", "inactive 2").
//
// The plugin binary is cmd/tandem-plugin-example; a resource uses it with
// agent = "example:process".
package example

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Version of the example plugin.
const Version = "1.0.0"

// DefaultStateDir holds the pid files unless a resource sets state_dir.
const DefaultStateDir = "/run/tandem-example"

// Agent is the example plugin's agent. The zero value is ready to use.
type Agent struct {
	locks sdk.KeyedMutex // one per pid file: actions on one resource instance never overlap
}

var (
	_ sdk.Agent    = (*Agent)(nil)
	_ sdk.Reloader = (*Agent)(nil)
	_ sdk.Promoter = (*Agent)(nil)
	_ sdk.Notifier = (*Agent)(nil)
)

// New returns the example agent.
func New() *Agent { return &Agent{} }

// Info names the plugin "example" with one agent type, "process".
func (a *Agent) Info() sdk.Info {
	return sdk.Info{Name: "example", Types: []string{"process"}, Version: Version, APIVersions: sdk.APIVersions}
}

// params are the process agent's parameters: meta-data documents them and
// sdk.ParseParams checks a resource's against them.
var params = []sdk.ParamSpec{
	{Name: "command", Type: "string", Required: true, Description: "absolute path of the program to run"},
	{Name: "args", Type: "string", Description: "arguments, separated by spaces (no quoting)"},
	{Name: "state_dir", Type: "string", Default: DefaultStateDir, Description: "directory of the pid files; {node} is replaced by the node's name"},
	{Name: "logfile", Type: "string", Description: "file the program's stdout and stderr are appended to; none when empty"},
	{Name: "stop_grace", Type: "duration", Default: "5s", Reloadable: true, Description: "how long stop waits after SIGTERM before SIGKILL"},
	{Name: "promotion_score", Type: "integer", Description: "as a promotable clone: the promotion score monitor reports on this node (none when empty)"},
}

// MetaData describes the process agent type.
func (a *Agent) MetaData(agentType string) (sdk.MetaData, error) {
	if agentType != "process" {
		return sdk.MetaData{}, fmt.Errorf("the example plugin has no agent type %q (it has: process)", agentType)
	}
	return sdk.MetaData{
		Type:      "process",
		Version:   Version,
		ShortDesc: "Runs a program as a resource",
		LongDesc: "Starts command (with args) in its own session, its output going to logfile or nowhere, " +
			"and tracks it through a pid file in state_dir. Stop sends SIGTERM and, after stop_grace, SIGKILL.",
		Params: params,
		Actions: []sdk.ActionSpec{
			{Name: "start", Timeout: 20 * time.Second},
			{Name: "stop", Timeout: 20 * time.Second},
			{Name: "monitor", Timeout: 10 * time.Second, Interval: 10 * time.Second},
			{Name: "reload", Timeout: 10 * time.Second},
			{Name: "validate", Timeout: 5 * time.Second},
			{Name: "promote", Timeout: 10 * time.Second},
			{Name: "demote", Timeout: 10 * time.Second},
			{Name: "notify", Timeout: 5 * time.Second},
		},
	}, nil
}

// config is a resource's parameters, checked.
type config struct {
	command   string
	args      []string
	stateDir  string
	logfile   string
	stopGrace time.Duration
	score     *int // promotion_score, when given
}

// parse checks raw against the meta-data's params (types, required,
// defaults, unknown names: every problem at once), then what only this
// agent knows: its paths must be absolute.
func parse(raw map[string]string) (config, sdk.Result) {
	v := sdk.ParseParams("example:process", params, raw)
	c := config{
		command:   v.String("command"),
		args:      strings.Fields(v.String("args")),
		stateDir:  v.String("state_dir"),
		logfile:   v.String("logfile"),
		stopGrace: v.Duration("stop_grace"),
	}
	if v.Given("promotion_score") {
		s := v.Int("promotion_score")
		c.score = &s
	}
	if c.stateDir == "" {
		c.stateDir = DefaultStateDir
	}
	for _, p := range []struct{ name, path string }{{"command", c.command}, {"state_dir", c.stateDir}, {"logfile", c.logfile}} {
		if p.path != "" && !filepath.IsAbs(p.path) {
			v.Invalid(p.name, "must be an absolute path")
		}
	}
	if err := v.Err(); err != nil {
		return c, sdk.Result{Code: sdk.ErrArgs, Message: strings.ReplaceAll(err.Error(), "\n", "; ")}
	}
	return c, sdk.Result{}
}

// Validate checks the params and that the program is installed.
func (a *Agent) Validate(_ context.Context, req sdk.ValidateRequest) sdk.Result {
	c, res := parse(req.Params)
	if res.Code != sdk.OK {
		return res
	}
	return installed(c.command)
}

func installed(command string) sdk.Result {
	st, err := os.Stat(command)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return sdk.Resultf(sdk.ErrNotInstalled, "command %s does not exist on this node", command)
	case err != nil:
		return sdk.Resultf(sdk.ErrNotInstalled, "command %s: %v", command, err)
	case st.IsDir() || st.Mode().Perm()&0o111 == 0:
		return sdk.Resultf(sdk.ErrNotInstalled, "command %s is not an executable file", command)
	}
	return sdk.Result{}
}

// pidFile is where the instance's pid is kept: one file per resource and
// clone index. "{node}" in state_dir becomes the node's name, so nodes that
// share a file system (a test cluster on one machine) keep apart.
func pidFile(c config, req sdk.Request) string {
	name := req.ResourceID
	if req.Instance.CloneIndex >= 0 {
		name += ":" + strconv.Itoa(req.Instance.CloneIndex)
	}
	dir := strings.ReplaceAll(c.stateDir, "{node}", req.Instance.Node)
	return filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".pid")
}

// Start runs the program unless it already runs.
func (a *Agent) Start(ctx context.Context, req sdk.Request) sdk.Result {
	c, res := parse(req.Params)
	if res.Code != sdk.OK {
		return res
	}
	if res := installed(c.command); res.Code != sdk.OK {
		return res
	}
	path := pidFile(c, req)
	defer a.locks.Lock(path)()
	if p, err := readPidFile(path); err == nil && p.alive() {
		return sdk.Resultf(sdk.OK, "already running as pid %d", p.pid)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return sdk.Resultf(sdk.ErrPerm, "creating state_dir: %v", err)
	}
	cmd := exec.Command(c.command, c.args...)
	// Its own session: signals for the plugin's process group (a terminal's
	// ^C, the plugin being killed) do not reach the resource.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	if c.logfile != "" {
		f, err := os.OpenFile(c.logfile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return sdk.Resultf(sdk.ErrPerm, "opening logfile: %v", err)
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return sdk.Resultf(sdk.ErrGeneric, "starting %s: %v", c.command, err)
	}
	exited := make(chan error, 1)
	// Reap it while this plugin lives; after a plugin restart init does.
	go func() { exited <- cmd.Wait() }()
	p, err := procOf(cmd.Process.Pid)
	if err == nil {
		err = writePidFile(path, p)
	}
	if err != nil {
		// The program may be gone already (reaped before its /proc entry
		// was read): that is a program that exited at once.
		select {
		case werr := <-exited:
			_ = os.Remove(path)
			return sdk.Resultf(sdk.ErrGeneric, "%s exited right after start: %v", c.command, werr)
		case <-time.After(100 * time.Millisecond):
		}
		_ = cmd.Process.Kill()
		return sdk.Resultf(sdk.ErrGeneric, "recording pid %d in %s: %v", cmd.Process.Pid, path, err)
	}
	// A program that fails at once (bad args, missing library) fails start.
	select {
	case err := <-exited:
		_ = os.Remove(path)
		return sdk.Resultf(sdk.ErrGeneric, "%s exited right after start: %v", c.command, err)
	case <-time.After(100 * time.Millisecond):
	case <-ctx.Done():
	}
	return sdk.Resultf(sdk.OK, "started pid %d", p.pid)
}

// Stop ends the program: SIGTERM, then SIGKILL after stop_grace.
func (a *Agent) Stop(ctx context.Context, req sdk.Request) sdk.Result {
	c, res := parse(req.Params)
	if res.Code != sdk.OK {
		return res
	}
	path := pidFile(c, req)
	defer a.locks.Lock(path)()
	p, err := readPidFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return sdk.Resultf(sdk.OK, "not running")
	}
	if err != nil {
		return sdk.Resultf(sdk.ErrGeneric, "reading %s: %v", path, err)
	}
	if p.alive() {
		_ = syscall.Kill(p.pid, syscall.SIGTERM)
		if !p.waitGone(ctx, c.stopGrace) {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
			if !p.waitGone(ctx, time.Until(deadlineOr(ctx, time.Now().Add(5*time.Second)))) {
				return sdk.Resultf(sdk.ErrGeneric, "pid %d survived SIGKILL", p.pid)
			}
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return sdk.Resultf(sdk.ErrGeneric, "removing %s: %v", path, err)
	}
	if err := os.Remove(roleFile(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return sdk.Resultf(sdk.ErrGeneric, "removing %s: %v", roleFile(path), err)
	}
	return sdk.Resultf(sdk.OK, "stopped pid %d", p.pid)
}

// NotifyFile is where the instance whose pid file is pidPath finds the
// last clone notification it got.
func NotifyFile(pidPath string) string { return strings.TrimSuffix(pidPath, ".pid") + ".notify" }

// Notify writes a clone notification to the instance's notify file. The
// host's cluster-view notifications (no req.Notification) are not for
// this agent: unimplemented.
func (a *Agent) Notify(_ context.Context, req sdk.Request) sdk.Result {
	n := req.Notification
	if n == nil {
		return sdk.Resultf(sdk.ErrUnimplemented, "the process agent takes clone notifications only")
	}
	c, res := parse(req.Params)
	if res.Code != sdk.OK {
		return res
	}
	path := pidFile(c, req)
	defer a.locks.Lock(path)()
	var b strings.Builder
	fmt.Fprintf(&b, "type %s\noperation %s\n", n.Type, n.Operation)
	for _, l := range []struct {
		name string
		es   []sdk.NotifyEntry
	}{{"active", n.Active}, {"inactive", n.Inactive}, {"promoted", n.Promoted}, {"unpromoted", n.Unpromoted},
		{"start", n.Start}, {"stop", n.Stop}, {"promote", n.Promote}, {"demote", n.Demote}} {
		b.WriteString(l.name)
		for _, e := range l.es {
			fmt.Fprintf(&b, " %d", e.Instance)
			if e.Node != "" {
				b.WriteString("@" + e.Node)
			}
		}
		b.WriteString("\n")
	}
	file := NotifyFile(path)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return sdk.Resultf(sdk.ErrGeneric, "notify: %v", err)
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return sdk.Resultf(sdk.ErrGeneric, "notify: %v", err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return sdk.Resultf(sdk.ErrGeneric, "notify: %v", err)
	}
	return sdk.Resultf(sdk.OK, "%s-%s notification written to %s", n.Type, n.Operation, file)
}

// roleFile marks the instance whose pid file is path as the primary.
func roleFile(path string) string { return strings.TrimSuffix(path, ".pid") + ".promoted" }

// Promote makes the running instance the primary.
func (a *Agent) Promote(_ context.Context, req sdk.Request) sdk.Result {
	c, res := parse(req.Params)
	if res.Code != sdk.OK {
		return res
	}
	path := pidFile(c, req)
	defer a.locks.Lock(path)()
	if p, err := readPidFile(path); err != nil || !p.alive() {
		return sdk.Resultf(sdk.ErrGeneric, "promote: not running (start it first)")
	}
	if err := os.WriteFile(roleFile(path), []byte("primary\n"), 0o644); err != nil {
		return sdk.Resultf(sdk.ErrGeneric, "promote: %v", err)
	}
	return sdk.Resultf(sdk.OK, "promoted")
}

// Demote makes the instance a replica again (nothing to do if it is one).
func (a *Agent) Demote(_ context.Context, req sdk.Request) sdk.Result {
	c, res := parse(req.Params)
	if res.Code != sdk.OK {
		return res
	}
	path := pidFile(c, req)
	defer a.locks.Lock(path)()
	if err := os.Remove(roleFile(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return sdk.Resultf(sdk.ErrGeneric, "demote: %v", err)
	}
	return sdk.Resultf(sdk.OK, "demoted")
}

// Monitor says OK while the recorded process runs, NotRunning when there is
// no pid file (stopped cleanly, or never started), and a generic error when
// the process died without a stop.
func (a *Agent) Monitor(_ context.Context, req sdk.Request) sdk.Result {
	c, res := parse(req.Params)
	if res.Code != sdk.OK {
		return res
	}
	path := pidFile(c, req)
	p, err := readPidFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return sdk.Result{Code: sdk.NotRunning}
	case err != nil:
		return sdk.Resultf(sdk.ErrGeneric, "reading %s: %v", path, err)
	case p.alive():
		res := sdk.Resultf(sdk.OK, "pid %d running", p.pid)
		if _, err := os.Stat(roleFile(path)); err == nil {
			res = sdk.Resultf(sdk.RunningPromoted, "pid %d running, primary", p.pid)
		}
		res.PromotionScore = c.score
		return res
	}
	if _, err := os.Stat(roleFile(path)); err == nil {
		return sdk.Resultf(sdk.FailedPromoted, "pid %d from %s (the primary) is gone: the program exited without a stop", p.pid, path)
	}
	return sdk.Resultf(sdk.ErrGeneric, "pid %d from %s is gone: the program exited without a stop", p.pid, path)
}

// Reload takes new parameters without a restart. Only stop_grace is
// reloadable (meta-data says so), and stop reads it from the request it is
// given, so there is nothing to apply: reload checks the program still
// runs, as the host expects a reloaded resource to.
func (a *Agent) Reload(_ context.Context, req sdk.Request) sdk.Result {
	c, res := parse(req.Params)
	if res.Code != sdk.OK {
		return res
	}
	path := pidFile(c, req)
	defer a.locks.Lock(path)()
	p, err := readPidFile(path)
	switch {
	case err != nil:
		return sdk.Resultf(sdk.ErrGeneric, "reload: not running: %v", err)
	case !p.alive():
		return sdk.Resultf(sdk.ErrGeneric, "reload: pid %d from %s is gone", p.pid, path)
	}
	return sdk.Resultf(sdk.OK, "pid %d kept, stop_grace now %s", p.pid, c.stopGrace)
}

func deadlineOr(ctx context.Context, t time.Time) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return t
}

// proc identifies one process: its pid and its start time in clock ticks
// since boot (field 22 of /proc/<pid>/stat), which a recycled pid does not
// share.
type proc struct {
	pid   int
	start uint64
}

func procOf(pid int) (proc, error) {
	start, _, err := stat(pid)
	if err != nil {
		return proc{}, err
	}
	return proc{pid: pid, start: start}, nil
}

func (p proc) alive() bool {
	start, state, err := stat(p.pid)
	return err == nil && start == p.start && state != 'Z' && state != 'X'
}

func (p proc) waitGone(ctx context.Context, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !p.alive() {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func stat(pid int) (start uint64, state byte, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields we want follow its last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	start, err = strconv.ParseUint(f[19], 10, 64) // field 22
	return start, f[0][0], err
}

func readPidFile(path string) (proc, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return proc{}, err
	}
	var p proc
	if _, err := fmt.Sscanf(string(b), "%d %d", &p.pid, &p.start); err != nil || p.pid <= 0 {
		return proc{}, fmt.Errorf("%s: not a pid file of this agent (%q)", path, strings.TrimSpace(string(b)))
	}
	return p, nil
}

func writePidFile(path string, p proc) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d %d\n", p.pid, p.start), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
