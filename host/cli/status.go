package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/coordinator"
	"github.com/tandem-ha/tandem/host/failures"
	"github.com/tandem-ha/tandem/host/lease"
	"github.com/tandem-ha/tandem/host/liveconfig"
	"github.com/tandem-ha/tandem/host/status"
)

func init() { register(newStatusCmd) }

func newStatusCmd() *cobra.Command {
	var cfgPath, output string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the cluster: members online, quorum, daemons",
		Long: `status asks every member it can reach over the bus and prints the cluster in
the layout of pcs status. Members that do not answer within --wait are shown
OFFLINE; the partition has quorum when a majority of voters (nodes and the
witness) answer. It exits 0 with quorum, 1 without, 2 on bad input.`,
		Example: `  tandem status
  tandem status --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return &ExitError{Code: ExitConfig, Err: fmt.Errorf("--output %q: want text or json", output)}
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return &ExitError{Code: ExitConfig, Err: err}
			}
			r := gatherStatus(cfg, wait)
			if output == "json" {
				if err := status.WriteJSON(cmd.OutOrStdout(), r); err != nil {
					return err
				}
			} else {
				status.WriteText(cmd.OutOrStdout(), r)
			}
			if !r.Quorum {
				return &ExitError{Code: 1, Err: fmt.Errorf("partition without quorum")}
			}
			return nil
		},
	}
	configFlag(cmd, &cfgPath)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	cmd.Flags().DurationVar(&wait, "wait", time.Second, "how long to wait for members to answer")
	return cmd
}

// gatherStatus asks the reachable members; an unreachable bus yields a report
// with every member offline and the reason.
func gatherStatus(cfg *config.Config, wait time.Duration) status.Report {
	var answers []bus.MemberStatus
	reason := ""
	conn, err := cliConnect(cfg)
	if err != nil {
		reason = err.Error()
	} else {
		defer conn.Close()
		answers, err = bus.GatherMembers(conn, len(cfg.Members()), wait)
		if err != nil {
			reason = err.Error()
		}
	}
	r := status.Build(cfg, answers, time.Now())
	r.Unreachable = reason
	if conn != nil && len(answers) > 0 {
		addClusterState(conn, cfg, &r, wait)
	}
	return r
}

// addClusterState adds what the cluster runs: the live configuration's
// resources as the nodes report them, the coordinator and the fail-counts.
func addClusterState(conn *bus.Conn, fileCfg *config.Config, r *status.Report, wait time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
	defer cancel()
	cfg := fileCfg
	if store, err := liveconfig.Open(ctx, conn); err == nil {
		if rev, err := store.Current(ctx); err == nil && rev.Config != nil {
			cfg = rev.Config
		}
	}
	online := 0
	for _, n := range r.Nodes {
		if n.Online {
			online++
		}
	}
	var reports []bus.NodeResources
	_ = bus.Gather(conn, bus.SubjectStateRequest, nil, online, wait, func(data []byte) bool {
		nr, _, err := bus.Decode[bus.NodeResources](data)
		if err != nil {
			return false
		}
		reports = append(reports, nr)
		return true
	})
	status.AddResources(r, cfg, reports)
	if kv, err := conn.KV(ctx, bus.BucketLeases); err == nil {
		if e, err := kv.Get(ctx, coordinator.LeaseKey); err == nil {
			var h lease.Holder
			if json.Unmarshal(e.Value(), &h) == nil {
				r.Coordinator = h.Node
			}
		}
	}
	if fs, err := failures.Open(ctx, conn); err == nil {
		if recs, err := fs.List(ctx); err == nil {
			for _, f := range recs {
				r.Failures = append(r.Failures, status.Failure{Resource: f.Resource, Node: f.Node, Count: f.Count, Op: f.Op, Message: f.Message, Last: f.Last})
			}
		}
	}
}

// cliConnect connects a command to the bus with the cluster's credentials.
func cliConnect(cfg *config.Config) (*bus.Conn, error) {
	secret, err := bus.LoadSecret(cfg.Bus.Credentials)
	if err != nil {
		return nil, err
	}
	return bus.Connect(bus.ConnectOptions{Config: cfg, Secret: secret, Name: "cli@" + hostname(), Timeout: time.Second})
}
