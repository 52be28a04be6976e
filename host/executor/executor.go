// Package executor runs agent operations on the local node: the recurring
// monitors of the resources placed here (Monitors), and the actions of a
// transition in dependency order (Executor). Results go out as bus events
// through a Publisher; operations go to the plugins through a Runner (the
// supervisor). Operations on one resource instance never overlap.
package executor

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Runner runs one agent operation on this node with a timeout.
type Runner interface {
	Run(ctx context.Context, agent, op string, req sdk.Request, timeout time.Duration) supervisor.Outcome
}

var _ Runner = (*supervisor.Supervisor)(nil)

// Publisher sends an event on the bus.
type Publisher interface {
	Publish(ev bus.Event) error
}

// ClusterSource returns what the host currently knows of the cluster, for
// the agents that need it (haproxy's backends); nil is allowed.
type ClusterSource func() *sdk.ClusterView

// Action is one operation of a transition, as the coordinator's scheduler
// planned it.
type Action struct {
	ID         string            // unique within the transition
	Resource   string            // primitive id
	Clone      string            // clone id, "" for a primitive
	CloneIndex int               // -1 for a primitive
	Node       string            // where it runs
	Agent      string            // "systemd:apache2"
	Op         string            // bus.OpStart, OpStop, OpProbe, OpReload, OpNotify
	Params     map[string]string // the resource's params
	Timeout    time.Duration     // 0: the supervisor's default
	DependsOn  []string          // ids of actions (on any node) that must succeed first
	// Notification: what a clone notification (Op bus.OpNotify in a
	// transition) tells the instance.
	Notification *sdk.Notification
}

// Transition is a plan: its actions on every node. An executor runs those
// for its own node and waits for the others it depends on.
type Transition struct {
	ID      string
	Actions []Action
}

// Results gives the outcome of actions of a transition, wherever they ran.
// The coordinator feeds it from bus.ActionResult events; Board is the
// implementation.
type Results interface {
	// Await blocks until the result of the action is known, or ctx ends.
	Await(ctx context.Context, transition, action string) (bus.ActionResult, error)
}

// Recorder is implemented by Results that accept the executor's own
// results directly (so local dependencies need no round trip on the bus).
type Recorder interface {
	Record(r bus.ActionResult)
}

// ExecutorConfig wires an Executor.
type ExecutorConfig struct {
	Node      string
	Runner    Runner
	Publisher Publisher
	Results   Results // default: a new Board
	Cluster   ClusterSource
	Locks     *Locks // shared with Monitors; default: private
	Logger    *slog.Logger
}

// Executor runs transitions on one node.
type Executor struct {
	cfg ExecutorConfig
	log *slog.Logger
}

// NewExecutor returns an Executor; Node, Runner and Publisher are required.
func NewExecutor(cfg ExecutorConfig) (*Executor, error) {
	if cfg.Node == "" || cfg.Runner == nil || cfg.Publisher == nil {
		return nil, fmt.Errorf("executor: Node, Runner and Publisher are required")
	}
	if cfg.Results == nil {
		cfg.Results = NewBoard()
	}
	if cfg.Locks == nil {
		cfg.Locks = NewLocks()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Executor{cfg: cfg, log: cfg.Logger.With("node", cfg.Node)}, nil
}

// Results is where the executor looks up dependency results (feed it from
// the bus when it is a Board).
func (e *Executor) Results() Results { return e.cfg.Results }

// ActionReport says what became of one local action.
type ActionReport struct {
	Action  Action
	Ran     bool
	Result  bus.ActionResult // when Ran
	Skipped string           // why it did not run, when !Ran
}

// Execute runs the transition's actions for this node, each as soon as
// every action it depends on has succeeded (a probe counts as succeeded
// whatever it found), independent ones in parallel, and publishes each
// result as a bus.ActionResult. An action whose dependency failed is
// skipped (not run, not published: the coordinator replans on the
// failure). Waiting on an action of another node lasts until its result
// arrives or ctx ends: cancel ctx to abandon a superseded transition.
// Execute returns when every local action has run or been skipped; the
// error is for a malformed transition (nothing runs then).
func (e *Executor) Execute(ctx context.Context, t Transition) ([]ActionReport, error) {
	byID, err := check(t)
	if err != nil {
		return nil, err
	}
	type done struct {
		ch     chan struct{}
		result bus.ActionResult
		ran    bool
	}
	local := map[string]*done{}
	var order []Action
	for _, a := range t.Actions {
		if a.Node == e.cfg.Node {
			local[a.ID] = &done{ch: make(chan struct{})}
			order = append(order, a)
		}
	}
	reports := make([]ActionReport, len(order))
	var wg sync.WaitGroup
	for i, a := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := local[a.ID]
			defer close(d.ch)
			reports[i] = ActionReport{Action: a}
			for _, dep := range a.DependsOn {
				var r bus.ActionResult
				var ran bool
				if ld, ok := local[dep]; ok {
					select {
					case <-ld.ch:
						r, ran = ld.result, ld.ran
					case <-ctx.Done():
					}
				} else {
					var err error
					r, err = e.cfg.Results.Await(ctx, t.ID, dep)
					ran = err == nil
				}
				if ctx.Err() != nil {
					reports[i].Skipped = fmt.Sprintf("transition cancelled while waiting for %s: %v", dep, ctx.Err())
					return
				}
				if !ran {
					reports[i].Skipped = fmt.Sprintf("dependency %s did not run", dep)
					return
				}
				if !satisfied(byID[dep], r) {
					reports[i].Skipped = fmt.Sprintf("dependency %s (%s %s on %s) failed: %v %s", dep, r.Op, r.Resource, r.Node, sdk.Code(r.Code), r.Message)
					return
				}
			}
			result, ran, skipped := e.run(ctx, t.ID, a)
			if !ran {
				reports[i].Skipped = skipped
				return
			}
			d.result, d.ran = result, true
			reports[i].Ran, reports[i].Result = true, result
		}()
	}
	wg.Wait()
	for _, r := range reports {
		if !r.Ran {
			e.log.Warn("action skipped", "transition", t.ID, "action", r.Action.ID, "op", r.Action.Op, "resource", r.Action.Resource, "why", r.Skipped)
		}
	}
	return reports, nil
}

// satisfied says whether a dependency's result lets its dependents run.
func satisfied(dep Action, r bus.ActionResult) bool {
	if dep.Op == bus.OpProbe || dep.Op == bus.OpMonitor {
		return !r.TimedOut
	}
	if dep.Op == bus.OpNotify {
		// A notification cannot fail what waits for it: the agent was
		// told, whatever it answered (Pacemaker: "notifications can't
		// fail").
		return true
	}
	return r.Code == int32(sdk.OK) && !r.TimedOut
}

// run runs one action, publishes and records its result. An action whose
// transition ends while it waits for its instance (a monitor or another
// action of the same instance holds it), or while the runner waits for
// what the action needs first (Outcome.Cancelled: a lease), does not run:
// ran is false and skipped says why, so that it is reported as cancelled,
// never as a failure (a failed start bans the node, a failed transition
// holds its plan back).
func (e *Executor) run(ctx context.Context, transition string, a Action) (result bus.ActionResult, ran bool, skipped string) {
	result = bus.ActionResult{
		Transition: transition, Action: a.ID, Resource: a.Resource, Clone: a.Clone, Instance: max(a.CloneIndex, 0), Node: a.Node, Op: a.Op,
	}
	unlock, err := e.cfg.Locks.lock(ctx, instanceKey{a.Resource, a.CloneIndex})
	if err != nil {
		return result, false, "transition cancelled while waiting for the instance: " + err.Error()
	}
	req := sdk.Request{
		ResourceID:   a.Resource,
		Params:       a.Params,
		Instance:     sdk.Instance{Node: a.Node, CloneIndex: a.CloneIndex},
		Notification: a.Notification,
	}
	if e.cfg.Cluster != nil {
		req.Cluster = e.cfg.Cluster()
	}
	out := e.cfg.Runner.Run(ctx, a.Agent, a.Op, req, a.Timeout)
	unlock()
	if out.Cancelled {
		return result, false, out.Message
	}
	result.Code, result.Message, result.TimedOut = int32(out.Code), out.Message, out.TimedOut
	result.Started, result.Duration = out.Started, out.Duration
	level := slog.LevelInfo
	switch {
	case a.Op == bus.OpNotify && out.Code == sdk.ErrUnimplemented:
		// An agent without notify is not told; nothing failed.
	case out.Code != sdk.OK && !(a.Op == bus.OpProbe && out.Code == sdk.NotRunning):
		level = slog.LevelWarn
	}
	e.log.Log(ctx, level, "action done", "transition", transition, "action", a.ID, "op", a.Op, "resource", a.Resource,
		"clone_index", a.CloneIndex, "code", out.Code.String(), "message", out.Message, "timed_out", out.TimedOut, "duration", out.Duration)
	e.publish(result)
	return result, true, ""
}

func (e *Executor) publish(r bus.ActionResult) {
	if rec, ok := e.cfg.Results.(Recorder); ok {
		rec.Record(r)
	}
	if err := e.cfg.Publisher.Publish(r); err != nil {
		e.log.Error("publishing an action result failed", "action", r.Action, "error", err)
	}
}

// check validates a transition: unique action ids, dependencies that exist,
// no cycle.
func check(t Transition) (map[string]Action, error) {
	byID := make(map[string]Action, len(t.Actions))
	for _, a := range t.Actions {
		if a.ID == "" {
			return nil, fmt.Errorf("transition %s: an action (%s %s on %s) has no id", t.ID, a.Op, a.Resource, a.Node)
		}
		if _, dup := byID[a.ID]; dup {
			return nil, fmt.Errorf("transition %s: action id %q appears twice", t.ID, a.ID)
		}
		byID[a.ID] = a
	}
	for _, a := range t.Actions {
		for _, d := range a.DependsOn {
			if _, ok := byID[d]; !ok {
				return nil, fmt.Errorf("transition %s: action %s depends on %q, which is not in the transition", t.ID, a.ID, d)
			}
		}
	}
	// Depth-first search for a cycle, reporting its path.
	const (
		unseen = iota
		onPath
		finished
	)
	mark := map[string]int{}
	var path []string
	var visit func(id string) error
	visit = func(id string) error {
		switch mark[id] {
		case onPath:
			i := 0
			for path[i] != id {
				i++
			}
			return fmt.Errorf("transition %s: dependency cycle %s -> %s", t.ID, strings.Join(path[i:], " -> "), id)
		case finished:
			return nil
		}
		mark[id] = onPath
		path = append(path, id)
		for _, d := range byID[id].DependsOn {
			if err := visit(d); err != nil {
				return err
			}
		}
		path = path[:len(path)-1]
		mark[id] = finished
		return nil
	}
	for _, a := range t.Actions {
		if err := visit(a.ID); err != nil {
			return nil, err
		}
	}
	return byID, nil
}
