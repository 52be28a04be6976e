package sdk

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/tandem-ha/tandem/plugins/sdk/proto"
)

// AgentPlugin is the go-plugin glue: on the plugin side it serves Agent over
// gRPC, on the host side it dispenses a *Client. Plugin authors do not need
// it (Serve uses it); hosts and the sdktest harness put it in go-plugin's
// plugin map under PluginName.
type AgentPlugin struct {
	plugin.NetRPCUnsupportedPlugin

	// Agent is served by the plugin side; nil on the host side.
	Agent Agent

	srv *server
}

var _ plugin.GRPCPlugin = (*AgentPlugin)(nil)

// GRPCServer registers the agent's services (plugin side).
func (p *AgentPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.srv == nil {
		p.srv = newServer(p.Agent)
	}
	pb.RegisterBaseServer(s, p.srv)
	pb.RegisterAgentServer(s, p.srv)
	return nil
}

// GRPCClient returns a *Client (host side). ctx ends when the plugin
// process exits.
func (p *AgentPlugin) GRPCClient(ctx context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return newClient(ctx, conn), nil
}

// PluginSet is go-plugin's plugin map for an agent (plugin side) or for
// dispensing clients (host side, agent nil).
func PluginSet(agent Agent) plugin.PluginSet {
	return plugin.PluginSet{PluginName: &AgentPlugin{Agent: agent}}
}
