package lrm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/failures"
	"github.com/tandem-ha/tandem/host/lease"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/policies"
)

const notifyConfig = cloneConfig + "notify = true\n"

// notifyRunner is instanceRunner that implements notify: it records every
// call in order, with what a notification said, and fails the
// notifications failing names ("pre-start@holly").
type notifyRunner struct {
	instanceRunner
	log     *callLog
	failing map[string]bool
}

type callLog struct {
	mu    sync.Mutex
	calls []string
	notes map[string]*sdk.Notification // "pre-start@holly" -> what it said
	clone map[string]sdk.CloneMeta     // node -> the clone meta its notify got
}

func (r notifyRunner) Run(ctx context.Context, agent, op string, req sdk.Request, timeout time.Duration) supervisor.Outcome {
	if op == bus.OpMonitor || op == bus.OpProbe {
		return r.instanceRunner.Run(ctx, agent, op, req, timeout)
	}
	r.log.mu.Lock()
	defer r.log.mu.Unlock()
	if op != bus.OpNotify {
		r.log.calls = append(r.log.calls, fmt.Sprintf("%s web#%d@%s", op, req.Instance.CloneIndex, r.node))
		if req.Notification != nil {
			r.log.notes[op+"@"+r.node] = req.Notification
		}
		return r.instanceRunner.Run(ctx, agent, op, req, timeout)
	}
	n := req.Notification
	if n == nil {
		return supervisor.Outcome{Result: sdk.Result{Code: sdk.ErrUnimplemented}, Started: time.Now()}
	}
	key := n.Type + "-" + n.Operation + "@" + r.node
	r.log.calls = append(r.log.calls, fmt.Sprintf("%s web#%d", key, req.Instance.CloneIndex))
	r.log.notes[key] = n
	r.log.clone[r.node] = req.Instance.Clone
	if r.failing[key] {
		return supervisor.Outcome{Result: sdk.Resultf(sdk.ErrGeneric, "notify failed on purpose"), Started: time.Now()}
	}
	return supervisor.Outcome{Result: sdk.Result{Code: sdk.OK}, Started: time.Now()}
}

// A notify clone running on holly starts its second instance on benji,
// through the LRMs of both nodes and the transition the scheduler plans:
// holly's instance gets the pre-start notification before benji's start,
// both get the post-start one after it, each with the lists (active:
// holly's instance; start: benji's) and the clone's notify meta. holly's
// pre-start notification fails: the start runs all the same, and no
// failure is counted against web on holly, which keeps running.
func TestCloneNotifications(t *testing.T) {
	cfg, err := config.Parse("test.toml", []byte(notifyConfig))
	if err != nil {
		t.Fatal(err)
	}
	rev := liveconfig.Revision{Rev: 1, CIB: cfg.CIB}
	c := bustest.Start(t, bustest.Topology(t, []string{"holly", "benji"}, "director"))
	w := &instanceWorld{running: map[string]bool{}}
	w.set("holly", "web", 0, true)
	log := &callLog{notes: map[string]*sdk.Notification{}, clone: map[string]sdk.CloneMeta{}}
	failing := map[string]bool{"pre-start@holly": true}
	live := func() liveconfig.Revision { return rev }
	holly := startNodeLive(t, c, notifyRunner{instanceRunner{w, "holly"}, log, failing}, "holly", live, nil).lrm
	startNodeLive(t, c, notifyRunner{instanceRunner{w, "benji"}, log, failing}, "benji", live, nil)
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if !holly.Report().Probed {
			return errors.New("holly has not probed")
		}
		return nil
	})
	if got := webState(holly); got != bus.StateStarted+"/0" {
		t.Fatalf("holly reports web %s, want started/0", got)
	}

	res, err := policies.Schedule(policies.Input{CIB: cfg.CIB, State: policies.State{
		Nodes:     []policies.NodeState{{Name: "holly", Status: policies.Online}, {Name: "benji", Status: policies.Online}},
		Instances: []policies.InstanceState{{Resource: "web", Clone: "web-clone", Instance: 0, Node: "holly"}}}, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range res.Transition.Actions {
		ids = append(ids, a.ID)
	}
	if want := "notify-pre-start/web#0@holly start/web#1@benji notify-post-start/web#0@holly notify-post-start/web#1@benji"; strings.Join(ids, " ") != want {
		t.Fatalf("the scheduler planned %s, want %s", strings.Join(ids, " "), want)
	}
	conn := coordinate(t, c)
	fails, err := failures.Open(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	results := publishPlan(t, conn, "t-notify", rev.Rev, res.Transition)
	got := map[string]bus.ActionResult{}
	deadline := time.After(20 * time.Second)
	for len(got) < len(ids) {
		select {
		case r := <-results:
			got[r.Action] = r
		case <-deadline:
			t.Fatalf("results of %d of %d actions: %v; calls %v", len(got), len(ids), got, log.calls)
		}
	}
	if r := got["notify-pre-start/web#0@holly"]; sdk.Code(r.Code) != sdk.ErrGeneric {
		t.Errorf("holly's pre-start notification: %v %s, want the failure the agent answered", sdk.Code(r.Code), r.Message)
	}
	for _, id := range ids[1:] {
		if r := got[id]; !r.OK() {
			t.Errorf("%s: %v %s (cancelled %t)", id, sdk.Code(r.Code), r.Message, r.Cancelled)
		}
	}

	log.mu.Lock()
	calls := strings.Join(log.calls, ", ")
	notes, clones := log.notes, log.clone
	log.mu.Unlock()
	pos := func(call string) int {
		i := strings.Index(calls, call)
		if i < 0 {
			t.Fatalf("no call %q in %s", call, calls)
		}
		return i
	}
	if !(pos("pre-start@holly web#0") < pos("start web#1@benji") &&
		pos("start web#1@benji") < pos("post-start@holly web#0") && pos("start web#1@benji") < pos("post-start@benji web#1")) {
		t.Errorf("calls out of order: %s", calls)
	}
	if n := notes["start@benji"]; n == nil || n.Type != "" || entries(n.Start) != "1@benji" {
		t.Errorf("benji's start got notification %+v, want the lists alone (start 1@benji)", n)
	}
	for key, n := range notes {
		if s := entries(n.Active); s != "0@holly" {
			t.Errorf("%s: active %s, want 0@holly", key, s)
		}
		if s := entries(n.Start); s != "1@benji" {
			t.Errorf("%s: start %s, want 1@benji", key, s)
		}
		if s := entries(n.Stop) + entries(n.Inactive); s != "1" {
			t.Errorf("%s: stop and inactive %q, want no stop and instance 1 inactive", key, s)
		}
		if strings.Join(n.All, " ") != "benji holly" {
			t.Errorf("%s: all %v", key, n.All)
		}
	}
	for node, cm := range clones {
		if !cm.Notify || cm.ID != "web-clone" || cm.Max != 2 {
			t.Errorf("%s: clone meta %+v, want web-clone's with notify", node, cm)
		}
	}

	// The failed notification counted no failure and changed nothing.
	if got := webState(holly); got != bus.StateStarted+"/0" {
		t.Errorf("holly reports web %s after its failed notification, want started/0", got)
	}
	recs, err := fails.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) > 0 {
		t.Errorf("failures recorded: %+v", recs)
	}
}

func entries(es []sdk.NotifyEntry) string {
	var out []string
	for _, e := range es {
		if e.Node == "" {
			out = append(out, fmt.Sprint(e.Instance))
			continue
		}
		out = append(out, fmt.Sprintf("%d@%s", e.Instance, e.Node))
	}
	return strings.Join(out, " ")
}

// publishPlan publishes transition tr as the coordinator of the moment and
// returns where its results arrive.
func publishPlan(t *testing.T, conn *bus.Conn, id string, rev uint64, tr policies.Transition) <-chan bus.ActionResult {
	t.Helper()
	plan, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan bus.ActionResult, 16)
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
	return results
}
