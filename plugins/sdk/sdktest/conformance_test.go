package sdktest_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/sdk/sdktest"
)

// The test binary is also the plugin tandem-plugin-conf (for the plugin
// restart rule), and runs TestFaultyAgent with the fault envFault names
// in a subprocess, so that Conformance's failures can be read.
const envFault = "SDKTEST_FAULT"

func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == sdk.PluginPrefix+"conf" {
		sdk.Serve(&fileAgent{fault: os.Getenv(envFault)})
	}
	os.Exit(m.Run())
}

// fileAgent manages a file holding "ok"; fault makes it break one rule.
type fileAgent struct {
	fault string
	mu    sync.Mutex
	mem   map[string]bool // "memory": what it believes runs
}

var params = []sdk.ParamSpec{{Name: "path", Type: "string", Required: true, Description: "the file"}}

func (a *fileAgent) Info() sdk.Info {
	return sdk.Info{Name: "conf", Types: []string{"file"}, Version: "1.0.0"}
}

func (a *fileAgent) MetaData(string) (sdk.MetaData, error) {
	return sdk.MetaData{Type: "file", Version: "1.0.0", ShortDesc: "a file", Params: params,
		Actions: []sdk.ActionSpec{{Name: "start", Timeout: time.Second}, {Name: "stop", Timeout: time.Second}, {Name: "monitor", Timeout: time.Second, Interval: time.Second}}}, nil
}

func (a *fileAgent) Validate(_ context.Context, req sdk.ValidateRequest) sdk.Result {
	p := req.Params
	if a.fault == "unknown-accepted" {
		delete(p, sdktest.UnknownParam)
	}
	if _, ok := p["path"]; ok && a.fault == "empty-required-accepted" {
		return sdk.Result{}
	}
	if err := sdk.ParseParams("conf:file", params, p).Err(); err != nil {
		return sdk.Result{Code: sdk.ErrNotConfigured, Message: strings.ReplaceAll(err.Error(), "\n", "; ")}
	}
	return sdk.Result{}
}

func (a *fileAgent) Start(ctx context.Context, req sdk.Request) sdk.Result {
	path := req.Params["path"]
	switch a.fault {
	case "start-not-idempotent":
		if _, err := os.Stat(path); err == nil {
			return sdk.Resultf(sdk.ErrGeneric, "%s exists already", path)
		}
	case "start-hangs":
		<-ctx.Done()
		time.Sleep(500 * time.Millisecond) // answers too late
		return sdk.Result{}
	case "start-panics":
		panic("boom: " + path)
	case "memory":
		a.mu.Lock()
		if a.mem == nil {
			a.mem = map[string]bool{}
		}
		a.mem[path] = true
		a.mu.Unlock()
	}
	if _, err := os.Stat(path + ".down"); err == nil {
		// What it depends on is down (TestRepairUndoesBreak).
		return sdk.Resultf(sdk.ErrGeneric, "start: %s.down exists", path)
	}
	if err := os.WriteFile(path, []byte("ok"), 0o644); err != nil {
		return sdk.Resultf(sdk.ErrGeneric, "start: %v", err)
	}
	return sdk.Result{}
}

func (a *fileAgent) Stop(_ context.Context, req sdk.Request) sdk.Result {
	path := req.Params["path"]
	err := os.Remove(path)
	if a.fault == "memory" {
		a.mu.Lock()
		delete(a.mem, path)
		a.mu.Unlock()
	}
	if err != nil && (a.fault == "stop-not-idempotent" || !errors.Is(err, fs.ErrNotExist)) {
		return sdk.Resultf(sdk.ErrGeneric, "stop: %v", err)
	}
	return sdk.Result{}
}

func (a *fileAgent) Monitor(_ context.Context, req sdk.Request) sdk.Result {
	path := req.Params["path"]
	if a.fault == "memory" {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.mem[path] {
			return sdk.Result{}
		}
		return sdk.Result{Code: sdk.NotRunning}
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return sdk.Result{Code: sdk.NotRunning}
	case err != nil:
		return sdk.Resultf(sdk.ErrGeneric, "monitor: %v", err)
	case string(b) != "ok" && a.fault != "blind-monitor":
		return sdk.Resultf(sdk.ErrGeneric, "%s holds %q", path, b)
	}
	return sdk.Result{}
}

func resource(t *testing.T) sdktest.Resource {
	path := filepath.Join(t.TempDir(), "f")
	return sdktest.Resource{AgentType: "file", Params: map[string]string{"path": path}, Timeout: 2 * time.Second,
		Break: func(sdk.Request) error { return os.WriteFile(path, []byte("corrupt"), 0o644) }}
}

// A Break that breaks what the agent depends on (a PATH.down file: its
// start fails while it exists) has its Repair run once the failure rule
// is checked: the plugin restart rule that follows starts the resource
// again, and passes.
func TestRepairUndoesBreak(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	broken, repaired := 0, 0
	r := sdktest.Resource{AgentType: "file", Params: map[string]string{"path": path}, Timeout: 2 * time.Second,
		Break: func(sdk.Request) error {
			broken++
			if err := os.WriteFile(path+".down", nil, 0o644); err != nil {
				return err
			}
			return os.WriteFile(path, []byte("corrupt"), 0o644)
		},
		Repair: func(sdk.Request) error {
			repaired++
			if broken != 1 {
				t.Errorf("Repair before Break")
			}
			return os.Remove(path + ".down")
		}}
	bin := filepath.Join(t.TempDir(), sdk.PluginPrefix+"conf")
	if err := os.Symlink(os.Args[0], bin); err != nil {
		t.Fatal(err)
	}
	sdktest.Conformance(t, sdktest.LaunchBinary(t, bin), r)
	if repaired != 1 {
		t.Errorf("Repair ran %d times, want once", repaired)
	}
}

// A conforming agent passes every rule, in process and as a restartable
// plugin binary.
func TestConformingAgentPasses(t *testing.T) {
	sdktest.Conformance(t, sdktest.Serve(t, &fileAgent{}), resource(t))
	dir := t.TempDir()
	bin := filepath.Join(dir, sdk.PluginPrefix+"conf")
	if err := os.Symlink(os.Args[0], bin); err != nil {
		t.Fatal(err)
	}
	sdktest.Conformance(t, sdktest.LaunchBinary(t, bin), resource(t))
}

// TestFaultyAgent is run by TestEachRuleFails in a subprocess, with the
// agent's fault in envFault.
func TestFaultyAgent(t *testing.T) {
	fault := os.Getenv(envFault)
	if fault == "" {
		t.Skip("run by TestEachRuleFails")
	}
	if fault == "memory" {
		bin := filepath.Join(t.TempDir(), sdk.PluginPrefix+"conf")
		if err := os.Symlink(os.Args[0], bin); err != nil {
			t.Fatal(err)
		}
		sdktest.Conformance(t, sdktest.LaunchBinary(t, bin, envFault+"="+fault), resource(t))
		return
	}
	sdktest.Conformance(t, sdktest.Serve(t, &fileAgent{fault: fault}), resource(t))
}

// Each rule, broken by an agent, fails Conformance with the rule's name
// and what the agent answered.
func TestEachRuleFails(t *testing.T) {
	cases := []struct{ fault, want string }{
		{"unknown-accepted", `rule "validate refuses an unknown parameter" broken: validate of map[conformance_unknown_param:1 path:`},
		{"empty-required-accepted", `rule "validate refuses required parameter path empty" broken: validate of map[path:] answered ok (code 0, no message); want a refusal (an error code) with a message`},
		{"start-not-idempotent", `rule "start is idempotent" broken: start again answered error (code 1) "`},
		{"stop-not-idempotent", `rule "stop of a never-started resource succeeds" broken: stop answered error (code 1) "stop: remove `},
		{"blind-monitor", `rule "monitor reports a broken resource as failed" broken: monitor after Resource.Break answered ok (code 0, no message); it says the resource runs`},
		{"memory", `rule "a plugin restart leaves the resource running: the new process's monitor (the host's probe) finds it" broken: monitor answered not running (code 7, no message); want ok`},
		{"start-hangs", `rule "start succeeds" broken: start did not answer within 2s (Resource.Timeout`},
		{"start-panics", `rule "start succeeds" broken: start answered error (code 1) "agent panicked during start: boom: `},
	}
	for _, tc := range cases {
		t.Run(tc.fault, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run", "^TestFaultyAgent$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), envFault+"="+tc.fault)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("Conformance passed an agent with fault %s:\n%s", tc.fault, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("Conformance of an agent with fault %s: want a failure containing\n  %s\ngot:\n%s", tc.fault, tc.want, out)
			}
		})
	}
}
