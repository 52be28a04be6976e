package lrm

// Results: what the actions and monitors run here report changes this
// node's state and fail-counts before it goes out on the bus.

import (
	"context"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/alerts"
	"github.com/tandem-ha/tandem/host/lease"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/policies/cib"
)

// Publish is the executor's and monitors' publisher: results change the
// local state (and fail-counts) before they go out on the bus.
func (l *LRM) Publish(ev bus.Event) error {
	switch r := ev.(type) {
	case bus.ActionResult:
		l.onAction(r)
	case bus.MonitorResult:
		l.onMonitor(r)
	}
	return l.cfg.Conn.Publish(ev)
}

func (l *LRM) setState(e *entry, state, message string) {
	if e.state != state || e.message != message {
		e.state, e.message, e.since = state, message, time.Now()
		if state != bus.StateStarted {
			e.warning = "" // said of the instance that ran
		}
		l.changed()
	}
	if state == bus.StateBlocked {
		// Each failed stop, even with the same message: a new attempt
		// was made with this definition.
		var def *cib.Resource
		if live := l.cfg.Live(); live.CIB != nil {
			if r, isClone := live.CIB.Resource(e.def.ID); r != nil && !isClone {
				def = r
			}
		}
		if fp := cib.Fingerprint(def); fp != e.blocked {
			e.blocked = fp
			l.changed()
		}
	}
}

// running says whether a monitor or probe result means the resource runs:
// OK, or degraded (running, with a warning).
func running(code sdk.Code, timedOut bool) bool {
	return !timedOut && (code == sdk.OK || code == sdk.Degraded || code == sdk.RunningPromoted)
}

// setRole records a promotable clone's role and promotion score as a
// monitor or probe of a started instance reports them.
func (l *LRM) setRole(e *entry, code sdk.Code, score *int) {
	role := ""
	if code == sdk.RunningPromoted || code == sdk.FailedPromoted {
		role = cib.RolePromoted
	}
	changedScore := (score == nil) != (e.score == nil) || score != nil && *score != *e.score
	if role != e.role || changedScore {
		e.role, e.score = role, score
		l.changed()
	}
}

// setWarning records what a degraded monitor or probe said of a started
// resource ("" once a monitor says OK again). A new warning is raised as
// an event once, not at every monitor.
func (l *LRM) setWarning(resource string, idx int, started time.Time, warning string) {
	l.mu.Lock()
	e, ok := l.entryLocked(resource, idx)
	if !ok || e.state != bus.StateStarted || started.Before(e.since) || e.warning == warning {
		l.mu.Unlock()
		return
	}
	resource = e.key // "rsc:N" for an instance that runs apart
	prev := e.warning
	e.warning = warning
	l.changed()
	l.mu.Unlock()
	var msg, level string
	switch {
	case warning != "":
		level, msg = "warn", resource+" on "+l.cfg.Node+" degraded: "+warning
		l.log.Warn("resource degraded (kept running, no failure counted)", "resource", resource, "message", warning)
	case prev != "":
		level, msg = "info", resource+" on "+l.cfg.Node+" no longer degraded: its monitor is OK again"
		l.log.Info("resource no longer degraded", "resource", resource)
	}
	if err := l.cfg.Conn.Publish(bus.LogEvent{Node: l.cfg.Node, Level: level, Message: msg}); err != nil {
		l.log.Debug("event not published", "err", err)
	}
}

func (l *LRM) onAction(r bus.ActionResult) {
	if ev, ok := alerts.FromAction(r); ok && l.cfg.Alert != nil {
		l.cfg.Alert(ev)
	}
	code := sdk.Code(r.Code)
	msg := r.Message
	if r.TimedOut {
		msg = "timed out: " + msg
	}
	l.mu.Lock()
	e, ok := l.entryLocked(r.Resource, cloneIndex(r.Clone, r.Instance))
	if !ok {
		l.mu.Unlock()
		return
	}
	leaseErr := l.leaseErr[r.Resource]
	delete(l.leaseErr, r.Resource)
	// The new state is set after the failure is counted: a report showing
	// the failure makes the coordinator plan, and its plan must see the
	// count (migration-threshold).
	var fail, fatal bool
	var state, why string
	switch r.Op {
	case bus.OpProbe:
		switch {
		case running(code, r.TimedOut):
			state, why = bus.StateStarted, "found running"
			e.role = ""
			if code == sdk.RunningPromoted {
				e.role, why = cib.RolePromoted, "found running promoted"
			}
		case code == sdk.NotRunning || code == sdk.ErrNotInstalled:
			state = bus.StateStopped
		default:
			state, why = bus.StateFailed, "probe: "+msg
			fail = true
		}
	case bus.OpPromote, bus.OpDemote:
		if r.OK() {
			e.role = ""
			if r.Op == bus.OpPromote {
				e.role, e.promotedAt = cib.RolePromoted, time.Now()
			}
			l.changed()
		} else if r.Op == bus.OpPromote && leaseErr {
			// Never promoted: another node holds every promoted slot (its
			// lease has not expired yet). The instance runs as before,
			// unpromoted, and nothing it did failed; the coordinator plans
			// again when this transition is over.
			l.changed()
		} else {
			// A failed promote or demote leaves the instance in an unknown
			// role: failed, so that it is demoted (if promoted) and
			// stopped, then started again.
			state, why = bus.StateFailed, r.Op+": "+msg
			fail = true
		}
	case bus.OpStart:
		e.role = ""
		if r.OK() {
			e.instance = r.Instance
			state = bus.StateStarted
		} else {
			// A failed start may have half-started it: stop before anything
			// else. Pacemaker's start-failure-is-fatal: the node is banned
			// for the resource until cleanup (or failure-timeout).
			state, why = bus.StateFailed, "start: "+msg
			fail, fatal = !leaseErr, true
		}
	case bus.OpStop:
		if r.OK() {
			e.role, e.score = "", nil
			state = bus.StateStopped
		} else {
			// Without fencing, a failed stop leaves the resource blocked
			// here: it is not started anywhere else (its lease is kept).
			state, why = bus.StateBlocked, "stop: "+msg
			fail, fatal = true, true
		}
	}
	l.mu.Unlock()
	if fail {
		l.countFailure(l.failureName(r.Resource, cloneIndex(r.Clone, r.Instance)), r.Op, msg, fatal)
	}
	if state != "" {
		l.mu.Lock()
		l.setState(e, state, why)
		l.mu.Unlock()
	}
	if state == bus.StateStarted || state == bus.StateFailed || state == bus.StateBlocked {
		// Started (or failed) as a kind its live definition no longer is
		// (the configuration changed while the start ran).
		l.checkKind(e)
	}
	if r.Op == bus.OpProbe && code == sdk.Degraded && !r.TimedOut {
		l.setWarning(r.Resource, cloneIndex(r.Clone, r.Instance), time.Time{}, msg)
	}
	if r.Op == bus.OpProbe && running(code, r.TimedOut) && e.singleton() {
		l.adopt(e)
	}
	if r.Op == bus.OpProbe && code == sdk.RunningPromoted && !r.TimedOut && promotable(e.def) {
		l.adoptPromoted(e)
	}
	if r.Op == bus.OpProbe && state == bus.StateStopped && e.singleton() {
		// A blocked singleton probed again after a cleanup kept its lease
		// while nobody knew whether it ran; now it is known stopped.
		l.mu.Lock()
		held := e.lease != nil && !e.released
		l.mu.Unlock()
		if held {
			req := sdk.Request{ResourceID: e.def.ID, Params: e.def.Params, Instance: sdk.Instance{Node: l.cfg.Node, CloneIndex: -1}}
			(&runner{l: l}).release(e, e.def.Agent, req)
			l.log.Info("probed stopped after a cleanup: lease released", "resource", e.def.ID)
		}
	}
}

func (l *LRM) onMonitor(r bus.MonitorResult) {
	code := sdk.Code(r.Code)
	l.mu.Lock()
	if l.cfg.Alert != nil {
		e, ok := l.entryLocked(r.Resource, cloneIndex(r.Clone, r.Instance))
		if ev, alert := alerts.FromMonitor(r, ok && e.role == cib.RolePromoted); alert {
			l.cfg.Alert(ev)
		}
	}
	if e, ok := l.entryLocked(r.Resource, cloneIndex(r.Clone, r.Instance)); ok && e.state == bus.StateStarted && !r.Started.Before(e.since) && !r.TimedOut {
		wasPromoted := e.role == cib.RolePromoted
		l.setRole(e, code, r.PromotionScore)
		if wasPromoted && e.role == "" && e.promo != nil && r.Started.After(e.promotedAt) {
			// Its agent says it runs unpromoted now (it was demoted
			// behind the cluster's back, restarted as a replica): its
			// promoted slot is free, or no other node could be promoted
			// in its place.
			l.log.Warn("promoted instance found unpromoted by its monitor: promoted slot released", "resource", r.Resource)
			ls, hs := e.detachPromoted()
			l.wg.Add(1)
			go func() { defer l.wg.Done(); l.giveUpSlot(r.Resource, ls, hs) }()
		}
	}
	l.mu.Unlock()
	if running(code, r.TimedOut) {
		warning := ""
		if code == sdk.Degraded {
			warning = r.Message
		}
		l.setWarning(r.Resource, cloneIndex(r.Clone, r.Instance), r.Started, warning)
		return
	}
	l.mu.Lock()
	e, ok := l.entryLocked(r.Resource, cloneIndex(r.Clone, r.Instance))
	if !ok || e.state != bus.StateStarted || r.Started.Before(e.since) {
		l.mu.Unlock()
		return // not started any more, or the result predates what we know
	}
	if e.singleton() && !leaseValid(e.lease) {
		// Past its lease's fence deadline the agent removes the resource
		// by itself (a hold expired: this process was frozen, or could
		// not renew). That is the fence working, not a failure of the
		// resource here. watchLease records it stopped when its stop is
		// done; the monitor's word that it is not running is recorded at
		// once, so that a report never says Started of a fenced resource
		// (had watchLease finished before the state said Started, nothing
		// else would correct it).
		if code == sdk.NotRunning {
			l.setState(e, bus.StateStopped, "lease lost: stopped (fenced)")
		}
		l.mu.Unlock()
		l.log.Info("monitor after the lease's fence deadline: fenced, not counted as a failure", "resource", r.Resource, "message", r.Message)
		return
	}
	since := e.since
	l.mu.Unlock()
	msg := r.Message
	switch {
	case r.TimedOut:
		msg = "monitor timed out: " + msg
	case code == sdk.NotRunning:
		msg = "monitor: not running (stopped behind the cluster's back) " + msg
	default:
		msg = "monitor: " + code.String() + ": " + msg
	}
	// Pacemaker's hard errors (the configuration is wrong, the software is
	// gone) ban the node at once; others count one.
	fatal := code == sdk.ErrNotConfigured || code == sdk.ErrNotInstalled || code == sdk.ErrArgs
	l.log.Warn("resource failed", "resource", r.Resource, "code", code.String(), "message", r.Message, "timed_out", r.TimedOut)
	// Counted first, then shown (see onAction).
	l.countFailure(l.failureName(r.Resource, cloneIndex(r.Clone, r.Instance)), bus.OpMonitor, msg, fatal)
	l.mu.Lock()
	if e.state == bus.StateStarted && e.since.Equal(since) {
		l.setState(e, bus.StateFailed, strings.TrimSpace(msg))
	}
	l.mu.Unlock()
}

// leaseValid says whether a singleton's lease is held and before its fence
// deadline (a frozen process may resume past it before the lease's own
// timer has said so).
func leaseValid(ls *lease.Lease) bool { return ls != nil && ls.Valid() }

// failureName is what the failures of resource id's instance idx (-1: a
// primitive) are counted under: "id:N" for an instance of a
// globally-unique clone (Pacemaker's fail-count-id:N: they keep that
// instance alone off the node), else id.
func (l *LRM) failureName(id string, idx int) string {
	if idx < 0 {
		return id
	}
	if live := l.cfg.Live(); live.CIB != nil {
		if r, isClone := live.CIB.Resource(id); r != nil && !isClone {
			if cl := live.CIB.CloneOf(r); cl != nil && cl.GloballyUnique {
				return instKey(id, idx)
			}
		}
	}
	return id
}

// countFailure records a failure in the bus, before the result that shows
// it is published: the coordinator's next plan sees the count. resource is
// a primitive's id, or an instance's name (failureName).
func (l *LRM) countFailure(resource, op, msg string, fatal bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := l.cfg.Failures.Add(ctx, resource, l.cfg.Node, op, msg, fatal, time.Now()); err != nil {
		l.log.Error("fail-count not recorded", "resource", resource, "op", op, "err", err)
	}
}
