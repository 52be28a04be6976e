package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
)

// PluginPrefix starts the file name of every plugin executable:
// tandem-plugin-<name>.
const PluginPrefix = "tandem-plugin-"

// ErrStdoutBeforeHandshake is returned by Launch when a plugin printed
// something other than the go-plugin handshake on stdout.
var ErrStdoutBeforeHandshake = errors.New("wrote to stdout before the handshake")

// LaunchConfig says which plugin executable to run and where its logs go.
type LaunchConfig struct {
	Path string   // the executable
	Args []string // extra arguments (none for a normal plugin)
	Env  []string // extra environment, KEY=value
	// Name is the plugin's name in logs and errors; default: the file name
	// without PluginPrefix.
	Name string
	// Logger receives the plugin's stderr, re-levelled, with a "plugin"
	// attribute; default slog.Default().
	Logger *slog.Logger
	// StartTimeout bounds the handshake; default 10 s.
	StartTimeout time.Duration
}

// Process is a launched plugin: a Client for its operations plus what the
// host needs to supervise it.
type Process struct {
	*Client
	Name       string
	Path       string
	Pid        int
	PluginInfo Info          // as the plugin reported it at launch
	APIVersion string        // the agent API version negotiated at launch
	Ready      time.Duration // from exec to a negotiated API version

	gp       *plugin.Client
	killOnce sync.Once
}

// Launch starts a plugin executable, completes the go-plugin handshake (magic
// cookie, wire version, gRPC only, AutoMTLS) and negotiates the agent API
// version. On any error the process is killed before Launch returns. The
// plugin gets SIGTERM when the launching thread dies and watches its parent
// pid (see Serve), so it does not outlive the host.
func Launch(ctx context.Context, cfg LaunchConfig) (proc *Process, err error) {
	start := time.Now()
	if cfg.Name == "" {
		cfg.Name = strings.TrimPrefix(filepath.Base(cfg.Path), PluginPrefix)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 10 * time.Second
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) < cfg.StartTimeout {
		cfg.StartTimeout = max(time.Until(d), time.Millisecond)
	}
	fail := func(err error) error { return fmt.Errorf("plugin %q (%s): %w", cfg.Name, cfg.Path, err) }

	logger := cfg.Logger.With("plugin", cfg.Name)
	tail := &lineTail{max: 8}
	env := append(os.Environ(), cfg.Env...)
	env = append(env,
		EnvHostPID+"="+strconv.Itoa(os.Getpid()),
		EnvLogLevel+"="+enabledLevel(cfg.Logger).String(),
	)
	var run *cmdRunner
	gp := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: Handshake,
		Plugins:         PluginSet(nil),
		RunnerFunc: func(_ hclog.Logger, spec *exec.Cmd, _ string) (runner.Runner, error) {
			cmd := exec.Command(cfg.Path, cfg.Args...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
			// The host's environment, ours, then go-plugin's (cookie,
			// certificate, socket dir): later entries win.
			cmd.Env = append(env, spec.Env...)
			cmd.Stdin = spec.Stdin
			var err error
			run, err = newCmdRunner(cmd)
			return run, err
		},
		SkipHostEnv:      true, // env above has it, before ours so ours win
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		// Not Managed: go-plugin never forgets a managed client, so a
		// plugin in a crash loop would grow its list forever; the
		// supervisor kills its own processes.
		Managed:      false,
		StartTimeout: cfg.StartTimeout,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:       "go-plugin",
			Level:      hclog.LevelFromString(enabledLevel(cfg.Logger).String()),
			Output:     &logBridge{log: logger},
			JSONFormat: true,
		}),
		Stderr:     tail,
		SyncStdout: &lineLogger{log: logger, stream: "stdout"},
		SyncStderr: &lineLogger{log: logger, stream: "stderr"},
	})
	proc = &Process{Name: cfg.Name, Path: cfg.Path, gp: gp}
	defer func() {
		if err != nil {
			proc.Kill()
			proc = nil
		}
	}()

	rpc, err := gp.Client()
	if run != nil {
		proc.Pid = run.pid
	}
	if err != nil {
		return proc, fail(handshakeError(err, tail))
	}
	raw, err := rpc.Dispense(PluginName)
	if err != nil {
		return proc, fail(fmt.Errorf("dispensing the agent: %w", err))
	}
	proc.Client = raw.(*Client)
	info, err := proc.Client.Info(ctx)
	if err != nil {
		return proc, fail(err)
	}
	proc.PluginInfo = info
	if info.Name != cfg.Name {
		return proc, fail(fmt.Errorf("the plugin calls itself %q; a plugin's file must be named %s<its name> (rename the file or fix Info().Name)", info.Name, PluginPrefix))
	}
	proc.APIVersion, err = NegotiateAPI(APIVersions, info.APIVersions)
	if err != nil {
		return proc, fail(err)
	}
	proc.Ready = time.Since(start)
	return proc, nil
}

// Kill ends the plugin process at once (SIGKILL: a plugin keeps no state
// the host needs, and a hung one would not answer a polite request) and
// releases go-plugin's resources. Safe to call more than once.
func (p *Process) Kill() {
	p.killOnce.Do(func() {
		if p.Pid > 0 {
			_ = syscall.Kill(p.Pid, syscall.SIGKILL)
		}
		done := make(chan struct{})
		go func() { p.gp.Kill(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			// go-plugin waits for EOF on the plugin's stdout and stderr; a
			// child the plugin handed them to keeps them open.
			slog.Warn("plugin killed but its stdout/stderr stay open (a child process holds them?)", "plugin", p.Name, "pid", p.Pid)
		}
	})
}

// Exited reports whether the plugin process has exited.
func (p *Process) Exited() bool { return p.gp.Exited() }

// handshakeError rewrites go-plugin's handshake failures into messages that
// say what to do, with the plugin's last stderr lines.
func handshakeError(err error, tail *lineTail) error {
	msg := err.Error()
	if i := strings.Index(msg, "Unrecognized remote plugin message: "); i >= 0 {
		line := msg[i+len("Unrecognized remote plugin message: "):]
		if j := strings.IndexByte(line, '\n'); j >= 0 {
			line = line[:j]
		}
		return fmt.Errorf("%w: it printed %q; stdout belongs to the go-plugin handshake, so log to stderr (log/slog) and call sdk.Serve before printing anything%s",
			ErrStdoutBeforeHandshake, line, tail.suffix())
	}
	return fmt.Errorf("handshake: %w%s", err, tail.suffix())
}

func enabledLevel(l *slog.Logger) slog.Level {
	for _, lv := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn} {
		if l.Enabled(context.Background(), lv) {
			return lv
		}
	}
	return slog.LevelError
}

// logBridge receives go-plugin's hclog output as JSON lines and logs them
// with slog: the plugin's own stderr lines (hclog module
// "go-plugin.<executable>") at their level, go-plugin's internal chatter at
// debug.
type logBridge struct {
	log   *slog.Logger
	mu    sync.Mutex
	lines lineSplitter
}

func (b *logBridge) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines.write(p, func(line []byte, cut bool) {
		if cut {
			b.log.Warn(string(line), "truncated", true, "truncated_lines", b.lines.truncated, "limit", MaxLine)
			return
		}
		b.line(line)
	})
	return len(p), nil
}

func (b *logBridge) line(line []byte) {
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		b.log.Info(string(line))
		return
	}
	msg, _ := m["@message"].(string)
	level := levelOf(m["@level"])
	module, _ := m["@module"].(string)
	fromPlugin := strings.Contains(module, ".")
	if !fromPlugin {
		level = slog.LevelDebug
	}
	attrs := make([]any, 0, 2*len(m))
	for k, v := range m {
		switch k {
		case "@message", "@level", "@module", "@timestamp", "@caller", "timestamp":
			continue
		case "plugin": // go-plugin's executable path; "plugin" is the name here
			k = "path"
		}
		attrs = append(attrs, k, v)
	}
	b.log.Log(context.Background(), level, msg, attrs...)
}

func levelOf(v any) slog.Level {
	s, _ := v.(string)
	switch strings.ToLower(s) {
	case "trace", "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// lineLogger logs what the plugin writes to its os.Stdout or os.Stderr
// after the handshake (go-plugin forwards both over gRPC).
type lineLogger struct {
	log    *slog.Logger
	stream string
	mu     sync.Mutex
	lines  lineSplitter
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines.write(p, func(line []byte, cut bool) {
		if cut {
			l.log.Info(string(line), "stream", l.stream, "truncated", true, "truncated_lines", l.lines.truncated, "limit", MaxLine)
			return
		}
		l.log.Info(string(line), "stream", l.stream)
	})
	return len(p), nil
}

// lineTail keeps the last lines of the plugin's raw stderr for error
// messages.
type lineTail struct {
	mu    sync.Mutex
	max   int
	lines []string
	split lineSplitter
}

func (t *lineTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.split.write(p, func(line []byte, cut bool) {
		s := string(line)
		if cut {
			s += " [truncated]"
		}
		t.lines = append(t.lines, s)
		if len(t.lines) > t.max {
			t.lines = t.lines[1:]
		}
	})
	return len(p), nil
}

func (t *lineTail) suffix() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := t.lines
	if len(t.split.buf) > 0 {
		lines = append(lines[:len(lines):len(lines)], string(t.split.buf))
	}
	if len(lines) == 0 {
		return ""
	}
	return "; its last stderr lines:\n  " + strings.Join(lines, "\n  ")
}
