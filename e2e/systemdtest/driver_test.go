package systemdtest

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/systemd"
)

// envDriver turns the test binary, copied into the lab node, into the
// driver: the value is the plugin directory the supervisor launches from.
const envDriver = "TANDEM_SYSTEMDTEST_DRIVER"

// resultPrefix starts each line of the driver's output that carries an
// operation's outcome (the plugins' logs are interleaved on stderr).
const resultPrefix = "RESULT "

// result is one operation's outcome as the driver reports it.
type result struct {
	Op       string        `json:"op"`
	Code     sdk.Code      `json:"code"`
	Message  string        `json:"message"`
	Duration time.Duration `json:"duration"`
	TimedOut bool          `json:"timed_out,omitempty"`
}

func (r result) String() string {
	return fmt.Sprintf("%s: %v (%d) %q in %s", r.Op, r.Code, int32(r.Code), r.Message, r.Duration.Round(time.Millisecond))
}

// driver runs inside the lab node: it starts a host supervisor on
// pluginDir (the real plugin binaries, launched and handshaken as
// tandem host does), runs the operations named in args on one agent in
// order, and prints each outcome as a JSON line. Operations: validate,
// start, stop, monitor, probe (through the supervisor, as the host runs
// them), and "systemctl-start" / "systemctl-stop" (systemctl on the
// agent's unit, timed the same way, for comparison), and "run:<shell
// command>" between operations. An operation may carry its timeout:
// "monitor@5s".
//
//	driver [-id rsc] [-p k=v]... [-view json] agent op...
func driver(pluginDir string, args []string) int {
	fs := flag.NewFlagSet("driver", flag.ContinueOnError)
	id := fs.String("id", "rsc", "resource id")
	node := fs.String("node", "holly", "node name (Instance.Node)")
	view := fs.String("view", "", "cluster view (sdk.ClusterView as JSON)")
	params := map[string]string{}
	fs.Func("p", "parameter k=v (repeatable)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("want k=v, got %q", s)
		}
		params[k] = v
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() < 2 {
		fmt.Fprintln(os.Stderr, "driver: want an agent and operations")
		return 2
	}
	agent, ops := fs.Arg(0), fs.Args()[1:]
	var cv *sdk.ClusterView
	if *view != "" {
		cv = &sdk.ClusterView{}
		if err := json.Unmarshal([]byte(*view), cv); err != nil {
			fmt.Fprintln(os.Stderr, "driver: -view:", err)
			return 2
		}
	}

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sup, err := supervisor.New(supervisor.Config{Dir: pluginDir, Logger: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "driver:", err)
		return 1
	}
	defer sup.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err = sup.Start(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "driver:", err)
		return 1
	}
	for _, op := range ops {
		name, timeout := op, 30*time.Second
		name, arg, _ := strings.Cut(name, ":")
		if n, t, ok := strings.Cut(name, "@"); ok {
			name = n
			if timeout, err = time.ParseDuration(t); err != nil {
				fmt.Fprintln(os.Stderr, "driver:", err)
				return 2
			}
		}
		var r result
		switch name {
		case "validate":
			out := sup.Validate(context.Background(), agent, params, timeout)
			r = result{Code: out.Code, Message: out.Message, Duration: out.Duration, TimedOut: out.TimedOut}
		case "run":
			// "run:systemctl daemon-reexec": a command between operations,
			// while the plugins stay up.
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			began := time.Now()
			out, err := exec.CommandContext(ctx, "sh", "-c", arg).CombinedOutput()
			r = result{Duration: time.Since(began), Message: strings.TrimSpace(string(out))}
			cancel()
			if err != nil {
				r.Code, r.Message = sdk.ErrGeneric, strings.TrimSpace(err.Error()+": "+r.Message)
			}
		case "systemctl-start", "systemctl-stop":
			_, typ, _ := strings.Cut(agent, ":")
			unit, err := systemd.UnitName(typ)
			if err != nil {
				fmt.Fprintln(os.Stderr, "driver:", err)
				return 2
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			began := time.Now()
			out, err := exec.CommandContext(ctx, "systemctl", strings.TrimPrefix(name, "systemctl-"), unit).CombinedOutput()
			r = result{Duration: time.Since(began), Message: strings.TrimSpace(string(out))}
			cancel()
			if err != nil {
				r.Code, r.Message = sdk.ErrGeneric, strings.TrimSpace(err.Error()+": "+r.Message)
			}
		default:
			req := sdk.Request{ResourceID: *id, Params: params, Instance: sdk.Instance{Node: *node, CloneIndex: -1}, Cluster: cv}
			out := sup.Run(context.Background(), agent, name, req, timeout)
			r = result{Code: out.Code, Message: out.Message, Duration: out.Duration, TimedOut: out.TimedOut}
		}
		r.Op = op
		b, _ := json.Marshal(r)
		fmt.Printf("%s%s\n", resultPrefix, b)
	}
	return 0
}
