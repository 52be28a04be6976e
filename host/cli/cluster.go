package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/coordinator"
	"github.com/tandem-ha/tandem/host/daemon"
	"github.com/tandem-ha/tandem/policies"
)

// `tandem cluster start|stop`: a node leaves or rejoins the cluster's
// resource management while its daemon and bus member keep running (its
// vote, quorum, remote control). See docs/cluster-stop.md.

func init() { register(newClusterCmd) }

// EnvNode names the local node when neither the host name nor an address
// says which node this is.
const EnvNode = "TANDEM_NODE"

// controlTimeout bounds one control request to a node's daemon.
const controlTimeout = 3 * time.Second

func newClusterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Stop or start nodes' part in the cluster (pcs cluster stop|start); remove a dead voter",
		Long: `cluster stop takes nodes out of the cluster gracefully: their singletons move
to other nodes first, then their clone instances stop, as pcs cluster stop
does. Unlike Pacemaker, the node's tandem daemon keeps running with its bus
member, so it still votes (quorum is unchanged) and can be started again
remotely; status lists it OFFLINE. cluster start lets it run resources again.
cluster remove-voter takes a voter that is gone for good out of the bus's
JetStream group (docs/topology.md).`,
		Example: `  tandem cluster stop benji
  tandem cluster start benji
  tandem cluster stop --all
  tandem cluster remove-voter carol`,
	}
	cmd.AddCommand(newClusterStopCmd(), newClusterStartCmd(), newClusterRemoveVoterCmd())
	return cmd
}

func newClusterStopCmd() *cobra.Command {
	var cfgPath string
	var all bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "stop [NODE ... | --all]",
		Short: "Move resources off the nodes and stop the rest; the nodes run nothing until cluster start",
		Long: `stop asks each node's tandem daemon to stop its resources. The coordinator
then plans the node as standby: its singletons move to other nodes (their
stop there comes first, ordering and colocation constraints hold) and its
clone instances stop. stop waits until that is done (--wait; 0 does not
wait). Without NODE it stops the local node (found by host name, by
address, or from $TANDEM_NODE).

The node's daemon keeps running: its bus member still votes, so stopping
nodes never costs quorum, and status lists the node OFFLINE with its daemon
"inactive (cluster stopped)". The stop survives a restart of the daemon but
not a reboot (as a stopped Pacemaker starts again at boot when enabled).
Resources the cluster does not manage (maintenance) are left running, and
stop says so.

Exit codes: 0 done; 2 bad input (unknown node, the witness); 1 a node
did not answer or its resources did not stop within --wait.`,
		Example: `  tandem cluster stop benji
  tandem cluster stop --all
  tandem cluster stop            # this node`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return clusterControl(cmd, cfgPath, args, all, daemon.ControlStop, wait)
		},
	}
	configFlag(cmd, &cfgPath)
	cmd.Flags().BoolVar(&all, "all", false, "every node")
	cmd.Flags().DurationVar(&wait, "wait", 2*time.Minute, "how long to wait for the nodes' resources to move away and stop (0: do not wait)")
	return cmd
}

func newClusterStartCmd() *cobra.Command {
	var cfgPath string
	var all bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "start [NODE ... | --all]",
		Short: "Let stopped nodes run resources again",
		Long: `start asks each node's tandem daemon to run resources again after cluster
stop; the coordinator may then place resources there (whether they move back
depends on resource-stickiness). Without NODE it starts the local node; if
the tandem daemon is not running here at all, start runs
"systemctl start tandem" and says so. With --wait it waits until the
coordinator has planned with the nodes online and the transition is done.

Exit codes: 0 done; 2 bad input (unknown node, the witness); 1 a node did
not answer, or not in time with --wait.`,
		Example: `  tandem cluster start benji
  tandem cluster start --all --wait
  tandem cluster start           # this node`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return clusterControl(cmd, cfgPath, args, all, daemon.ControlStart, wait)
		},
	}
	configFlag(cmd, &cfgPath)
	cmd.Flags().BoolVar(&all, "all", false, "every node")
	cmd.Flags().DurationVar(&wait, "wait", 0, "how long to wait for the coordinator to use the nodes (--wait alone: 2m)")
	cmd.Flags().Lookup("wait").NoOptDefVal = "2m"
	return cmd
}

// startService starts the local tandem daemon (cluster start's fallback);
// tests replace it.
var startService = func(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "systemctl", "start", "tandem").CombinedOutput()
	if err != nil {
		return fmt.Errorf("systemctl start tandem: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func clusterControl(cmd *cobra.Command, cfgPath string, args []string, all bool, action string, wait time.Duration) error {
	if all && len(args) > 0 {
		return badInput("name the nodes or give --all, not both")
	}
	if wait < 0 {
		return badInput("--wait %s: want a duration of 0 or more", wait)
	}
	file, err := config.Load(cfgPath)
	if err != nil {
		return &ExitError{Code: ExitConfig, Err: err}
	}
	w, ew := cmd.OutOrStdout(), cmd.ErrOrStderr()
	verb := map[string]string{daemon.ControlStop: "Stopping Cluster (tandem)...", daemon.ControlStart: "Starting Cluster (tandem)..."}[action]

	s, serr := openSession(cfgPath)
	if serr != nil {
		// The bus is out of reach: a local start can still start the daemon.
		local, lerr := localNode(file.Topology)
		if action == daemon.ControlStart && !all && lerr == nil && (len(args) == 0 || (len(args) == 1 && args[0] == local)) {
			fmt.Fprintf(w, "%s: %s\n", local, verb)
			return startLocalService(cmd.Context(), w, local)
		}
		return serr
	}
	defer s.close()
	top := file.Topology
	nodes, err := controlNodes(top, args, all)
	if err != nil {
		return err
	}
	local, _ := localNode(top)
	by := cliBy(s.conn)
	var asked, failed []string
	for _, n := range nodes {
		fmt.Fprintf(w, "%s: %s\n", n, verb)
		a, err := daemon.AskControl(s.conn, n, daemon.ControlRequest{Action: action, By: by}, controlTimeout)
		switch {
		case err == nil:
			if a.Warning != "" {
				fmt.Fprintf(ew, "Warning: %s: %s\n", n, a.Warning)
			}
			asked = append(asked, n)
		case errors.Is(err, daemon.ErrNoAnswer) && action == daemon.ControlStart && n == local:
			if err := startLocalService(cmd.Context(), w, n); err != nil {
				fmt.Fprintf(ew, "Error: %s: %v\n", n, err)
				failed = append(failed, n)
			}
		case errors.Is(err, daemon.ErrNoAnswer):
			fmt.Fprintf(ew, "Error: %s: its tandem daemon does not answer (down or cut off; start it there: systemctl start tandem)\n", n)
			failed = append(failed, n)
		default:
			fmt.Fprintf(ew, "Error: %s: %v\n", n, err)
			failed = append(failed, n)
		}
	}
	if wait > 0 && len(asked) > 0 {
		left, err := s.waitControlled(top.NodeNames(), asked, action == daemon.ControlStop, wait)
		if err != nil {
			return &ExitError{Code: ExitFailure, Err: err}
		}
		for _, n := range asked {
			if len(left[n]) > 0 {
				fmt.Fprintf(w, "%s: still runs %s: the cluster leaves it alone (maintenance, or a failed stop: see tandem status)\n", n, strings.Join(left[n], ", "))
			}
		}
	}
	if len(failed) > 0 {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("unable to %s %s", action, strings.Join(failed, ", "))}
	}
	return nil
}

// startLocalService is cluster start's fallback when the local daemon does
// not run at all.
func startLocalService(ctx context.Context, w io.Writer, node string) error {
	fmt.Fprintf(w, "%s: the tandem daemon is not running here: starting it with systemctl start tandem\n", node)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := startService(ctx); err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	return nil
}

// controlNodes resolves the command's node arguments: the named nodes,
// every node with --all, or the local node. These are the nodes whose
// daemons are members of the bus.
func controlNodes(top *bus.Topology, args []string, all bool) ([]string, error) {
	names := top.NodeNames()
	if all {
		return names, nil
	}
	if len(args) == 0 {
		local, err := localNode(top)
		if err != nil {
			return nil, &ExitError{Code: ExitConfig, Err: err}
		}
		return []string{local}, nil
	}
	seen := map[string]bool{}
	var out []string
	for _, a := range args {
		switch {
		case top.IsWitness(a):
			return nil, badInput("%q is the witness: it runs no resources (stop its daemon on it: systemctl stop tandem)", a)
		case !contains(names, a):
			return nil, badInput("no node %q (the nodes are %s)", a, strings.Join(names, ", "))
		case !seen[a]:
			seen[a] = true
			out = append(out, a)
		}
	}
	return out, nil
}

// localNode says which node this machine is: $TANDEM_NODE, else the node
// named as the host (short name), else the one node whose address is one
// of this machine's.
func localNode(top *bus.Topology) (string, error) {
	names := top.NodeNames()
	if n := os.Getenv(EnvNode); n != "" {
		if !contains(names, n) {
			return "", fmt.Errorf("$%s=%s names no node", EnvNode, n)
		}
		return n, nil
	}
	host, _, _ := strings.Cut(hostname(), ".")
	if contains(names, host) {
		return host, nil
	}
	mine := map[string]bool{}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ip, _, err := net.ParseCIDR(a.String()); err == nil {
				mine[ip.String()] = true
			}
		}
	}
	var match []string
	for _, n := range top.Nodes() {
		if ip := net.ParseIP(n.Address); ip != nil && mine[ip.String()] {
			match = append(match, n.Name)
		}
	}
	if len(match) == 1 {
		return match[0], nil
	}
	return "", fmt.Errorf("cannot tell which node this machine is (host name %q): name the node, or set $%s", hostname(), EnvNode)
}

// coordinatorStatus reads what the coordinator last planned (zero when
// nothing was saved yet).
func (s *session) coordinatorStatus() coordinator.Status {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, _ := coordinator.ReadStatus(ctx, s.conn)
	return st
}

// waitControlled waits until the coordinator has planned with every node
// stopped (standby) or started (online), its transition is done and the
// nodes are idle. For a stop it returns what still runs on each node (what
// the cluster leaves alone).
func (s *session) waitControlled(all, nodes []string, stop bool, timeout time.Duration) (map[string][]string, error) {
	want := policies.Online
	if stop {
		want = policies.Standby
	}
	deadline := time.Now().Add(timeout)
	for {
		st := s.coordinatorStatus()
		observed := map[string]policies.NodeStatus{}
		for _, n := range st.Nodes {
			observed[n.Name] = n.Status
		}
		reps := map[string]bus.NodeResources{}
		for _, r := range s.reports(all, time.Second) {
			reps[r.Node] = r
		}
		var problems []string
		left := map[string][]string{}
		for _, n := range nodes {
			if observed[n] != want {
				problems = append(problems, fmt.Sprintf("the coordinator has not planned with %s %s yet", n, want))
			}
			r, ok := reps[n]
			switch {
			case !ok:
				problems = append(problems, n+" does not answer")
			case len(r.Busy) > 0:
				problems = append(problems, fmt.Sprintf("%s is busy (%s)", n, strings.Join(r.Busy, " ")))
			}
			for _, rs := range r.Resources {
				if rs.State != bus.StateStopped && rs.State != bus.StateUnknown {
					left[n] = append(left[n], rs.Resource)
				}
			}
			sort.Strings(left[n])
		}
		if len(st.Pending) > 0 {
			problems = append(problems, fmt.Sprintf("a transition of %d actions is in progress", len(st.Pending)))
		}
		if len(problems) == 0 {
			if !stop {
				return nil, nil
			}
			return left, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("not done after %s: %s", timeout, strings.Join(problems, "; "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
