package executor

import (
	"context"
	"log/slog"
	"maps"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// MonitorSpec is one recurring monitor: a resource instance on this node
// and its monitor operation.
type MonitorSpec struct {
	Resource   string
	Clone      string // clone id, "" for a primitive
	CloneIndex int    // -1 for a primitive
	Agent      string
	Params     map[string]string
	Interval   time.Duration
	Timeout    time.Duration // 0: the supervisor's default
}

func (s MonitorSpec) key() instanceKey { return instanceKey{s.Resource, s.CloneIndex} }

func (s MonitorSpec) equal(o MonitorSpec) bool {
	return s.Resource == o.Resource && s.Clone == o.Clone && s.CloneIndex == o.CloneIndex && s.Agent == o.Agent &&
		s.Interval == o.Interval && s.Timeout == o.Timeout && maps.Equal(s.Params, o.Params)
}

// MonitorsConfig wires Monitors.
type MonitorsConfig struct {
	Node      string
	Runner    Runner
	Publisher Publisher
	Cluster   ClusterSource
	Locks     *Locks // shared with the Executor; default: private
	Logger    *slog.Logger
	// MaxJitter bounds each monitor's random phase (which spreads monitors
	// of the same interval over time): the phase is below
	// min(MaxJitter, interval/10). Default 1 s.
	MaxJitter time.Duration
}

// Monitors runs the recurring monitors of this node's resources.
type Monitors struct {
	cfg    MonitorsConfig
	log    *slog.Logger
	mu     sync.Mutex
	active map[instanceKey]*monitor
	last   map[instanceKey]bus.MonitorResult
	closed bool
}

type monitor struct {
	spec   MonitorSpec
	cancel context.CancelFunc
	done   chan struct{}
}

// NewMonitors returns Monitors running none; Set gives them work.
func NewMonitors(cfg MonitorsConfig) *Monitors {
	if cfg.Locks == nil {
		cfg.Locks = NewLocks()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxJitter <= 0 {
		cfg.MaxJitter = time.Second
	}
	return &Monitors{cfg: cfg, log: cfg.Logger.With("node", cfg.Node), active: map[instanceKey]*monitor{}, last: map[instanceKey]bus.MonitorResult{}}
}

// Set makes specs the monitors that run: new ones start (their first run
// within the jitter), changed ones restart, missing ones stop, unchanged
// ones keep their schedule. Specs with no interval are ignored.
func (m *Monitors) Set(specs []MonitorSpec) {
	want := map[instanceKey]MonitorSpec{}
	for _, s := range specs {
		if s.Interval > 0 {
			want[s.key()] = s
		}
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	var stopping []*monitor
	for k, mon := range m.active {
		if s, ok := want[k]; !ok || !s.equal(mon.spec) {
			mon.cancel()
			stopping = append(stopping, mon)
			delete(m.active, k)
			if !ok {
				delete(m.last, k)
			}
		}
	}
	for k, s := range want {
		if _, ok := m.active[k]; ok {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		mon := &monitor{spec: s, cancel: cancel, done: make(chan struct{})}
		m.active[k] = mon
		go m.loop(ctx, mon)
	}
	m.mu.Unlock()
	for _, mon := range stopping {
		<-mon.done
	}
}

// Close stops every monitor and waits for them.
func (m *Monitors) Close() {
	m.mu.Lock()
	m.closed = true
	mons := make([]*monitor, 0, len(m.active))
	for k, mon := range m.active {
		mon.cancel()
		mons = append(mons, mon)
		delete(m.active, k)
	}
	m.mu.Unlock()
	for _, mon := range mons {
		<-mon.done
	}
}

// Last is the latest result of a resource instance's monitor.
func (m *Monitors) Last(resource string, cloneIndex int) (bus.MonitorResult, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.last[instanceKey{resource, cloneIndex}]
	return r, ok
}

// phase is a monitor's random offset from the moment it was set.
func (m *Monitors) phase(interval time.Duration) time.Duration {
	limit := min(m.cfg.MaxJitter, interval/10)
	if limit <= 0 {
		return 0
	}
	return rand.N(limit)
}

// nextDue is the first point of the schedule (due, due+interval, ...)
// after now: a monitor that ran long, or waited for a start or stop of its
// instance, skips the runs it missed instead of bunching them, and the
// schedule never drifts by the time monitors take.
func nextDue(due, now time.Time, interval time.Duration) time.Time {
	due = due.Add(interval)
	if !due.After(now) {
		missed := now.Sub(due)/interval + 1
		due = due.Add(missed * interval)
	}
	return due
}

func (m *Monitors) loop(ctx context.Context, mon *monitor) {
	defer close(mon.done)
	s := mon.spec
	due := time.Now().Add(m.phase(s.Interval))
	timer := time.NewTimer(time.Until(due))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		m.runOnce(ctx, s)
		if ctx.Err() != nil {
			return
		}
		due = nextDue(due, time.Now(), s.Interval)
		timer.Reset(time.Until(due))
	}
}

func (m *Monitors) runOnce(ctx context.Context, s MonitorSpec) {
	mctx, unlock, err := m.cfg.Locks.lockMonitor(ctx, s.key())
	if err != nil {
		return // stopped while a start or stop of the instance ran, or one waits
	}
	req := sdk.Request{ResourceID: s.Resource, Params: s.Params, Instance: sdk.Instance{Node: m.cfg.Node, CloneIndex: s.CloneIndex}, Interval: s.Interval}
	if m.cfg.Cluster != nil {
		req.Cluster = m.cfg.Cluster()
	}
	out := m.cfg.Runner.Run(mctx, s.Agent, bus.OpMonitor, req, s.Timeout)
	preempted := mctx.Err() != nil
	unlock()
	if preempted {
		// Stopped mid-run, or cancelled for an action of the instance:
		// the result says nothing about the resource.
		return
	}
	r := bus.MonitorResult{
		Resource: s.Resource, Clone: s.Clone, Instance: max(s.CloneIndex, 0), Node: m.cfg.Node, Interval: s.Interval,
		Code: int32(out.Code), Message: out.Message, TimedOut: out.TimedOut,
		Started: out.Started, Duration: out.Duration, PromotionScore: out.PromotionScore,
	}
	m.mu.Lock()
	prev, seen := m.last[s.key()]
	// The first result of a monitor counts as a change: nothing was known.
	r.Changed = !seen || prev.Code != r.Code || prev.TimedOut != r.TimedOut
	if _, active := m.active[s.key()]; active {
		m.last[s.key()] = r
	}
	m.mu.Unlock()
	if r.Changed {
		m.log.Info("monitor result changed", "resource", s.Resource, "clone_index", s.CloneIndex,
			"code", out.Code.String(), "message", out.Message, "timed_out", out.TimedOut)
	}
	if err := m.cfg.Publisher.Publish(r); err != nil {
		m.log.Error("publishing a monitor result failed", "resource", s.Resource, "error", err)
	}
}
