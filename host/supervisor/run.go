package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Outcome is what running an operation came to.
type Outcome struct {
	sdk.Result
	// TimedOut: the agent did not answer before the operation's deadline
	// (Code is then ErrGeneric).
	TimedOut bool
	// Cancelled: the operation never reached the agent, because its
	// transition ended while it waited for what it needs first (a lease):
	// it is reported as cancelled, not as a result (Message says why).
	Cancelled bool
	Started   time.Time
	Duration  time.Duration
}

// Validate asks the agent whether params are usable; the Result carries
// the agent's own message.
func (s *Supervisor) Validate(ctx context.Context, agent string, params map[string]string, timeout time.Duration) Outcome {
	return s.run(ctx, agent, "validate", timeout, func(ctx context.Context, c *sdk.Process, agentType string, deadline time.Time) (sdk.Result, error) {
		return c.Validate(ctx, sdk.ValidateRequest{AgentType: agentType, Params: params})
	})
}

// MetaData asks the agent to describe itself.
func (s *Supervisor) MetaData(ctx context.Context, agent string, timeout time.Duration) (sdk.MetaData, error) {
	var md sdk.MetaData
	var mdErr error
	out := s.run(ctx, agent, "meta-data", timeout, func(ctx context.Context, c *sdk.Process, agentType string, deadline time.Time) (sdk.Result, error) {
		var err error
		md, err = c.MetaData(ctx, agentType)
		if errors.Is(err, sdk.ErrNoMetaData) {
			mdErr = err
			return sdk.Result{Code: sdk.ErrNotInstalled, Message: err.Error()}, nil
		}
		return sdk.Result{}, err
	})
	if mdErr != nil {
		return sdk.MetaData{}, mdErr
	}
	if out.Code != sdk.OK {
		return sdk.MetaData{}, fmt.Errorf("meta-data of %s: %s", agent, out.Message)
	}
	return md, nil
}

// Hold extends (or, with Until 0, cancels) the hold on a fenced resource.
// The supervisor remembers the holds in force and replays them to a
// restarted plugin.
//
// An agent type whose plugin process answered ErrUnimplemented (it does
// not implement hold: the example agent, most OCF agents) is not asked
// again until its plugin runs a new process (a restart, an upgrade): a
// singleton's lease is renewed 4 times a second, and each renewal sent a
// hold that was refused, a gRPC call on both sides for nothing.
func (s *Supervisor) Hold(ctx context.Context, agent string, req sdk.HoldRequest, timeout time.Duration) Outcome {
	var p *plugin
	if name, _, err := s.Lookup(agent); err == nil {
		p, _ = s.plugin(name)
	}
	kind := holdKind(agent, req)
	if p != nil && p.holdRefused(kind) {
		return Outcome{Result: sdk.Resultf(sdk.ErrUnimplemented, "%s does not implement hold (its plugin said so; asked again when the plugin restarts)", agent), Started: time.Now()}
	}
	var answered atomic.Pointer[sdk.Process]
	out := s.run(ctx, agent, "hold", timeout, func(ctx context.Context, c *sdk.Process, agentType string, deadline time.Time) (sdk.Result, error) {
		req.AgentType = agentType
		res, err := c.Hold(ctx, req)
		answered.Store(c)
		return res, err
	})
	switch {
	case p == nil:
	case out.Code == sdk.OK:
		p.recordHold(agent, req)
	case out.Code == sdk.ErrUnimplemented && !out.TimedOut && answered.Load() != nil:
		p.refuseHolds(kind, answered.Load())
	}
	return out
}

// holdKind is what a refusal of hold is remembered for: the agent, and
// whether the hold was of a promoted role (an agent may hold one and not
// the other).
func holdKind(agent string, req sdk.HoldRequest) string {
	if req.Role != "" {
		return agent + " role"
	}
	return agent
}

// Run runs one operation of agent ("systemd:apache2") on the local node:
// start, stop, monitor, probe (a one-off monitor), reload or notify. req's
// AgentType and Deadline are filled in. The plugin's context ends at the
// deadline (now + timeout, or ctx's deadline if sooner; timeout 0 means
// Config.DefaultTimeout); an answer after it is a timeout, and a plugin that
// has not answered TimeoutGrace later is restarted. A call cut off by the
// plugin's crash is retried once on the restarted plugin, within the same
// deadline (every operation is idempotent by the agent contract).
func (s *Supervisor) Run(ctx context.Context, agent, op string, req sdk.Request, timeout time.Duration) Outcome {
	var call func(*sdk.Process) func(context.Context, sdk.Request) (sdk.Result, error)
	switch op {
	case bus.OpStart:
		call = func(c *sdk.Process) func(context.Context, sdk.Request) (sdk.Result, error) { return c.Start }
	case bus.OpStop:
		call = func(c *sdk.Process) func(context.Context, sdk.Request) (sdk.Result, error) { return c.Stop }
	case bus.OpMonitor, bus.OpProbe:
		call = func(c *sdk.Process) func(context.Context, sdk.Request) (sdk.Result, error) { return c.Monitor }
	case bus.OpReload:
		call = func(c *sdk.Process) func(context.Context, sdk.Request) (sdk.Result, error) { return c.Reload }
	case bus.OpNotify:
		call = func(c *sdk.Process) func(context.Context, sdk.Request) (sdk.Result, error) { return c.Notify }
	case bus.OpPromote:
		call = func(c *sdk.Process) func(context.Context, sdk.Request) (sdk.Result, error) { return c.Promote }
	case bus.OpDemote:
		call = func(c *sdk.Process) func(context.Context, sdk.Request) (sdk.Result, error) { return c.Demote }
	default:
		now := time.Now()
		return Outcome{Result: sdk.Resultf(sdk.ErrUnimplemented, "unknown operation %q (want start, stop, monitor, probe, reload, notify, promote or demote)", op), Started: now}
	}
	return s.run(ctx, agent, op, timeout, func(ctx context.Context, c *sdk.Process, agentType string, deadline time.Time) (sdk.Result, error) {
		r := req
		r.AgentType = agentType
		r.Deadline = deadline
		return call(c)(ctx, r)
	})
}

type callFunc func(ctx context.Context, c *sdk.Process, agentType string, deadline time.Time) (sdk.Result, error)

func (s *Supervisor) run(ctx context.Context, agent, op string, timeout time.Duration, call callFunc) Outcome {
	started := time.Now()
	out := func(res sdk.Result, timedOut bool) Outcome {
		o := Outcome{Result: res, TimedOut: timedOut, Started: started, Duration: time.Since(started)}
		if s.cfg.Observe != nil {
			s.cfg.Observe(agent, op, o)
		}
		return o
	}
	if timeout <= 0 {
		timeout = s.cfg.DefaultTimeout
	}
	deadline := started.Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	name, agentType, err := s.Lookup(agent)
	if err != nil {
		if errors.Is(err, ErrClosed) {
			return out(sdk.Resultf(sdk.ErrGeneric, "%s %s: %v", op, agent, err), false)
		}
		// Not installed on this node: the scheduler keeps the resource
		// off it.
		return out(sdk.Resultf(sdk.ErrNotInstalled, "%s %s: %v", op, agent, err), false)
	}
	p, err := s.plugin(name)
	if err != nil {
		return out(sdk.Resultf(sdk.ErrGeneric, "%s %s: %v", op, agent, err), false)
	}
	// The host waits a little past the plugin's deadline for its answer.
	hctx, cancel := context.WithDeadline(ctx, deadline.Add(s.cfg.TimeoutGrace))
	defer cancel()

	timedOut := func(msg string) Outcome {
		return out(sdk.Resultf(sdk.ErrGeneric, "%s %s timed out after %v: %s", op, agent, timeout.Round(time.Millisecond), msg), true)
	}
	for attempt := 0; ; attempt++ {
		inst, done, err := p.acquire(hctx)
		if err != nil {
			if hctx.Err() != nil && ctx.Err() == nil {
				return timedOut(err.Error())
			}
			return out(sdk.Resultf(sdk.ErrGeneric, "%s %s: %v", op, agent, err), false)
		}
		if err := p.provides(agent, agentType); err != nil {
			// Launched on demand by this call: only now is it known.
			done()
			return out(sdk.Resultf(sdk.ErrNotInstalled, "%s %s: %v", op, agent, err), false)
		}
		res, err := call(hctx, inst.proc, agentType, deadline)
		done()
		switch {
		case err == nil && time.Now().After(deadline):
			// It answered, late: the operation failed, the plugin is fine.
			return timedOut(fmt.Sprintf("the agent answered %v late: %v %s",
				time.Since(deadline).Round(time.Millisecond), res.Code, res.Message))
		case err == nil:
			return out(res, false)
		case ctx.Err() != nil:
			// The caller gave up (a transition was cancelled); gRPC passes
			// the cancellation on to the agent.
			return out(sdk.Resultf(sdk.ErrGeneric, "%s %s cancelled: %v", op, agent, ctx.Err()), false)
		case hctx.Err() != nil || status.Code(err) == codes.DeadlineExceeded:
			p.requestRestart(inst.gen, fmt.Sprintf("%s of %s did not answer within %v", op, agent, timeout+s.cfg.TimeoutGrace))
			return timedOut("no answer from the plugin, which is being restarted")
		}
		// The call itself failed: the plugin crashed or its connection
		// broke. Replace the process and try once more.
		p.requestRestart(inst.gen, fmt.Sprintf("%s of %s failed: %v", op, agent, err))
		if attempt > 0 {
			return out(sdk.Resultf(sdk.ErrGeneric, "%s %s: plugin %q failed during the call twice: %v", op, agent, name, err), false)
		}
		s.log.Warn("plugin call failed, retrying on a restarted plugin", "plugin", name, "op", op, "agent", agent, "error", err)
		p.waitReplaced(hctx, inst.gen)
	}
}

// waitReplaced waits until process generation gen is no longer current.
func (p *plugin) waitReplaced(ctx context.Context, gen uint64) {
	for {
		p.mu.Lock()
		replaced := p.cur == nil || p.cur.gen != gen
		changed := p.changed
		p.mu.Unlock()
		if replaced {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}
