package ocf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// An OCF agent knows nothing of leases. The bridge keeps the hold for it:
// the host sends a Hold at every renewal of a singleton's lease, and when
// the deadline passes without a newer one, a timer in this process (not
// in the host, which may be frozen) kills whatever action of the resource
// is under way (its process group) and runs the agent's stop. When the
// host dies, sdk.Serve stops every held resource before the plugin exits.

// errHoldLapsed is the cause of an action cut off by its resource's hold.
var errHoldLapsed = errors.New("the lease hold lapsed")

// holdStopTimeout bounds the stop run when a hold lapses, when the
// agent's meta-data advertises no stop timeout.
const holdStopTimeout = 20 * time.Second

var _ sdk.Holder = (*Agent)(nil)

// holds are the holds in force and the actions that a lapse cuts off.
type holds struct {
	mu      sync.Mutex
	held    map[string]*hold         // by resource id
	running map[string]runningAction // the action under way, by resource id
	nodes   map[string]string        // the node the host last named, by resource id
}

type runningAction struct {
	action string
	cancel context.CancelCauseFunc
}

type hold struct {
	until time.Duration // CLOCK_MONOTONIC
	stop  time.Duration // the stop's timeout
	timer *time.Timer
	req   sdk.HoldRequest
}

// Hold sets the deadline until which the resource may stay active here.
// Until = 0 cancels the hold. A deadline already past stops the resource
// at once and fails, so that the host learns it was late.
func (a *Agent) Hold(ctx context.Context, req sdk.HoldRequest) sdk.Result {
	s, err := a.resolve(req.AgentType)
	if err != nil {
		return resolveResult(err)
	}
	// The stop's timeout, from the agent's meta-data if it is cached;
	// otherwise it is read in the background for the next hold, so that
	// a hold answers at once (the host gives it 1 s).
	stop, cached := a.stopTimeout(s)
	if !cached {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), metaDataTimeout)
			defer cancel()
			_, _ = a.meta(ctx, s)
		}()
	}
	h := &a.holds
	h.mu.Lock()
	if h.held == nil {
		h.held = map[string]*hold{}
	}
	if old := h.held[req.ResourceID]; old != nil {
		old.timer.Stop()
		delete(h.held, req.ResourceID)
	}
	if req.Until == 0 {
		h.mu.Unlock()
		return sdk.Resultf(sdk.OK, "hold on %s cancelled: no deadline", req.ResourceID)
	}
	now := sdk.MonotonicNow()
	if req.Until <= now {
		h.mu.Unlock()
		late := (now - req.Until).Round(time.Millisecond)
		res := a.lapse(s, req, stop, fmt.Sprintf("hold deadline had passed %s before it arrived", late))
		return sdk.Resultf(sdk.ErrGeneric, "hold on %s arrived %s after its deadline: %s", req.ResourceID, late, res.Message)
	}
	nh := &hold{until: req.Until, stop: stop, req: req}
	nh.timer = time.AfterFunc(req.Until-now, func() { a.holdFired(s, nh) })
	h.held[req.ResourceID] = nh
	h.mu.Unlock()
	return sdk.Resultf(sdk.OK, "%s held for %s", req.ResourceID, (req.Until - now).Round(time.Millisecond))
}

func (a *Agent) holdFired(s script, nh *hold) {
	h := &a.holds
	h.mu.Lock()
	if h.held[nh.req.ResourceID] != nh {
		h.mu.Unlock()
		return // replaced or cancelled meanwhile
	}
	if now := sdk.MonotonicNow(); now < nh.until {
		nh.timer = time.AfterFunc(nh.until-now, func() { a.holdFired(s, nh) })
		h.mu.Unlock()
		return
	}
	delete(h.held, nh.req.ResourceID)
	h.mu.Unlock()
	a.lapse(s, nh.req, nh.stop, "hold expired without renewal")
}

// lapse cuts off the resource's action under way and runs its stop.
func (a *Agent) lapse(s script, req sdk.HoldRequest, timeout time.Duration, why string) sdk.Result {
	started := time.Now()
	h := &a.holds
	h.mu.Lock()
	if r, ok := h.running[req.ResourceID]; ok && r.action != "stop" {
		// A stop under way is let finish; the one below then finds the
		// resource stopped.
		r.cancel(errHoldLapsed)
	}
	node := h.nodes[req.ResourceID]
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res := a.action(ctx, "stop", sdk.Request{ResourceID: req.ResourceID, AgentType: req.AgentType, Params: req.Params,
		Instance: sdk.Instance{Node: node, CloneIndex: -1}})
	took := time.Since(started).Round(time.Millisecond)
	if res.Code == sdk.OK {
		slog.Warn("hold lapsed: the host did not renew it in time; resource stopped", "resource", req.ResourceID, "agent", s.agent, "reason", why, "stop took", took.String())
		return sdk.Resultf(sdk.OK, "%s stopped in %s", req.ResourceID, took)
	}
	slog.Error("hold lapsed: stop failed", "resource", req.ResourceID, "agent", s.agent, "reason", why, "message", res.Message)
	return sdk.Resultf(res.Code, "stop of %s failed: %s", req.ResourceID, res.Message)
}

// stopTimeout is the stop timeout the agent advertises in its cached
// meta-data, else holdStopTimeout; cached says whether its meta-data was.
func (a *Agent) stopTimeout(s script) (timeout time.Duration, cached bool) {
	a.mu.Lock()
	c, ok := a.metas[s.path]
	a.mu.Unlock()
	if ok {
		if i := indexAction(c.meta.md.Actions, "stop"); i >= 0 && c.meta.md.Actions[i].Timeout > 0 {
			return c.meta.md.Actions[i].Timeout, true
		}
	}
	return holdStopTimeout, ok
}

// track registers the action of resource id under way, so that a lapsing
// hold can cut it off; the function it returns unregisters it.
func (h *holds) track(id, node, action string, cancel context.CancelCauseFunc) func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.running == nil {
		h.running, h.nodes = map[string]runningAction{}, map[string]string{}
	}
	h.running[id] = runningAction{action: action, cancel: cancel}
	if node != "" {
		h.nodes[id] = node
	}
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.running, id)
	}
}
