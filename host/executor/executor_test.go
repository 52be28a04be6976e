package executor

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// fakeRunner answers from a table and records the order of calls. An
// operation on a resource listed in block waits until that channel closes.
type fakeRunner struct {
	mu     sync.Mutex
	codes  map[string]sdk.Code // "op resource" -> code; OK when absent
	block  map[string]chan struct{}
	calls  []string
	maxPar int
	inPar  int
}

func (f *fakeRunner) Run(ctx context.Context, agent, op string, req sdk.Request, timeout time.Duration) supervisor.Outcome {
	key := op + " " + req.ResourceID
	f.mu.Lock()
	f.calls = append(f.calls, key)
	f.inPar++
	f.maxPar = max(f.maxPar, f.inPar)
	code := f.codes[key]
	block := f.block[req.ResourceID]
	f.mu.Unlock()
	started := time.Now()
	defer func() {
		f.mu.Lock()
		f.inPar--
		f.mu.Unlock()
	}()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return supervisor.Outcome{Result: sdk.Resultf(sdk.ErrGeneric, "cancelled"), Started: started}
		}
	}
	return supervisor.Outcome{Result: sdk.Resultf(code, "%s on %s/%d", key, req.Instance.Node, req.Instance.CloneIndex), Started: started, Duration: time.Since(started)}
}

func (f *fakeRunner) callList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

type collector struct {
	mu     sync.Mutex
	events []bus.Event
}

func (c *collector) Publish(ev bus.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, ev)
	return nil
}

func (c *collector) actions() []bus.ActionResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []bus.ActionResult
	for _, e := range c.events {
		if a, ok := e.(bus.ActionResult); ok {
			out = append(out, a)
		}
	}
	return out
}

func (c *collector) monitors() []bus.MonitorResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []bus.MonitorResult
	for _, e := range c.events {
		if m, ok := e.(bus.MonitorResult); ok {
			out = append(out, m)
		}
	}
	return out
}

func newExecutor(t *testing.T, node string, r Runner, p Publisher, res Results) *Executor {
	t.Helper()
	e, err := NewExecutor(ExecutorConfig{Node: node, Runner: r, Publisher: p, Results: res})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func act(id, node, op, res string, deps ...string) Action {
	return Action{ID: id, Resource: res, CloneIndex: -1, Node: node, Agent: "x", Op: op, DependsOn: deps}
}

func TestExecuteInDependencyOrder(t *testing.T) {
	release := make(chan struct{})
	r := &fakeRunner{block: map[string]chan struct{}{"vip": release}}
	pub := &collector{}
	e := newExecutor(t, "holly", r, pub, nil)
	tr := Transition{ID: "t1", Actions: []Action{
		act("1", "holly", bus.OpStart, "vip"),
		act("2", "holly", bus.OpStart, "haproxy", "1"),
		act("3", "holly", bus.OpStart, "httpd"),
		act("4", "benji", bus.OpStart, "httpd"), // another node's: not run here
	}}
	done := make(chan []ActionReport)
	go func() {
		rep, err := e.Execute(context.Background(), tr)
		if err != nil {
			t.Error(err)
		}
		done <- rep
	}()
	// httpd (independent) runs while vip is still starting; haproxy waits.
	poll.Until(t, 10*time.Second, 5*time.Millisecond, func() error {
		calls := r.callList()
		if len(calls) != 2 || !contains(calls, "start httpd") || !contains(calls, "start vip") {
			return fmt.Errorf("calls %v", calls)
		}
		return nil
	})
	close(release)
	rep := <-done
	calls := r.callList()
	if len(calls) != 3 || calls[2] != "start haproxy" {
		t.Fatalf("calls %v: haproxy must start after vip", calls)
	}
	if len(rep) != 3 {
		t.Fatalf("reports %+v", rep)
	}
	for _, a := range rep {
		if !a.Ran || a.Result.Code != 0 || a.Result.Transition != "t1" || a.Result.Node != "holly" {
			t.Fatalf("report %+v", a)
		}
	}
	if got := len(pub.actions()); got != 3 {
		t.Fatalf("%d action results published, want 3", got)
	}
}

func TestRemoteDependencyAndFailure(t *testing.T) {
	r := &fakeRunner{codes: map[string]sdk.Code{"start haproxy": sdk.ErrGeneric}}
	pub := &collector{}
	board := NewBoard()
	e := newExecutor(t, "holly", r, pub, board)
	tr := Transition{ID: "t2", Actions: []Action{
		act("b1", "benji", bus.OpStart, "httpd"),
		act("h1", "holly", bus.OpStart, "haproxy", "b1"),
		act("h2", "holly", bus.OpStart, "web", "h1"), // haproxy fails: skipped
		act("h3", "holly", bus.OpStart, "other", "p1"),
		act("p1", "holly", bus.OpProbe, "db"), // a probe's finding never blocks
	}}
	r.codes["probe db"] = sdk.NotRunning
	done := make(chan []ActionReport)
	go func() {
		rep, _ := e.Execute(context.Background(), tr)
		done <- rep
	}()
	poll.Until(t, 10*time.Second, 5*time.Millisecond, func() error {
		if calls := r.callList(); len(calls) != 2 {
			return fmt.Errorf("calls %v; want the probe and what follows it only", calls)
		}
		return nil
	})
	if contains(r.callList(), "start haproxy") {
		t.Fatal("haproxy started before benji's httpd")
	}
	// benji's result arrives from the bus.
	board.Record(bus.ActionResult{Transition: "t2", Action: "b1", Resource: "httpd", Node: "benji", Op: bus.OpStart})
	rep := <-done
	byID := map[string]ActionReport{}
	for _, a := range rep {
		byID[a.Action.ID] = a
	}
	if !byID["h1"].Ran || byID["h1"].Result.Code != int32(sdk.ErrGeneric) {
		t.Fatalf("h1 %+v", byID["h1"])
	}
	if byID["h2"].Ran || !strings.Contains(byID["h2"].Skipped, "dependency h1 (start haproxy on holly) failed") {
		t.Fatalf("h2 %+v", byID["h2"])
	}
	if !byID["h3"].Ran || !byID["p1"].Ran {
		t.Fatalf("h3 %+v p1 %+v", byID["h3"], byID["p1"])
	}
	for _, a := range pub.actions() {
		if a.Action == "h2" {
			t.Fatal("a skipped action was published")
		}
	}
	// Local results are on the board too, for other waiters.
	if r, err := board.Await(context.Background(), "t2", "h1"); err != nil || r.Code != int32(sdk.ErrGeneric) {
		t.Fatalf("board h1: %+v %v", r, err)
	}
}

func TestExecuteCancelledWhileWaiting(t *testing.T) {
	r := &fakeRunner{}
	e := newExecutor(t, "holly", r, &collector{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	tr := Transition{ID: "t3", Actions: []Action{act("b", "benji", bus.OpStop, "vip"), act("h", "holly", bus.OpStart, "vip", "b")}}
	done := make(chan []ActionReport)
	go func() {
		rep, _ := e.Execute(ctx, tr)
		done <- rep
	}()
	cancel()
	rep := <-done
	if rep[0].Ran || !strings.Contains(rep[0].Skipped, "transition cancelled while waiting for b") || len(r.callList()) != 0 {
		t.Fatalf("report %+v, calls %v", rep, r.callList())
	}
}

func TestCheckTransition(t *testing.T) {
	cases := []struct {
		actions []Action
		err     string
	}{
		{[]Action{act("a", "n", "start", "r"), act("a", "n", "stop", "r")}, `action id "a" appears twice`},
		{[]Action{act("a", "n", "start", "r", "zz")}, `action a depends on "zz", which is not in the transition`},
		{[]Action{act("a", "n", "start", "r", "c"), act("b", "n", "start", "r", "a"), act("c", "n", "start", "r", "b")}, "dependency cycle a -> c -> b -> a"},
		{[]Action{act("", "n", "start", "r")}, "has no id"},
		{[]Action{act("a", "n", "start", "r"), act("b", "m", "start", "r", "a")}, ""},
	}
	for _, c := range cases {
		_, err := check(Transition{ID: "t", Actions: c.actions})
		if (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("check %v: %v; want %q", c.actions, err, c.err)
		}
	}
}

func TestBoardEvictsOldTransitions(t *testing.T) {
	b := NewBoard()
	for i := range boardTransitions + 5 {
		b.Record(bus.ActionResult{Transition: fmt.Sprint(i), Action: "a"})
	}
	if len(b.results) != boardTransitions || len(b.order) != boardTransitions {
		t.Fatalf("board keeps %d transitions", len(b.results))
	}
	b.Forget(fmt.Sprint(boardTransitions + 4))
	if len(b.results) != boardTransitions-1 {
		t.Fatalf("Forget left %d", len(b.results))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := b.Await(ctx, "0", "a"); err == nil {
		t.Fatal("an evicted transition's result is still there")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// An action that waits for its instance (a monitor holds it) when its
// transition is cancelled never ran: it is reported skipped, and no failed
// result is published (a failed start would ban the node).
func TestCancelledWhileWaitingForTheInstance(t *testing.T) {
	r := &fakeRunner{}
	pub := &collector{}
	locks := NewLocks()
	e, err := NewExecutor(ExecutorConfig{Node: "holly", Runner: r, Publisher: pub, Locks: locks})
	if err != nil {
		t.Fatal(err)
	}
	held, err := locks.lock(context.Background(), instanceKey{"web", 1})
	if err != nil {
		t.Fatal(err)
	}
	defer held()
	start := act("s", "holly", bus.OpStart, "web")
	start.CloneIndex = 1
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan []ActionReport)
	go func() {
		rep, _ := e.Execute(ctx, Transition{ID: "t4", Actions: []Action{start}})
		done <- rep
	}()
	cancel() // before or after it reaches the lock: the outcome is the same
	rep := <-done
	if len(rep) != 1 || rep[0].Ran || !strings.Contains(rep[0].Skipped, "cancelled") {
		t.Fatalf("report: got %+v, want one action not run, skipped as cancelled", rep)
	}
	if len(r.callList()) != 0 {
		t.Errorf("the agent was called: %v", r.callList())
	}
	if got := pub.actions(); len(got) != 0 {
		t.Errorf("published %+v, want nothing (the LRM reports it as cancelled)", got)
	}
}

// cancelledRunner answers every action as the LRM answers one whose
// transition ended while it waited for its lease.
type cancelledRunner struct{}

func (cancelledRunner) Run(ctx context.Context, agent, op string, req sdk.Request, timeout time.Duration) supervisor.Outcome {
	return supervisor.Outcome{Result: sdk.Resultf(sdk.ErrGeneric, "not started: transition aborted while waiting for the lease"), Cancelled: true}
}

// An action the runner did not run (Outcome.Cancelled) is reported as not
// run, with the runner's reason, and its result is not published: the LRM
// reports it as cancelled, not failed. What depends on it does not run.
func TestRunnerCancelledIsNotRun(t *testing.T) {
	pub := &collector{}
	e := newExecutor(t, "holly", cancelledRunner{}, pub, nil)
	rep, err := e.Execute(context.Background(), Transition{ID: "t5", Actions: []Action{
		act("s", "holly", bus.OpStart, "vip"), act("m", "holly", bus.OpStart, "web", "s")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep) != 2 || rep[0].Ran || rep[0].Skipped != "not started: transition aborted while waiting for the lease" || rep[1].Ran {
		t.Fatalf("reports %+v, want neither run, the first with the runner's reason", rep)
	}
	if got := pub.actions(); len(got) != 0 {
		t.Errorf("published %+v, want nothing", got)
	}
}
