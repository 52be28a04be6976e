package lrm

// Transitions: this node's share of the coordinator's plan, run in order
// through the executor; aborts; the definition each action runs with.

import (
	"context"
	"fmt"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/executor"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/policies"
	"github.com/tandem-ha/tandem/policies/cib"
)

// onTransition runs this node's part of a coordinator's plan.
func (l *LRM) onTransition(ctx context.Context, ev bus.TransitionEvent) {
	plan, err := policies.DecodeTransition(ev.Plan)
	if err != nil {
		l.log.Error("transition not understood", "id", ev.ID, "err", err)
		return
	}
	mine := plan.ForNode(l.cfg.Node)
	if len(mine) == 0 {
		return
	}
	live := l.waitConfig(ctx, ev.ConfigRev)
	if live.Rev < ev.ConfigRev {
		// Planned from a revision this node has not got (its follower lags
		// on a busy bus): the definitions it would run with may be missing
		// or stale. Running nothing is safe; the actions are reported
		// cancelled, not failed, and the coordinator plans again.
		l.cancelPart(ev.ID, mine, fmt.Sprintf("not run: planned from live configuration revision %d, and this node has only revision %d", ev.ConfigRev, live.Rev))
		return
	}
	// A resource of this part that runs as another kind than it is now
	// configured is stopped as it runs first; this plan counted on it
	// as it is configured, and is run by none of this node.
	changing := ""
	l.mu.Lock()
	// Every entry of the resource: a primitive's several instances that
	// ran apart (a unique clone's) each stop as they ran.
	for _, a := range mine {
		for _, e := range l.entriesOf(a.Resource) {
			if def, ok := l.definitionLocked(live, a.Resource); ok && l.stopChangedKind(e, def) {
				changing = a.Resource
			}
		}
		if changing != "" {
			break
		}
	}
	l.mu.Unlock()
	if changing != "" {
		l.cancelPart(ev.ID, mine, fmt.Sprintf("not run: %s is being stopped as the kind it ran as (a primitive, or a clone's instance), since its live configuration made it the other kind", changing))
		return
	}
	t := executor.Transition{ID: ev.ID}
	for _, a := range plan.Actions {
		def, ok := l.definition(live, a.Resource)
		if !ok {
			if a.Node == l.cfg.Node {
				// Without a definition there is no agent to run: running
				// it anyway would fail it, and count a failure against
				// the resource here, for nothing the resource did.
				l.cancelPart(ev.ID, mine, fmt.Sprintf("not run: %s is not in live configuration revision %d, which this node runs", a.Resource, live.Rev))
				return
			}
			def = cib.Resource{ID: a.Resource}
		}
		idx := -1
		if a.Clone != "" {
			idx = a.Instance
		}
		if a.Node == l.cfg.Node && string(a.Op) == bus.OpStop {
			def.Params = l.runningParams(def, idx)
		}
		ea := l.action(def, a.ID, string(a.Op), idx)
		ea.Node, ea.Clone, ea.DependsOn = a.Node, a.Clone, a.After
		switch {
		case a.Notify != nil:
			ea.Notification = notification(a.Notify)
		case a.Clone != "" && a.Node == l.cfg.Node:
			// A notify clone's own starts, stops, promotes and demotes
			// get the lists too (no type or operation), as Pacemaker
			// gives them.
			if lists, ok := plan.NotifyListsOf(a.Clone); ok {
				ea.Notification = notification(&policies.Notification{NotifyLists: lists})
			}
		}
		t.Actions = append(t.Actions, ea)
	}
	tctx, cancel := context.WithCancel(ctx)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		cancel()
		return
	}
	// A new plan supersedes the previous ones: their actions not yet
	// started never will be.
	for id, c := range l.running {
		c()
		delete(l.running, id)
	}
	l.running[ev.ID] = cancel
	l.mu.Unlock()
	l.log.Info("running transition", "id", ev.ID, "actions", len(mine), "reason", ev.Reason)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer cancel()
		reports, err := l.exec.Execute(tctx, t)
		if err != nil {
			l.log.Error("transition refused", "id", ev.ID, "err", err)
		}
		// Actions that never ran are reported as cancelled, so the
		// coordinator knows the transition is over and plans again.
		for _, r := range reports {
			if r.Ran {
				continue
			}
			l.reportCancelled(bus.ActionResult{Transition: ev.ID, Action: r.Action.ID, Resource: r.Action.Resource, Clone: r.Action.Clone,
				Instance: max(r.Action.CloneIndex, 0), Node: l.cfg.Node, Op: r.Action.Op, Cancelled: true, Message: r.Skipped, Started: time.Now()})
		}
		l.mu.Lock()
		delete(l.running, ev.ID)
		l.mu.Unlock()
		l.board.Forget(ev.ID)
	}()
}

// cancelPart reports this node's actions of a transition as cancelled (they
// never ran), with why.
func (l *LRM) cancelPart(id string, mine []policies.Action, why string) {
	l.log.Warn("transition not run here", "id", id, "actions", len(mine), "why", why)
	for _, a := range mine {
		res := bus.ActionResult{Transition: id, Action: a.ID, Resource: a.Resource, Clone: a.Clone,
			Node: l.cfg.Node, Op: string(a.Op), Cancelled: true, Message: why, Started: time.Now()}
		if a.Clone != "" {
			res.Instance = a.Instance
		}
		l.reportCancelled(res)
	}
	l.board.Forget(id)
}

// reportCancelled records and publishes the result of an action that never
// ran, so the coordinator knows its transition is over.
func (l *LRM) reportCancelled(res bus.ActionResult) {
	l.board.Record(res)
	if err := l.cfg.Conn.Publish(res); err != nil {
		l.log.Warn("publishing a cancelled action", "err", err)
	}
}

func (l *LRM) onAbort(a bus.TransitionAbort) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, c := range l.running {
		if a.ID == "*" || a.ID == id {
			l.log.Info("transition aborted", "id", id, "by", a.Coordinator, "reason", a.Reason)
			c()
			delete(l.running, id)
		}
	}
}

// waitConfig waits (briefly) until the live configuration has caught up
// with the revision a transition was planned from.
func (l *LRM) waitConfig(ctx context.Context, rev uint64) liveconfig.Revision {
	deadline := time.NewTimer(2 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		live := l.cfg.Live()
		if live.Rev >= rev {
			return live
		}
		select {
		case <-ctx.Done():
			return live
		case <-deadline.C:
			return live
		case <-tick.C:
		}
	}
}

// definition finds a resource's definition: the live configuration's, or
// the one it was last acted on with (a resource no longer configured is
// stopped with what it was started with).
func (l *LRM) definition(live liveconfig.Revision, id string) (cib.Resource, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.definitionLocked(live, id)
}

// definitionLocked is definition for callers holding l.mu.
func (l *LRM) definitionLocked(live liveconfig.Revision, id string) (cib.Resource, bool) {
	if live.CIB != nil {
		if r, isClone := live.CIB.Resource(id); r != nil && !isClone {
			return live.CIB.RunAs(r), true
		}
	}
	for _, e := range l.entriesOf(id) {
		if e.def.Agent != "" {
			return e.def, true
		}
	}
	return cib.Resource{}, false
}

// runningParams are the parameters def's instance here runs with: a stop
// uses them, not the live configuration's, which may have changed since
// it started (a parameter that names its pid file or unit).
func (l *LRM) runningParams(def cib.Resource, idx int) map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entryLocked(def.ID, idx); ok && e.def.Agent == def.Agent && e.state != bus.StateStopped && e.state != bus.StateUnknown {
		return e.def.Params
	}
	return def.Params
}

// notification is the SDK's form of a clone notification the scheduler
// planned.
func notification(n *policies.Notification) *sdk.Notification {
	entries := func(es []policies.NotifyEntry) []sdk.NotifyEntry {
		var out []sdk.NotifyEntry
		for _, e := range es {
			out = append(out, sdk.NotifyEntry{Instance: e.Instance, Node: e.Node})
		}
		return out
	}
	return &sdk.Notification{Type: n.Type, Operation: string(n.Operation),
		Active: entries(n.Active), Inactive: entries(n.Inactive), Promoted: entries(n.Promoted), Unpromoted: entries(n.Unpromoted),
		Start: entries(n.Start), Stop: entries(n.Stop), Promote: entries(n.Promote), Demote: entries(n.Demote),
		Available: n.Available, All: n.All}
}
