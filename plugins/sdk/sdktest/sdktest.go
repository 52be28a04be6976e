// Package sdktest is the test harness for plugin authors: it runs an Agent
// through the real go-plugin gRPC path inside the test process (Serve),
// builds and launches a plugin executable as the host would (Build,
// Launch), and checks the behaviour every agent owes the host
// (Conformance).
package sdktest

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Serve serves agent with go-plugin's gRPC server inside the test process
// and returns a client connected to it over the real wire (protobuf,
// gRPC, go-plugin's health service), so every request and result is
// translated exactly as it is between tandem and a plugin process. It is
// torn down when the test ends.
func Serve(t testing.TB, agent sdk.Agent) *sdk.Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reattach := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	logger := hclog.New(&hclog.LoggerOptions{Output: &testWriter{t: t}, Level: hclog.Warn})
	go plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: sdk.Handshake,
		Plugins:         sdk.PluginSet(agent),
		GRPCServer:      plugin.DefaultGRPCServer,
		Logger:          logger,
		Test:            &plugin.ServeTestConfig{Context: ctx, ReattachConfigCh: reattach, CloseCh: closed},
	})
	var rc *plugin.ReattachConfig
	select {
	case rc = <-reattach:
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("sdktest.Serve: the in-process plugin server did not start in 10s")
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		Plugins:          sdk.PluginSet(nil),
		Reattach:         rc,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           logger,
	})
	t.Cleanup(func() {
		client.Kill()
		cancel()
		<-closed
	})
	rpc, err := client.Client()
	if err != nil {
		t.Fatalf("sdktest.Serve: connecting to the in-process plugin: %v", err)
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatalf("sdktest.Serve: %v", err)
	}
	return raw.(*sdk.Client)
}

// Build compiles the plugin main package pkg (an import path or a ./dir
// relative to the test's package) into a temporary directory and returns
// the executable's path. The file is named after the package's directory,
// which for a plugin is tandem-plugin-<name>.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	name := filepath.Base(pkg)
	if name == "." || name == ".." {
		abs, err := filepath.Abs(pkg)
		if err != nil {
			t.Fatal(err)
		}
		name = filepath.Base(abs)
	}
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// Launch starts the plugin executable at path the way the tandem host does
// (sdk.Launch: handshake, AutoMTLS, API negotiation) with its log in the
// test's log, and kills it when the test ends. env is added to the
// plugin's environment.
func Launch(t testing.TB, path string, env ...string) *sdk.Process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := sdk.Launch(ctx, sdk.LaunchConfig{Path: path, Env: env, Logger: Logger(t)})
	if err != nil {
		t.Fatalf("sdktest.Launch: %v", err)
	}
	t.Cleanup(p.Kill)
	return p
}

// Logger is a slog.Logger writing to the test's log, that goes quiet once
// the test has ended (plugin processes may still be saying goodbye).
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(&testWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	t    testing.TB
	once sync.Once
	mu   sync.Mutex
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.once.Do(func() {
		w.t.Cleanup(func() {
			w.mu.Lock()
			w.done = true
			w.mu.Unlock()
		})
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	// go-plugin's server reports its own shutdown as an error.
	if !w.done && !strings.Contains(string(p), "use of closed network connection") {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// Target is what Conformance talks to: an *sdk.Client from Serve or an
// *sdk.Process from Launch.
type Target interface {
	Info(ctx context.Context) (sdk.Info, error)
	MetaData(ctx context.Context, agentType string) (sdk.MetaData, error)
	Validate(ctx context.Context, req sdk.ValidateRequest) (sdk.Result, error)
	Start(ctx context.Context, req sdk.Request) (sdk.Result, error)
	Stop(ctx context.Context, req sdk.Request) (sdk.Result, error)
	Monitor(ctx context.Context, req sdk.Request) (sdk.Result, error)
}

var (
	_ Target = (*sdk.Client)(nil)
	_ Target = (*sdk.Process)(nil)
)

func provides(info sdk.Info, agentType string) bool {
	for _, t := range info.Types {
		if t == agentType || t == "*" {
			return true
		}
	}
	return false
}

func copyParams(p map[string]string) map[string]string {
	out := make(map[string]string, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

// Binary is a plugin executable launched as the host launches it (see
// Launch) that Restart replaces with a new process of the same file, as
// the host does when a plugin crashes, hangs or is upgraded. Conformance
// checks that the agent's resources survive that.
type Binary struct {
	t    testing.TB
	path string
	env  []string

	mu  sync.Mutex
	cur *sdk.Process
}

var (
	_ Target    = (*Binary)(nil)
	_ Restarter = (*Binary)(nil)
)

// LaunchBinary launches the plugin at path (Launch) as a restartable
// Target; the process is killed when the test ends.
func LaunchBinary(t testing.TB, path string, env ...string) *Binary {
	t.Helper()
	b := &Binary{t: t, path: path, env: env, cur: Launch(t, path, env...)}
	t.Cleanup(func() { b.Process().Kill() })
	return b
}

// Restart kills the plugin process (SIGKILL, as the host kills a hung
// one) and launches a new one from the same file.
func (b *Binary) Restart() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cur.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := sdk.Launch(ctx, sdk.LaunchConfig{Path: b.path, Env: b.env, Logger: Logger(b.t)})
	if err != nil {
		return fmt.Errorf("relaunching %s: %w", b.path, err)
	}
	b.cur = p
	return nil
}

// Process is the plugin process now running.
func (b *Binary) Process() *sdk.Process {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur
}

// Info asks the running process for its Info.
func (b *Binary) Info(ctx context.Context) (sdk.Info, error) { return b.Process().Info(ctx) }

// MetaData asks the running process for an agent type's meta-data.
func (b *Binary) MetaData(ctx context.Context, agentType string) (sdk.MetaData, error) {
	return b.Process().MetaData(ctx, agentType)
}

// Validate calls the running process's Validate.
func (b *Binary) Validate(ctx context.Context, req sdk.ValidateRequest) (sdk.Result, error) {
	return b.Process().Validate(ctx, req)
}

// Start calls the running process's Start.
func (b *Binary) Start(ctx context.Context, req sdk.Request) (sdk.Result, error) {
	return b.Process().Start(ctx, req)
}

// Stop calls the running process's Stop.
func (b *Binary) Stop(ctx context.Context, req sdk.Request) (sdk.Result, error) {
	return b.Process().Stop(ctx, req)
}

// Monitor calls the running process's Monitor.
func (b *Binary) Monitor(ctx context.Context, req sdk.Request) (sdk.Result, error) {
	return b.Process().Monitor(ctx, req)
}

// Reload calls the running process's Reload.
func (b *Binary) Reload(ctx context.Context, req sdk.Request) (sdk.Result, error) {
	return b.Process().Reload(ctx, req)
}

// Notify calls the running process's Notify.
func (b *Binary) Notify(ctx context.Context, req sdk.Request) (sdk.Result, error) {
	return b.Process().Notify(ctx, req)
}

// Promote calls the running process's Promote.
func (b *Binary) Promote(ctx context.Context, req sdk.Request) (sdk.Result, error) {
	return b.Process().Promote(ctx, req)
}

// Demote calls the running process's Demote.
func (b *Binary) Demote(ctx context.Context, req sdk.Request) (sdk.Result, error) {
	return b.Process().Demote(ctx, req)
}
