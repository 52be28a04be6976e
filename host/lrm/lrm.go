// Package lrm is a node's local resource manager: it knows what runs on this
// node and makes it so. It probes every configured resource when the node
// starts (and each new one when the configuration grows), runs the actions
// the coordinator's transitions give this node (through the executor, in
// dependency order), runs the recurring monitors of what is started here,
// counts failures in the bus before it reports them, and tells the cluster
// what it runs: a bus.NodeResources event on every change, and the same as
// the answer to a state request (the probe a new coordinator starts with).
//
// Singletons (primitives: the VIP) are fenced. A start first acquires the
// resource's lease and gives the agent a hold until the lease's fence
// deadline, extended at each renewal; a stop releases the lease after the
// agent stopped the resource; a lost lease stops the resource at once (and
// an agent that implements holds stops it by itself at the deadline even if
// this process is frozen or gone). A singleton found running by a probe is
// adopted only with its lease; without it, it is stopped.
//
// The LRM runs at most one instance of a resource per node (clone-node-max
// 1, the default and what every first-party agent supports).
package lrm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/executor"
	"github.com/tandem-ha/tandem/host/failures"
	"github.com/tandem-ha/tandem/host/lease"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/policies"
	"github.com/tandem-ha/tandem/policies/cib"
)

// Runner runs agent operations and holds (the supervisor).
type Runner interface {
	executor.Runner
	Hold(ctx context.Context, agent string, req sdk.HoldRequest, timeout time.Duration) supervisor.Outcome
}

// Leases is what the LRM needs of the lease manager.
type Leases interface {
	Acquire(ctx context.Context, key string, onRenew func(deadline time.Time)) (*lease.Lease, error)
}

// Failures is what the LRM needs of the fail-count store.
type Failures interface {
	Add(ctx context.Context, resource, node, op, message string, fatal bool, at time.Time) (failures.Record, error)
}

// Config wires an LRM to its node.
type Config struct {
	Conn        *bus.Conn
	Node        string
	Incarnation string
	Runner      Runner
	Leases      Leases
	Failures    Failures
	// Live returns the current live configuration (CIB nil: none yet).
	Live func() liveconfig.Revision
	// Topology is who the members are and where they are reached: agents
	// see the nodes' addresses (haproxy's backends).
	Topology *bus.Topology
	// Online lists the members online now.
	Online func() []string
	Logger *slog.Logger
	// LeaseWait bounds how long a start waits for a singleton's lease held
	// elsewhere (default 5 s, and never past the start's timeout): after a
	// node dies, its leases expire within their TTL.
	LeaseWait time.Duration
	// MonitorJitter is the executor's MaxJitter (0: its default).
	MonitorJitter time.Duration
}

// DefaultTimeout is the timeout of an operation with none configured
// (Pacemaker's default).
const DefaultTimeout = 20 * time.Second

// entry is one resource on this node.
type entry struct {
	def      cib.Resource // the definition it was last acted on with
	clone    string       // clone id, "" for a primitive
	instance int          // instance label (0 for a primitive)
	state    string       // bus.State*
	since    time.Time
	message  string
	lease    *lease.Lease // held while a singleton may be active here
	released bool         // the lease was given up on purpose
	holdStop chan struct{}
}

func (e *entry) singleton() bool { return e.def.Clone == nil }

// LRM is a node's local resource manager.
type LRM struct {
	cfg   Config
	log   *slog.Logger
	exec  *executor.Executor
	mons  *executor.Monitors
	locks *executor.Locks
	board *executor.Board

	mu         sync.Mutex
	entries    map[string]*entry // by primitive id
	probed     map[string]bool   // resources probed since they were configured
	busy       map[string]string // running operations: key -> description
	seq        uint64
	configRev  uint64
	reports    map[string]bus.NodeResources // latest report of every node
	notified   string                       // the cluster view last given to agents
	noNotify   map[string]bool              // agents without notify
	running    map[string]context.CancelFunc
	leaseErr   map[string]bool // resource -> its last start failed for its lease
	closed     bool
	wake       chan struct{} // something changed: report, monitors, notify
	notifyWake chan struct{}
	wg         sync.WaitGroup
}

// New makes an LRM; Run starts it.
func New(cfg Config) (*LRM, error) {
	if cfg.Conn == nil || cfg.Node == "" || cfg.Runner == nil || cfg.Leases == nil || cfg.Failures == nil || cfg.Live == nil || cfg.Topology == nil || cfg.Online == nil {
		return nil, errors.New("lrm: Conn, Node, Runner, Leases, Failures, Live, Topology and Online are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.LeaseWait == 0 {
		cfg.LeaseWait = 5 * time.Second
	}
	l := &LRM{cfg: cfg, log: cfg.Logger.With("component", "lrm"),
		entries: map[string]*entry{}, probed: map[string]bool{}, busy: map[string]string{},
		reports: map[string]bus.NodeResources{}, noNotify: map[string]bool{}, running: map[string]context.CancelFunc{},
		leaseErr: map[string]bool{}, wake: make(chan struct{}, 1), notifyWake: make(chan struct{}, 1)}
	l.locks = executor.NewLocks()
	l.board = executor.NewBoard()
	run := &runner{l: l}
	var err error
	l.exec, err = executor.NewExecutor(executor.ExecutorConfig{Node: cfg.Node, Runner: run, Publisher: l, Results: l.board,
		Cluster: l.View, Locks: l.locks, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	l.mons = executor.NewMonitors(executor.MonitorsConfig{Node: cfg.Node, Runner: run, Publisher: l, Cluster: l.View,
		Locks: l.locks, Logger: cfg.Logger, MaxJitter: cfg.MonitorJitter})
	return l, nil
}

// Run subscribes to the bus, probes this node's resources and then follows
// transitions until ctx ends. On the way out it stops every resource
// started here (as Pacemaker does when it stops on a node) and releases the
// leases, so singletons move at once.
func (l *LRM) Run(ctx context.Context) error {
	subs, err := l.subscribe(ctx)
	if err != nil {
		return err
	}
	defer func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.notifyLoop(ctx)
	}()
	l.ConfigChanged()
	for {
		select {
		case <-ctx.Done():
			l.shutdown()
			return nil
		case <-l.wake:
			l.publishReport()
			l.mons.Set(l.monitorSpecs())
			l.Notify()
		}
	}
}

func (l *LRM) subscribe(ctx context.Context) ([]*nats.Subscription, error) {
	var subs []*nats.Subscription
	add := func(s *nats.Subscription, err error) error {
		if err != nil {
			for _, s := range subs {
				_ = s.Unsubscribe()
			}
			return fmt.Errorf("lrm: subscribing: %w", err)
		}
		subs = append(subs, s)
		return nil
	}
	if err := add(bus.Subscribe(l.cfg.Conn, bus.SubjectTransition, func(t bus.TransitionEvent, _ bus.Envelope) {
		l.onTransition(ctx, t)
	})); err != nil {
		return nil, err
	}
	if err := add(bus.Subscribe(l.cfg.Conn, bus.SubjectTransition, func(a bus.TransitionAbort, _ bus.Envelope) {
		l.onAbort(a)
	})); err != nil {
		return nil, err
	}
	if err := add(bus.Subscribe(l.cfg.Conn, bus.SubjectActions, func(r bus.ActionResult, _ bus.Envelope) {
		l.board.Record(r)
	})); err != nil {
		return nil, err
	}
	if err := add(bus.Subscribe(l.cfg.Conn, bus.SubjectStates, func(r bus.NodeResources, _ bus.Envelope) {
		l.mu.Lock()
		prev, ok := l.reports[r.Node]
		if !ok || prev.Incarnation != r.Incarnation || r.Seq >= prev.Seq {
			l.reports[r.Node] = r
		}
		l.mu.Unlock()
		l.Notify()
	})); err != nil {
		return nil, err
	}
	if err := add(l.cfg.Conn.NC.Subscribe(bus.SubjectStateRequest, func(m *nats.Msg) {
		data, err := bus.Encode(l.Report(), l.cfg.Conn.Source(), time.Now())
		if err == nil {
			_ = m.Respond(data)
		}
	})); err != nil {
		return nil, err
	}
	return subs, nil
}

func (l *LRM) changed() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Notify tells the agents of this node's started resources what the
// cluster looks like now, if that changed since they were last told (the
// haproxy agent takes a backend out of rotation when its node leaves). The
// daemon calls it on membership changes; the LRM itself on every node's
// report.
func (l *LRM) Notify() {
	select {
	case l.notifyWake <- struct{}{}:
	default:
	}
}

// ConfigChanged makes the LRM read the live configuration again: new
// resources are probed, definitions of stopped ones updated.
func (l *LRM) ConfigChanged() {
	live := l.cfg.Live()
	if live.CIB == nil {
		return
	}
	var toProbe []cib.Resource
	l.mu.Lock()
	l.configRev = live.Rev
	configured := map[string]bool{}
	for _, r := range live.CIB.Resources {
		configured[r.ID] = true
		if e, ok := l.entries[r.ID]; ok && (e.state == bus.StateStopped || e.state == bus.StateUnknown) {
			e.def = r
			if r.Clone != nil {
				e.clone = r.Clone.ID
			} else {
				e.clone = ""
			}
		} else if ok && e.def.Agent == r.Agent {
			// Running: operations (monitor interval, timeouts) and meta
			// apply at once; parameters only from the next start, as the
			// running instance was started with the old ones.
			params := e.def.Params
			e.def = r
			e.def.Params = params
		}
		if !l.probed[r.ID] && l.busy["probe/"+r.ID] == "" {
			toProbe = append(toProbe, r)
			l.busy["probe/"+r.ID] = "probe " + r.ID
		}
	}
	for id := range l.probed {
		if !configured[id] {
			delete(l.probed, id) // probed again if it comes back
		}
	}
	l.mu.Unlock()
	l.changed()
	if len(toProbe) == 0 {
		return
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.probe(toProbe)
	}()
}

// probe runs a one-off monitor of each resource, all in parallel, and
// records what they found.
func (l *LRM) probe(rs []cib.Resource) {
	t := executor.Transition{ID: fmt.Sprintf("probe-%s-%d", l.cfg.Node, time.Now().UnixNano())}
	for _, r := range rs {
		l.mu.Lock()
		idx := -1
		if e, ok := l.entries[r.ID]; ok && r.Clone != nil {
			idx = e.instance
		} else if r.Clone != nil {
			idx = 0
		}
		if _, ok := l.entries[r.ID]; !ok {
			l.entries[r.ID] = l.newEntry(r, idx)
		}
		l.mu.Unlock()
		t.Actions = append(t.Actions, l.action(r, "probe/"+r.ID, bus.OpProbe, idx))
	}
	reports, err := l.exec.Execute(context.Background(), t)
	if err != nil {
		l.log.Error("probe", "err", err)
	}
	l.mu.Lock()
	for _, r := range rs {
		delete(l.busy, "probe/"+r.ID)
	}
	for _, rep := range reports {
		if rep.Ran {
			l.probed[rep.Action.Resource] = true
		}
	}
	l.mu.Unlock()
	l.changed()
}

func (l *LRM) newEntry(r cib.Resource, idx int) *entry {
	e := &entry{def: r, instance: max(idx, 0), state: bus.StateUnknown, since: time.Now()}
	if r.Clone != nil {
		e.clone = r.Clone.ID
	}
	return e
}

// action builds an executor action for resource r on this node.
func (l *LRM) action(r cib.Resource, id, op string, idx int) executor.Action {
	a := executor.Action{ID: id, Resource: r.ID, CloneIndex: -1, Node: l.cfg.Node, Agent: r.Agent, Op: op,
		Params: r.Params, Timeout: opTimeout(r, op)}
	if r.Clone != nil {
		a.Clone, a.CloneIndex = r.Clone.ID, max(idx, 0)
	}
	return a
}

// opTimeout is the configured timeout of op (a probe uses the monitor's).
func opTimeout(r cib.Resource, op string) time.Duration {
	name := op
	if op == bus.OpProbe {
		name = bus.OpMonitor
	}
	if o, ok := r.Op(name); ok && o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultTimeout
}

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
	t := executor.Transition{ID: ev.ID}
	for _, a := range plan.Actions {
		def, ok := l.definition(live, a.Resource)
		if !ok {
			if a.Node == l.cfg.Node {
				l.log.Error("transition names a resource this node does not know", "id", ev.ID, "resource", a.Resource)
			}
			def = cib.Resource{ID: a.Resource}
		}
		idx := -1
		if a.Clone != "" {
			idx = a.Instance
		}
		ea := l.action(def, a.ID, string(a.Op), idx)
		ea.Node, ea.Clone, ea.DependsOn = a.Node, a.Clone, a.After
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
			res := bus.ActionResult{Transition: ev.ID, Action: r.Action.ID, Resource: r.Action.Resource, Clone: r.Action.Clone,
				Instance: max(r.Action.CloneIndex, 0), Node: l.cfg.Node, Op: r.Action.Op, Cancelled: true, Message: r.Skipped, Started: time.Now()}
			l.board.Record(res)
			if err := l.cfg.Conn.Publish(res); err != nil {
				l.log.Warn("publishing a cancelled action", "err", err)
			}
		}
		l.mu.Lock()
		delete(l.running, ev.ID)
		l.mu.Unlock()
		l.board.Forget(ev.ID)
	}()
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
	deadline := time.Now().Add(2 * time.Second)
	for {
		live := l.cfg.Live()
		if live.Rev >= rev || time.Now().After(deadline) || ctx.Err() != nil {
			return live
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// definition finds a resource's definition: the live configuration's, or
// the one it was last acted on with (a resource no longer configured is
// stopped with what it was started with).
func (l *LRM) definition(live liveconfig.Revision, id string) (cib.Resource, bool) {
	if live.CIB != nil {
		if r, isClone := live.CIB.Resource(id); r != nil && !isClone {
			return *r, true
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[id]; ok && e.def.Agent != "" {
		return e.def, true
	}
	return cib.Resource{}, false
}

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
		l.changed()
	}
}

func (l *LRM) onAction(r bus.ActionResult) {
	code := sdk.Code(r.Code)
	msg := r.Message
	if r.TimedOut {
		msg = "timed out: " + msg
	}
	l.mu.Lock()
	e, ok := l.entries[r.Resource]
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
		case code == sdk.OK && !r.TimedOut:
			state, why = bus.StateStarted, "found running"
		case code == sdk.NotRunning || code == sdk.ErrNotInstalled:
			state = bus.StateStopped
		default:
			state, why = bus.StateFailed, "probe: "+msg
			fail = true
		}
	case bus.OpStart:
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
		l.countFailure(r.Resource, r.Op, msg, fatal)
	}
	if state != "" {
		l.mu.Lock()
		l.setState(e, state, why)
		l.mu.Unlock()
	}
	if r.Op == bus.OpProbe && code == sdk.OK && e.singleton() {
		l.adopt(e)
	}
}

func (l *LRM) onMonitor(r bus.MonitorResult) {
	code := sdk.Code(r.Code)
	if code == sdk.OK && !r.TimedOut {
		return
	}
	l.mu.Lock()
	e, ok := l.entries[r.Resource]
	if !ok || e.state != bus.StateStarted || r.Started.Before(e.since) {
		l.mu.Unlock()
		return // not started any more, or the result predates what we know
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
	l.countFailure(r.Resource, bus.OpMonitor, msg, fatal)
	l.mu.Lock()
	if e.state == bus.StateStarted && e.since.Equal(since) {
		l.setState(e, bus.StateFailed, strings.TrimSpace(msg))
	}
	l.mu.Unlock()
}

// countFailure records a failure in the bus, before the result that shows
// it is published: the coordinator's next plan sees the count.
func (l *LRM) countFailure(resource, op, msg string, fatal bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := l.cfg.Failures.Add(ctx, resource, l.cfg.Node, op, msg, fatal, time.Now()); err != nil {
		l.log.Error("fail-count not recorded", "resource", resource, "op", op, "err", err)
	}
}

// Report is what this node runs now.
func (l *LRM) Report() bus.NodeResources {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reportLocked()
}

func (l *LRM) reportLocked() bus.NodeResources {
	r := bus.NodeResources{Node: l.cfg.Node, Incarnation: l.cfg.Incarnation, Seq: l.seq, ConfigRev: l.configRev, Probed: true}
	live := l.cfg.Live()
	if live.CIB == nil {
		r.Probed = false
	} else {
		for _, rs := range live.CIB.Resources {
			if !l.probed[rs.ID] {
				r.Probed = false
			}
		}
	}
	for _, b := range l.busy {
		r.Busy = append(r.Busy, b)
	}
	sort.Strings(r.Busy)
	ids := make([]string, 0, len(l.entries))
	for id := range l.entries {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		e := l.entries[id]
		if e.state == bus.StateUnknown {
			continue
		}
		r.Resources = append(r.Resources, bus.ResourceState{Resource: id, Clone: e.clone, Instance: e.instance,
			State: e.state, Since: e.since, Message: e.message})
	}
	return r
}

func (l *LRM) publishReport() {
	l.mu.Lock()
	l.seq++
	r := l.reportLocked()
	l.reports[l.cfg.Node] = r
	l.mu.Unlock()
	if err := l.cfg.Conn.Publish(r); err != nil {
		l.log.Debug("report not published", "err", err)
	}
}

// monitorSpecs are the recurring monitors of what is started here.
func (l *LRM) monitorSpecs() []executor.MonitorSpec {
	l.mu.Lock()
	defer l.mu.Unlock()
	var specs []executor.MonitorSpec
	for id, e := range l.entries {
		if e.state != bus.StateStarted {
			continue
		}
		op, ok := e.def.Op(bus.OpMonitor)
		if !ok || op.Interval <= 0 {
			continue
		}
		idx := -1
		if e.clone != "" {
			idx = e.instance
		}
		specs = append(specs, executor.MonitorSpec{Resource: id, Clone: e.clone, CloneIndex: idx, Agent: e.def.Agent,
			Params: e.def.Params, Interval: op.Interval, Timeout: op.Timeout})
	}
	return specs
}

// View is what this node knows of the cluster, for agents.
func (l *LRM) View() *sdk.ClusterView {
	online := map[string]bool{}
	for _, n := range l.cfg.Online() {
		online[n] = true
	}
	online[l.cfg.Node] = true
	v := &sdk.ClusterView{Active: map[string][]string{}}
	for _, n := range l.cfg.Topology.Nodes() {
		v.Nodes = append(v.Nodes, sdk.NodeView{Name: n.Name, Address: n.Address, Online: online[n.Name]})
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for node, r := range l.reports {
		if !online[node] {
			continue
		}
		for _, rs := range r.Resources {
			if rs.State != bus.StateStarted {
				continue
			}
			v.Active[rs.Resource] = append(v.Active[rs.Resource], node)
			if rs.Clone != "" {
				v.Active[rs.Clone] = append(v.Active[rs.Clone], node)
			}
		}
	}
	for k, ns := range v.Active {
		sort.Strings(ns)
		v.Active[k] = slices.Compact(ns)
	}
	return v
}

// notifyLoop gives agents the cluster view whenever it changed.
func (l *LRM) notifyLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.notifyWake:
		}
		v := l.View()
		key, _ := json.Marshal(v)
		l.mu.Lock()
		if string(key) == l.notified {
			l.mu.Unlock()
			continue
		}
		l.notified = string(key)
		type target struct {
			def      cib.Resource
			instance int
		}
		var ts []target
		for _, e := range l.entries {
			if e.state == bus.StateStarted && !l.noNotify[e.def.Agent] {
				idx := -1
				if e.clone != "" {
					idx = e.instance
				}
				ts = append(ts, target{e.def, idx})
			}
		}
		l.mu.Unlock()
		for _, t := range ts {
			req := sdk.Request{ResourceID: t.def.ID, Params: t.def.Params, Cluster: v,
				Instance: sdk.Instance{Node: l.cfg.Node, CloneIndex: t.instance}}
			out := l.cfg.Runner.Run(ctx, t.def.Agent, bus.OpNotify, req, 5*time.Second)
			switch {
			case out.Code == sdk.ErrUnimplemented:
				l.mu.Lock()
				l.noNotify[t.def.Agent] = true
				l.mu.Unlock()
			case out.Code != sdk.OK:
				l.log.Warn("notify failed", "resource", t.def.ID, "code", out.Code.String(), "message", out.Message)
			default:
				l.log.Debug("notified", "resource", t.def.ID, "message", out.Message)
			}
		}
	}
}

// shutdown stops every resource started here: singletons first (their
// leases are released so they move at once), then clones.
func (l *LRM) shutdown() {
	l.mu.Lock()
	l.closed = true
	for id, c := range l.running {
		c()
		delete(l.running, id)
	}
	var singles, clones []*entry
	for _, e := range l.entries {
		if e.state == bus.StateStarted || e.state == bus.StateFailed || e.state == bus.StateStarting {
			if e.singleton() {
				singles = append(singles, e)
			} else {
				clones = append(clones, e)
			}
		}
	}
	l.mu.Unlock()
	l.mons.Close()
	run := &runner{l: l}
	for _, group := range [][]*entry{singles, clones} {
		var wg sync.WaitGroup
		for _, e := range group {
			wg.Add(1)
			go func() {
				defer wg.Done()
				idx := -1
				if e.clone != "" {
					idx = e.instance
				}
				req := sdk.Request{ResourceID: e.def.ID, Params: e.def.Params, Instance: sdk.Instance{Node: l.cfg.Node, CloneIndex: idx}}
				out := run.Run(context.Background(), e.def.Agent, bus.OpStop, req, opTimeout(e.def, bus.OpStop))
				l.log.Info("stopped on shutdown", "resource", e.def.ID, "code", out.Code.String(), "message", out.Message)
				l.onAction(bus.ActionResult{Resource: e.def.ID, Clone: e.clone, Instance: e.instance, Node: l.cfg.Node,
					Op: bus.OpStop, Code: int32(out.Code), Message: out.Message, TimedOut: out.TimedOut})
			}()
		}
		wg.Wait()
	}
	l.publishReport()
	l.wg.Wait()
}
