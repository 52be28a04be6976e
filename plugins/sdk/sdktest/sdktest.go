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

// Resource is the resource Conformance manages: it is really started and
// stopped, so point it at something harmless.
type Resource struct {
	ID        string // default "conformance"
	AgentType string
	Params    map[string]string
	Instance  sdk.Instance     // default: node "node1", primitive
	Cluster   *sdk.ClusterView // default: one online node
	Timeout   time.Duration    // per call; default 30 s
}

func (r *Resource) defaults() {
	if r.ID == "" {
		r.ID = "conformance"
	}
	if r.Instance == (sdk.Instance{}) {
		r.Instance = sdk.Instance{Node: "node1", CloneIndex: -1}
	}
	if r.Cluster == nil {
		r.Cluster = &sdk.ClusterView{Nodes: []sdk.NodeView{{Name: r.Instance.Node, Address: "127.0.0.1", Online: true}}, Active: map[string][]string{}}
	}
	if r.Timeout <= 0 {
		r.Timeout = 30 * time.Second
	}
}

// Conformance checks what the host relies on from every agent, as
// subtests: Info is complete and its API versions negotiable; the
// type's meta-data is complete (every parameter typed and described,
// start/stop/monitor with timeouts, monitor with an interval) and usable by
// sdk.ParseParams (known types, enum values, defaults that parse), and
// r.Params pass the checks it declares; Validate accepts r.Params and refuses each missing
// required parameter with a message; stop is idempotent, monitor after
// stop says NotRunning, start is idempotent, monitor after start says OK.
// An agent that implements sdk.Promoter (its promote does not answer
// ErrUnimplemented) must also pass "promotable": promote and demote are
// idempotent, monitor says RunningPromoted while promoted and OK once
// demoted, and stop ends the promoted role too; and "promoted hold
// lapses": a hold on the promoted role (sdk.HoldPromoted) that is not
// renewed demotes the instance, which keeps running (sdk.Serve does it
// for every Promoter; a plugin not built with it must do it itself).
// The resource is stopped when the test ends.
func Conformance(t *testing.T, target Target, r Resource) {
	t.Helper()
	r.defaults()
	call := func() (context.Context, context.CancelFunc, time.Time) {
		d := time.Now().Add(r.Timeout)
		ctx, cancel := context.WithDeadline(context.Background(), d)
		return ctx, cancel, d
	}

	t.Run("info", func(t *testing.T) {
		ctx, cancel, _ := call()
		defer cancel()
		info, err := target.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range InfoProblems(info) {
			t.Error(p)
		}
		if !provides(info, r.AgentType) {
			t.Errorf("Info().Types = %v does not include the agent type under test %q", info.Types, r.AgentType)
		}
	})

	t.Run("meta-data", func(t *testing.T) {
		ctx, cancel, _ := call()
		defer cancel()
		md, err := target.MetaData(ctx, r.AgentType)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range MetaDataProblems(md, r.AgentType) {
			t.Error(p)
		}
		// The params the agent accepts pass the checks its meta-data
		// declares: what it documents is what it takes.
		if err := sdk.ParseParams(r.AgentType, md.Params, r.Params).Err(); err != nil {
			t.Errorf("the test params %v do not pass the checks the meta-data declares: %s", r.Params, strings.ReplaceAll(err.Error(), "\n", "; "))
		}
		for _, p := range md.Params {
			if !p.Required {
				continue
			}
			params := copyParams(r.Params)
			delete(params, p.Name)
			res, err := target.Validate(ctx, sdk.ValidateRequest{AgentType: r.AgentType, Params: params})
			if err != nil {
				t.Fatal(err)
			}
			if res.Code == sdk.OK || res.Message == "" {
				t.Errorf("validate without required param %q: %v %q; want a refusal with a message", p.Name, res.Code, res.Message)
			}
		}
	})

	t.Run("validate", func(t *testing.T) {
		ctx, cancel, _ := call()
		defer cancel()
		res, err := target.Validate(ctx, sdk.ValidateRequest{AgentType: r.AgentType, Params: copyParams(r.Params)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Code != sdk.OK {
			t.Fatalf("validate of the test params %v: %v %q", r.Params, res.Code, res.Message)
		}
	})

	req := func(d time.Time) sdk.Request {
		return sdk.Request{ResourceID: r.ID, AgentType: r.AgentType, Params: copyParams(r.Params), Instance: r.Instance, Deadline: d, Cluster: r.Cluster}
	}
	stop := func() error {
		ctx, cancel, d := call()
		defer cancel()
		res, err := target.Stop(ctx, req(d))
		if err != nil {
			return err
		}
		if res.Code != sdk.OK {
			return fmt.Errorf("stop: %v %q", res.Code, res.Message)
		}
		return nil
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})

	t.Run("lifecycle", func(t *testing.T) {
		steps := []step{
			{"stop before start (idempotent)", target.Stop, sdk.OK},
			{"monitor when stopped", target.Monitor, sdk.NotRunning},
			{"start", target.Start, sdk.OK},
			{"monitor after start", target.Monitor, sdk.OK},
			{"start again (idempotent)", target.Start, sdk.OK},
			{"monitor after second start", target.Monitor, sdk.OK},
			{"stop", target.Stop, sdk.OK},
			{"monitor after stop", target.Monitor, sdk.NotRunning},
			{"stop again (idempotent)", target.Stop, sdk.OK},
			{"monitor after second stop", target.Monitor, sdk.NotRunning},
		}
		runSteps(t, steps, req, call)
	})
	promotable(t, target, req, call)
}

// step is one call of a conformance sequence and the code it must answer.
type step struct {
	name string
	op   func(context.Context, sdk.Request) (sdk.Result, error)
	want sdk.Code
}

// runSteps makes the calls of steps in turn, each with its own deadline,
// and stops at the first that errs or answers another code.
func runSteps(t *testing.T, steps []step, req func(time.Time) sdk.Request, call func() (context.Context, context.CancelFunc, time.Time)) {
	t.Helper()
	for _, s := range steps {
		ctx, cancel, d := call()
		res, err := s.op(ctx, req(d))
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if res.Code != s.want {
			t.Fatalf("%s: %v %q; want %v", s.name, res.Code, res.Message, s.want)
		}
	}
}

// Promotable is the part of Target a promotable clone's agent adds.
type Promotable interface {
	Promote(ctx context.Context, req sdk.Request) (sdk.Result, error)
	Demote(ctx context.Context, req sdk.Request) (sdk.Result, error)
}

var (
	_ Promotable = (*sdk.Client)(nil)
	_ Promotable = (*sdk.Process)(nil)
)

func promotable(t *testing.T, target Target, req func(time.Time) sdk.Request, call func() (context.Context, context.CancelFunc, time.Time)) {
	p, ok := target.(Promotable)
	if !ok {
		return
	}
	ctx, cancel, d := call()
	res, err := p.Promote(ctx, req(d))
	cancel()
	if err == nil && res.Code == sdk.ErrUnimplemented {
		return // not a promotable agent
	}
	t.Run("promotable", func(t *testing.T) {
		steps := []step{
			{"start", target.Start, sdk.OK},
			{"monitor after start (unpromoted)", target.Monitor, sdk.OK},
			{"promote", p.Promote, sdk.OK},
			{"monitor after promote", target.Monitor, sdk.RunningPromoted},
			{"promote again (idempotent)", p.Promote, sdk.OK},
			{"monitor after second promote", target.Monitor, sdk.RunningPromoted},
			{"demote", p.Demote, sdk.OK},
			{"monitor after demote", target.Monitor, sdk.OK},
			{"demote again (idempotent)", p.Demote, sdk.OK},
			{"promote before stop", p.Promote, sdk.OK},
			{"stop", target.Stop, sdk.OK},
			{"monitor after stop", target.Monitor, sdk.NotRunning},
			{"start after a promoted stop", target.Start, sdk.OK},
			{"monitor: a new start is unpromoted", target.Monitor, sdk.OK},
			{"stop at the end", target.Stop, sdk.OK},
		}
		runSteps(t, steps, req, call)
	})
	h, ok := target.(interface {
		Hold(ctx context.Context, req sdk.HoldRequest) (sdk.Result, error)
	})
	if !ok {
		return
	}
	t.Run("promoted hold lapses", func(t *testing.T) {
		runSteps(t, []step{{"start", target.Start, sdk.OK}, {"promote", p.Promote, sdk.OK}}, req, call)
		ctx, cancel, d := call()
		r := req(d)
		res, err := h.Hold(ctx, sdk.HoldRequest{ResourceID: r.ResourceID, AgentType: r.AgentType, Params: r.Params,
			Until: sdk.MonotonicNow() + 200*time.Millisecond, Role: sdk.HoldPromoted, Instance: r.Instance})
		cancel()
		if err != nil || res.Code != sdk.OK {
			t.Fatalf("hold on the promoted role: %v %q, %v; want OK", res.Code, res.Message, err)
		}
		var last sdk.Result
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			ctx, cancel, d := call()
			last, err = target.Monitor(ctx, req(d))
			cancel()
			if err == nil && last.Code == sdk.OK {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("monitor 10 s after the promoted hold lapsed: %v %q, %v; want OK (demoted, running)", last.Code, last.Message, err)
			}
		}
		runSteps(t, []step{{"stop at the end", target.Stop, sdk.OK}}, req, call)
	})
}

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
