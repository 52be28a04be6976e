package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// State of a plugin.
type State string

// Plugin states.
const (
	StateIdle       State = "idle"       // not launched: nothing has used it yet (Config.OnDemand)
	StateStarting   State = "starting"   // launching, first time or after backoff
	StateRunning    State = "running"    // serving operations
	StateRestarting State = "restarting" // its process ended or was killed; relaunch pending
	StateFailed     State = "failed"     // the last launch failed; retrying with backoff
	StateBroken     State = "broken"     // Config.MaxLaunchFailures launches in a row failed; retried once its file changes
	StateStopped    State = "stopped"    // the supervisor was closed
)

// plugin is one plugin executable and the process currently running it.
type plugin struct {
	s    *Supervisor
	name string
	path string

	mu       sync.Mutex
	state    State
	cur      *instance     // nil unless running
	changed  chan struct{} // closed and replaced at every state change
	launched chan struct{} // closed after the first launch attempt
	gen      uint64
	restarts int
	lastErr  string
	info     sdk.Info
	api      string
	since    time.Time
	holds    map[string]holdEntry // holds in force (by sdk.HoldKey), replayed to a new process
	// noHold is, by holdKind, the process that answered a hold with
	// ErrUnimplemented: not asked again while it runs.
	noHold map[string]*sdk.Process

	pending *restartRequest // a restart asked for by an operation
	wake    chan struct{}   // tells watch that pending is set

	// ident is the plugin file's identity (fileIdentity) when the current
	// process was launched; rescan relaunches the plugin when the file
	// differs. seen is a changed identity rescan saw once: it acts when
	// it sees the same one again, so a file still being copied is not
	// launched half-written.
	ident, seen string
	missing     bool // the file is gone (logged once)
}

type instance struct {
	proc *sdk.Process
	gen  uint64

	mu    sync.Mutex
	calls int           // operations in flight on proc
	idle  chan struct{} // closed when calls drops to 0; nil while none waits
}

// begin counts an operation in flight on the instance; the returned func
// ends it.
func (in *instance) begin() func() {
	in.mu.Lock()
	in.calls++
	in.mu.Unlock()
	return func() {
		in.mu.Lock()
		in.calls--
		if in.calls == 0 && in.idle != nil {
			close(in.idle)
			in.idle = nil
		}
		in.mu.Unlock()
	}
}

// drain waits until no operation is in flight on the instance, or until
// limit has passed.
func (in *instance) drain(ctx context.Context, limit time.Duration) {
	in.mu.Lock()
	if in.calls == 0 {
		in.mu.Unlock()
		return
	}
	if in.idle == nil {
		in.idle = make(chan struct{})
	}
	idle := in.idle
	in.mu.Unlock()
	select {
	case <-idle:
	case <-ctx.Done():
	case <-time.After(limit):
	}
}

type restartRequest struct {
	gen    uint64
	reason string
	// upgrade: the plugin's file was replaced. The old process finishes
	// the operations in flight and is relaunched at once from the new
	// file; this is not counted as a restart.
	upgrade bool
}

type holdEntry struct {
	agent string
	req   sdk.HoldRequest
}

func newPlugin(s *Supervisor, name, path string, st State) *plugin {
	return &plugin{
		s: s, name: name, path: path,
		state:    st,
		changed:  make(chan struct{}),
		launched: make(chan struct{}),
		holds:    map[string]holdEntry{},
		wake:     make(chan struct{}, 1),
	}
}

// setState changes state under p.mu and wakes everyone waiting on a change.
func (p *plugin) setStateLocked(st State) {
	p.state = st
	p.since = time.Now()
	close(p.changed)
	p.changed = make(chan struct{})
}

// keep runs the plugin until ctx ends: launch, watch, kill, back off,
// relaunch.
func (p *plugin) keep(ctx context.Context) {
	log := p.s.log.With("plugin", p.name)
	backoff := p.s.cfg.BackoffMin
	first := true
	fails := 0 // launches failed in a row
	for {
		proc, err := p.launch(ctx)
		if first {
			close(p.launched)
			first = false
		}
		if ctx.Err() != nil {
			if proc != nil {
				proc.Kill()
			}
			p.stopped()
			return
		}
		if err != nil {
			fails++
			if fails >= p.s.cfg.MaxLaunchFailures {
				if !p.broken(ctx, log, fails, err) {
					p.stopped()
					return
				}
				fails, backoff = 0, p.s.cfg.BackoffMin
				continue
			}
			log.Error("plugin launch failed", "error", err, "retry_in", backoff, "attempt", fails, "of", p.s.cfg.MaxLaunchFailures)
			p.mu.Lock()
			p.lastErr = err.Error()
			p.setStateLocked(StateFailed)
			p.mu.Unlock()
		} else {
			fails = 0
			up := time.Now()
			reason, upgrade := p.watch(ctx, proc)
			proc.Kill()
			if ctx.Err() != nil {
				p.stopped()
				return
			}
			if upgrade {
				log.Info("plugin file replaced: relaunching it (resources are left as they are)", "pid", proc.Pid, "version", proc.PluginInfo.Version, "file", p.path)
				backoff = p.s.cfg.BackoffMin
				continue
			}
			p.mu.Lock()
			p.restarts++
			p.lastErr = reason
			p.mu.Unlock()
			if time.Since(up) >= p.s.cfg.StableAfter {
				backoff = p.s.cfg.BackoffMin
			}
			log.Warn("plugin restarting", "reason", reason, "pid", proc.Pid, "retry_in", backoff)
		}
		select {
		case <-ctx.Done():
			p.stopped()
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, p.s.cfg.BackoffMax)
	}
}

// broken reports the plugin broken after fails launches failed in a row
// (the last with err), and waits until its file changes (replaced,
// rebuilt, chmod-ed: its size, time, mode or inode differ) to have it
// launched again, returning true; false when ctx ended first.
func (p *plugin) broken(ctx context.Context, log *slog.Logger, fails int, err error) bool {
	before := fileIdentity(p.path)
	log.Error("plugin broken: not launched again until its file changes", "launches_failed", fails, "error", err, "file", p.path)
	p.mu.Lock()
	p.lastErr = fmt.Sprintf("broken: %d launches in a row failed, the last: %v; fix or replace %s (it is launched again when the file changes)", fails, err, p.path)
	p.setStateLocked(StateBroken)
	p.mu.Unlock()
	tick := time.NewTicker(p.s.cfg.BrokenPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
		if now := fileIdentity(p.path); now != before {
			log.Info("plugin file changed: launching it again", "file", p.path)
			return true
		}
	}
}

// fileIdentity says what a file is now (following symlinks), so that a
// replaced or changed file is told from the one before.
func fileIdentity(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return "missing: " + err.Error()
	}
	id := fmt.Sprintf("%d %s %v", st.Size(), st.ModTime().UTC().Format(time.RFC3339Nano), st.Mode())
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		id += fmt.Sprintf(" %d:%d", sys.Dev, sys.Ino)
	}
	return id
}

func (p *plugin) stopped() {
	p.mu.Lock()
	p.cur = nil
	p.setStateLocked(StateStopped)
	p.mu.Unlock()
}

// launch starts a process and, once it is up, replays the holds in force
// before any operation reaches it.
func (p *plugin) launch(ctx context.Context) (*sdk.Process, error) {
	p.mu.Lock()
	p.setStateLocked(StateStarting)
	p.mu.Unlock()
	ident := fileIdentity(p.path)
	proc, err := sdk.Launch(ctx, sdk.LaunchConfig{
		Path: p.path, Name: p.name, Env: p.s.cfg.Env, Logger: p.s.log, StartTimeout: p.s.cfg.StartTimeout,
	})
	if err != nil {
		return nil, err
	}
	p.replayHolds(ctx, proc)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	p.cur = &instance{proc: proc, gen: p.gen}
	p.ident, p.seen = ident, ""
	p.info = proc.PluginInfo
	p.api = proc.APIVersion
	p.setStateLocked(StateRunning)
	p.s.log.Info("plugin running", "plugin", p.name, "pid", proc.Pid, "version", proc.PluginInfo.Version,
		"api", proc.APIVersion, "types", proc.PluginInfo.Types, "ready_in", proc.Ready)
	return proc, nil
}

// watch waits until the process must go, and says why (upgrade: its
// file was replaced, and the operations in flight have finished). On
// return the plugin no longer hands the process to callers.
func (p *plugin) watch(ctx context.Context, proc *sdk.Process) (reason string, upgrade bool) {
	ping := time.NewTicker(p.s.cfg.PingInterval)
	defer ping.Stop()
	var inst *instance
	for reason == "" {
		select {
		case <-ctx.Done():
			reason = "supervisor closed"
		case <-proc.Done():
			reason = "plugin process exited"
		case <-p.wake:
			p.mu.Lock()
			if r := p.pending; r != nil && p.cur != nil && r.gen == p.cur.gen {
				reason, upgrade, inst = r.reason, r.upgrade, p.cur
			}
			p.pending = nil
			p.mu.Unlock()
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, p.s.cfg.PingTimeout)
			err := proc.Ping(pctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				reason = fmt.Sprintf("no answer to a ping in %v: %v", p.s.cfg.PingTimeout, err)
			}
		}
	}
	p.mu.Lock()
	p.cur = nil
	p.pending = nil
	p.setStateLocked(StateRestarting)
	p.mu.Unlock()
	if upgrade {
		// New calls wait for the new process; those in flight finish on
		// the old one (each within its own timeout).
		inst.drain(ctx, p.s.cfg.DrainLimit)
	}
	return reason, upgrade
}

// requestRestart asks the keeper to replace process generation gen; asking
// about a process already replaced does nothing.
func (p *plugin) requestRestart(gen uint64, reason string) {
	p.request(restartRequest{gen: gen, reason: reason})
}

func (p *plugin) request(r restartRequest) {
	p.mu.Lock()
	if p.cur == nil || p.cur.gen != r.gen || p.pending != nil {
		p.mu.Unlock()
		return
	}
	p.pending = &r
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// ensure launches an idle plugin (once); the supervisor then keeps it
// running like any other.
func (p *plugin) ensure() {
	p.mu.Lock()
	idle := p.state == StateIdle
	if idle {
		p.setStateLocked(StateStarting)
	}
	p.mu.Unlock()
	if idle {
		p.s.supervise(p)
	}
}

// acquire returns the running process, launching an idle plugin and
// waiting while one is being (re)started. It fails at once when the last
// launch failed: operations should not wait out their timeout on a plugin
// that cannot start.
// The caller calls the returned done when its operation has ended.
func (p *plugin) acquire(ctx context.Context) (inst *instance, done func(), err error) {
	p.ensure()
	for {
		p.mu.Lock()
		cur, st, lastErr, changed := p.cur, p.state, p.lastErr, p.changed
		if cur != nil {
			done = cur.begin()
		}
		p.mu.Unlock()
		switch {
		case cur != nil:
			return cur, done, nil
		case st == StateFailed || st == StateBroken:
			return nil, nil, fmt.Errorf("%w: plugin %q failed to start: %s", ErrUnavailable, p.name, lastErr)
		case st == StateStopped:
			return nil, nil, ErrClosed
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("%w: plugin %q is %s (last problem: %s): %w", ErrUnavailable, p.name, st, lastErr, ctx.Err())
		}
	}
}

func (p *plugin) waitFirstLaunch(ctx context.Context) {
	select {
	case <-p.launched:
	case <-ctx.Done():
	}
}

// types is what the plugin said it provides, nil before its first launch.
func (p *plugin) types() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.info.Name == "" {
		return nil
	}
	return p.info.Types
}

func (p *plugin) status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := Status{
		Name: p.name, Path: p.path, State: p.state, Restarts: p.restarts, LastError: p.lastErr,
		Version: p.info.Version, APIVersion: p.api, Types: p.info.Types, Since: p.since,
	}
	if p.cur != nil {
		st.Pid = p.cur.proc.Pid
	}
	return st
}

// replayHolds gives a new process the holds its predecessor had, so a
// fenced resource keeps its deadline across a plugin restart. A hold
// whose deadline has passed is replayed too: the agent then stops the
// resource, which the dead process could not do.
func (p *plugin) replayHolds(ctx context.Context, proc *sdk.Process) {
	p.mu.Lock()
	holds := make([]holdEntry, 0, len(p.holds))
	for _, h := range p.holds {
		holds = append(holds, h)
	}
	p.mu.Unlock()
	for _, h := range holds {
		hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		res, err := proc.Hold(hctx, h.req)
		cancel()
		if err != nil || res.Code != sdk.OK {
			p.s.log.Error("replaying a hold to the restarted plugin failed", "plugin", p.name, "resource", h.req.ResourceID, "code", res.Code.String(), "message", res.Message, "error", err)
		}
	}
}

// refuseHolds remembers that proc does not implement the holds of kind.
func (p *plugin) refuseHolds(kind string, proc *sdk.Process) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.noHold == nil {
		p.noHold = map[string]*sdk.Process{}
	}
	p.noHold[kind] = proc
}

// holdRefused says whether the process running now refused the holds of
// kind.
func (p *plugin) holdRefused(kind string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	proc := p.noHold[kind]
	return proc != nil && p.cur != nil && p.cur.proc == proc
}

func (p *plugin) recordHold(agent string, req sdk.HoldRequest) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if req.Until == 0 {
		delete(p.holds, sdk.HoldKey(req))
		return
	}
	p.holds[sdk.HoldKey(req)] = holdEntry{agent: agent, req: req}
}
