package haproxy

import (
	"fmt"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// MetaData documents the haproxy agent type.
func (a *Agent) MetaData(agentType string) (sdk.MetaData, error) {
	if agentType != Name && agentType != "" {
		return sdk.MetaData{}, fmt.Errorf("agent type %q: the haproxy plugin provides one type, haproxy (agent = \"haproxy\")", agentType)
	}
	return sdk.MetaData{
		Type: Name, Version: Version,
		ShortDesc: "HAProxy load balancer, its backends following the cluster",
		LongDesc: "Runs HAProxy on a configuration rendered from these params (global and defaults as the usual " +
			"haproxy.cfg, and one listen section: bind, balance, one server per node of the cluster) or on the admin's " +
			"file (config). Every configuration is checked with `haproxy -c` before it replaces the running one; an invalid " +
			"one is refused with HAProxy's message and the running HAProxy keeps its configuration. Reloads are graceful " +
			"(master-worker: the new workers take the listening sockets over). When the nodes running backend_clone change " +
			"(notify, and also at start and monitor), the servers of nodes that stopped running it go to down_state and the " +
			"others back to ready through the runtime API on the stats socket, without a reload; only a change of the server " +
			"list itself (a node added, an address changed) reloads. The VIP need not be local when HAProxy starts: the bind " +
			"is transparent (IP_TRANSPARENT), or set nonlocal_bind. Monitor: the master runs and a worker answers on the " +
			"stats socket; the servers' states are in the message.",
		Params: paramSpecs,
		Actions: []sdk.ActionSpec{
			{Name: "start", Timeout: 60 * time.Second},
			{Name: "stop", Timeout: 60 * time.Second},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 15 * time.Second},
			{Name: "reload", Timeout: 60 * time.Second},
			{Name: "notify", Timeout: 30 * time.Second},
			{Name: "validate", Timeout: 20 * time.Second},
		},
	}, nil
}

// rendered marks the parameters that only shape a rendered configuration.
const rendered = " Rendered mode only (refused with config)."

// paramSpecs are the haproxy agent's parameters: MetaData documents them
// and ParseParams checks a resource's against them.
var paramSpecs = []sdk.ParamSpec{
	{Name: ParamBind, Type: "string", Description: "Address:port the listen section binds (198.18.0.23:80; [2001:2::23]:80 for IPv6; :80 for every IPv4 address). Required unless config is set."},
	{Name: ParamBackendClone, Type: "string", Description: "Clone (or resource) id whose nodes receive traffic (httpd-clone): every node of the cluster is a server, ready while it runs this clone, else in down_state. Empty: every online node is ready."},
	{Name: ParamBackendPort, Type: "port", Default: fmt.Sprint(DefaultBackendPort), Description: "Port of the servers, on each node's cluster address." + rendered},
	{Name: ParamProxy, Type: "string", Default: DefaultProxy, Description: "Name of the listen section. With config: the proxy (listen or backend) whose servers are named after the nodes, which notify sets to ready and down_state."},
	{Name: ParamMode, Type: "enum", Values: []string{"http", "tcp"}, Default: "http", Description: "http or tcp." + rendered},
	{Name: ParamBalance, Type: "enum", Values: balances, Default: "roundrobin", Description: "Balance algorithm." + rendered},
	{Name: ParamCheck, Type: "boolean", Default: "true", Description: "HAProxy's own health checks on each server (check)." + rendered},
	{Name: ParamCheckInterval, Type: "duration", Default: DefaultCheckInterval.String(), Min: "1ms", Max: "1h", Description: "Time between checks (inter); a bare number is seconds." + rendered},
	{Name: ParamRise, Type: "integer", Default: fmt.Sprint(DefaultRise), Min: "1", Max: "100", Description: "Consecutive passed checks that bring a server up." + rendered},
	{Name: ParamFall, Type: "integer", Default: fmt.Sprint(DefaultFall), Min: "1", Max: "100", Description: "Consecutive failed checks that take a server down." + rendered},
	{Name: ParamCheckPath, Type: "string", Description: "HTTP check: GET this path (option httpchk) instead of a TCP connect; mode http only." + rendered},
	{Name: ParamMaxconn, Type: "integer", Default: fmt.Sprint(DefaultMaxconn), Min: "1", Max: "10000000", Description: "Global and per-proxy maxconn." + rendered},
	{Name: ParamTimeoutConnect, Type: "duration", Default: "10s", Min: "1ms", Max: "24h", Description: "timeout connect." + rendered},
	{Name: ParamTimeoutClient, Type: "duration", Default: "1m", Min: "1ms", Max: "24h", Description: "timeout client." + rendered},
	{Name: ParamTimeoutServer, Type: "duration", Default: "1m", Min: "1ms", Max: "24h", Description: "timeout server." + rendered},
	{Name: ParamTransparent, Type: "boolean", Default: "true", Description: "Bind with the transparent option (IP_TRANSPARENT), so HAProxy binds the VIP before it is on this node and keeps running while the VIP moves. Needs CAP_NET_ADMIN (root)." + rendered},
	{Name: ParamNonlocalBind, Type: "boolean", Default: "false", Description: "At start, set net.ipv4.ip_nonlocal_bind=1 (net.ipv6.ip_nonlocal_bind for an IPv6 bind) for the node's network namespace (an alternative to transparent that also covers an admin's file). Fails where /proc/sys is read-only (containers): set it from the host there."},
	{Name: ParamUser, Type: "string", Default: DefaultUser, Description: "User the workers run as; empty keeps root." + rendered},
	{Name: ParamGroup, Type: "string", Default: DefaultUser, Description: "Group the workers run as; empty keeps root's." + rendered},
	{Name: ParamChroot, Type: "string", Default: DefaultChroot, Description: "Directory the workers chroot to; empty for none." + rendered},
	{Name: ParamStatsSocket, Type: "string", Description: "Admin-level stats socket (runtime API) used by monitor and notify. Default: " + DefaultStateDir + "/<resource>.sock when rendered; with config, the first `stats socket ... level admin` of the file."},
	{Name: ParamConfig, Type: "string", Description: "Absolute path of an admin's haproxy.cfg to run instead of a rendered one; the render params are refused with it."},
	{Name: ParamUnit, Type: "string", Default: DefaultUnit, Description: "systemd service that runs HAProxy (pointed at the configuration by a runtime drop-in setting CONFIG). Empty: the agent runs `haproxy -W -D` itself (hosts without systemd)."},
	{Name: ParamDownState, Type: "enum", Values: []string{"maint", "drain"}, Default: "maint", Description: "State of a server whose node stopped running backend_clone: maint (no traffic at once) or drain (sessions in progress finish, no new ones)."},
	{Name: ParamBinary, Type: "string", Default: DefaultBinary, Description: "HAProxy executable, for `haproxy -c` and, with unit empty, to run."},
}
