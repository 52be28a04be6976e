// Package coordinator is Tandem's designated controller (Pacemaker's DC):
// exactly one node at a time, the holder of the "coordinator" lease, turns
// the live configuration and the observed state into transitions with the
// scheduler (policies), publishes them, follows their results, and plans
// again on every relevant event.
//
// The coordinator keeps no state of its own that a successor would need:
// before each plan it asks every online node what it runs (the probe), and
// fail-counts live in the bus. A coordinator change therefore neither
// restarts nor duplicates anything: the new one starts by aborting whatever
// transition may still be in flight, waits until no node is busy, and plans
// from what the nodes report.
package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/failures"
	"github.com/tandem-ha/tandem/host/lease"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/host/tickets"
	"github.com/tandem-ha/tandem/policies"
	"github.com/tandem-ha/tandem/policies/cib"
)

// LeaseKey is the lease whose holder is the coordinator; its tenure's
// token goes with every plan (fencing).
const LeaseKey = lease.CoordinatorKey

// legacyStatusKey is where coordinators before per-node status keys kept
// the cluster's status; ReadStatus still reads it during a rolling upgrade.
const legacyStatusKey = "status"

// Config wires a coordinator to its node.
type Config struct {
	Conn     *bus.Conn
	Node     string
	Leases   *lease.Manager
	Failures *failures.Store
	// Tickets holds the tickets' state (nil: every ticket is revoked).
	Tickets *tickets.Store
	// Online says which members are online now (membership tracker).
	Online func() []string
	// Settled says whether membership has listened long enough to know who
	// is online (nil: always). Plans wait for it: right after a start every
	// node would look offline.
	Settled func() bool
	// Stopped says whether an online node's resources are stopped
	// (`tandem cluster stop`; nil: none are). Such a node is planned as
	// standby: its singletons move away and its clone instances stop.
	Stopped func(node string) bool
	// Live returns the current live configuration (CIB nil: none yet).
	Live   func() liveconfig.Revision
	Logger *slog.Logger
	// Debounce groups bursts of events into one plan (default 30 ms).
	Debounce time.Duration
	// ProbeTimeout bounds how long a plan waits for nodes' reports (400 ms:
	// a node answers in milliseconds; a plan that misses one is retried).
	ProbeTimeout time.Duration
	// Finished, when set, is told of each transition this coordinator
	// published once it is over: how long it took and how it ended
	// ("complete", "failed", "aborted", "timed_out"); metrics.
	Finished func(took time.Duration, outcome string)
	// Bystander: this member never bids for the coordinator lease. Only
	// the voters coordinate: they alone follow every member's heartbeats
	// (a plain member follows the voters' and learns the others from the
	// coordinator's view: docs/topology.md).
	Bystander bool
}

// Coordinator runs the election and, while elected, the planning loop.
type Coordinator struct {
	cfg   Config
	log   *slog.Logger
	pokes chan poke

	mu  sync.Mutex
	seq uint64

	// busy: this member coordinates and a transition it published is in
	// flight (Busy).
	busy atomic.Bool
	// tenure: the coordinator lease's token while this member
	// coordinates, 0 otherwise (Tenure).
	tenure atomic.Uint64
}

// Tenure is the coordinator lease's token while this member coordinates;
// ok is false when it does not.
func (c *Coordinator) Tenure() (token uint64, ok bool) {
	t := c.tenure.Load()
	return t, t != 0
}

// Busy says whether this member coordinates with a transition in flight: a
// coordinator that stops waits for it (daemon's drain), so that the
// actions after its own node's (a promote elsewhere, its post-promote
// notification) are not cut by the new coordinator's abort.
func (c *Coordinator) Busy() bool { return c.busy.Load() }

type poke struct {
	reason string
	abort  bool
	// onlyFor: abort only if the transition in flight still waits for an
	// action on this node.
	onlyFor string
}

// New makes a coordinator; Run starts it.
func New(cfg Config) *Coordinator {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Debounce == 0 {
		cfg.Debounce = 30 * time.Millisecond
	}
	if cfg.ProbeTimeout == 0 {
		cfg.ProbeTimeout = 400 * time.Millisecond
	}
	return &Coordinator{cfg: cfg, log: cfg.Logger.With("component", "coordinator"), pokes: make(chan poke, 64)}
}

// Poke tells the coordinator something changed (a member came or went, the
// configuration changed). With abort, a transition in flight is aborted:
// what it planned may no longer be right.
func (c *Coordinator) Poke(reason string, abort bool) {
	select {
	case c.pokes <- poke{reason: reason, abort: abort}:
	default:
	}
}

// PokeLeft tells the coordinator that node left after it had stopped its
// resources (`tandem cluster stop`, or a daemon that drained before it
// stopped): the transition in flight planned it as standby already, so it
// is aborted only if it still waits for an action on node. A transition
// that promotes an instance elsewhere after the node's demote and stop is
// not cut between the promote and its post-promote notification because
// its node's heartbeats ended.
func (c *Coordinator) PokeLeft(reason, node string) {
	select {
	case c.pokes <- poke{reason: reason, abort: true, onlyFor: node}:
	default:
	}
}

// Run takes part in the election until ctx ends. While it holds the lease
// it coordinates; losing the lease (its fence deadline passed) stops that at
// once.
func (c *Coordinator) Run(ctx context.Context) {
	if c.cfg.Bystander {
		<-ctx.Done()
		return
	}
	// `tandem resource cleanup` clears fail-counts and `tandem ticket`
	// changes tickets, which raise no event: they ask for a plan with a
	// Refresh.
	if sub, err := bus.Subscribe(c.cfg.Conn, bus.SubjectRefresh, func(r bus.Refresh, env bus.Envelope) {
		c.Poke("refresh ("+env.Source+"): "+r.Reason, false)
	}); err == nil {
		defer func() { _ = sub.Unsubscribe() }()
	}
	// A member that does not hold the lease waits for it to be freed
	// (deleted on release, or its TTL's delete marker) on a watch of the
	// key, rather than trying to take it 4 times a second: each try is a
	// Create and a Get, request and answer each, on every member. A slow
	// try stays, in case the watch stalls or misses the marker.
	freed := make(chan struct{}, 1)
	go c.watchLease(ctx, freed)
	// A member gone or back (a membership poke) may be the holder: for a
	// few TTLs after one, the lease is tried 4 times a second again, so a
	// dead coordinator is replaced as soon as its lease expires even when
	// the watch does not see the key's TTL marker.
	var fastUntil time.Time
	for {
		actx, cancel := context.WithTimeout(ctx, lease.DefaultTTL/2)
		l, err := c.cfg.Leases.Acquire(actx, LeaseKey, nil)
		cancel()
		wait := lease.DefaultTTL / 4
		switch {
		case err == nil:
			c.lead(ctx, l)
			rctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if err := l.Release(rctx); err != nil && ctx.Err() == nil {
				c.log.Debug("releasing the coordinator lease", "err", err)
			}
			cancel()
		case errors.Is(err, lease.ErrContended):
			// Leases by grants: the members that saw the lease go
			// asked at once and split the voters. Each pauses a
			// random while, so that one asks alone next time.
			wait = lease.DefaultTTL/16 + rand.N(lease.DefaultTTL/2)
		case errors.Is(err, lease.ErrHeld):
			if time.Now().After(fastUntil) {
				wait = heldRetry()
			}
		case !errors.Is(err, lease.ErrPromised) && ctx.Err() == nil:
			c.log.Debug("coordinator lease not acquired", "err", err)
		}
		t := time.NewTimer(wait)
		if errors.Is(err, lease.ErrContended) {
			// The pause is the point: neither the watch nor a poke
			// cuts it short (the others would wake at once too).
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-freed:
		case p := <-c.pokes:
			// Not coordinating: a plan has no use for the poke (a new
			// coordinator plans from scratch).
			if p.abort {
				fastUntil = time.Now().Add(3 * lease.DefaultTTL)
			}
		case <-t.C:
		}
		t.Stop()
	}
}

// heldRetryNanos is how often a member tries to take the coordinator lease
// that another holds, besides when the watch says it was freed: 2 s (a
// variable for the test that shows the watch alone suffices).
var heldRetryNanos atomic.Int64

func init() { heldRetryNanos.Store(int64(2 * time.Second)) }

func heldRetry() time.Duration { return time.Duration(heldRetryNanos.Load()) }

// watchLease signals freed each time the coordinator lease's key is deleted
// or purged (released, or expired: the bucket's TTL marker), until ctx
// ends. A watch that ends or cannot start is started again.
func (c *Coordinator) watchLease(ctx context.Context, freed chan<- struct{}) {
	signal := func() {
		select {
		case freed <- struct{}{}:
		default:
		}
	}
	for ctx.Err() == nil {
		kv, err := c.cfg.Conn.KV(ctx, bus.BucketLeases)
		var w jetstream.KeyWatcher
		if err == nil {
			w, err = kv.Raw().Watch(ctx, LeaseKey, jetstream.UpdatesOnly(), jetstream.MetaOnly())
		}
		if err != nil {
			c.log.Debug("watching the coordinator lease", "err", err)
		} else {
			// The watch sees only what comes after it started: the key
			// may have been freed before (its holder cut off while the
			// watch was being set up), so try the lease once more now.
			c.log.Debug("watching the coordinator lease")
			signal()
			for e := range w.Updates() {
				if e != nil && e.Operation() != jetstream.KeyValuePut {
					c.log.Debug("coordinator lease freed", "op", e.Operation().String(), "rev", e.Revision())
					signal()
				}
			}
			c.log.Debug("coordinator lease watch ended")
			_ = w.Stop()
		}
		// Soon again: the slow retry of the lease is no reason to be
		// without a watch for as long (a watch that could not start
		// while the bus was electing a leader would otherwise be missed
		// until then).
		select {
		case <-ctx.Done():
		case <-time.After(watchRetry):
		}
	}
}

// watchRetry is how soon a watch of the coordinator lease that ended or
// could not start is started again.
const watchRetry = 250 * time.Millisecond

// inflight follows the transition being executed.
type inflight struct {
	id       string
	actions  map[string]policies.Action
	results  map[string]bus.ActionResult
	started  time.Time
	deadline time.Time
	aborted  bool
	failed   bool
}

func (f *inflight) complete(online map[string]bool) bool {
	for id, a := range f.actions {
		if _, ok := f.results[id]; ok {
			continue
		}
		if !online[a.Node] {
			continue // its node is gone; whatever it did is probed when it returns
		}
		return false
	}
	return true
}

// waitsOn says whether f (nil: no transition) still waits for an action
// on node.
func (f *inflight) waitsOn(node string) bool {
	if f == nil {
		return false
	}
	for id, a := range f.actions {
		if _, ok := f.results[id]; !ok && a.Node == node {
			return true
		}
	}
	return false
}

func (c *Coordinator) lead(ctx context.Context, l *lease.Lease) {
	c.log.Info("this node is the coordinator")
	_ = c.cfg.Conn.Publish(bus.LogEvent{Node: c.cfg.Node, Level: "info", Message: c.cfg.Node + " is the coordinator"})

	// Only this coordinator's transitions' results are queued: a cold
	// start's probes (every resource on every node: 2,048 results for 256
	// singletons on 8 nodes) filled a queue of 256 and pushed out the
	// transition's own, which then ended only at its deadline.
	results := make(chan bus.ActionResult, 1024)
	reports := make(chan bus.NodeResources, 256)
	mine := c.cfg.Node + "-"
	subA, err := bus.Subscribe(c.cfg.Conn, bus.SubjectActions, func(r bus.ActionResult, _ bus.Envelope) {
		if !strings.HasPrefix(r.Transition, mine) {
			return
		}
		select {
		case results <- r:
		default:
			c.log.Warn("action result dropped (coordinator busy)", "action", r.Action)
		}
	})
	if err != nil {
		c.log.Error("subscribing to action results", "err", err)
		return
	}
	defer subA.Unsubscribe()
	subR, err := bus.Subscribe(c.cfg.Conn, bus.SubjectStates, func(r bus.NodeResources, _ bus.Envelope) {
		select {
		case reports <- r:
		default:
		}
	})
	if err != nil {
		c.log.Error("subscribing to node reports", "err", err)
		return
	}
	defer subR.Unsubscribe()

	// Whatever a previous coordinator set in motion starts nothing more.
	token := l.Token()
	c.tenure.Store(token)
	defer c.tenure.Store(0)
	_ = c.cfg.Conn.Publish(bus.TransitionAbort{ID: "*", Coordinator: c.cfg.Node, Token: token, Reason: "new coordinator"})

	var cur *inflight
	defer c.busy.Store(false)
	seen := map[string]seenState{} // node/resource -> last reported state
	dirty, reason := true, "coordinator elected"
	var due time.Time // debounce: plan no earlier than this
	var recheck time.Time
	pace := newPacer()
	holding := false // a repeated plan is held back (pace): any event plans again
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	abort := func(why string) {
		if cur == nil || cur.aborted {
			return
		}
		cur.aborted = true
		c.log.Info("aborting transition", "id", cur.id, "reason", why)
		_ = c.cfg.Conn.Publish(bus.TransitionAbort{ID: cur.id, Coordinator: c.cfg.Node, Token: token, Reason: why})
	}
	mark := func(why string) {
		if !dirty {
			reason = why
		}
		dirty = true
		// While a repeated plan is held back, anything new is planned at
		// once: it may call for another plan, which is not held back.
		if due.IsZero() || due.Before(time.Now()) || holding {
			due = time.Now().Add(c.cfg.Debounce)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.Lost():
			c.log.Warn("coordinator lease lost: no longer coordinating")
			return
		case p := <-c.pokes:
			mark(p.reason)
			if p.abort && (p.onlyFor == "" || cur.waitsOn(p.onlyFor)) {
				abort(p.reason)
			}
		case r := <-results:
			if cur != nil && r.Transition == cur.id {
				cur.results[r.Action] = r
				if !r.OK() && !r.Cancelled && r.Op != bus.OpNotify {
					// A failed notification fails nothing: the agent
					// was told; the transition goes on.
					cur.failed = true
					abort(fmt.Sprintf("%s failed on %s: %s", r.Action, r.Node, r.Message))
				}
			}
		case r := <-reports:
			rsc, changed := newlyFailed(seen, r)
			switch {
			case rsc != "":
				why := rsc + " failed on " + r.Node
				mark(why)
				abort(why)
			case changed && cur == nil:
				// Something changed outside any transition (a lease was
				// lost, a resource found running or stopped by a probe).
				mark("state changed on " + r.Node)
			}
		case <-tick.C:
		}

		now := time.Now()
		if cur != nil {
			online := c.onlineSet()
			if cur.complete(online) || now.After(cur.deadline) {
				if !cur.complete(online) {
					c.log.Warn("transition timed out; planning again from the nodes' reports", "id", cur.id)
				}
				c.log.Info("transition done", "id", cur.id, "took", now.Sub(cur.started).Round(time.Millisecond),
					"failed", cur.failed, "aborted", cur.aborted)
				if c.cfg.Finished != nil {
					outcome := "complete"
					switch {
					case cur.failed:
						outcome = "failed"
					case cur.aborted:
						outcome = "aborted"
					case !cur.complete(online):
						outcome = "timed_out"
					}
					c.cfg.Finished(now.Sub(cur.started), outcome)
				}
				pace.finished(cur.failed)
				cur = nil
				c.busy.Store(false)
				mark("transition done")
			}
		}
		if !recheck.IsZero() && now.After(recheck) {
			recheck = time.Time{}
			mark("failure-timeout expired")
		}
		if cur != nil || !dirty || now.Before(due) {
			continue
		}
		if c.cfg.Settled != nil && !c.cfg.Settled() {
			due = now.Add(100 * time.Millisecond)
			continue
		}
		next, at, err := c.plan(ctx, reason, pace, token)
		var held heldBack
		switch {
		case errors.As(err, &held):
			if !holding {
				c.log.Warn("holding back a transition that failed the same way before", "for", held.wait.Round(time.Millisecond),
					"actions", held.key, "failures_in_a_row", pace.failures)
			}
			holding, due, recheck = true, now.Add(held.wait), at
			continue
		case err != nil:
			// Not ready (a node still busy, no report yet): try again soon.
			c.log.Debug("not planning yet", "err", err)
			due = now.Add(200 * time.Millisecond)
			continue
		}
		dirty, recheck, cur, holding = false, at, next, false
		c.busy.Store(cur != nil)
	}
}

// heldBack is plan's answer when the pacer holds its transition back.
type heldBack struct {
	key  string
	wait time.Duration
}

func (h heldBack) Error() string {
	return fmt.Sprintf("transition %s held back for %s", h.key, h.wait)
}

// newlyFailed names a resource the report shows failed that was not failed
// in the node's previous report (a monitor found it failed, or a stop
// failed), says whether any resource's state (or role, or promotion score)
// changed, and remembers the report.
func newlyFailed(seen map[string]seenState, r bus.NodeResources) (failed string, changed bool) {
	for _, rs := range r.Resources {
		k := r.Node + "/" + rs.Resource
		prev, known := seen[k]
		now := seenState{state: rs.State, role: rs.Role, scored: rs.PromotionScore != nil}
		if rs.PromotionScore != nil {
			now.score = *rs.PromotionScore
		}
		seen[k] = now
		if !known || prev != now {
			changed = true
		}
		bad := rs.State == bus.StateFailed || rs.State == bus.StateBlocked
		if bad && prev.state != bus.StateFailed && prev.state != bus.StateBlocked && failed == "" {
			failed = rs.Resource
		}
	}
	return failed, changed
}

// seenState is what a node last reported of a resource that the plan
// depends on: its state, and for a promotable clone's instance its role
// and its agent's promotion score (a score reported by the first monitor
// after the start, or a role lost with the promoted slot, calls for a new
// plan as a state change does).
type seenState struct {
	state, role string
	score       int
	scored      bool
}

func (c *Coordinator) onlineSet() map[string]bool {
	set := map[string]bool{}
	for _, n := range c.cfg.Online() {
		set[n] = true
	}
	return set
}

// errNotReady means the cluster is mid-change: plan again shortly.
var errNotReady = errors.New("not ready")

// plan gathers the nodes' reports, runs the scheduler and publishes the
// transition, if any, under the coordinator lease's token. It returns the transition in flight (nil: nothing to
// do) and when to plan again without an event (failure-timeout).
func (c *Coordinator) plan(ctx context.Context, reason string, pace *pacer, token uint64) (*inflight, time.Time, error) {
	live := c.cfg.Live()
	cfg := live.CIB
	if cfg == nil {
		return nil, time.Time{}, fmt.Errorf("%w: no live configuration", errNotReady)
	}
	online := c.onlineSet()
	reports, err := c.gather(cfg, online)
	if err != nil {
		return nil, time.Time{}, err
	}
	st := policies.State{}
	for _, n := range cfg.Nodes {
		status := policies.Offline
		if _, ok := reports[n.Name]; ok && online[n.Name] {
			status = policies.Online
			if c.cfg.Stopped != nil && c.cfg.Stopped(n.Name) {
				status = policies.Standby
			}
		}
		st.Nodes = append(st.Nodes, policies.NodeState{Name: n.Name, Status: status})
	}
	names := make([]string, 0, len(reports))
	for n := range reports {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, rs := range reports[n].Resources {
			role := ""
			if rs.Role == cib.RolePromoted && cfg.PromotableInstance(rs.Resource) {
				role = cib.RolePromoted
			}
			if rs.PromotionScore != nil {
				st.Promotion = append(st.Promotion, policies.PromotionScore{Resource: rs.Resource, Node: n, Score: cib.ClampScore(int64(*rs.PromotionScore))})
			}
			switch rs.State {
			case bus.StateStarted, bus.StateStarting:
				st.Instances = append(st.Instances, policies.InstanceState{Resource: rs.Resource, Clone: rs.Clone, Instance: rs.Instance, Node: n, Role: role})
			case bus.StateFailed, bus.StateStopping:
				st.Instances = append(st.Instances, policies.InstanceState{Resource: rs.Resource, Clone: rs.Clone, Instance: rs.Instance, Node: n, Failed: true, Role: role})
			case bus.StateBlocked:
				// Its stop failed: left alone (no transition for it) while
				// its definition is the one that failed; once the admin
				// changed it (disable, delete, a longer timeout) one more
				// stop is tried. A cleanup probes it again on its node
				// instead. Other edits of the configuration change nothing
				// for it.
				def, isClone := cfg.Resource(rs.Resource)
				if isClone {
					def = nil
				}
				st.Instances = append(st.Instances, policies.InstanceState{Resource: rs.Resource, Clone: rs.Clone, Instance: rs.Instance, Node: n,
					Failed: true, Blocked: rs.BlockedDef == cib.Fingerprint(def), Role: role})
			}
		}
	}
	fails, err := c.cfg.Failures.List(ctx)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: reading fail-counts: %v", errNotReady, err)
	}
	c.log.Debug("planning with fail-counts", "failures", fmt.Sprint(fails), "reason", reason)
	for _, f := range fails {
		if r := policies.FailureResource(cfg, f.Resource); r != nil && cfg.Node(f.Node) != nil {
			st.Failures = append(st.Failures, policies.Failure{Resource: f.Resource, Node: f.Node, Count: f.Count, Last: f.Last})
		}
	}
	if c.cfg.Tickets != nil && len(cfg.Tickets) > 0 {
		tix, err := c.cfg.Tickets.States(ctx)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("%w: reading tickets: %v", errNotReady, err)
		}
		st.Tickets = tix
	}
	now := time.Now()
	if js, err := json.Marshal(st); err == nil {
		c.log.Debug("scheduler input", "state", string(js))
	}
	res, err := policies.Schedule(policies.Input{CIB: cfg, State: st, Now: now})
	if err != nil {
		c.log.Error("scheduler refused the input", "err", err)
		return nil, time.Time{}, fmt.Errorf("%w: %v", errNotReady, err)
	}
	c.saveStatus(ctx, live, st, res, reports, fails)
	if res.Transition.Empty() {
		c.log.Debug("nothing to do", "reason", reason)
		return nil, res.RecheckAt, nil
	}
	key := planKey(res.Transition)
	if wait := pace.wait(key, now); wait > 0 {
		return nil, res.RecheckAt, heldBack{key: key, wait: wait}
	}
	c.mu.Lock()
	c.seq++
	id := fmt.Sprintf("%s-%d-%d", c.cfg.Node, now.Unix(), c.seq)
	c.mu.Unlock()
	plan, err := json.Marshal(res.Transition)
	if err != nil {
		return nil, time.Time{}, err
	}
	if err := c.cfg.Conn.Publish(bus.TransitionEvent{ID: id, Coordinator: c.cfg.Node, Token: token, ConfigRev: live.Rev, Reason: reason, Plan: plan}); err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: publishing transition: %v", errNotReady, err)
	}
	pace.published(key, now)
	f := &inflight{id: id, actions: map[string]policies.Action{}, results: map[string]bus.ActionResult{}, started: now}
	var longest time.Duration
	var lines []string
	for _, a := range res.Transition.Actions {
		f.actions[a.ID] = a
		lines = append(lines, a.ID)
		longest += actionTimeout(cfg, a)
	}
	f.deadline = now.Add(longest + 10*time.Second)
	c.log.Info("transition published", "id", id, "reason", reason, "actions", strings.Join(lines, " "))
	return f, res.RecheckAt, nil
}

// actionTimeout is the configured timeout of a's operation, or the default.
func actionTimeout(cfg *cib.CIB, a policies.Action) time.Duration {
	if r, _ := cfg.Resource(a.Resource); r != nil {
		if op, ok := r.Op(string(a.Op)); ok && op.Timeout > 0 {
			return op.Timeout
		}
	}
	return DefaultActionTimeout
}

// DefaultActionTimeout is Pacemaker's default operation timeout.
const DefaultActionTimeout = 20 * time.Second

// gather asks every online node for its report. A plan needs one from each
// online node, each probed and none busy.
func (c *Coordinator) gather(cfg *cib.CIB, online map[string]bool) (map[string]bus.NodeResources, error) {
	expect := 0
	for _, n := range cfg.Nodes {
		if online[n.Name] {
			expect++
		}
	}
	reports := map[string]bus.NodeResources{}
	err := bus.Gather(c.cfg.Conn, bus.SubjectStateRequest, nil, expect, c.cfg.ProbeTimeout, func(data []byte) bool {
		r, _, err := bus.Decode[bus.NodeResources](data)
		if err != nil || cfg.Node(r.Node) == nil {
			return false
		}
		reports[r.Node] = r
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotReady, err)
	}
	for _, n := range cfg.Nodes {
		if !online[n.Name] {
			delete(reports, n.Name)
			continue
		}
		r, ok := reports[n.Name]
		switch {
		case !ok:
			return nil, fmt.Errorf("%w: no report from %s", errNotReady, n.Name)
		case !r.Probed:
			return nil, fmt.Errorf("%w: %s has not probed its resources yet", errNotReady, n.Name)
		case len(r.Busy) > 0:
			return nil, fmt.Errorf("%w: %s is still running %v", errNotReady, n.Name, r.Busy)
		}
	}
	return reports, nil
}

// Status is what the coordinator last saw and decided, for `tandem status`.
type Status struct {
	Coordinator string                `json:"coordinator"`
	Time        time.Time             `json:"time"`
	ConfigRev   uint64                `json:"config_rev"`
	Nodes       []policies.NodeState  `json:"nodes"`
	Reports     []bus.NodeResources   `json:"reports"`
	Placement   []policies.Assignment `json:"placement"`
	Notes       []policies.Note       `json:"notes,omitempty"`
	Failures    []failures.Record     `json:"failures,omitempty"`
	Pending     []policies.Action     `json:"pending,omitempty"`
}

func (c *Coordinator) saveStatus(ctx context.Context, live liveconfig.Revision, st policies.State, res *policies.Result,
	reports map[string]bus.NodeResources, fails []failures.Record) {
	s := Status{Coordinator: c.cfg.Node, Time: time.Now().UTC(), ConfigRev: live.Rev, Nodes: st.Nodes,
		Placement: res.Placement, Notes: res.Notes, Failures: fails, Pending: res.Transition.Actions}
	for _, n := range live.CIB.Nodes {
		if r, ok := reports[n.Name]; ok {
			s.Reports = append(s.Reports, r)
		}
	}
	data, err := json.Marshal(s)
	if err != nil {
		return
	}
	kv, err := c.cfg.Conn.KV(ctx, bus.BucketState)
	if err == nil {
		_, err = kv.Put(ctx, bus.StateStatusKey(c.cfg.Node), data)
	}
	if err != nil {
		c.log.Debug("status not saved", "err", err)
	}
}
