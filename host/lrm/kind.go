package lrm

import (
	"context"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/policies/cib"
)

// A resource running here whose live definition changed kind (a primitive
// made a clone, `tandem resource promotable RSC` or `resource create ...
// clone`'s equivalent in a configuration, or a clone made a primitive
// again) is stopped as it runs, then left to the coordinator to start as
// what it is now. It cannot be adopted as it is: the agent was started
// with another instance (clone index -1, or the instance's index), which
// an agent may key its state on (the example agent's pid file), so every
// later operation under the new instance would miss it (a promote failed
// with "not running", the old process was left behind); and a primitive is
// fenced by its singleton lease, which a clone's instance neither holds
// nor releases (the lease's watch kept the node's stop waiting for a
// minute), while a clone's instance made a primitive would run without
// one. Pacemaker adopts the running primitive as an anonymous instance;
// docs/scheduler.md lists the difference.

// kindChangeKey marks, in l.busy, a resource being stopped as the kind it
// ran as.
func kindChangeKey(id string) string { return "kind/" + id }

// otherKind says whether e, not stopped here, runs (or is being started
// or stopped) as a primitive while def is a clone's instance, or the other
// way round (l.mu held).
func otherKind(e *entry, def cib.Resource) bool {
	if e.def.Agent == "" || e.state == bus.StateStopped || e.state == bus.StateUnknown {
		return false
	}
	return (e.def.Clone == nil) != (def.Clone == nil)
}

// changedKind is otherKind for an entry that can be stopped now: started,
// failed or blocked (a failed stop is tried again as it ran, as the
// coordinator would try it once for the changed definition). A start or
// stop in flight is looked at again when its result comes (onAction).
func changedKind(e *entry, def cib.Resource) bool {
	return otherKind(e, def) && (e.state == bus.StateStarted || e.state == bus.StateFailed || e.state == bus.StateBlocked)
}

// stopChangedKind starts stopping e (l.mu held) as the kind it runs as,
// unless that is under way, and says whether e runs as another kind than
// def, its live definition (its actions planned for the new kind must not
// run meanwhile).
func (l *LRM) stopChangedKind(e *entry, def cib.Resource) bool {
	key := kindChangeKey(e.key)
	if l.busy[key] != "" {
		return true
	}
	if !changedKind(e, def) {
		// A start or stop of the old kind in flight: its result decides.
		return otherKind(e, def)
	}
	was := "a primitive"
	if e.def.Clone != nil {
		was = "an instance of clone " + e.def.Clone.ID
	}
	l.busy[key] = "stop " + e.key + " (it ran as " + was + ")"
	l.setState(e, bus.StateStopping, "its kind changed: stopped as it ran ("+was+")")
	l.log.Info("a running resource changed kind: stopping it as it ran, to start it as configured now", "resource", def.ID, "was", was)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.stopAsItRan(e, def, was)
	}()
	return true
}

// stopAsItRan demotes (if promoted) and stops e with the definition and
// instance it was started with, gives up its singleton lease or promoted
// slot, and records it stopped with its new definition def.
func (l *LRM) stopAsItRan(e *entry, def cib.Resource, was string) {
	l.mu.Lock()
	old, promoted := e.def, e.role == cib.RolePromoted
	req := sdk.Request{ResourceID: old.ID, Params: old.Params, Instance: sdk.Instance{Node: l.cfg.Node, CloneIndex: -1}}
	if old.Clone != nil {
		req.Instance.CloneIndex = e.instance
		if live := l.cfg.Live(); live.CIB != nil {
			req.Instance.Clone = cloneMeta(old.Clone, len(live.CIB.Nodes))
		}
	}
	l.mu.Unlock()
	ctx := context.Background()
	if promoted {
		if out := l.cfg.Runner.Run(ctx, old.Agent, bus.OpDemote, req, l.opTimeout(old, bus.OpDemote)); out.Code != sdk.OK || out.TimedOut {
			l.log.Warn("demote before the stop failed; stopping anyway", "resource", old.ID, "message", out.Message)
		}
	}
	out := l.cfg.Runner.Run(ctx, old.Agent, bus.OpStop, req, l.opTimeout(old, bus.OpStop))
	stopped := out.Code == sdk.OK && !out.TimedOut
	if stopped {
		if old.Clone == nil {
			(&runner{l: l}).release(e, old.Agent, req)
		} else {
			l.releasePromoted(e)
		}
	}
	if !stopped {
		// Counted before the state is set, as onAction does: the report
		// makes the coordinator plan, and its plan must see the count.
		l.countFailure(l.failureName(old.ID, req.Instance.CloneIndex), bus.OpStop, out.Message, true)
	}
	l.mu.Lock()
	delete(l.busy, kindChangeKey(e.key))
	if stopped {
		e.def, e.clone, e.role, e.score = def, "", "", nil
		if def.Clone != nil {
			e.clone = def.Clone.ID
		}
		l.setState(e, bus.StateStopped, "stopped as "+was+": its kind changed")
	} else {
		// Like any failed stop without fencing: blocked here, with the
		// definition it ran with (a cleanup probes it again).
		l.setState(e, bus.StateBlocked, "stop (as "+was+", its kind changed): "+out.Message)
	}
	l.mu.Unlock()
	l.changed()
}

// demoteUnpromotable starts demoting e (l.mu held) when it runs promoted
// while def, its live definition, is no longer promotable (the clone's
// promotable option was turned off): the coordinator plans for a clone
// without roles, and would never demote it, so the instance would stay
// the agent's primary and keep its promoted slot. Pacemaker demotes it
// (its role goes from Promoted to Started).
func (l *LRM) demoteUnpromotable(e *entry, def cib.Resource) {
	key := "demote/" + e.key
	if e.state != bus.StateStarted || e.role != cib.RolePromoted || def.Clone == nil || promotable(def) || l.busy[key] != "" {
		return
	}
	l.busy[key] = "demote " + def.ID + " (its clone is no longer promotable)"
	req := sdk.Request{ResourceID: def.ID, Params: e.def.Params, Instance: sdk.Instance{Node: l.cfg.Node, CloneIndex: e.instance}}
	agent, timeout := e.def.Agent, l.opTimeout(e.def, bus.OpDemote)
	l.log.Info("promoted, but its clone is no longer promotable: demoting it", "resource", def.ID)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		out := l.cfg.Runner.Run(context.Background(), agent, bus.OpDemote, req, timeout)
		ok := out.Code == sdk.OK && !out.TimedOut
		if ok {
			l.releasePromoted(e)
		} else {
			l.countFailure(l.failureName(def.ID, req.Instance.CloneIndex), bus.OpDemote, out.Message, false)
		}
		l.mu.Lock()
		delete(l.busy, key)
		if ok {
			e.role = ""
		} else {
			// As a failed demote in a transition: failed, so that it is
			// stopped and started again.
			l.setState(e, bus.StateFailed, "demote (its clone is no longer promotable): "+out.Message)
		}
		l.mu.Unlock()
		l.changed()
	}()
}

// checkKind stops e as it ran if its kind changed (a start's or probe's
// result made it started while the live definition is of the other kind).
func (l *LRM) checkKind(e *entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if def, ok := l.definitionLocked(l.cfg.Live(), e.def.ID); ok {
		l.stopChangedKind(e, def)
	}
}
