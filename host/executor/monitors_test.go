package executor

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

func TestNextDue(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := time.Second
	cases := []struct {
		now  time.Duration // after t0
		want time.Duration
	}{
		{100 * time.Millisecond, s},      // ran quickly: next point of the grid
		{999 * time.Millisecond, s},      // ran long, still before the next point
		{s, 2 * s},                       // exactly on it: that one is gone
		{3500 * time.Millisecond, 4 * s}, // ran past several: skip them, no burst
	}
	for _, c := range cases {
		if got := nextDue(t0, t0.Add(c.now), s).Sub(t0); got != c.want {
			t.Errorf("nextDue(t0, t0+%v) = t0+%v, want t0+%v", c.now, got, c.want)
		}
	}
}

// scripted answers monitors from a list of codes, per resource; the last
// code repeats.
type scripted struct {
	mu    sync.Mutex
	codes map[string][]sdk.Code
	n     map[string]int
}

func (s *scripted) Run(ctx context.Context, agent, op string, req sdk.Request, timeout time.Duration) supervisor.Outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.codes[req.ResourceID]
	i := min(s.n[req.ResourceID], len(list)-1)
	s.n[req.ResourceID]++
	return supervisor.Outcome{Result: sdk.Result{Code: list[i]}, Started: time.Now()}
}

func (s *scripted) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[id]
}

func TestMonitorResultsAndChanged(t *testing.T) {
	run := &scripted{codes: map[string][]sdk.Code{
		"r": {sdk.OK, sdk.OK, sdk.ErrGeneric, sdk.ErrGeneric, sdk.OK},
	}, n: map[string]int{}}
	pub := &collector{}
	m := NewMonitors(MonitorsConfig{Node: "holly", Runner: run, Publisher: pub})
	defer m.Close()
	m.Set([]MonitorSpec{{Resource: "r", Clone: "r-clone", CloneIndex: 0, Agent: "x", Interval: 10 * time.Millisecond}})
	poll.Until(t, 10*time.Second, 5*time.Millisecond, func() error {
		if n := len(pub.monitors()); n < 6 {
			return fmt.Errorf("%d monitor results", n)
		}
		return nil
	})
	m.Close()
	got := pub.monitors()[:6]
	want := []struct {
		code    sdk.Code
		changed bool
	}{{sdk.OK, true}, {sdk.OK, false}, {sdk.ErrGeneric, true}, {sdk.ErrGeneric, false}, {sdk.OK, true}, {sdk.OK, false}}
	for i, w := range want {
		g := got[i]
		if sdk.Code(g.Code) != w.code || g.Changed != w.changed || g.Resource != "r" || g.Clone != "r-clone" || g.Node != "holly" || g.Interval != 10*time.Millisecond {
			t.Errorf("result %d: %+v; want code %v changed %v", i, g, w.code, w.changed)
		}
	}
	if last, ok := m.Last("r", 0); !ok || sdk.Code(last.Code) != sdk.OK {
		t.Fatalf("Last: %+v %v", last, ok)
	}
}

func TestMonitorsSet(t *testing.T) {
	run := &scripted{codes: map[string][]sdk.Code{"a": {sdk.OK}, "b": {sdk.OK}}, n: map[string]int{}}
	m := NewMonitors(MonitorsConfig{Node: "holly", Runner: run, Publisher: &collector{}})
	defer m.Close()
	a := MonitorSpec{Resource: "a", CloneIndex: -1, Agent: "x", Interval: 10 * time.Millisecond}
	b := MonitorSpec{Resource: "b", CloneIndex: -1, Agent: "x", Interval: 10 * time.Millisecond}
	m.Set([]MonitorSpec{a, b, {Resource: "c", CloneIndex: -1, Agent: "x"}}) // c: no interval, ignored
	poll.Until(t, 10*time.Second, 5*time.Millisecond, func() error {
		if run.count("a") < 2 || run.count("b") < 2 {
			return fmt.Errorf("a ran %d times, b %d", run.count("a"), run.count("b"))
		}
		return nil
	})
	m.Set([]MonitorSpec{a}) // b stops: Set returns once its loop has ended
	stopped := run.count("b")
	before := run.count("a")
	poll.Until(t, 10*time.Second, 5*time.Millisecond, func() error {
		if run.count("a") < before+3 {
			return fmt.Errorf("a ran %d times", run.count("a"))
		}
		return nil
	})
	if run.count("b") != stopped {
		t.Fatalf("b ran %d times after it was removed", run.count("b")-stopped)
	}
	if _, ok := m.Last("b", -1); ok {
		t.Fatal("a removed monitor's last result is kept")
	}
}

// A monitor never runs while a start or stop of the same instance does.
func TestMonitorWaitsForActionOnInstance(t *testing.T) {
	release := make(chan struct{})
	r := &fakeRunner{block: map[string]chan struct{}{"r": release}}
	locks := NewLocks()
	e, err := NewExecutor(ExecutorConfig{Node: "holly", Runner: r, Publisher: &collector{}, Locks: locks})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = e.Execute(context.Background(), Transition{ID: "t", Actions: []Action{act("1", "holly", bus.OpStart, "r")}})
	}()
	poll.Until(t, 10*time.Second, 5*time.Millisecond, func() error {
		if len(r.callList()) != 1 {
			return fmt.Errorf("calls %v", r.callList())
		}
		return nil
	})
	pub := &collector{}
	m := NewMonitors(MonitorsConfig{Node: "holly", Runner: r, Publisher: pub, Locks: locks})
	defer m.Close()
	// Another instance of the same resource is not held up.
	m.Set([]MonitorSpec{
		{Resource: "r", CloneIndex: -1, Agent: "x", Interval: 5 * time.Millisecond},
		{Resource: "s", CloneIndex: -1, Agent: "x", Interval: 5 * time.Millisecond},
	})
	poll.Until(t, 10*time.Second, 5*time.Millisecond, func() error {
		if n := len(pub.monitors()); n < 3 {
			return fmt.Errorf("%d monitor results", n)
		}
		return nil
	})
	for _, c := range r.callList() {
		if c == "monitor r" {
			t.Fatalf("monitor of r ran during its start: %v", r.callList())
		}
	}
	close(release)
	<-done
	poll.Until(t, 10*time.Second, 5*time.Millisecond, func() error {
		for _, ev := range pub.monitors() {
			if ev.Resource == "r" {
				return nil
			}
		}
		return fmt.Errorf("no monitor of r after its start")
	})
}

// A stop does not wait for a monitor of its instance that hangs (a hung
// agent): the monitor is cancelled, its result is not published (it says
// nothing of the resource), and the stop runs at once, bounded by its own
// timeout only.
func TestStopPreemptsAHungMonitor(t *testing.T) {
	hung := make(chan struct{})
	defer close(hung)
	r := &fakeRunner{block: map[string]chan struct{}{"web": hung}}
	pub := &collector{}
	locks := NewLocks()
	mons := NewMonitors(MonitorsConfig{Node: "holly", Runner: r, Publisher: pub, Locks: locks, MaxJitter: time.Millisecond})
	defer mons.Close()
	mons.Set([]MonitorSpec{{Resource: "web", CloneIndex: -1, Agent: "x", Interval: 10 * time.Millisecond}})
	poll.Until(t, 10*time.Second, 5*time.Millisecond, func() error {
		for _, c := range r.callList() {
			if c == "monitor web" {
				return nil
			}
		}
		return fmt.Errorf("no monitor yet: %v", r.callList())
	})
	// The stop's own call blocks too (the agent hangs): it is seen
	// starting, which is what matters here.
	e, err := NewExecutor(ExecutorConfig{Node: "holly", Runner: r, Publisher: pub, Locks: locks})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = e.Execute(ctx, Transition{ID: "t1", Actions: []Action{act("s", "holly", bus.OpStop, "web")}})
	}()
	defer func() { cancel(); <-done }()
	poll.Until(t, 10*time.Second, 5*time.Millisecond, func() error {
		for _, c := range r.callList() {
			if c == "stop web" {
				return nil
			}
		}
		return fmt.Errorf("the stop waits for the hung monitor: calls %v", r.callList())
	})
	if got := pub.monitors(); len(got) != 0 {
		t.Errorf("the cancelled monitor published %+v", got)
	}
}
