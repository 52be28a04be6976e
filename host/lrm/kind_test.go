package lrm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/lease"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/policies"
	"github.com/tandem-ha/tandem/policies/cib"
)

// indexRunner is an agent that keys its instances on the clone index it is
// given (-1 for a primitive), as the example agent keys its pid files: an
// operation under another index does not see the instance.
type indexRunner struct {
	mu       sync.Mutex
	running  map[int]bool
	promoted map[int]bool
	gate     chan struct{} // when set, a start waits for it to be closed
}

func (r *indexRunner) Run(ctx context.Context, agent, op string, req sdk.Request, timeout time.Duration) supervisor.Outcome {
	r.mu.Lock()
	gate := r.gate
	r.mu.Unlock()
	if op == bus.OpStart && gate != nil {
		<-gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	i := req.Instance.CloneIndex
	res := sdk.Result{Code: sdk.OK}
	switch op {
	case bus.OpStart:
		r.running[i] = true
	case bus.OpStop:
		r.running[i], r.promoted[i] = false, false
	case bus.OpPromote:
		if !r.running[i] {
			res = sdk.Result{Code: sdk.ErrGeneric, Message: "promote: not running (start it first)"}
		} else {
			r.promoted[i] = true
		}
	case bus.OpDemote:
		r.promoted[i] = false
	case bus.OpMonitor, bus.OpProbe:
		switch {
		case !r.running[i]:
			res.Code = sdk.NotRunning
		case r.promoted[i]:
			res.Code = sdk.RunningPromoted
		}
	default:
		res.Code = sdk.ErrUnimplemented
	}
	return supervisor.Outcome{Result: res, Started: time.Now()}
}

func (r *indexRunner) Hold(ctx context.Context, agent string, req sdk.HoldRequest, timeout time.Duration) supervisor.Outcome {
	return supervisor.Outcome{Result: sdk.Result{Code: sdk.OK}, Started: time.Now()}
}

func (r *indexRunner) is(i int) (running, promoted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running[i], r.promoted[i]
}

// A primitive running here made a promotable clone (resource promotable)
// is stopped as the primitive it ran as, its singleton lease released,
// then started and promoted as the clone's instance (the promote finds
// it); its clone made not promotable while promoted, it is demoted; made a
// primitive again while promoted, the instance is demoted and
// stopped as it ran, its promoted slot released; and the node stops at
// once (before, the promote failed with "not running", the old instance
// was left running under the primitive's name, and the singleton lease's
// watch kept the node's stop waiting).
func TestRunningResourceThatChangesKindIsStoppedAsItRan(t *testing.T) {
	parse := func(s string) *cib.CIB {
		cfg, err := config.Parse("test.toml", []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return cfg.CIB
	}
	primitive := parse(twoNodes + `
[witness]
name = "director"
address = "127.0.0.3"
[[resource]]
id = "db"
agent = "fake"
`)
	promotable := parse(promotableConfig)
	plainClone := parse(twoNodes + `
[witness]
name = "director"
address = "127.0.0.3"
[[resource]]
id = "db"
agent = "fake"
[resource.clone]
`)
	var live atomic.Pointer[liveconfig.Revision]
	live.Store(&liveconfig.Revision{Rev: 1, CIB: primitive})
	c := bustest.Start(t, bustest.Topology(t, []string{"holly", "benji"}, "director"))
	agent := &indexRunner{running: map[int]bool{}, promoted: map[int]bool{}}
	holly := startNodeLive(t, c, agent, "holly", func() liveconfig.Revision { return *live.Load() }, nil)
	startNodeLive(t, c, &indexRunner{running: map[int]bool{}, promoted: map[int]bool{}}, "benji", func() liveconfig.Revision { return *live.Load() }, nil)
	conn := coordinate(t, c)
	ctx := context.Background()
	kv, err := conn.JS.KeyValue(ctx, bus.BucketLeases)
	if err != nil {
		t.Fatal(err)
	}
	holder := func(key string) string {
		ten, err := lease.ReadTenure(ctx, kv, key)
		if err != nil {
			return ""
		}
		return ten.Node
	}
	report := func() bus.ResourceState {
		for _, r := range holly.lrm.Report().Resources {
			if r.Resource == "db" {
				return r
			}
		}
		return bus.ResourceState{}
	}

	if r := runPlanned(t, conn, "start", "db", 1, policies.OpStart, "holly"); !r.OK() {
		t.Fatalf("start of the primitive: %+v", r)
	}
	if run, _ := agent.is(-1); !run || holder(lease.Key("db")) != "holly" {
		t.Fatalf("after the start: running %v, lease held by %q", run, holder(lease.Key("db")))
	}

	// Made a promotable clone: stopped as the primitive, lease released.
	live.Store(&liveconfig.Revision{Rev: 2, CIB: promotable})
	holly.lrm.ConfigChanged()
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		r := report()
		if run, _ := agent.is(-1); run || r.State != bus.StateStopped || r.Clone != "db-clone" {
			return fmt.Errorf("primitive instance running %v; holly reports %s of clone %q, want stopped of db-clone", run, r.State, r.Clone)
		}
		if h := holder(lease.Key("db")); h != "" {
			return fmt.Errorf("singleton lease still held by %s", h)
		}
		return nil
	})
	for _, op := range []policies.Op{policies.OpStart, policies.OpPromote} {
		if r := runClone(t, conn, "clone-"+string(op), op, "holly", 0); !r.OK() {
			t.Fatalf("%s of the clone's instance: %+v", op, r)
		}
	}
	if run, p := agent.is(0); !run || !p || holder(cib.PromotedLeaseKey("db-clone", 0)) != "holly" {
		t.Fatalf("instance 0: running %v, promoted %v, slot held by %q", run, p, holder(cib.PromotedLeaseKey("db-clone", 0)))
	}

	// Its clone made not promotable while it is promoted: demoted, its
	// slot released, still running (the coordinator plans no demote for a
	// clone without roles).
	live.Store(&liveconfig.Revision{Rev: 3, CIB: plainClone})
	holly.lrm.ConfigChanged()
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		r := report()
		if run, p := agent.is(0); !run || p || r.State != bus.StateStarted || r.Role != "" {
			return fmt.Errorf("instance 0 running %v promoted %v; holly reports %s/%s, want started, unpromoted", run, p, r.State, r.Role)
		}
		if h := holder(cib.PromotedLeaseKey("db-clone", 0)); h != "" {
			return fmt.Errorf("promoted slot still held by %s", h)
		}
		return nil
	})
	live.Store(&liveconfig.Revision{Rev: 4, CIB: promotable})
	holly.lrm.ConfigChanged()
	if r := runClone(t, conn, "clone-promote-again", policies.OpPromote, "holly", 0); !r.OK() {
		t.Fatalf("promote once promotable again: %+v", r)
	}

	// Made a primitive again while promoted: demoted and stopped as the
	// instance it ran as, its slot released.
	live.Store(&liveconfig.Revision{Rev: 5, CIB: primitive})
	holly.lrm.ConfigChanged()
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		r := report()
		if run, p := agent.is(0); run || p || r.State != bus.StateStopped || r.Clone != "" || r.Role != "" {
			return fmt.Errorf("instance 0 running %v promoted %v; holly reports %s/%s of clone %q, want stopped, no clone", run, p, r.State, r.Role, r.Clone)
		}
		if h := holder(cib.PromotedLeaseKey("db-clone", 0)); h != "" {
			return fmt.Errorf("promoted slot still held by %s", h)
		}
		return nil
	})
	if r := runPlanned(t, conn, "start-again", "db", 5, policies.OpStart, "holly"); !r.OK() {
		t.Fatalf("start of the primitive again: %+v", r)
	}
	if run, _ := agent.is(-1); !run || holder(lease.Key("db")) != "holly" {
		t.Fatalf("after the start as a primitive again: running %v, lease held by %q", run, holder(lease.Key("db")))
	}

	// Made a clone while a start of the primitive runs: once started, it
	// is stopped as the primitive (the configuration change found it
	// starting; the start's result is looked at).
	if r := runPlanned(t, conn, "stop-again", "db", 5, policies.OpStop, "holly"); !r.OK() {
		t.Fatalf("stop of the primitive: %+v", r)
	}
	gate := make(chan struct{})
	agent.mu.Lock()
	agent.gate = gate
	agent.mu.Unlock()
	results, _ := publishAction(t, conn, "start-gated", 5, policies.Action{ID: policies.ActionID(policies.OpStart, "db", "", 0, "holly"), Resource: "db", Node: "holly", Op: policies.OpStart})
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if s := report().State; s != bus.StateStarting {
			return fmt.Errorf("holly reports %s, want starting", s)
		}
		return nil
	})
	live.Store(&liveconfig.Revision{Rev: 6, CIB: promotable})
	holly.lrm.ConfigChanged()
	close(gate)
	if r := <-results; !r.OK() {
		t.Fatalf("gated start of the primitive: %+v", r)
	}
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		r := report()
		if run, _ := agent.is(-1); run || r.State != bus.StateStopped || r.Clone != "db-clone" {
			return fmt.Errorf("primitive instance running %v; holly reports %s of clone %q, want stopped of db-clone", run, r.State, r.Clone)
		}
		if h := holder(lease.Key("db")); h != "" {
			return fmt.Errorf("singleton lease still held by %s", h)
		}
		return nil
	})
	stopped := make(chan struct{})
	go func() {
		holly.stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(20 * time.Second):
		t.Fatal(errors.New("holly's LRM did not stop within 20 s"))
	}
}

// Two instances of a unique clone running on one node (clone-node-max 2),
// the clone made a primitive: each instance is stopped as it ran, under
// its own number; then the primitive starts.
func TestSeveralInstancesThatChangeKindAreStoppedAsTheyRan(t *testing.T) {
	parse := func(s string) *cib.CIB {
		cfg, err := config.Parse("test.toml", []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return cfg.CIB
	}
	head := twoNodes + `
[witness]
name = "director"
address = "127.0.0.3"
[[resource]]
id = "db"
agent = "fake"
`
	unique := parse(head + `[resource.clone]
globally-unique = true
clone-max = 4
clone-node-max = 2
`)
	primitive := parse(head)
	var live atomic.Pointer[liveconfig.Revision]
	live.Store(&liveconfig.Revision{Rev: 1, CIB: unique})
	c := bustest.Start(t, bustest.Topology(t, []string{"holly", "benji"}, "director"))
	agent := &indexRunner{running: map[int]bool{}, promoted: map[int]bool{}}
	holly := startNodeLive(t, c, agent, "holly", func() liveconfig.Revision { return *live.Load() }, nil)
	startNodeLive(t, c, &indexRunner{running: map[int]bool{}, promoted: map[int]bool{}}, "benji", func() liveconfig.Revision { return *live.Load() }, nil)
	conn := coordinate(t, c)
	for _, i := range []int{0, 3} {
		if r := runClone(t, conn, fmt.Sprintf("start-%d", i), policies.OpStart, "holly", i); !r.OK() {
			t.Fatalf("start of instance %d: %+v", i, r)
		}
	}
	states := func() map[string]string {
		out := map[string]string{}
		for _, r := range holly.lrm.Report().Resources {
			if r.Resource == "db" {
				out[fmt.Sprintf("%s:%d", r.Clone, r.Instance)] = r.State
			}
		}
		return out
	}
	if s := states(); s["db-clone:0"] != bus.StateStarted || s["db-clone:3"] != bus.StateStarted {
		t.Fatalf("holly reports %v, want instances 0 and 3 started", s)
	}

	// Made a primitive while both run: the instances stop as they ran.
	live.Store(&liveconfig.Revision{Rev: 2, CIB: primitive})
	holly.lrm.ConfigChanged()
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		for _, i := range []int{0, 3} {
			if run, _ := agent.is(i); run {
				return fmt.Errorf("instance %d still runs (holly reports %v)", i, states())
			}
		}
		for k, s := range states() {
			if s != bus.StateStopped {
				return fmt.Errorf("holly reports %s %s, want every instance stopped (%v)", k, s, states())
			}
		}
		return nil
	})
	if r := runPlanned(t, conn, "start-primitive", "db", 2, policies.OpStart, "holly"); !r.OK() {
		t.Fatalf("start of the primitive: %+v", r)
	}
	if run, _ := agent.is(-1); !run {
		t.Fatal("the primitive does not run after its start")
	}
}
