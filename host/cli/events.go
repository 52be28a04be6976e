package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/status"
)

func init() { register(newEventsCmd) }

func newEventsCmd() *cobra.Command {
	var cfgPath string
	var follow, heartbeats, all bool
	var count int
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "events --follow",
		Short: "Print the cluster's bus events as they happen",
		Long: `events prints what the members publish on the bus, one readable line each:
transitions the coordinator plans, actions the nodes run and their results,
monitors that change, resource states, configuration changes, notable host
messages. The bus does not keep events, so events needs --follow; it stops
after --count events or --timeout, or at Ctrl-C. Heartbeats and unchanged
monitor results are left out unless --heartbeats or --all.`,
		Example: `  tandem events --follow
  tandem events --follow --count 20 --timeout 1m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !follow {
				return badInput("the bus keeps no past events: give --follow to watch them as they happen")
			}
			file, err := config.Load(cfgPath)
			if err != nil {
				return &ExitError{Code: ExitConfig, Err: err}
			}
			conn, err := cliConnect(file.Topology)
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("cannot reach the cluster: %w", err)}
			}
			defer conn.Close()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			lines := make(chan string, 1024)
			sub, err := conn.NC.Subscribe(bus.SubjectAll, func(m *nats.Msg) {
				if line, ok := eventLine(m.Data, heartbeats, all); ok {
					select {
					case lines <- line:
					default: // a slow terminal drops lines rather than stall the connection
					}
				}
			})
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			defer func() { _ = sub.Unsubscribe() }()
			w := cmd.OutOrStdout()
			for n := 0; count == 0 || n < count; n++ {
				select {
				case <-ctx.Done():
					return nil
				case l := <-lines:
					fmt.Fprintln(w, l)
				}
			}
			return nil
		},
	}
	configFlag(cmd, &cfgPath)
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "watch events as they happen (required: the bus keeps none)")
	cmd.Flags().IntVar(&count, "count", 0, "stop after this many events (0: no limit)")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "stop after this long (0: no limit)")
	cmd.Flags().BoolVar(&heartbeats, "heartbeats", false, "also print members' heartbeats")
	cmd.Flags().BoolVar(&all, "all", false, "also print heartbeats and unchanged monitor results")
	return cmd
}

// eventLine renders one bus message for people; ok is false for messages
// that are not events (requests, answers) or that are filtered out.
func eventLine(data []byte, heartbeats, all bool) (string, bool) {
	var env bus.Envelope
	if err := json.Unmarshal(data, &env); err != nil || env.Kind == "" {
		return "", false
	}
	text, ok := status.EventText(env, heartbeats || all, all)
	if !ok {
		return "", false
	}
	// Anyone allowed on the bus wrote this: escape what is not printable.
	return fmt.Sprintf("%s %-10s %-11s %s", env.Time.Local().Format("15:04:05.000"), printable(env.Source), printable(env.Kind), printable(text)), true
}
