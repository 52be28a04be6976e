package sdk

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"strconv"
	"sync"
	"time"

	pb "github.com/tandem-ha/tandem/plugins/sdk/proto"
)

// server is the plugin side of the wire: it turns gRPC calls into calls of
// the Agent.
type server struct {
	pb.UnimplementedBaseServer
	pb.UnimplementedAgentServer

	agent Agent
	holds *holdTable
	roles roleHolds // promoted instances under a hold (rolehold.go)
}

var (
	_ pb.BaseServer  = (*server)(nil)
	_ pb.AgentServer = (*server)(nil)
)

func newServer(agent Agent) *server {
	return &server{agent: agent, holds: &holdTable{held: map[string]HoldRequest{}}}
}

// info is the agent's Info with the SDK's API versions filled in when the
// agent leaves them out.
func (s *server) info() Info {
	i := s.agent.Info()
	if len(i.APIVersions) == 0 {
		i.APIVersions = append([]string(nil), APIVersions...)
	}
	return i
}

func (s *server) Info(ctx context.Context, req *pb.InfoRequest) (*pb.InfoResponse, error) {
	return infoToProto(s.info()), nil
}

func (s *server) MetaData(ctx context.Context, req *pb.MetaDataRequest) (resp *pb.MetaDataResponse, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp = &pb.MetaDataResponse{Error: panicMessage("meta-data", p)}
		}
	}()
	md, err := s.agent.MetaData(req.GetAgentType())
	if err != nil {
		return &pb.MetaDataResponse{Error: err.Error()}, nil
	}
	return &pb.MetaDataResponse{MetaData: metaDataToProto(withReload(md, s.agent))}, nil
}

func (s *server) Validate(ctx context.Context, req *pb.ValidateRequest) (*pb.Result, error) {
	vr := ValidateRequest{AgentType: req.GetAgentType(), Params: req.GetParams()}
	if vr.Params == nil {
		vr.Params = map[string]string{}
	}
	return s.call("validate", ctx, time.Time{}, func(ctx context.Context) Result { return s.agent.Validate(ctx, vr) }), nil
}

func (s *server) Start(ctx context.Context, req *pb.Request) (*pb.Result, error) {
	r := requestFromProto(req)
	return s.call("start", ctx, r.Deadline, func(ctx context.Context) Result { return s.agent.Start(ctx, r) }), nil
}

func (s *server) Stop(ctx context.Context, req *pb.Request) (*pb.Result, error) {
	r := requestFromProto(req)
	return s.call("stop", ctx, r.Deadline, func(ctx context.Context) Result { return s.agent.Stop(ctx, r) }), nil
}

func (s *server) Monitor(ctx context.Context, req *pb.Request) (*pb.Result, error) {
	r := requestFromProto(req)
	return s.call("monitor", ctx, r.Deadline, func(ctx context.Context) Result { return s.agent.Monitor(ctx, r) }), nil
}

func (s *server) Reload(ctx context.Context, req *pb.Request) (*pb.Result, error) {
	rl, ok := s.agent.(Reloader)
	if !ok {
		return resultToProto(unimplemented("reload")), nil
	}
	r := requestFromProto(req)
	return s.call("reload", ctx, r.Deadline, func(ctx context.Context) Result { return rl.Reload(ctx, r) }), nil
}

func (s *server) Notify(ctx context.Context, req *pb.Request) (*pb.Result, error) {
	n, ok := s.agent.(Notifier)
	if !ok {
		return resultToProto(unimplemented("notify")), nil
	}
	r := requestFromProto(req)
	return s.call("notify", ctx, r.Deadline, func(ctx context.Context) Result { return n.Notify(ctx, r) }), nil
}

func (s *server) Promote(ctx context.Context, req *pb.Request) (*pb.Result, error) {
	p, ok := s.agent.(Promoter)
	if !ok {
		return resultToProto(unimplemented("promote")), nil
	}
	r := requestFromProto(req)
	return s.call("promote", ctx, r.Deadline, func(ctx context.Context) Result { return p.Promote(ctx, r) }), nil
}

func (s *server) Demote(ctx context.Context, req *pb.Request) (*pb.Result, error) {
	p, ok := s.agent.(Promoter)
	if !ok {
		return resultToProto(unimplemented("demote")), nil
	}
	r := requestFromProto(req)
	return s.call("demote", ctx, r.Deadline, func(ctx context.Context) Result { return p.Demote(ctx, r) }), nil
}

func (s *server) Hold(ctx context.Context, req *pb.HoldRequest) (*pb.Result, error) {
	hr := holdFromProto(req)
	if hr.Role != "" {
		return resultToProto(s.holdRole(hr)), nil
	}
	h, ok := s.agent.(Holder)
	if !ok {
		return resultToProto(unimplemented("hold")), nil
	}
	res := s.call("hold", ctx, time.Time{}, func(ctx context.Context) Result { return h.Hold(ctx, hr) })
	if res.Code == int32(OK) {
		s.holds.record(hr)
	}
	return res, nil
}

func unimplemented(action string) Result {
	return Resultf(ErrUnimplemented, "this agent does not implement %s", action)
}

// call runs one agent method with the request's deadline on its context,
// turning a panic into a generic error so one bad call does not take down
// every resource the plugin serves.
func (s *server) call(action string, ctx context.Context, deadline time.Time, f func(context.Context) Result) (res *pb.Result) {
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	defer func() {
		if p := recover(); p != nil {
			res = resultToProto(Result{Code: ErrGeneric, Message: panicMessage(action, p)})
		}
	}()
	return resultToProto(f(ctx))
}

func panicMessage(action string, p any) string {
	slog.Error("agent panicked", "action", action, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	return fmt.Sprintf("agent panicked during %s: %v", action, p)
}

// holdTable remembers the holds in force, so that a plugin whose host is
// gone can release the fenced resources before it exits (nobody would renew
// them, and nobody would be left to enforce their deadline).
type holdTable struct {
	mu   sync.Mutex
	held map[string]HoldRequest // by HoldKey
}

// HoldKey tells holds apart: a resource's by its id, a role's by the
// resource, the role and the instance.
func HoldKey(h HoldRequest) string {
	if h.Role == "" {
		return h.ResourceID
	}
	return h.ResourceID + " " + h.Role + " " + strconv.Itoa(h.Instance.CloneIndex)
}

func (t *holdTable) record(h HoldRequest) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h.Until == 0 {
		delete(t.held, HoldKey(h))
		return
	}
	t.held[HoldKey(h)] = h
}

func (t *holdTable) list() []HoldRequest {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]HoldRequest, 0, len(t.held))
	for _, h := range t.held {
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return HoldKey(out[i]) < HoldKey(out[j]) })
	return out
}

// releaseHolds stops every resource under a hold, and demotes every
// instance whose promoted role is under one (stops it if the demote
// fails), all within budget. It is what the holds' deadlines would do
// anyway, only sooner: the host that renewed them is gone.
func (s *server) releaseHolds(budget time.Duration) {
	held := s.holds.list()
	if len(held) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	deadline, _ := ctx.Deadline()
	var wg sync.WaitGroup
	for _, h := range held {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if h.Role != "" {
				s.roles.cancel(h)
				s.lapse(ctx, h, "host gone")
				return
			}
			req := Request{
				ResourceID: h.ResourceID,
				AgentType:  h.AgentType,
				Params:     h.Params,
				Instance:   Instance{CloneIndex: -1},
				Deadline:   deadline,
			}
			res := s.call("stop", ctx, deadline, func(ctx context.Context) Result { return s.agent.Stop(ctx, req) })
			slog.Warn("host gone: released held resource", "resource", h.ResourceID, "code", Code(res.Code).String(), "message", res.Message)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		slog.Error("host gone: releasing held resources did not finish in time", "budget", budget)
	}
}
