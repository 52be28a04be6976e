package lrm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/failures"
	"github.com/tandem-ha/tandem/host/lease"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/policies"
)

// world is a fake agent shared by the nodes of a test: it remembers what
// runs where and the holds it was given. (The real agents and plugins are
// exercised by host/daemon's and the lab's tests.)
type world struct {
	mu       sync.Mutex
	running  map[string]bool      // "node/resource"
	holds    map[string]time.Time // "node/resource" -> wall-clock deadline (zero: cancelled)
	degraded map[string]string    // "node/resource" -> what its monitor warns about
	calls    []string
}

func newWorld() *world {
	return &world{running: map[string]bool{}, holds: map[string]time.Time{}, degraded: map[string]string{}}
}

func (w *world) is(node, rsc string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.running[node+"/"+rsc]
}

func (w *world) set(node, rsc string, v bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.running[node+"/"+rsc] = v
}

type nodeRunner struct {
	w    *world
	node string
}

func (r nodeRunner) Run(ctx context.Context, agent, op string, req sdk.Request, timeout time.Duration) supervisor.Outcome {
	w := r.w
	w.mu.Lock()
	defer w.mu.Unlock()
	k := r.node + "/" + req.ResourceID
	w.calls = append(w.calls, op+" "+k)
	res := sdk.Result{Code: sdk.OK}
	switch op {
	case bus.OpStart:
		w.running[k] = true
	case bus.OpStop:
		w.running[k] = false
	case bus.OpMonitor, bus.OpProbe:
		if !w.running[k] {
			res.Code = sdk.NotRunning
		} else if msg := w.degraded[k]; msg != "" {
			res = sdk.Result{Code: sdk.Degraded, Message: msg}
		}
	default:
		res.Code = sdk.ErrUnimplemented
	}
	return supervisor.Outcome{Result: res, Started: time.Now()}
}

func (r nodeRunner) Hold(ctx context.Context, agent string, req sdk.HoldRequest, timeout time.Duration) supervisor.Outcome {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	d := time.Time{}
	if req.Until != 0 {
		d = time.Now().Add(req.Until - sdk.MonotonicNow())
	}
	r.w.holds[r.node+"/"+req.ResourceID] = d
	return supervisor.Outcome{Result: sdk.Result{Code: sdk.OK}, Started: time.Now()}
}

// twoNodes opens the cluster files of this package's tests: holly and
// benji on loopback, no credentials needed.
const twoNodes = `
[cluster]
name = "lrmtest"
[bus]
credentials = "/nonexistent"
[[node]]
name = "holly"
address = "127.0.0.1"
[[node]]
name = "benji"
address = "127.0.0.2"
`

const testConfig = twoNodes + `
[witness]
name = "director"
address = "127.0.0.3"
[[resource]]
id = "vip"
agent = "fake"
[[resource.op]]
name = "monitor"
interval = "200ms"
`

type testNode struct {
	name   string
	lrm    *LRM
	leases *lease.Manager
	cancel context.CancelFunc
	done   chan struct{}
}

func startNode(t *testing.T, c *bustest.Cluster, w *world, cfg *config.File, name string) *testNode {
	t.Helper()
	return startNodeWith(t, c, nodeRunner{w, name}, cfg, name)
}

// startNodeWith starts node name's LRM with runner as its agents.
func startNodeWith(t *testing.T, c *bustest.Cluster, runner Runner, cfg *config.File, name string) *testNode {
	t.Helper()
	rev := liveconfig.Revision{Rev: 1, CIB: cfg.CIB}
	return startNodeLive(t, c, runner, name, func() liveconfig.Revision { return rev }, nil)
}

// startNodeLive is startNodeWith reading the live configuration from live,
// and the agents' meta-data from metaData (nil: none).
func startNodeLive(t *testing.T, c *bustest.Cluster, runner Runner, name string, live func() liveconfig.Revision,
	metaData func(context.Context, string) (sdk.MetaData, error)) *testNode {
	t.Helper()
	conn := c.Ready(name)
	var lm *lease.Manager
	poll.Until(t, 20*time.Second, 100*time.Millisecond, func() (err error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		other := "benji"
		if name == "benji" {
			other = "holly"
		}
		lm, err = lease.NewManager(ctx, lease.Config{Conn: conn, Node: name, Peers: func() []string { return []string{other} }, Logger: bustest.Logger()})
		return err
	})
	t.Cleanup(lm.Close)
	fs, err := failures.Open(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(Config{Conn: conn, Node: name, Incarnation: "test", Runner: runner, Leases: lm, Failures: fs,
		Live: live, Topology: c.Topology, Online: func() []string { return []string{"holly", "benji"} },
		Logger: bustest.Logger().With("node", name), LeaseWait: time.Second, MonitorJitter: time.Millisecond, MetaData: metaData})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &testNode{name: name, lrm: l, leases: lm, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(n.done)
		_ = l.Run(ctx)
	}()
	t.Cleanup(n.stop)
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if !l.Report().Probed {
			return errors.New(name + " has not probed")
		}
		return nil
	})
	return n
}

func (n *testNode) stop() {
	n.cancel()
	<-n.done
}

func (n *testNode) state(rsc string) string {
	for _, r := range n.lrm.Report().Resources {
		if r.Resource == rsc {
			return r.State
		}
	}
	return bus.StateStopped
}

// run publishes a one-action transition of vip, planned from the nodes'
// configuration revision, and waits for its result.
func run(t *testing.T, conn *bus.Conn, id string, op policies.Op, node string) bus.ActionResult {
	t.Helper()
	return runPlanned(t, conn, id, "vip", 1, op, node)
}

// runPlanned publishes a one-action transition of rsc planned from
// configuration revision rev and waits for its result.
func runPlanned(t *testing.T, conn *bus.Conn, id, rsc string, rev uint64, op policies.Op, node string) bus.ActionResult {
	t.Helper()
	return runPlannedAborted(t, conn, id, rsc, rev, op, node, 0)
}

// runPlannedAborted is runPlanned, the transition aborted abortAfter after
// it was published (never when 0).
func runPlannedAborted(t *testing.T, conn *bus.Conn, id, rsc string, rev uint64, op policies.Op, node string, abortAfter time.Duration) bus.ActionResult {
	t.Helper()
	a := policies.Action{ID: policies.ActionID(op, rsc, "", 0, node), Resource: rsc, Node: node, Op: op}
	return runAction(t, conn, id, rev, a, abortAfter)
}

// runAction publishes a one-action transition, planned from configuration
// revision rev by the coordinator of the moment, aborts it abortAfter
// after (never when 0), and waits for its result.
func runAction(t *testing.T, conn *bus.Conn, id string, rev uint64, a policies.Action, abortAfter time.Duration) bus.ActionResult {
	t.Helper()
	results, abort := publishAction(t, conn, id, rev, a)
	if abortAfter > 0 {
		time.Sleep(abortAfter)
		abort()
	}
	select {
	case r := <-results:
		return r
	case <-time.After(20 * time.Second):
		t.Fatalf("no result for %s", a.ID)
	}
	return bus.ActionResult{}
}

// publishAction publishes a one-action transition as the coordinator of
// the moment; it returns where the action's results arrive and what aborts
// the transition.
func publishAction(t *testing.T, conn *bus.Conn, id string, rev uint64, a policies.Action) (<-chan bus.ActionResult, func()) {
	t.Helper()
	plan, err := json.Marshal(policies.Transition{Version: policies.TransitionVersion, Actions: []policies.Action{a}})
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan bus.ActionResult, 4)
	sub, err := bus.Subscribe(conn, bus.SubjectActions, func(r bus.ActionResult, _ bus.Envelope) {
		if r.Transition == id {
			results <- r
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := conn.JS.KeyValue(ctx, bus.BucketLeases)
	if err != nil {
		t.Fatal(err)
	}
	ten, err := lease.ReadTenure(ctx, kv, lease.CoordinatorKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Publish(bus.TransitionEvent{ID: id, Coordinator: ten.Node, Token: ten.Token, ConfigRev: rev, Plan: plan}); err != nil {
		t.Fatal(err)
	}
	abort := func() {
		if err := conn.Publish(bus.TransitionAbort{ID: id, Coordinator: ten.Node, Token: ten.Token, Reason: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	return results, abort
}

func setup(t *testing.T) (*bustest.Cluster, *world, *testNode, *testNode, *bus.Conn) {
	cfg, err := config.Parse("test.toml", []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	c := bustest.Start(t, bustest.Topology(t, []string{"holly", "benji"}, "director"))
	w := newWorld()
	holly := startNode(t, c, w, cfg, "holly")
	benji := startNode(t, c, w, cfg, "benji")
	return c, w, holly, benji, coordinate(t, c)
}

// coordinate makes the test the coordinator: a connection named after the
// witness, whose lease manager holds the coordinator lease, so that the
// nodes admit its plans (fence.go). Its tenure is its second: an earlier
// one's token is stale.
func coordinate(t *testing.T, c *bustest.Cluster) *bus.Conn {
	t.Helper()
	conn := c.Connect("director", "director")
	var lm *lease.Manager
	poll.Until(t, 20*time.Second, 100*time.Millisecond, func() (err error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		lm, err = lease.NewManager(ctx, lease.Config{Conn: conn, Node: "director", Peers: func() []string { return nil }, Logger: bustest.Logger()})
		return err
	})
	t.Cleanup(lm.Close)
	for range 2 {
		var l *lease.Lease
		poll.Until(t, 20*time.Second, 100*time.Millisecond, func() (err error) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			l, err = lm.Acquire(ctx, lease.CoordinatorKey, nil)
			return err
		})
		if l.Token() == 1 {
			if err := l.Release(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	return conn
}

// A singleton starts only with its lease, its agent gets a hold that is
// extended while the lease is renewed, and a second node cannot start it.
func TestSingletonStartsOnlyWithItsLease(t *testing.T) {
	_, w, holly, benji, conn := setup(t)
	if r := run(t, conn, "t1", policies.OpStart, "holly"); !r.OK() {
		t.Fatalf("start on holly: %+v", r)
	}
	if !w.is("holly", "vip") || holly.state("vip") != bus.StateStarted {
		t.Fatalf("holly: running %v, state %s", w.is("holly", "vip"), holly.state("vip"))
	}
	w.mu.Lock()
	first := w.holds["holly/vip"]
	w.mu.Unlock()
	if first.IsZero() || first.Before(time.Now().Add(-time.Second)) {
		t.Fatalf("hold deadline %v", first)
	}
	poll.Until(t, 5*time.Second, 20*time.Millisecond, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if !w.holds["holly/vip"].After(first) {
			return fmt.Errorf("hold not extended past %v", first)
		}
		return nil
	})

	// A start on benji whose transition is aborted while it waits for
	// holly's lease is cancelled, not failed: benji is as it was.
	r := runPlannedAborted(t, conn, "t2a", "vip", 1, policies.OpStart, "benji", 200*time.Millisecond)
	if !r.Cancelled || w.is("benji", "vip") || !strings.Contains(r.Message, "transition aborted while waiting for the lease") {
		t.Fatalf("start on benji aborted while waiting for the lease: %+v, want it cancelled", r)
	}
	if got := benji.state("vip"); got != bus.StateStopped {
		t.Fatalf("benji reports %s after a cancelled start, want %s", got, bus.StateStopped)
	}

	// A start on benji while holly holds the lease fails without running
	// and without counting a failure against benji.
	r = run(t, conn, "t2", policies.OpStart, "benji")
	if r.OK() || w.is("benji", "vip") {
		t.Fatalf("benji started the singleton holly holds: %+v", r)
	}
	fs, _ := failures.Open(context.Background(), conn)
	recs, err := fs.List(context.Background())
	if err != nil || len(recs) != 0 {
		t.Fatalf("fail-counts after a lease refusal: %+v %v", recs, err)
	}
	if benji.state("vip") != bus.StateFailed {
		t.Fatalf("benji reports %s after a refused start", benji.state("vip"))
	}
	// Stopping on holly releases the lease; benji can start it at once.
	if r := run(t, conn, "t3", policies.OpStop, "holly"); !r.OK() {
		t.Fatalf("stop on holly: %+v", r)
	}
	w.mu.Lock()
	cancelled := w.holds["holly/vip"].IsZero()
	w.mu.Unlock()
	if !cancelled {
		t.Error("holly's hold not cancelled after the stop")
	}
	if r := run(t, conn, "t4", policies.OpStart, "benji"); !r.OK() || !w.is("benji", "vip") {
		t.Fatalf("start on benji after holly released: %+v", r)
	}
}

// A holder whose lease is lost (its renewals stopped) stops the resource
// by itself.
func TestLostLeaseStopsTheSingleton(t *testing.T) {
	_, w, holly, _, conn := setup(t)
	if r := run(t, conn, "t1", policies.OpStart, "holly"); !r.OK() {
		t.Fatalf("start on holly: %+v", r)
	}
	holly.leases.Close() // renewals stop: the lease is lost at its deadline
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if w.is("holly", "vip") || holly.state("vip") != bus.StateStopped {
			return fmt.Errorf("holly still runs it (state %s)", holly.state("vip"))
		}
		return nil
	})
}

// A singleton found running by a probe on a node that does not hold its
// lease is stopped there; a monitor failure is counted.
func TestProbeStopsUnleasedSingletonAndMonitorCountsFailures(t *testing.T) {
	cfg, err := config.Parse("test.toml", []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	c := bustest.Start(t, bustest.Topology(t, []string{"holly", "benji"}, "director"))
	w := newWorld()
	holly := startNode(t, c, w, cfg, "holly")
	conn := coordinate(t, c)
	if r := run(t, conn, "t1", policies.OpStart, "holly"); !r.OK() {
		t.Fatalf("start on holly: %+v", r)
	}
	w.set("benji", "vip", true) // left over on benji
	benji := startNode(t, c, w, cfg, "benji")
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if w.is("benji", "vip") {
			return errors.New("benji still runs the singleton holly holds")
		}
		return nil
	})
	if !w.is("holly", "vip") {
		t.Fatal("holly lost it")
	}
	_ = benji

	// Gone behind the cluster's back on holly: the monitor notices and
	// counts one failure before it reports the resource failed.
	w.set("holly", "vip", false)
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if s := holly.state("vip"); s != bus.StateFailed {
			return fmt.Errorf("holly reports %s", s)
		}
		return nil
	})
	fs, _ := failures.Open(context.Background(), conn)
	recs, err := fs.List(context.Background())
	if err != nil || len(recs) != 1 || recs[0].Node != "holly" || recs[0].Count != 1 || recs[0].Op != bus.OpMonitor {
		t.Fatalf("fail-counts: %+v %v", recs, err)
	}
}

// A degraded monitor (the vip agent's "address conflict, kept it") is not a
// failure: the resource stays started, no fail-count is recorded, one
// warning event is raised however many monitors repeat it, and the report
// carries the warning until a monitor says OK again.
func TestDegradedMonitorWarnsWithoutFailure(t *testing.T) {
	_, w, holly, _, conn := setup(t)
	var mu sync.Mutex
	var events []string
	sub, err := bus.Subscribe(conn, bus.SubjectPrefix+"log.>", func(ev bus.LogEvent, _ bus.Envelope) {
		mu.Lock()
		events = append(events, ev.Level+": "+ev.Message)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if r := run(t, conn, "t1", policies.OpStart, "holly"); !r.OK() {
		t.Fatalf("start on holly: %+v", r)
	}
	const conflict = "address conflict: 198.18.0.23 is also answered for by 02:00:00:00:00:99; kept it"
	w.mu.Lock()
	w.degraded["holly/vip"] = conflict
	w.mu.Unlock()
	warning := func() string {
		for _, r := range holly.lrm.Report().Resources {
			if r.Resource == "vip" {
				return r.Warning
			}
		}
		return ""
	}
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if got := warning(); got != conflict {
			return fmt.Errorf("warning %q", got)
		}
		return nil
	})
	// Several more monitors (every 200 ms) say the same.
	calls := func() int {
		w.mu.Lock()
		defer w.mu.Unlock()
		n := 0
		for _, c := range w.calls {
			if c == "monitor holly/vip" {
				n++
			}
		}
		return n
	}
	seen := calls()
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := calls(); n < seen+3 {
			return fmt.Errorf("%d monitors since the warning", n-seen)
		}
		return nil
	})
	if s := holly.state("vip"); s != bus.StateStarted || !w.is("holly", "vip") {
		t.Fatalf("after degraded monitors holly reports %s (running %v), want started", s, w.is("holly", "vip"))
	}
	fs, _ := failures.Open(context.Background(), conn)
	if recs, err := fs.List(context.Background()); err != nil || len(recs) != 0 {
		t.Fatalf("fail-counts after degraded monitors: %+v %v", recs, err)
	}
	w.mu.Lock()
	delete(w.degraded, "holly/vip")
	w.mu.Unlock()
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if got := warning(); got != "" {
			return fmt.Errorf("warning still %q", got)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(events) < 2 {
			return fmt.Errorf("events %q", events)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	want := []string{"warn: vip on holly degraded: " + conflict, "info: vip on holly no longer degraded: its monitor is OK again"}
	if fmt.Sprint(events) != fmt.Sprint(want) {
		t.Fatalf("events %q, want %q", events, want)
	}
}

// A plan made from a configuration revision this node has not got yet (its
// follower lags on a busy bus), or naming a resource it does not know, is
// not run here: its actions are reported cancelled, and nothing is counted
// against the resource. Running it would start the resource with no agent
// and count a fatal start failure (a CI run banned a new resource from a
// node that way).
func TestPlanAheadOfTheNodesConfigurationIsNotRun(t *testing.T) {
	c, w, holly, _, coord := setup(t)
	r := runPlanned(t, coord, "t-ahead", "vip", 2, policies.OpStart, "holly")
	if !r.Cancelled || r.OK() || !strings.Contains(r.Message, "planned from live configuration revision 2, and this node has only revision 1") {
		t.Errorf("start planned from revision 2 on a node at revision 1: %+v; want it cancelled, saying why", r)
	}
	r = runPlanned(t, coord, "t-ghost", "ghost", 1, policies.OpStart, "holly")
	if !r.Cancelled || !strings.Contains(r.Message, "ghost is not in live configuration revision 1") {
		t.Errorf("start of a resource the node does not know: %+v; want it cancelled, saying why", r)
	}
	if w.is("holly", "vip") || w.is("holly", "ghost") {
		t.Error("a cancelled start ran")
	}
	if st := holly.state("vip"); st != bus.StateStopped {
		t.Errorf("vip is %s on holly after a plan it could not run", st)
	}
	fs, err := failures.Open(context.Background(), c.Ready("holly"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := fs.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 0 {
		t.Errorf("failures counted for plans that never ran: %+v", recs)
	}
	// The plan of the node's own revision still runs.
	if r := run(t, coord, "t-now", policies.OpStart, "holly"); !r.OK() {
		t.Errorf("start planned from revision 1: %+v", r)
	}
}

// gatedRunner holds one operation of the fake agent at a gate: entered is
// signalled when it is called, and it runs only once gate is closed.
type gatedRunner struct {
	nodeRunner
	op      string
	entered chan struct{}
	gate    chan struct{}
	once    sync.Once
}

func (g *gatedRunner) Run(ctx context.Context, agent, op string, req sdk.Request, timeout time.Duration) supervisor.Outcome {
	if op == g.op {
		first := false
		g.once.Do(func() { first = true })
		if first {
			close(g.entered)
			<-g.gate
		}
	}
	return g.nodeRunner.Run(ctx, agent, op, req, timeout)
}

func (w *world) called(call string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Contains(w.calls, call)
}

// A singleton whose lease is lost while its agent is starting it (the
// node was starved: its renewals failed) is not reported started: the
// loss was acted on (watchLease's stop found nothing yet) before the agent
// started it, so it is stopped again and the start reported not done,
// without a fail-count. Reported started, it ran unleased, and then showed
// Started with nothing running for good (seen at 32 in-process members).
func TestLeaseLostDuringStartIsNotStarted(t *testing.T) {
	cfg, err := config.Parse("test.toml", []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	c := bustest.Start(t, bustest.Topology(t, []string{"holly", "benji"}, "director"))
	w := newWorld()
	g := &gatedRunner{nodeRunner: nodeRunner{w, "holly"}, op: bus.OpStart, entered: make(chan struct{}), gate: make(chan struct{})}
	holly := startNodeWith(t, c, g, cfg, "holly")
	conn := coordinate(t, c)
	result := make(chan bus.ActionResult, 1)
	go func() { result <- run(t, conn, "t1", policies.OpStart, "holly") }()
	select {
	case <-g.entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the start never reached the agent")
	}
	holly.leases.Close() // renewals stop: the lease is lost at its deadline
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if !w.called("stop holly/vip") {
			return errors.New("the lost lease's stop has not run yet")
		}
		return nil
	})
	close(g.gate) // the agent starts it now, after the loss was acted on
	r := <-result
	if r.OK() || !strings.Contains(r.Message, "lease was lost during the start") {
		t.Fatalf("start result %+v, want not done: lease lost during the start", r)
	}
	if w.is("holly", "vip") {
		t.Fatal("holly runs the singleton without its lease")
	}
	if s := holly.state("vip"); s == bus.StateStarted {
		t.Fatalf("holly reports %s", s)
	}
	fs, _ := failures.Open(context.Background(), conn)
	if recs, err := fs.List(context.Background()); err != nil || len(recs) != 0 {
		t.Fatalf("fail-counts after a fenced start: %+v %v", recs, err)
	}
}

// A started singleton whose lease is lost, and whose monitor then finds it
// not running (its agent removed it when its hold lapsed), is reported
// stopped at once, even while the lost lease's own stop is still running.
func TestMonitorRecordsAFencedSingletonStopped(t *testing.T) {
	cfg, err := config.Parse("test.toml", []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	c := bustest.Start(t, bustest.Topology(t, []string{"holly", "benji"}, "director"))
	w := newWorld()
	g := &gatedRunner{nodeRunner: nodeRunner{w, "holly"}, op: bus.OpStop, entered: make(chan struct{}), gate: make(chan struct{})}
	holly := startNodeWith(t, c, g, cfg, "holly")
	conn := coordinate(t, c)
	if r := run(t, conn, "t1", policies.OpStart, "holly"); !r.OK() {
		t.Fatalf("start on holly: %+v", r)
	}
	defer close(g.gate)
	holly.leases.Close() // renewals stop: the lease is lost at its deadline
	select {
	case <-g.entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the lost lease's stop never reached the agent")
	}
	w.set("holly", "vip", false) // its hold lapsed: the agent removed it
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if s := holly.state("vip"); s != bus.StateStopped {
			return fmt.Errorf("holly reports %s of a fenced singleton its monitor finds not running", s)
		}
		return nil
	})
}

// A start whose transition is aborted while it waits for its lease never
// reached the agent: it is reported cancelled and the resource keeps its
// state. Reported as a failed start it showed failed, needed a stop, and
// its failure aborted the next plan: at 32 in-process members, with slow
// lease writes, plans aborted each other that way for minutes.
func TestAbortWhileWaitingForTheLeaseCancels(t *testing.T) {
	_, w, _, benji, conn := setup(t)
	if r := run(t, conn, "t1", policies.OpStart, "holly"); !r.OK() {
		t.Fatalf("start on holly: %+v", r)
	}
	a := policies.Action{ID: policies.ActionID(policies.OpStart, "vip", "", 0, "benji"), Resource: "vip", Node: "benji", Op: policies.OpStart}
	results, abort := publishAction(t, conn, "t2", 1, a)
	// benji waits for the lease holly holds (up to LeaseWait, 1 s here).
	poll.Until(t, 10*time.Second, time.Millisecond, func() error {
		if s := benji.state("vip"); s != bus.StateStarting {
			return fmt.Errorf("benji reports %s, not yet starting", s)
		}
		return nil
	})
	abort()
	var r bus.ActionResult
	select {
	case r = <-results:
	case <-time.After(20 * time.Second):
		t.Fatal("no result for the aborted start")
	}
	if !r.Cancelled {
		t.Fatalf("aborted while waiting for the lease: %+v, want cancelled", r)
	}
	if s := benji.state("vip"); s != bus.StateStopped {
		t.Fatalf("benji reports %s after a start that never began, want stopped", s)
	}
	if w.called("start benji/vip") {
		t.Fatal("the agent was called on benji")
	}
	fs, _ := failures.Open(context.Background(), conn)
	if recs, err := fs.List(context.Background()); err != nil || len(recs) != 0 {
		t.Fatalf("fail-counts after an aborted lease wait: %+v %v", recs, err)
	}
}
