package lrm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/policies"
	"github.com/tandem-ha/tandem/policies/cib"
)

// reloadConfig is testConfig with a parameter the fake agent declares
// reloadable (reloadMeta), set to ip.
func reloadConfig(t *testing.T, ip string) *cib.CIB {
	t.Helper()
	cfg, err := config.Parse("test.toml", []byte(strings.Replace(testConfig, `agent = "fake"`, `agent = "fake"
params = { ip = "`+ip+`" }`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.CIB.Resources[0].Params["ip"]; got != ip {
		t.Fatalf("reloadConfig: vip's ip is %q, want %q", got, ip)
	}
	return cfg.CIB
}

// reloadMeta is the fake agent's meta-data: ip is reloadable.
func reloadMeta(context.Context, string) (sdk.MetaData, error) {
	return sdk.MetaData{
		Params:  []sdk.ParamSpec{{Name: "ip", Reloadable: true}},
		Actions: []sdk.ActionSpec{{Name: "start"}, {Name: "stop"}, {Name: "monitor", Interval: 200 * time.Millisecond}, {Name: "reload"}},
	}, nil
}

// paramRunner is the fake agent with a reload, which waits at gate; it
// records the parameters of every call and hold, and whether a monitor ran
// while a reload did.
type paramRunner struct {
	nodeRunner
	entered   chan struct{} // closed when the first reload begins
	gate      chan struct{} // the reload finishes once it is closed
	once      sync.Once
	reloading atomic.Bool

	mu           sync.Mutex
	calls        []string // "op ip=VALUE"
	holds        []string // "ip=VALUE" of each hold with a deadline
	monDuringRel int
}

func (r *paramRunner) Run(ctx context.Context, agent, op string, req sdk.Request, timeout time.Duration) supervisor.Outcome {
	r.mu.Lock()
	r.calls = append(r.calls, op+" ip="+req.Params["ip"])
	if op == bus.OpMonitor && r.reloading.Load() {
		r.monDuringRel++
	}
	r.mu.Unlock()
	if op != bus.OpReload {
		return r.nodeRunner.Run(ctx, agent, op, req, timeout)
	}
	r.reloading.Store(true)
	defer r.reloading.Store(false)
	r.once.Do(func() { close(r.entered) })
	select {
	case <-r.gate:
	case <-ctx.Done():
		return supervisor.Outcome{Result: sdk.Result{Code: sdk.ErrGeneric, Message: "reload cut off"}, TimedOut: true, Started: time.Now()}
	}
	return supervisor.Outcome{Result: sdk.Result{Code: sdk.OK}, Started: time.Now()}
}

func (r *paramRunner) Hold(ctx context.Context, agent string, req sdk.HoldRequest, timeout time.Duration) supervisor.Outcome {
	if req.Until != 0 {
		r.mu.Lock()
		r.holds = append(r.holds, "ip="+req.Params["ip"])
		r.mu.Unlock()
	}
	return r.nodeRunner.Hold(ctx, agent, req, timeout)
}

func (r *paramRunner) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// A reload of a running singleton (a reloadable parameter changed) holds
// the instance: while the agent reloads, and for several lease TTLs, the
// node keeps reporting it started, runs no stop, start or monitor of it,
// and keeps extending the agent's hold; afterwards it runs with the new
// parameters, and so does everything that speaks for it: the holds it
// sends, and the stop it runs when its lease is lost (with the old
// parameters, an agent that fences by itself, or the stop after a lease
// loss, would act on what the resource no longer is).
func TestReloadHoldsTheInstance(t *testing.T) {
	var live atomic.Pointer[liveconfig.Revision]
	live.Store(&liveconfig.Revision{Rev: 1, CIB: reloadConfig(t, "198.18.0.70")})
	liveFn := func() liveconfig.Revision { return *live.Load() }
	c := bustest.Start(t, bustest.Topology(t, []string{"holly", "benji"}, "director"))
	w := newWorld()
	pr := &paramRunner{nodeRunner: nodeRunner{w, "holly"}, entered: make(chan struct{}), gate: make(chan struct{})}
	holly := startNodeLive(t, c, pr, "holly", liveFn, reloadMeta)
	conn := coordinate(t, c)
	if r := run(t, conn, "t1", policies.OpStart, "holly"); !r.OK() {
		t.Fatalf("start on holly: %+v", r)
	}
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if s := holly.state("vip"); s != bus.StateStarted {
			return fmt.Errorf("holly reports %s", s)
		}
		return nil
	})

	// The update: ip changes, and the agent declares it reloadable.
	updated := reloadConfig(t, "198.18.0.71")
	live.Store(&liveconfig.Revision{Rev: 2, CIB: updated})
	holly.lrm.ConfigChanged()
	select {
	case <-pr.entered:
	case <-time.After(10 * time.Second):
		t.Fatalf("no reload after the update; calls: %v", pr.calls)
	}
	startsStops := pr.count("start") + pr.count("stop")

	// The agent reloads for three lease TTLs.
	window := 3 * time.Second
	end := time.Now().Add(window)
	w.mu.Lock()
	holdAtReload := w.holds["holly/vip"]
	w.mu.Unlock()
	for time.Now().Before(end) {
		if s := holly.state("vip"); s != bus.StateStarted {
			t.Fatalf("holly reports vip %s while it reloads", s)
		}
		if !w.is("holly", "vip") {
			t.Fatal("vip stopped on holly while it reloads")
		}
		if n := pr.count("start") + pr.count("stop"); n != startsStops {
			t.Fatalf("a start or stop ran while vip reloads: %v", pr.calls)
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.mu.Lock()
	holdNow := w.holds["holly/vip"]
	w.mu.Unlock()
	if !holdNow.After(holdAtReload) || !holdNow.After(time.Now()) {
		t.Fatalf("the hold was not extended while vip reloaded: deadline %v at the reload, %v after %s (now %v)",
			holdAtReload.Format(time.StampMilli), holdNow.Format(time.StampMilli), window, time.Now().Format(time.StampMilli))
	}
	pr.mu.Lock()
	mons := pr.monDuringRel
	pr.mu.Unlock()
	if mons != 0 {
		t.Errorf("%d monitors ran while vip reloaded", mons)
	}

	close(pr.gate)
	want := cib.ParamsDigest(updated.Resources[0].Params)
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		for _, r := range holly.lrm.Report().Resources {
			if r.Resource == "vip" && r.State == bus.StateStarted && r.Params == want {
				return nil
			}
		}
		return fmt.Errorf("holly does not report vip started with its new parameters: %+v", holly.lrm.Report().Resources)
	})
	if n := pr.count("start") + pr.count("stop"); n != startsStops {
		t.Fatalf("a start or stop ran for the reload: %v", pr.calls)
	}
	// The monitors and the holds speak of the new parameters.
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if pr.count("monitor ip=198.18.0.71") == 0 {
			return errors.New("no monitor with the new parameters yet")
		}
		pr.mu.Lock()
		defer pr.mu.Unlock()
		if last := pr.holds[len(pr.holds)-1]; last != "ip=198.18.0.71" {
			return fmt.Errorf("the last hold sent carries %s, want the new ip=198.18.0.71", last)
		}
		return nil
	})

	// The lease lost: the stop is of the resource as it runs now.
	holly.leases.Close()
	poll.Until(t, 10*time.Second, 20*time.Millisecond, func() error {
		if w.is("holly", "vip") || holly.state("vip") != bus.StateStopped {
			return fmt.Errorf("holly still runs it (state %s)", holly.state("vip"))
		}
		return nil
	})
	if n := pr.count("stop ip=198.18.0.70"); n != 0 {
		t.Errorf("the stop after the lease loss ran with the old parameters: %v", pr.calls)
	}
	if n := pr.count("stop ip=198.18.0.71"); n != 1 {
		t.Errorf("want one stop with the new parameters after the lease loss: %v", pr.calls)
	}
}
