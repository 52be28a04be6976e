package sdk

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	pb "github.com/tandem-ha/tandem/plugins/sdk/proto"
)

// Client is the host side of the wire: the same operations as Agent (and
// Reloader, Notifier, Holder), each returning the agent's Result, or an error
// when the call itself failed (the plugin is gone, the context ended before
// an answer). A Result with a non-OK code is the agent's answer, not an
// error.
type Client struct {
	conn  *grpc.ClientConn
	base  pb.BaseClient
	agent pb.AgentClient
	// done ends when the plugin process exits (go-plugin cancels it).
	done context.Context
}

func newClient(done context.Context, conn *grpc.ClientConn) *Client {
	return &Client{conn: conn, base: pb.NewBaseClient(conn), agent: pb.NewAgentClient(conn), done: done}
}

// Done is closed when the plugin process behind the client has exited.
func (c *Client) Done() <-chan struct{} { return c.done.Done() }

// Info asks the plugin who it is.
func (c *Client) Info(ctx context.Context) (Info, error) {
	resp, err := c.base.Info(ctx, &pb.InfoRequest{HostApiVersions: APIVersions})
	if err != nil {
		return Info{}, fmt.Errorf("info: %w", err)
	}
	return infoFromProto(resp), nil
}

// ErrNoMetaData wraps the agent's refusal to describe a type (usually: it
// does not provide that type).
var ErrNoMetaData = errors.New("no meta-data")

// MetaData asks for an agent type's self-description.
func (c *Client) MetaData(ctx context.Context, agentType string) (MetaData, error) {
	resp, err := c.base.MetaData(ctx, &pb.MetaDataRequest{AgentType: agentType})
	if err != nil {
		return MetaData{}, fmt.Errorf("meta-data: %w", err)
	}
	if resp.GetError() != "" {
		return MetaData{}, fmt.Errorf("%w for agent type %q: %s", ErrNoMetaData, agentType, resp.GetError())
	}
	return metaDataFromProto(resp.GetMetaData()), nil
}

// Validate asks whether params are usable.
func (c *Client) Validate(ctx context.Context, req ValidateRequest) (Result, error) {
	return c.result("validate")(c.base.Validate(ctx, &pb.ValidateRequest{AgentType: req.AgentType, Params: req.Params}))
}

// Start starts the resource.
func (c *Client) Start(ctx context.Context, req Request) (Result, error) {
	return c.result("start")(c.agent.Start(ctx, requestToProto(req)))
}

// Stop stops the resource.
func (c *Client) Stop(ctx context.Context, req Request) (Result, error) {
	return c.result("stop")(c.agent.Stop(ctx, requestToProto(req)))
}

// Monitor checks the resource.
func (c *Client) Monitor(ctx context.Context, req Request) (Result, error) {
	return c.result("monitor")(c.agent.Monitor(ctx, requestToProto(req)))
}

// Reload applies new params; ErrUnimplemented when the agent cannot.
func (c *Client) Reload(ctx context.Context, req Request) (Result, error) {
	return c.result("reload")(c.agent.Reload(ctx, requestToProto(req)))
}

// Notify tells the agent about a change in the cluster; ErrUnimplemented
// when the agent does not listen.
func (c *Client) Notify(ctx context.Context, req Request) (Result, error) {
	return c.result("notify")(c.agent.Notify(ctx, requestToProto(req)))
}

// Hold extends a fenced resource's deadline; ErrUnimplemented when the
// agent has no fenced resources.
func (c *Client) Hold(ctx context.Context, req HoldRequest) (Result, error) {
	return c.result("hold")(c.agent.Hold(ctx, holdToProto(req)))
}

// Promote makes a promotable clone's instance the Promoted one;
// ErrUnimplemented when the agent (or a plugin built before promote
// existed) cannot.
func (c *Client) Promote(ctx context.Context, req Request) (Result, error) {
	return c.optional("promote")(c.agent.Promote(ctx, requestToProto(req)))
}

// Demote makes a promoted instance Unpromoted again; ErrUnimplemented when
// the agent cannot.
func (c *Client) Demote(ctx context.Context, req Request) (Result, error) {
	return c.optional("demote")(c.agent.Demote(ctx, requestToProto(req)))
}

// optional is result for an RPC a plugin built with an older SDK does not
// serve: gRPC's Unimplemented becomes the agent code ErrUnimplemented.
func (c *Client) optional(op string) func(*pb.Result, error) (Result, error) {
	return func(r *pb.Result, err error) (Result, error) {
		if status.Code(err) == codes.Unimplemented {
			return Resultf(ErrUnimplemented, "%s: the plugin does not serve it (built with an older SDK)", op), nil
		}
		return c.result(op)(r, err)
	}
}

// Ping checks that the plugin's gRPC server answers (go-plugin's health
// service), within ctx. A plugin busy in a slow agent call still answers.
func (c *Client) Ping(ctx context.Context) error {
	resp, err := grpc_health_v1.NewHealthClient(c.conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: plugin.GRPCServiceName})
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	if resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		return fmt.Errorf("ping: plugin reports %s", resp.GetStatus())
	}
	return nil
}

func (c *Client) result(op string) func(*pb.Result, error) (Result, error) {
	return func(r *pb.Result, err error) (Result, error) {
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", op, err)
		}
		return resultFromProto(r), nil
	}
}
