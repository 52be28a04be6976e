package sdk

// Holds on the promoted role: the host holds a promotable clone's instance
// promoted only while it holds a promoted slot lease, and gives the plugin
// the lease's fence deadline as a hold with Role HoldPromoted. If no newer
// hold comes by then (the host is frozen, or cut off and fenced), the SDK
// demotes the instance by itself, and stops it if the demote fails: no
// agent code is needed beyond Promoter.

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// lapseTimeout bounds the demote (and the stop after a failed demote) of
// a lapsed promoted hold.
const lapseTimeout = 20 * time.Second

type roleHolds struct {
	mu     sync.Mutex
	timers map[string]*roleTimer // by HoldKey
}

type roleTimer struct {
	t *time.Timer
}

// holdRole sets, extends or (Until 0) cancels a hold on a promoted
// instance.
func (s *server) holdRole(h HoldRequest) Result {
	if h.Role != HoldPromoted {
		return Resultf(ErrArgs, "hold: unknown role %q (only %q is held)", h.Role, HoldPromoted)
	}
	if _, ok := s.agent.(Promoter); !ok {
		return unimplemented("promote and demote, so its promoted role cannot be held")
	}
	s.roles.mu.Lock()
	if s.roles.timers == nil {
		s.roles.timers = map[string]*roleTimer{}
	}
	k := HoldKey(h)
	if old := s.roles.timers[k]; old != nil {
		old.t.Stop()
		delete(s.roles.timers, k)
	}
	if h.Until != 0 {
		rt := &roleTimer{}
		rt.t = time.AfterFunc(max(h.Until-MonotonicNow(), 0), func() {
			s.roles.mu.Lock()
			current := s.roles.timers[k] == rt
			if current {
				delete(s.roles.timers, k)
			}
			s.roles.mu.Unlock()
			if !current {
				return // extended or cancelled meanwhile
			}
			s.holds.record(HoldRequest{ResourceID: h.ResourceID, Role: h.Role, Instance: h.Instance})
			ctx, cancel := context.WithTimeout(context.Background(), lapseTimeout)
			defer cancel()
			s.lapse(ctx, h, "hold lapsed")
		})
		s.roles.timers[k] = rt
	}
	s.roles.mu.Unlock()
	s.holds.record(h)
	return Result{}
}

// cancel drops the timer of a role hold (its lapse is handled now).
func (r *roleHolds) cancel(h HoldRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t := r.timers[HoldKey(h)]; t != nil {
		t.t.Stop()
		delete(r.timers, HoldKey(h))
	}
}

// lapse demotes the instance of a promoted hold that nobody renews, and
// stops it if the demote fails.
func (s *server) lapse(ctx context.Context, h HoldRequest, why string) {
	p := s.agent.(Promoter)
	deadline, _ := ctx.Deadline()
	req := Request{ResourceID: h.ResourceID, AgentType: h.AgentType, Params: h.Params, Instance: h.Instance, Deadline: deadline}
	res := s.call("demote", ctx, deadline, func(ctx context.Context) Result { return p.Demote(ctx, req) })
	if Code(res.Code) == OK {
		slog.Warn(why+": demoted the promoted instance", "resource", h.ResourceID, "instance", h.Instance.CloneIndex)
		return
	}
	slog.Error(why+": demote failed, stopping the instance", "resource", h.ResourceID, "instance", h.Instance.CloneIndex, "message", res.Message)
	res = s.call("stop", ctx, deadline, func(ctx context.Context) Result { return s.agent.Stop(ctx, req) })
	slog.Warn(why+": stopped the instance", "resource", h.ResourceID, "instance", h.Instance.CloneIndex, "code", Code(res.Code).String(), "message", res.Message)
}
