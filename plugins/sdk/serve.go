package sdk

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// Environment the host sets for a plugin it launches.
const (
	// EnvHostPID is the pid of the tandem process that launched the
	// plugin. The plugin exits when its parent is no longer that process.
	EnvHostPID = "TANDEM_HOST_PID"
	// EnvLogLevel is the lowest level the plugin should log (debug, info,
	// warn, error).
	EnvLogLevel = "TANDEM_PLUGIN_LOG_LEVEL"
)

// hostGoneBudget bounds how long a plugin whose host died spends releasing
// held resources before it exits: the host's plugins must be gone within
// 2 s of its death.
const hostGoneBudget = 1500 * time.Millisecond

// Serve runs agent as a tandem plugin: it answers the host's handshake on
// stdout, serves the agent over gRPC, and returns never. It is the one call
// a plugin's main makes:
//
//	func main() { sdk.Serve(&myAgent{}) }
//
// Run by hand as `tandem-plugin-NAME meta-data [TYPE]`, it prints the
// agent's meta-data as JSON (see PrintMetaData) and exits.
//
// Stdout belongs to the handshake: log with log/slog (Serve points its
// default logger at stderr, in the format the host re-levels under the
// plugin's name). When the host process is gone (killed, crashed), Serve
// stops every resource under a Hold (nobody is left to renew it) and exits
// within 2 s; other resources are left as they are.
func Serve(agent Agent) {
	if agent == nil {
		fmt.Fprintln(os.Stderr, "sdk.Serve: agent is nil")
		os.Exit(1)
	}
	if len(os.Args) > 1 && os.Getenv(Handshake.MagicCookieKey) != Handshake.MagicCookieValue {
		os.Exit(command(os.Stdout, os.Stderr, agent, os.Args[1:]))
	}
	level := logLevel(os.Getenv(EnvLogLevel))
	// The real stderr: go-plugin swaps os.Stderr for a pipe after the
	// handshake, and the host reads this one.
	stderr := os.Stderr
	slog.SetDefault(slog.New(NewLogHandler(stderr, level)))

	p := &AgentPlugin{Agent: agent, srv: newServer(agent)}
	var once sync.Once
	hostGone := func(why string) {
		once.Do(func() {
			slog.Warn("host gone, exiting", "why", why)
			p.srv.releaseHolds(hostGoneBudget)
			os.Exit(0)
		})
	}
	if os.Getenv(Handshake.MagicCookieKey) == Handshake.MagicCookieValue {
		watchHost(hostGone)
	}

	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         plugin.PluginSet{PluginName: p},
		GRPCServer:      plugin.DefaultGRPCServer,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:       "go-plugin",
			Level:      hclog.LevelFromString(level.String()),
			Output:     stderr,
			JSONFormat: true,
		}),
	})
	// go-plugin returns when the host closed the connection (a graceful
	// kill). Leaving main would do the same; exit explicitly so that an
	// agent's lingering goroutines cannot keep the process alive.
	os.Exit(0)
}

// command runs what a plugin does when run by hand with args: print its
// meta-data. It returns the exit code.
func command(stdout, stderr io.Writer, agent Agent, args []string) int {
	name := PluginPrefix + agent.Info().Name
	if args[0] != "meta-data" || len(args) > 2 {
		fmt.Fprintf(stderr, "usage: %s meta-data [TYPE]\n(the tandem host launches this plugin; run by hand it only prints its meta-data as JSON)\n", name)
		return 2
	}
	agentType := ""
	if len(args) == 2 {
		agentType = args[1]
	}
	if err := PrintMetaData(stdout, agent, agentType); err != nil {
		fmt.Fprintf(stderr, "%s meta-data: %v\n", name, err)
		return 1
	}
	return 0
}

// watchHost calls gone when the process that launched the plugin is no
// longer its parent: by SIGTERM (the host sets it as the plugin's
// parent-death signal) or by polling the parent pid (the parent-death
// signal follows the launching thread, not the process, so it can fire
// early or, in odd cases, not at all).
func watchHost(gone func(why string)) {
	host, err := strconv.Atoi(os.Getenv(EnvHostPID))
	if err != nil || host <= 0 {
		host = os.Getppid()
	}
	if os.Getppid() != host {
		gone(fmt.Sprintf("parent pid is %d, host pid %d", os.Getppid(), host))
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	// Once the host is gone, stderr is a broken pipe; without this, the
	// first log line would kill the plugin with SIGPIPE before it released
	// anything.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-sigs:
				// The parent-death signal comes when the launching thread
				// exits; when the host is killed, that can be a moment
				// before the whole host is gone and the plugin reparented.
				for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
					if ppid := os.Getppid(); ppid != host {
						gone(fmt.Sprintf("SIGTERM, parent pid changed from %d to %d", host, ppid))
					}
				}
				// Asked to stop while the host lives: the host restarts the
				// plugin and replays its holds, so leave the resources.
				slog.Info("SIGTERM, exiting")
				os.Exit(0)
			case <-tick.C:
				if ppid := os.Getppid(); ppid != host {
					gone(fmt.Sprintf("parent pid changed from %d to %d", host, ppid))
				}
			}
		}
	}()
}

func logLevel(s string) slog.Level {
	switch strings.ToLower(s) {
	case "trace", "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// hclogTime is the timestamp layout go-plugin's host side parses.
const hclogTime = "2006-01-02T15:04:05.000000Z07:00"

// NewLogHandler is a slog handler writing one JSON object per line in
// hclog's format ("@level", "@message", "@timestamp"), which the host
// re-levels and logs under the plugin's name.
func NewLogHandler(w io.Writer, level slog.Leveler) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				if t, ok := a.Value.Any().(time.Time); ok {
					return slog.String("@timestamp", t.Format(hclogTime))
				}
			case slog.LevelKey:
				return slog.String("@level", hclogLevel(a.Value.Any()))
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	})
}

func hclogLevel(v any) string {
	l, ok := v.(slog.Level)
	if !ok {
		return "info"
	}
	switch {
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	}
	return "error"
}
