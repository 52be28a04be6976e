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
// The promoted role of a promotable clone is fenced the same way: a
// promote first acquires one of the clone's promoted-max slot leases, a
// demote or stop releases it, and a lost one demotes the instance at once
// (stops it if the demote fails). A probe that finds an instance promoted
// adopts this node's slot or demotes it (promoted.go).
//
// A node runs one instance of a primitive or of an anonymous clone, and up
// to clone-node-max instances of a globally-unique clone, each distinct
// (instances.go).
package lrm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/alerts"
	"github.com/tandem-ha/tandem/host/executor"
	"github.com/tandem-ha/tandem/host/failures"
	"github.com/tandem-ha/tandem/host/lease"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
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
	// Tenure reads a lease's current holder and token (fenced plans).
	Tenure(ctx context.Context, key string) (lease.Tenure, error)
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
	// MetaData, when set, asks an agent for its meta-data: operations with
	// no timeout configured take the agent's, and a parameter change the
	// agent declares reloadable is applied to a running resource by reload.
	MetaData func(ctx context.Context, agent string) (sdk.MetaData, error)
	// Alert, when set, is told of every operation result worth an alert
	// (alerts.FromAction, alerts.FromMonitor); it must not block.
	Alert func(alerts.Event)
}

// DefaultTimeout is the timeout of an operation with none configured
// (Pacemaker's default).
const DefaultTimeout = 20 * time.Second

// entry is one resource on this node.
type entry struct {
	id         string       // the primitive's id
	key        string       // its key in LRM.entries: id, or "id:N" for an instance that runs apart (instances.go)
	def        cib.Resource // the definition it was last acted on with
	clone      string       // clone id, "" for a primitive
	instance   int          // instance label (0 for a primitive)
	state      string       // bus.State*
	since      time.Time
	message    string
	warning    string       // a degraded monitor's message while started
	blocked    string       // cib.Fingerprint of its live definition when its stop last failed
	lease      *lease.Lease // held while a singleton may be active here
	released   bool         // the lease was given up on purpose
	hold       *holdSender  // passes lease's deadlines to the agent's plugin
	role       string       // cib.RolePromoted while a promotable clone's instance runs promoted
	promo      *lease.Lease // the promoted slot's lease, held while the instance may run promoted
	promoHold  *holdSender  // passes promo's deadlines to the agent's plugin
	promotedAt time.Time    // when its last promote succeeded
	score      *int         // the promotion score its agent's last monitor reported
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

	mu          sync.Mutex
	entries     map[string]*entry // by primitive id, or "id:N" (instances.go)
	probed      map[string]bool   // resources probed since they were configured
	busy        map[string]string // running operations: key -> description
	seq         uint64
	configRev   uint64
	reports     map[string]nodeBrief     // latest report of every node, in brief (report.go)
	pending     map[string]pendingReport // a node's latest report when newer than reports[node], not decoded yet (report.go)
	reportsVer  uint64                   // bumped on every change of reports or pending
	decodeMu    sync.Mutex               // one settle at a time
	decodes     atomic.Uint64            // other nodes' reports decoded (tests)
	view        *sdk.ClusterView         // View's last, built from reportsVer and viewOnline
	viewVer     uint64
	viewOnline  string
	notified    string          // the cluster view last given to agents
	noNotify    map[string]bool // agents without notify
	running     map[string]context.CancelFunc
	leaseErr    map[string]bool // resource -> its last start failed for its lease
	closed      bool
	tenure      lease.Tenure  // the coordinator lease as last read (fence.go)
	fenceLogged time.Time     // when a dropped plan was last logged
	fenced      atomic.Uint64 // plans and aborts dropped by the fence
	wake        chan struct{} // something changed: report, monitors, notify
	notifyWake  chan struct{}
	wg          sync.WaitGroup

	metaMu sync.Mutex
	metas  map[string]sdk.MetaData // agent -> its meta-data (metadata.go)
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
	cfg.Runner = newMetaRunner(cfg.Runner, func() *cib.CIB { return cfg.Live().CIB })
	l := &LRM{cfg: cfg, log: cfg.Logger.With("component", "lrm"),
		entries: map[string]*entry{}, probed: map[string]bool{}, busy: map[string]string{},
		reports: map[string]nodeBrief{}, pending: map[string]pendingReport{}, noNotify: map[string]bool{}, running: map[string]context.CancelFunc{},
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
	if err := add(bus.Subscribe(l.cfg.Conn, bus.SubjectTransition, func(t bus.TransitionEvent, env bus.Envelope) {
		if l.admit(ctx, "transition", t.ID, t.Coordinator, t.Token, env.Source) {
			l.onTransition(ctx, t)
		}
	})); err != nil {
		return nil, err
	}
	if err := add(bus.Subscribe(l.cfg.Conn, bus.SubjectTransition, func(a bus.TransitionAbort, env bus.Envelope) {
		if l.admit(ctx, "abort", a.ID, a.Coordinator, a.Token, env.Source) {
			l.onAbort(a)
		}
	})); err != nil {
		return nil, err
	}
	if err := add(bus.Subscribe(l.cfg.Conn, bus.SubjectActions, func(r bus.ActionResult, _ bus.Envelope) {
		l.board.Record(r)
	})); err != nil {
		return nil, err
	}
	if err := add(l.cfg.Conn.NC.Subscribe(bus.SubjectStates, func(m *nats.Msg) {
		l.onReport(m.Subject, m.Data)
	})); err != nil {
		return nil, err
	}
	if err := add(bus.Subscribe(l.cfg.Conn, bus.SubjectRefresh, func(r bus.Refresh, _ bus.Envelope) {
		l.onRefresh(r)
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
				out := run.Run(context.Background(), e.def.Agent, bus.OpStop, req, l.opTimeout(e.def, bus.OpStop))
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
