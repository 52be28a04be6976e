package lrm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/alerts"
	"github.com/tandem-ha/tandem/host/lease"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// runner sits between the executor (and monitors) and the supervisor: it
// marks operations busy, keeps starts and stops running when their
// transition is aborted (an abort only stops actions that have not begun),
// and fences singletons with their leases.
type runner struct{ l *LRM }

func (r *runner) Run(ctx context.Context, agent, op string, req sdk.Request, timeout time.Duration) supervisor.Outcome {
	l := r.l
	if op != bus.OpStart && op != bus.OpStop {
		if op == bus.OpMonitor {
			return l.cfg.Runner.Run(ctx, agent, op, req, timeout)
		}
		l.mu.Lock()
		ek := l.keyLocked(req.ResourceID, req.Instance.CloneIndex)
		l.mu.Unlock()
		key := op + "/" + ek
		l.setBusy(key, op+" "+ek)
		defer l.setBusy(key, "")
		if op == bus.OpPromote || op == bus.OpDemote {
			return r.changeRole(ctx, agent, op, req, timeout)
		}
		return l.cfg.Runner.Run(ctx, agent, op, req, timeout)
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	l.mu.Lock()
	ek := l.keyLocked(req.ResourceID, req.Instance.CloneIndex)
	e, ok := l.entries[ek]
	if !ok {
		e = &entry{id: req.ResourceID, instance: max(req.Instance.CloneIndex, 0), state: bus.StateStopped, since: time.Now()}
		l.putLocked(ek, e)
	}
	l.mu.Unlock()
	key := op + "/" + ek
	l.setBusy(key, op+" "+ek)
	defer l.setBusy(key, "")
	l.mu.Lock()
	if d, ok := l.definitionLocked(l.cfg.Live(), req.ResourceID); ok {
		e.def = d
		if d.Clone != nil {
			e.clone = d.Clone.ID
		}
	}
	single := e.def.ID != "" && e.singleton()
	before, beforeMsg := e.state, e.message
	if op == bus.OpStart {
		l.setState(e, bus.StateStarting, "")
	} else {
		l.setState(e, bus.StateStopping, "")
	}
	l.mu.Unlock()

	if op == bus.OpStart && single {
		if out, ok := r.acquire(ctx, e, agent, req, min(l.cfg.LeaseWait, timeout), true); !ok {
			if out.Cancelled {
				// Never started: as it was (no result will say otherwise).
				// Reported as a failed start, the resource would show
				// failed and need a stop, and that failure would abort the
				// next plan, whose own lease waits would fail the same way
				// (32 in-process members: plans aborted each other for
				// minutes and nothing started).
				l.mu.Lock()
				l.setState(e, before, beforeMsg)
				l.mu.Unlock()
			}
			return out
		}
	}
	// Once begun, a start or stop finishes even if its transition is
	// aborted: its result is what the next plan starts from.
	out := l.cfg.Runner.Run(context.WithoutCancel(ctx), agent, op, req, timeout)
	if op == bus.OpStart && single && out.Code == sdk.OK && !out.TimedOut {
		if fenced, ok := r.fencedDuringStart(ctx, e, agent, req, out); !ok {
			return fenced
		}
	}
	if op == bus.OpStop && out.Code == sdk.OK && !out.TimedOut {
		if single {
			r.release(e, agent, req)
		} else {
			l.releasePromoted(e)
		}
	}
	return out
}

// fencedDuringStart checks, after a singleton's agent said it started, that
// the lease taken for the start is still valid. A lease lost while the
// start ran (the renewals failed: this node was starved or cut off) may
// already be another node's, and its loss was acted on while the start was
// still running: watchLease's stop may have found nothing to stop and the
// agent started it afterwards. Reported started, it would run unleased, and
// a monitor after the fence deadline does not count it as failed: it would
// show Started with nothing running once the agent's hold lapsed, for good.
// So it is stopped again, and the start reported as not done; like a lease
// refusal, that is no failure of the resource (leaseErr).
func (r *runner) fencedDuringStart(ctx context.Context, e *entry, agent string, req sdk.Request, out supervisor.Outcome) (supervisor.Outcome, bool) {
	l := r.l
	l.mu.Lock()
	valid := leaseValid(e.lease)
	l.mu.Unlock()
	if valid {
		return out, true
	}
	l.log.Warn("lease lost while the resource started: stopped again, the start is reported not done", "resource", req.ResourceID)
	stop := l.cfg.Runner.Run(context.WithoutCancel(ctx), agent, bus.OpStop, req, l.opTimeout(e.def, bus.OpStop))
	msg := "not started: its lease was lost during the start (fenced); stopped again"
	if stop.Code != sdk.OK || stop.TimedOut {
		msg = "not started: its lease was lost during the start (fenced), and the stop that followed failed: " + stop.Message
	}
	l.mu.Lock()
	l.leaseErr[req.ResourceID] = true
	l.mu.Unlock()
	out.Result = sdk.Result{Code: sdk.ErrGeneric, Message: msg}
	out.Duration = time.Since(out.Started)
	return out, false
}

func (l *LRM) setBusy(key, what string) {
	l.mu.Lock()
	if what == "" {
		delete(l.busy, key)
	} else {
		l.busy[key] = what
	}
	l.mu.Unlock()
}

// acquire takes a singleton's lease before its start, waiting for a lease
// held elsewhere to expire (the previous holder died) within LeaseWait, and
// gives the agent its first hold. On failure it returns the start's result.
//
// waitHeld says whether to wait for a lease held by another node; other
// errors (no quorum for the moment) are retried within wait either way.
func (r *runner) acquire(ctx context.Context, e *entry, agent string, req sdk.Request, wait time.Duration, waitHeld bool) (supervisor.Outcome, bool) {
	l := r.l
	started := time.Now()
	l.mu.Lock()
	if e.lease != nil {
		select {
		case <-e.lease.Lost():
			e.lease = nil
		default:
		}
	}
	have := e.lease != nil
	l.mu.Unlock()
	if have {
		return supervisor.Outcome{}, true
	}
	hs := &holdSender{l: l, agent: agent, req: req, updates: make(chan time.Time, 1), stop: make(chan struct{})}
	ls, err := l.takeLease(ctx, []string{lease.Key(req.ResourceID)}, wait, waitHeld, hs.renewed)
	if err != nil {
		if ctx.Err() != nil {
			// The start never ran: its transition is over (cancelled, not
			// failed: nothing to count, no plan to hold back).
			return supervisor.Outcome{Result: sdk.Result{Code: sdk.ErrGeneric, Message: "not started: transition aborted while waiting for the lease"},
				Cancelled: true, Started: started, Duration: time.Since(started)}, false
		}
		l.mu.Lock()
		l.leaseErr[req.ResourceID] = true
		l.mu.Unlock()
		msg := fmt.Sprintf("not started: its lease could not be acquired within %s: %v", time.Since(started).Round(time.Millisecond), err)
		return supervisor.Outcome{Result: sdk.Result{Code: sdk.ErrGeneric, Message: msg}, Started: started, Duration: time.Since(started)}, false
	}
	l.mu.Lock()
	e.lease, e.released, e.hold = ls, false, hs
	l.mu.Unlock()
	// The agent may keep the resource active until the fence deadline, and
	// no longer unless told so again.
	if out := hs.send(ctx, ls.Deadline()); out.Code != sdk.OK && out.Code != sdk.ErrUnimplemented {
		l.log.Warn("hold refused; starting anyway (the host fences on lease loss)", "resource", req.ResourceID, "message", out.Message)
	}
	l.wg.Add(2)
	go func() { defer l.wg.Done(); hs.loop() }()
	go func() { defer l.wg.Done(); l.watchLease(e, ls, agent, req) }()
	return supervisor.Outcome{}, true
}

// takeLease acquires the first of keys this node can have (one key for a
// singleton; a promotable clone's promoted slots), trying again until wait
// has passed: a lease held elsewhere (when waitHeld: its holder died, and
// it expires within its TTL) or not to be had for the moment (no quorum, a
// read or write that timed out). onRenew is the lease's (lease.Acquire).
func (l *LRM) takeLease(ctx context.Context, keys []string, wait time.Duration, waitHeld bool, onRenew func(time.Time)) (*lease.Lease, error) {
	started := time.Now()
	deadline := started.Add(wait)
	var lastErr error
	for attempt := 0; ; attempt++ {
		retry := false
		for _, key := range keys {
			actx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			ls, err := l.cfg.Leases.Acquire(actx, key, onRenew)
			cancel()
			if err == nil {
				if attempt > 0 {
					l.log.Info("lease acquired after waiting", "key", key, "waited", time.Since(started).Round(time.Millisecond))
				}
				return ls, nil
			}
			lastErr = err
			held := errors.Is(err, lease.ErrHeld) || errors.Is(err, lease.ErrPromised)
			// A key that expired between the Create and its read (not
			// found) is worth another try at once, as is a read or write
			// that timed out.
			transient := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, bus.ErrNoQuorum) || errors.Is(err, bus.ErrNotFound)
			if (held && waitHeld) || (!held && transient) {
				retry = true
			}
		}
		if ctx.Err() != nil || time.Now().After(deadline) || !retry {
			return nil, lastErr
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// release gives up a stopped singleton's lease, and the agent's hold.
func (r *runner) release(e *entry, agent string, req sdk.Request) {
	l := r.l
	l.mu.Lock()
	ls, hs := e.lease, e.hold
	e.lease, e.hold, e.released = nil, nil, true
	l.mu.Unlock()
	if hs != nil {
		close(hs.stop)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	l.cfg.Runner.Hold(ctx, agent, sdk.HoldRequest{ResourceID: req.ResourceID, Params: req.Params, Until: 0}, time.Second)
	if ls != nil {
		if err := ls.Release(ctx); err != nil {
			l.log.Warn("lease not released (it expires by itself)", "resource", req.ResourceID, "err", err)
		}
	}
}

// watchLease stops a singleton whose lease is lost: past its fence
// deadline this node must not run it (another may already be starting it).
func (l *LRM) watchLease(e *entry, ls *lease.Lease, agent string, req sdk.Request) {
	<-ls.Lost()
	l.mu.Lock()
	if e.lease != ls || e.released {
		l.mu.Unlock()
		return
	}
	e.lease = nil
	if e.hold != nil {
		close(e.hold.stop)
		e.hold = nil
	}
	// The stop is of the resource as it runs now: a reload since its
	// start may have changed its parameters.
	req.Params = e.def.Params
	l.mu.Unlock()
	l.log.Error("lease lost: stopping the resource here", "resource", req.ResourceID)
	_ = l.cfg.Conn.Publish(bus.LogEvent{Node: l.cfg.Node, Level: "error", Message: "lease of " + req.ResourceID + " lost on " + l.cfg.Node + ": stopped it there"})
	out := l.cfg.Runner.Run(context.Background(), agent, bus.OpStop, req, l.opTimeout(e.def, bus.OpStop))
	if ev, ok := alerts.FromAction(bus.ActionResult{Resource: req.ResourceID, Node: l.cfg.Node, Op: bus.OpStop, Code: int32(out.Code),
		TimedOut: out.TimedOut, Duration: out.Duration}); ok && l.cfg.Alert != nil {
		l.cfg.Alert(ev)
	}
	l.mu.Lock()
	if out.Code == sdk.OK && !out.TimedOut {
		l.setState(e, bus.StateStopped, "lease lost: stopped")
	} else {
		l.setState(e, bus.StateBlocked, "lease lost and stop failed: "+out.Message)
	}
	l.mu.Unlock()
}

// holdSender passes each new fence deadline to the agent, coalescing
// renewals that come faster than the agent answers.
type holdSender struct {
	l       *LRM
	agent   string
	req     sdk.Request
	role    string // "" the resource; sdk.HoldPromoted its instance's promoted role
	updates chan time.Time
	stop    chan struct{}

	mu     sync.Mutex
	params map[string]string // set by a reload: the parameters the resource runs with now (nil: req's)
}

// setParams makes the holds sent from now on carry params: a reload
// changed what the resource runs with, and a hold is what the agent acts
// on when it lapses (the stop it runs by itself, and sdk.Serve's when the
// host is gone), and what the supervisor replays to a restarted plugin.
func (h *holdSender) setParams(params map[string]string) {
	h.mu.Lock()
	h.params = params
	h.mu.Unlock()
}

func (h *holdSender) renewed(deadline time.Time) {
	select {
	case h.updates <- deadline:
	default:
		select {
		case <-h.updates:
		default:
		}
		select {
		case h.updates <- deadline:
		default:
		}
	}
}

func (h *holdSender) send(ctx context.Context, deadline time.Time) supervisor.Outcome {
	return h.hold(ctx, sdk.MonotonicNow()+time.Until(deadline))
}

// hold sends the agent the hold until (0: cancelled).
func (h *holdSender) hold(ctx context.Context, until time.Duration) supervisor.Outcome {
	params := h.req.Params
	h.mu.Lock()
	if h.params != nil {
		params = h.params
	}
	h.mu.Unlock()
	req := sdk.HoldRequest{ResourceID: h.req.ResourceID, Params: params, Until: until}
	if h.role != "" {
		req.Role, req.Instance = h.role, h.req.Instance
	}
	return h.l.cfg.Runner.Hold(context.WithoutCancel(ctx), h.agent, req, time.Second)
}

func (h *holdSender) loop() {
	for {
		select {
		case <-h.stop:
			return
		case d := <-h.updates:
			select {
			case <-h.stop:
				return
			default:
			}
			if out := h.send(context.Background(), d); out.Code != sdk.OK && out.Code != sdk.ErrUnimplemented {
				h.l.log.Warn("hold not extended", "resource", h.req.ResourceID, "message", out.Message)
			}
		}
	}
}

// adopt takes the lease of a singleton a probe found running here (the
// host restarted while it ran). Only this node's own previous lease can be
// adopted: without it the resource must not run here, and it is stopped.
func (l *LRM) adopt(e *entry) {
	req := sdk.Request{ResourceID: e.def.ID, Params: e.def.Params, Instance: sdk.Instance{Node: l.cfg.Node, CloneIndex: -1}}
	r := &runner{l: l}
	out, ok := r.acquire(context.Background(), e, e.def.Agent, req, l.cfg.LeaseWait, false)
	l.mu.Lock()
	delete(l.leaseErr, e.def.ID)
	l.mu.Unlock()
	if ok {
		l.log.Info("adopted a running singleton with its lease", "resource", e.def.ID)
		return
	}
	l.log.Error("found running without its lease: stopping it here", "resource", e.def.ID, "why", out.Message)
	out = l.cfg.Runner.Run(context.Background(), e.def.Agent, bus.OpStop, req, l.opTimeout(e.def, bus.OpStop))
	l.mu.Lock()
	if out.Code == sdk.OK && !out.TimedOut {
		l.setState(e, bus.StateStopped, "found running without its lease: stopped")
	} else {
		l.setState(e, bus.StateBlocked, "found running without its lease, and stop failed: "+out.Message)
	}
	l.mu.Unlock()
}
