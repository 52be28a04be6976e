package lrm

// The promoted role of promotable clones, fenced like singletons: an
// instance is promoted only while this node holds one of its clone's
// promoted slot leases (cib.PromotedLeaseKey, promoted-max of them), so
// that no more than promoted-max instances are ever promoted, even when a
// node is cut off (docs/leases.md, "Promoted instances").

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/lease"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/policies/cib"
)

// promotable says whether def is an instance of a promotable clone.
func promotable(def cib.Resource) bool { return def.Clone != nil && def.Clone.Promotable }

// promotedKeys are the lease keys of the promoted slots of def's clone;
// for a member of a promotable cloned group (in live, the live
// configuration), the slots of that member (cib.PromotedMemberLeaseKey).
func promotedKeys(def cib.Resource, live *cib.CIB) []string {
	most, _ := def.Clone.PromotedLimits()
	member := false
	if live != nil {
		g := live.GroupOf(def.ID)
		member = g != nil && g.Clone != nil && g.Clone.ID == def.Clone.ID
	}
	keys := make([]string, most)
	for i := range keys {
		keys[i] = cib.PromotedLeaseKey(def.Clone.ID, i)
		if member {
			keys[i] = cib.PromotedMemberLeaseKey(def.Clone.ID, def.ID, i)
		}
	}
	return keys
}

// changeRole runs a promote or a demote: a promote only once this node
// holds a promoted slot of the clone (waiting, within LeaseWait, for the
// slot of a node that was cut off or died to expire); a demote that
// succeeded gives the slot up at once, so the next promote elsewhere need
// not wait for its TTL.
func (r *runner) changeRole(ctx context.Context, agent, op string, req sdk.Request, timeout time.Duration) supervisor.Outcome {
	l := r.l
	l.mu.Lock()
	e, ok := l.entryLocked(req.ResourceID, req.Instance.CloneIndex)
	if ok {
		if d, found := l.definitionLocked(l.cfg.Live(), req.ResourceID); found {
			e.def = d
		}
	}
	fenced := ok && promotable(e.def)
	l.mu.Unlock()
	if !fenced {
		return l.cfg.Runner.Run(ctx, agent, op, req, timeout)
	}
	if op == bus.OpPromote {
		if timeout <= 0 {
			timeout = DefaultTimeout
		}
		if out, ok := r.acquirePromoted(ctx, e, agent, req, min(l.cfg.LeaseWait, timeout), true); !ok {
			return out
		}
		// With the slot taken, the promote runs even if its transition is
		// aborted meanwhile: a slot kept by an instance never promoted
		// would hold every other node's promote back.
		return l.cfg.Runner.Run(context.WithoutCancel(ctx), agent, op, req, timeout)
	}
	out := l.cfg.Runner.Run(ctx, agent, op, req, timeout)
	if out.Code == sdk.OK && !out.TimedOut {
		l.releasePromoted(e)
	}
	return out
}

// acquirePromoted takes a promoted slot of e's clone for this node (the
// one it holds already, if any), and watches it. On failure it returns the
// promote's result.
func (r *runner) acquirePromoted(ctx context.Context, e *entry, agent string, req sdk.Request, wait time.Duration, waitHeld bool) (supervisor.Outcome, bool) {
	l := r.l
	started := time.Now()
	l.mu.Lock()
	// A slot past its deadline is left to its watcher, which demotes the
	// instance unless a new slot is taken below first.
	have := leaseValid(e.promo)
	keys := promotedKeys(e.def, l.cfg.Live().CIB)
	l.mu.Unlock()
	if have {
		return supervisor.Outcome{}, true
	}
	hs := &holdSender{l: l, agent: agent, req: req, role: sdk.HoldPromoted, updates: make(chan time.Time, 1), stop: make(chan struct{})}
	ls, err := l.takeLease(ctx, keys, wait, waitHeld, hs.renewed)
	if err == nil && !ls.Valid() {
		// The lease manager still had the old slot, its deadline passed
		// and its fence not yet run: no slot for now.
		err = errors.New("this node's promoted slot is past its fence deadline")
	}
	if err != nil {
		if ctx.Err() != nil {
			// The promote never ran: its transition is over (cancelled,
			// not failed: the coordinator must not hold the same plan back
			// as one that failed).
			return supervisor.Outcome{Result: sdk.Result{Code: sdk.ErrGeneric, Message: "not promoted: transition aborted while waiting for a promoted slot lease"},
				Cancelled: true, Started: started, Duration: time.Since(started)}, false
		}
		l.mu.Lock()
		l.leaseErr[req.ResourceID] = true
		l.mu.Unlock()
		msg := fmt.Sprintf("not promoted: none of the %d promoted slot lease(s) of %s could be acquired within %s: %v",
			len(keys), e.def.Clone.ID, time.Since(started).Round(time.Millisecond), err)
		return supervisor.Outcome{Result: sdk.Result{Code: sdk.ErrGeneric, Message: msg}, Started: started, Duration: time.Since(started)}, false
	}
	l.mu.Lock()
	if e.promoHold != nil {
		close(e.promoHold.stop) // the lost slot's
	}
	e.promo, e.promoHold = ls, hs
	l.mu.Unlock()
	// The agent's plugin may keep the instance promoted until the fence
	// deadline, and demotes it by itself then unless told otherwise (a
	// frozen host cannot demote it).
	if out := hs.send(ctx, ls.Deadline()); out.Code != sdk.OK && out.Code != sdk.ErrUnimplemented {
		l.log.Warn("promoted hold refused; promoting anyway (the host demotes on lease loss)", "resource", req.ResourceID, "message", out.Message)
	}
	l.wg.Add(2)
	go func() { defer l.wg.Done(); hs.loop() }()
	go func() { defer l.wg.Done(); l.watchPromoted(e, ls, agent, req) }()
	return supervisor.Outcome{}, true
}

// releasePromoted gives up e's promoted slot, if it holds one: the
// instance was demoted or stopped.
func (l *LRM) releasePromoted(e *entry) {
	l.mu.Lock()
	ls, hs := e.detachPromoted()
	l.mu.Unlock()
	l.giveUpSlot(e.def.ID, ls, hs)
}

// detachPromoted takes e's promoted slot and hold off it (l.mu held), so
// that nothing counts on them any more; giveUpSlot then releases them.
func (e *entry) detachPromoted() (*lease.Lease, *holdSender) {
	ls, hs := e.promo, e.promoHold
	e.promo, e.promoHold = nil, nil
	return ls, hs
}

// giveUpSlot cancels the agent's hold on the role and deletes the slot's
// key, so another node can take it at once.
func (l *LRM) giveUpSlot(resource string, ls *lease.Lease, hs *holdSender) {
	if ls == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if hs != nil {
		close(hs.stop)
		hs.hold(ctx, 0)
	}
	if err := ls.Release(ctx); err != nil {
		l.log.Warn("promoted slot lease not released (it expires by itself)", "resource", resource, "err", err)
	}
}

// watchPromoted demotes an instance whose promoted slot is lost: past its
// fence deadline another node may be promoted in its place. When the
// demote fails, the instance is stopped (a stop leaves no role at all).
func (l *LRM) watchPromoted(e *entry, ls *lease.Lease, agent string, req sdk.Request) {
	<-ls.Lost()
	l.mu.Lock()
	if e.promo != ls {
		l.mu.Unlock()
		return // released on purpose (demoted, stopped)
	}
	e.promo = nil
	if e.promoHold != nil {
		close(e.promoHold.stop) // its hold lapses by itself now
		e.promoHold = nil
	}
	def := e.def
	// Of the instance as it runs now (a reload may have changed it).
	req.Params = def.Params
	l.mu.Unlock()
	l.log.Error("promoted slot lease lost: demoting the instance here", "resource", req.ResourceID)
	out := l.cfg.Runner.Run(context.Background(), agent, bus.OpDemote, req, l.opTimeout(def, bus.OpDemote))
	if out.Code == sdk.OK && !out.TimedOut {
		l.mu.Lock()
		if e.role == cib.RolePromoted {
			e.role = ""
		}
		// Its promotion score was the promoted instance's: unknown until
		// the next monitor says it (a stale one, reported when the node
		// is back, took the role back from the node promoted meanwhile).
		e.score = nil
		l.changed()
		l.mu.Unlock()
		_ = l.cfg.Conn.Publish(bus.LogEvent{Node: l.cfg.Node, Level: "error",
			Message: "promoted slot lease of " + req.ResourceID + " lost on " + l.cfg.Node + ": demoted it there"})
		return
	}
	l.log.Error("demote after a lost promoted slot lease failed: stopping the instance", "resource", req.ResourceID, "message", out.Message)
	stop := l.cfg.Runner.Run(context.Background(), agent, bus.OpStop, req, l.opTimeout(def, bus.OpStop))
	l.mu.Lock()
	if stop.Code == sdk.OK && !stop.TimedOut {
		e.role, e.score = "", nil
		l.setState(e, bus.StateStopped, "promoted slot lease lost, demote failed ("+out.Message+"): stopped")
	} else {
		l.setState(e, bus.StateBlocked, "promoted slot lease lost, and demote and stop failed: "+stop.Message)
	}
	l.mu.Unlock()
	_ = l.cfg.Conn.Publish(bus.LogEvent{Node: l.cfg.Node, Level: "error",
		Message: "promoted slot lease of " + req.ResourceID + " lost on " + l.cfg.Node + ": demote failed, stopped it there"})
}

// adoptPromoted takes a promoted slot for an instance a probe found
// running promoted here (the host restarted while it ran): this node's
// own slot from before, or a free one. With none to be had (others hold
// every slot) it must not stay promoted: it is demoted.
func (l *LRM) adoptPromoted(e *entry) {
	idx := e.instance
	req := sdk.Request{ResourceID: e.def.ID, Params: e.def.Params, Instance: sdk.Instance{Node: l.cfg.Node, CloneIndex: idx}}
	r := &runner{l: l}
	out, ok := r.acquirePromoted(context.Background(), e, e.def.Agent, req, l.cfg.LeaseWait, false)
	l.mu.Lock()
	delete(l.leaseErr, e.def.ID)
	l.mu.Unlock()
	if ok {
		l.log.Info("adopted a promoted instance with a promoted slot lease", "resource", e.def.ID)
		return
	}
	l.log.Error("found promoted without a promoted slot lease: demoting it here", "resource", e.def.ID, "why", out.Message)
	out = l.cfg.Runner.Run(context.Background(), e.def.Agent, bus.OpDemote, req, l.opTimeout(e.def, bus.OpDemote))
	l.mu.Lock()
	if out.Code == sdk.OK && !out.TimedOut {
		if e.role == cib.RolePromoted {
			e.role = ""
		}
		e.score = nil // the promoted instance's: unknown until a monitor says
		l.changed()
	} else {
		l.setState(e, bus.StateFailed, "found promoted without a promoted slot lease, and demote failed: "+out.Message)
	}
	l.mu.Unlock()
}
