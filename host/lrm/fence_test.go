package lrm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/lease"
	"github.com/tandem-ha/tandem/policies"
)

// A transition that does not come from the current coordinator is dropped
// by every node, logged and counted, whoever it claims to come from: the
// singleton keeps running where it is. The genuine coordinator's plans run.
func TestForgedPlansAreDropped(t *testing.T) {
	c, w, holly, benji, coord := setup(t)
	if r := run(t, coord, "t1", policies.OpStart, "holly"); !r.OK() {
		t.Fatalf("start on holly: %+v", r)
	}
	ctx := context.Background()
	kv, err := coord.JS.KeyValue(ctx, bus.BucketLeases)
	if err != nil {
		t.Fatal(err)
	}
	ten, err := lease.ReadTenure(ctx, kv, lease.CoordinatorKey)
	if err != nil || ten.Node != "director" {
		t.Fatalf("coordinator lease: %+v, %v", ten, err)
	}
	// Each forged plan moves the singleton: stop it on holly, start it on
	// benji.
	move := []policies.Action{
		{ID: policies.ActionID(policies.OpStop, "vip", "", 0, "holly"), Resource: "vip", Node: "holly", Op: policies.OpStop},
	}
	move = append(move, policies.Action{ID: policies.ActionID(policies.OpStart, "vip", "", 0, "benji"), Resource: "vip", Node: "benji",
		Op: policies.OpStart, After: []string{move[0].ID}})
	plan, err := json.Marshal(policies.Transition{Version: policies.TransitionVersion, Actions: move})
	if err != nil {
		t.Fatal(err)
	}
	asBenji := c.Connect("holly", "benji")       // a node that is not the coordinator
	asDirector := c.Connect("benji", "director") // claims the coordinator's name
	asMallory := c.Connect("holly", "mallory")   // anyone else on the bus
	forged := []struct {
		what string
		conn *bus.Conn
		ev   bus.TransitionEvent
	}{
		{"a non-coordinator naming itself", asBenji, bus.TransitionEvent{Coordinator: "benji", Token: ten.Token}},
		{"a non-coordinator naming the coordinator", asBenji, bus.TransitionEvent{Coordinator: "director", Token: ten.Token}},
		{"a stranger naming the coordinator", asMallory, bus.TransitionEvent{Coordinator: "director", Token: ten.Token}},
		{"the coordinator's name with a stale token", asDirector, bus.TransitionEvent{Coordinator: "director", Token: ten.Token - 1}},
		{"the coordinator's name without a token", asDirector, bus.TransitionEvent{Coordinator: "director"}},
		{"the coordinator's name with a token from the future", asDirector, bus.TransitionEvent{Coordinator: "director", Token: ten.Token + 1000}},
	}
	for i, f := range forged {
		ev := f.ev
		ev.ID, ev.ConfigRev, ev.Reason, ev.Plan = fmt.Sprintf("forged-%d", i), 1, f.what, plan
		if err := f.conn.Publish(ev); err != nil {
			t.Fatal(err)
		}
		// An abort would cancel the coordinator's plans: fenced alike.
		if err := f.conn.Publish(bus.TransitionAbort{ID: "*", Coordinator: ev.Coordinator, Token: ev.Token, Reason: f.what}); err != nil {
			t.Fatal(err)
		}
		want := uint64(2 * (i + 1))
		poll.Until(t, 10*time.Second, 10*time.Millisecond, func() error {
			if !w.is("holly", "vip") || w.is("benji", "vip") || holly.state("vip") != bus.StateStarted {
				t.Fatalf("after a plan from %s: vip running on holly %v, on benji %v (holly reports %s); want it left on holly",
					f.what, w.is("holly", "vip"), w.is("benji", "vip"), holly.state("vip"))
			}
			if hf, bf := holly.lrm.Fenced(), benji.lrm.Fenced(); hf != want || bf != want {
				return fmt.Errorf("after %s: holly dropped %d, benji %d events; want %d each", f.what, hf, bf, want)
			}
			return nil
		})
	}
	// The genuine coordinator's plan runs.
	if r := run(t, coord, "t2", policies.OpStop, "holly"); !r.OK() || w.is("holly", "vip") {
		t.Fatalf("the coordinator's stop on holly: %+v", r)
	}
	if r := run(t, coord, "t3", policies.OpStart, "benji"); !r.OK() || !w.is("benji", "vip") {
		t.Fatalf("the coordinator's start on benji: %+v", r)
	}
}

// flakyLeases cannot read the lease until readable, as while the leases
// stream elects a leader; then it reads the tenure.
type flakyLeases struct {
	Leases
	readable time.Time
	tenure   lease.Tenure
}

func (f flakyLeases) Tenure(context.Context, string) (lease.Tenure, error) {
	if time.Now().Before(f.readable) {
		return lease.Tenure{}, fmt.Errorf("reading lease coordinator: %w", errors.New("nats: no response from stream"))
	}
	return f.tenure, nil
}

// A genuine plan that arrives while the lease cannot be read waits for the
// read (up to one election) instead of being dropped after 1.5 s, which
// left the coordinator waiting for the transition's timeout (30 s) before
// it planned again; once readable, the lease decides as always.
func TestPlanWaitsOutAnElection(t *testing.T) {
	for _, tc := range []struct {
		what   string
		now    lease.Tenure // the tenure read once the lease is readable
		admits bool
	}{
		{"the new coordinator's first plan", lease.Tenure{Node: "director", Token: 9}, true},
		{"a plan whose tenure another node has taken over since", lease.Tenure{Node: "holly", Token: 12}, false},
	} {
		t.Run(tc.what, func(t *testing.T) {
			l := &LRM{cfg: Config{Leases: flakyLeases{readable: time.Now().Add(3 * time.Second), tenure: tc.now}},
				tenure: lease.Tenure{Node: "holly", Token: 5}} // read before the fault
			why := l.checkLease(context.Background(), "director", 9)
			if (why == "") != tc.admits {
				t.Fatalf("director's plan with token 9 after 3 s of an unreadable lease (then %+v): got reason %q; want admitted %v",
					tc.now, why, tc.admits)
			}
		})
	}
}
