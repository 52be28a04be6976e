package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/daemon"
)

// Exit codes of `tandem host` and `tandem witness`, so that a service
// manager or script can tell why a member did not start.
const (
	ExitFailure     = 1 // anything else
	ExitConfig      = 2 // the configuration is invalid or says nothing about this member
	ExitUnknownNode = 3 // --node names no member
	ExitCredentials = 4 // the credentials file is missing or unreadable
	ExitPortInUse   = 5 // a bus port is taken
	ExitDataDir     = 6 // the data directory cannot be written
)

func init() {
	register(newHostCmd)
	register(newWitnessCmd)
}

func newHostCmd() *cobra.Command {
	var o daemonFlags
	cmd := &cobra.Command{
		Use:     "host --config FILE --node NAME",
		Short:   "Run this node's member daemon: bus, plugins and resources",
		Example: `  tandem host --config /etc/tandem/cluster.toml --node holly`,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.run(false) },
	}
	o.bind(cmd)
	cmd.Flags().StringVar(&o.node, "node", "", "the [[node]] this host runs as (required)")
	return cmd
}

func newWitnessCmd() *cobra.Command {
	var o daemonFlags
	cmd := &cobra.Command{
		Use:   "witness --config FILE",
		Short: "Run the witness: a bus-only voter that keeps a two-node cluster's majority",
		Long: `The witness runs only the embedded bus server (like corosync-qnetd): it votes,
so a two-node cluster keeps a majority when one node fails, and it runs no
resources. Run it on a small third host; its name and address are the
configuration's [witness] table.`,
		Example: `  tandem witness --config /etc/tandem/cluster.toml`,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.run(true) },
	}
	o.bind(cmd)
	return cmd
}

type daemonFlags struct {
	config    string
	node      string
	dataDir   string
	logLevel  string
	logFormat string
	pluginDir string
}

func (o *daemonFlags) bind(cmd *cobra.Command) {
	configFlag(cmd, &o.config)
	cmd.Flags().StringVar(&o.dataDir, "data-dir", "", "override [bus] data_dir")
	cmd.Flags().StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	cmd.Flags().StringVar(&o.logFormat, "log-format", "text", "text or json, for stderr; under systemd records go to journald natively, each attribute a TANDEM_ field (journalctl -p warning -u tandem TANDEM_RESOURCE=vip)")
	cmd.Flags().StringVar(&o.pluginDir, "plugin-dir", "", "directory of the tandem-plugin-* executables (default: [plugins] dir of the cluster file, else PREFIX/lib/tandem/plugins of a PREFIX/bin/tandem if it exists, else beside tandem)")
}

func (o *daemonFlags) run(witness bool) error {
	log, err := newLogger(o.logLevel, o.logFormat)
	if err != nil {
		return &ExitError{Code: ExitConfig, Err: err}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	notify, watchdog, err := systemdNotify()
	if err != nil {
		return &ExitError{Code: ExitConfig, Err: err}
	}
	err = daemon.Run(ctx, daemon.Options{ConfigPath: o.config, Node: o.node, Witness: witness, DataDir: o.dataDir, PluginDir: o.pluginDir,
		Build: version + " " + commit, Logger: log, Notify: notify, Watchdog: watchdog})
	return exitFor(err)
}

// systemdNotify reads what systemd gives a Type=notify service with
// WatchdogSec= ($NOTIFY_SOCKET, $WATCHDOG_USEC for $WATCHDOG_PID) and
// takes it out of the environment: the plugins this member starts are
// not the service's main process and must not speak for it.
func systemdNotify() (string, time.Duration, error) {
	sock := os.Getenv("NOTIFY_SOCKET")
	wd, err := sddaemon.SdWatchdogEnabled(true)
	if err != nil {
		return "", 0, fmt.Errorf("systemd watchdog settings: %w", err)
	}
	os.Unsetenv("NOTIFY_SOCKET")
	return sock, wd, nil
}

func exitFor(err error) error {
	code := ExitFailure
	switch {
	case err == nil:
		return nil
	case errors.Is(err, daemon.ErrConfig), errors.Is(err, daemon.ErrWrongRole):
		code = ExitConfig
	case errors.Is(err, bus.ErrUnknownMember):
		code = ExitUnknownNode
	case errors.Is(err, bus.ErrNoCredentials):
		code = ExitCredentials
	case errors.Is(err, bus.ErrPortInUse):
		code = ExitPortInUse
	case errors.Is(err, bus.ErrDataDir):
		code = ExitDataDir
	}
	return &ExitError{Code: code, Err: err}
}

func newLogger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, errors.New("--log-level: want debug, info, warn or error")
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch f := strings.ToLower(format); f {
	case "text", "json":
		toJournal := journalStream(os.Stderr)
		h := newHandler(os.Stderr, f == "json", toJournal, opts)
		if toJournal {
			// Under systemd: journald's native protocol, every attribute
			// a field; the stream stays the fallback.
			if sink, err := newJournalSink(journalSocket); err == nil {
				h = newNativeHandler(sink, h, opts)
			}
		}
		return slog.New(h), nil
	}
	return nil, errors.New("--log-format: want text or json")
}
