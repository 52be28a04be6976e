package lrm

import (
	"context"
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
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/policies"
	"github.com/tandem-ha/tandem/policies/cib"
)

const promotableConfig = twoNodes + `
[witness]
name = "director"
address = "127.0.0.3"
[[resource]]
id = "db"
agent = "fake"
[resource.clone]
promotable = true
`

// roleWorld is a fake promotable agent: which node's instance runs, which
// is promoted, and demotes it can be told to fail.
type roleWorld struct {
	mu         sync.Mutex
	running    map[string]bool            // node
	promoted   map[string]bool            // node
	failDemote map[string]bool            // node
	holds      map[string]sdk.HoldRequest // node -> the last hold
}

type roleRunner struct {
	w    *roleWorld
	node string
}

func (r roleRunner) Run(ctx context.Context, agent, op string, req sdk.Request, timeout time.Duration) supervisor.Outcome {
	w := r.w
	w.mu.Lock()
	defer w.mu.Unlock()
	res := sdk.Result{Code: sdk.OK}
	switch op {
	case bus.OpStart:
		w.running[r.node] = true
	case bus.OpStop:
		w.running[r.node], w.promoted[r.node] = false, false
	case bus.OpPromote:
		w.promoted[r.node] = true
	case bus.OpDemote:
		if w.failDemote[r.node] {
			res = sdk.Result{Code: sdk.ErrGeneric, Message: "demote refused by the test"}
		} else {
			w.promoted[r.node] = false
		}
	case bus.OpMonitor, bus.OpProbe:
		switch {
		case !w.running[r.node]:
			res.Code = sdk.NotRunning
		case w.promoted[r.node]:
			res.Code = sdk.RunningPromoted
		}
	default:
		res.Code = sdk.ErrUnimplemented
	}
	return supervisor.Outcome{Result: res, Started: time.Now()}
}

func (r roleRunner) Hold(ctx context.Context, agent string, req sdk.HoldRequest, timeout time.Duration) supervisor.Outcome {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	r.w.holds[r.node] = req
	return supervisor.Outcome{Result: sdk.Result{Code: sdk.OK}, Started: time.Now()}
}

func (w *roleWorld) hold(node string) sdk.HoldRequest {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.holds[node]
}

func (w *roleWorld) is(node string) (running, promoted bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.running[node], w.promoted[node]
}

// runClone publishes a one-action transition of instance idx of the db
// clone on node and waits for its result.
func runClone(t *testing.T, conn *bus.Conn, id string, op policies.Op, node string, idx int) bus.ActionResult {
	t.Helper()
	return runCloneAborted(t, conn, id, op, node, idx, 0)
}

// runCloneAborted is runClone, the transition aborted abortAfter after it
// was published (never when 0).
func runCloneAborted(t *testing.T, conn *bus.Conn, id string, op policies.Op, node string, idx int, abortAfter time.Duration) bus.ActionResult {
	t.Helper()
	a := policies.Action{ID: policies.ActionID(op, "db", "db-clone", idx, node), Resource: "db", Clone: "db-clone", Instance: idx, Node: node, Op: op}
	return runAction(t, conn, id, 1, a, abortAfter)
}

func role(n *testNode) string {
	for _, r := range n.lrm.Report().Resources {
		if r.Resource == "db" {
			return r.State + "/" + r.Role
		}
	}
	return "none"
}

// A promote runs only with a promoted slot lease: a second node's promote
// waits for it (and fails without counting a failure when it is not
// released in time), a demote releases it so the next promote is quick,
// and a lost lease demotes the instance, or stops it when the demote
// fails.
func TestPromotedRoleHoldsASlotLease(t *testing.T) {
	cfg, err := config.Parse("test.toml", []byte(promotableConfig))
	if err != nil {
		t.Fatal(err)
	}
	c := bustest.Start(t, bustest.Topology(t, []string{"holly", "benji"}, "director"))
	w := &roleWorld{running: map[string]bool{}, promoted: map[string]bool{}, failDemote: map[string]bool{}, holds: map[string]sdk.HoldRequest{}}
	holly := startNodeWith(t, c, roleRunner{w, "holly"}, cfg, "holly")
	benji := startNodeWith(t, c, roleRunner{w, "benji"}, cfg, "benji")
	conn := coordinate(t, c)
	ctx := context.Background()
	kv, err := conn.JS.KeyValue(ctx, bus.BucketLeases)
	if err != nil {
		t.Fatal(err)
	}
	slot := cib.PromotedLeaseKey("db-clone", 0)
	holderOf := func() string {
		ten, err := lease.ReadTenure(ctx, kv, slot)
		if err != nil {
			return ""
		}
		return ten.Node
	}

	for i, n := range []string{"holly", "benji"} {
		if r := runClone(t, conn, "start-"+n, policies.OpStart, n, i); !r.OK() {
			t.Fatalf("start on %s: %+v", n, r)
		}
	}
	if r := runClone(t, conn, "p1", policies.OpPromote, "holly", 0); !r.OK() {
		t.Fatalf("promote on holly: %+v", r)
	}
	if _, p := w.is("holly"); !p || holderOf() != "holly" || role(holly) != "started/Promoted" {
		t.Fatalf("after the promote: holly promoted %v, slot held by %q, holly reports %s", p, holderOf(), role(holly))
	}

	// The agent holds the promoted role until the slot's deadline, and the
	// hold is extended while the slot is renewed.
	first := w.hold("holly")
	if first.Role != sdk.HoldPromoted || first.Instance.CloneIndex != 0 || first.Instance.Node != "holly" || first.Until <= sdk.MonotonicNow()-time.Second {
		t.Fatalf("holly's hold after the promote: %+v", first)
	}
	poll.Until(t, 5*time.Second, 20*time.Millisecond, func() error {
		if h := w.hold("holly"); h.Until <= first.Until {
			return fmt.Errorf("hold not extended past %v", first.Until)
		}
		return nil
	})

	// benji's promote waits for the slot (LeaseWait 1 s here), then fails
	// without promoting, without a failure counted, still running.
	r := runClone(t, conn, "p2", policies.OpPromote, "benji", 1)
	if _, p := w.is("benji"); r.OK() || p || !strings.Contains(r.Message, "not promoted: none of the 1 promoted slot lease(s) of db-clone") {
		t.Fatalf("promote on benji while holly holds the slot: %+v (benji promoted %v)", r, p)
	}
	fs, _ := failures.Open(ctx, conn)
	if recs, err := fs.List(ctx); err != nil || len(recs) != 0 {
		t.Fatalf("fail-counts after a promote refused for its lease: %+v %v", recs, err)
	}
	if got := role(benji); got != "started/" {
		t.Fatalf("benji reports %s after a refused promote, want started and unpromoted", got)
	}
	// Its transition aborted while it waits for the slot: the promote is
	// cancelled, not failed (a failure would make the coordinator hold the
	// same plan back, a second or more, before promoting there).
	r = runCloneAborted(t, conn, "p2a", policies.OpPromote, "benji", 1, 200*time.Millisecond)
	if _, p := w.is("benji"); !r.Cancelled || p || !strings.Contains(r.Message, "transition aborted while waiting for a promoted slot lease") {
		t.Fatalf("promote on benji aborted while waiting for the slot: %+v (benji promoted %v), want it cancelled", r, p)
	}
	if got := role(benji); got != "started/" {
		t.Fatalf("benji reports %s after a cancelled promote, want started and unpromoted", got)
	}

	// A demote gives the slot up: benji's promote goes through at once.
	if r := runClone(t, conn, "d1", policies.OpDemote, "holly", 0); !r.OK() {
		t.Fatalf("demote on holly: %+v", r)
	}
	if h := w.hold("holly"); h.Until != 0 || h.Role != sdk.HoldPromoted {
		t.Fatalf("holly's hold after the demote: %+v, want it cancelled", h)
	}
	began := time.Now()
	if r := runClone(t, conn, "p3", policies.OpPromote, "benji", 1); !r.OK() {
		t.Fatalf("promote on benji after holly's demote: %+v", r)
	}
	t.Logf("demote on holly -> promoted on benji: %s", time.Since(began).Round(time.Millisecond))
	if holderOf() != "benji" {
		t.Fatalf("slot held by %q after benji's promote", holderOf())
	}

	// benji loses its lease (its renewals stop, as when it is cut off):
	// it demotes by itself and keeps running unpromoted, its promoted
	// instance's promotion score forgotten until a monitor says it again.
	ten := 10
	benji.lrm.mu.Lock()
	benji.lrm.entries["db"].score = &ten
	benji.lrm.mu.Unlock()
	benji.leases.Close()
	poll.Until(t, 10*time.Second, 10*time.Millisecond, func() error {
		if run, p := w.is("benji"); p || !run || role(benji) != "started/" {
			return fmt.Errorf("benji: running %v, promoted %v, reports %s", run, p, role(benji))
		}
		return nil
	})
	for _, r := range benji.lrm.Report().Resources {
		if r.Resource == "db" && r.PromotionScore != nil {
			t.Fatalf("benji reports promotion score %d after demoting for a lost slot, want none (the promoted one's is stale)", *r.PromotionScore)
		}
	}

	// holly promotes again; its demote then fails: the lost lease stops it.
	if r := runClone(t, conn, "p4", policies.OpPromote, "holly", 0); !r.OK() {
		t.Fatalf("promote on holly once benji's slot expired: %+v", r)
	}
	w.mu.Lock()
	w.failDemote["holly"] = true
	w.mu.Unlock()
	holly.leases.Close()
	poll.Until(t, 10*time.Second, 10*time.Millisecond, func() error {
		if run, p := w.is("holly"); p || run || role(holly) != "stopped/" {
			return fmt.Errorf("holly: running %v, promoted %v, reports %s", run, p, role(holly))
		}
		return nil
	})
}

// An instance a probe finds promoted (the host restarted under it) keeps
// its role only with a promoted slot: the first node adopts the free one,
// the second finds it held and demotes its instance.
func TestProbeAdoptsOrDemotesPromoted(t *testing.T) {
	cfg, err := config.Parse("test.toml", []byte(promotableConfig))
	if err != nil {
		t.Fatal(err)
	}
	c := bustest.Start(t, bustest.Topology(t, []string{"holly", "benji"}, "director"))
	w := &roleWorld{running: map[string]bool{"holly": true, "benji": true}, promoted: map[string]bool{"holly": true, "benji": true},
		failDemote: map[string]bool{}, holds: map[string]sdk.HoldRequest{}}
	holly := startNodeWith(t, c, roleRunner{w, "holly"}, cfg, "holly")
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if got := role(holly); got != "started/Promoted" {
			return fmt.Errorf("holly reports %s", got)
		}
		if h := w.hold("holly"); h.Role != sdk.HoldPromoted || h.Until == 0 {
			return fmt.Errorf("holly's hold: %+v", h)
		}
		return nil
	})
	if _, p := w.is("holly"); !p {
		t.Fatal("holly's instance demoted although the slot was free")
	}
	benji := startNodeWith(t, c, roleRunner{w, "benji"}, cfg, "benji")
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if run, p := w.is("benji"); p || !run || role(benji) != "started/" {
			return fmt.Errorf("benji: running %v, promoted %v, reports %s", run, p, role(benji))
		}
		return nil
	})
	if _, p := w.is("holly"); !p || role(holly) != "started/Promoted" {
		t.Fatalf("holly after benji's probe: promoted %v, reports %s", p, role(holly))
	}
}

// A promoted instance its monitor finds unpromoted (demoted behind the
// cluster's back) gives its slot up: another node can be promoted at once.
func TestUnpromotedByItselfReleasesTheSlot(t *testing.T) {
	cfg, err := config.Parse("test.toml", []byte(promotableConfig+`
[[resource.op]]
name = "monitor"
interval = "200ms"
`))
	if err != nil {
		t.Fatal(err)
	}
	c := bustest.Start(t, bustest.Topology(t, []string{"holly", "benji"}, "director"))
	w := &roleWorld{running: map[string]bool{}, promoted: map[string]bool{}, failDemote: map[string]bool{}, holds: map[string]sdk.HoldRequest{}}
	holly := startNodeWith(t, c, roleRunner{w, "holly"}, cfg, "holly")
	startNodeWith(t, c, roleRunner{w, "benji"}, cfg, "benji")
	conn := coordinate(t, c)
	for i, n := range []string{"holly", "benji"} {
		if r := runClone(t, conn, "start-"+n, policies.OpStart, n, i); !r.OK() {
			t.Fatalf("start on %s: %+v", n, r)
		}
	}
	if r := runClone(t, conn, "p1", policies.OpPromote, "holly", 0); !r.OK() {
		t.Fatalf("promote on holly: %+v", r)
	}
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if got := role(holly); got != "started/Promoted" {
			return fmt.Errorf("holly reports %s", got)
		}
		return nil
	})
	w.mu.Lock()
	w.promoted["holly"] = false
	w.mu.Unlock()
	kv, err := conn.JS.KeyValue(context.Background(), bus.BucketLeases)
	if err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if got := role(holly); got != "started/" {
			return fmt.Errorf("holly reports %s", got)
		}
		if ten, err := lease.ReadTenure(context.Background(), kv, cib.PromotedLeaseKey("db-clone", 0)); err == nil {
			return fmt.Errorf("the slot is still held by %s", ten.Node)
		}
		return nil
	})
	if r := runClone(t, conn, "p2", policies.OpPromote, "benji", 1); !r.OK() {
		t.Fatalf("promote on benji once holly's slot was released: %+v", r)
	}
}

// The members of a promotable cloned group promoted together on a node
// each hold a promoted slot of their own: the second member's promote
// does not wait for the first member's slot, and a member is promoted on
// another node only once its own slot there is free.
func TestPromotableGroupMembersHoldSlotsOfTheirOwn(t *testing.T) {
	cfg, err := config.Parse("test.toml", []byte(twoNodes+`
[witness]
name = "director"
address = "127.0.0.3"
[[resource]]
id = "fs"
agent = "fake"
[[resource]]
id = "db"
agent = "fake"
[[group]]
id = "g"
resources = ["fs", "db"]
[group.clone]
promotable = true
`))
	if err != nil {
		t.Fatal(err)
	}
	c := bustest.Start(t, bustest.Topology(t, []string{"holly", "benji"}, "director"))
	w := &roleWorld{running: map[string]bool{}, promoted: map[string]bool{}, failDemote: map[string]bool{}, holds: map[string]sdk.HoldRequest{}}
	startNodeWith(t, c, roleRunner{w, "holly"}, cfg, "holly")
	startNodeWith(t, c, roleRunner{w, "benji"}, cfg, "benji")
	conn := coordinate(t, c)
	ctx := context.Background()
	kv, err := conn.JS.KeyValue(ctx, bus.BucketLeases)
	if err != nil {
		t.Fatal(err)
	}
	holderOf := func(member string) string {
		ten, err := lease.ReadTenure(ctx, kv, cib.PromotedMemberLeaseKey("g-clone", member, 0))
		if err != nil {
			return ""
		}
		return ten.Node
	}
	run := func(id string, op policies.Op, rsc, node string, idx int) bus.ActionResult {
		t.Helper()
		a := policies.Action{ID: policies.ActionID(op, rsc, "g-clone", idx, node), Resource: rsc, Clone: "g-clone", Instance: idx, Node: node, Op: op}
		return runAction(t, conn, id, 1, a, 0)
	}
	for i, n := range []string{"holly", "benji"} {
		for _, rsc := range []string{"fs", "db"} {
			if r := run("start-"+rsc+"-"+n, policies.OpStart, rsc, n, i); !r.OK() {
				t.Fatalf("start %s on %s: %+v", rsc, n, r)
			}
		}
	}
	began := time.Now()
	for _, rsc := range []string{"fs", "db"} {
		if r := run("promote-"+rsc, policies.OpPromote, rsc, "holly", 0); !r.OK() {
			t.Fatalf("promote %s on holly: %+v", rsc, r)
		}
	}
	t.Logf("both members promoted on holly in %s", time.Since(began).Round(time.Millisecond))
	if holderOf("fs") != "holly" || holderOf("db") != "holly" {
		t.Fatalf("slots held by %q (fs) and %q (db), want holly", holderOf("fs"), holderOf("db"))
	}
	// db on benji: its one slot is holly's, so the promote is refused.
	if r := run("promote-db-benji", policies.OpPromote, "db", "benji", 1); r.OK() || !strings.Contains(r.Message, "not promoted: none of the 1 promoted slot lease(s) of g-clone") {
		t.Fatalf("promote db on benji while holly's db holds its slot: %+v", r)
	}
	// db demoted on holly frees db's slot only: fs keeps its own.
	if r := run("demote-db", policies.OpDemote, "db", "holly", 0); !r.OK() {
		t.Fatalf("demote db on holly: %+v", r)
	}
	if holderOf("fs") != "holly" {
		t.Fatalf("fs's slot held by %q after db's demote, want holly", holderOf("fs"))
	}
	if r := run("promote-db-benji2", policies.OpPromote, "db", "benji", 1); !r.OK() || holderOf("db") != "benji" {
		t.Fatalf("promote db on benji after holly's demote: %+v, slot held by %q", r, holderOf("db"))
	}
}
