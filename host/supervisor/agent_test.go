package supervisor_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// testAgent is the plugin the tests launch (the test binary, under a
// tandem-plugin-* name). Its resources are files in params["dir"]; every
// start, stop and hold it runs is appended to dir/ops.log, so tests can see
// that a plugin restart ran none. Monitor params make it misbehave.
type testAgent struct {
	mu      sync.Mutex
	waiting int
	arrived chan struct{}
}

var (
	_ sdk.Agent  = (*testAgent)(nil)
	_ sdk.Holder = (*testAgent)(nil)
)

// envVersion, when set, is the version the test agent reports (an
// upgraded plugin file is a script that sets it).
const envVersion = "TANDEM_SUPERVISOR_TEST_VERSION"

func (a *testAgent) Info() sdk.Info {
	v := os.Getenv(envVersion)
	if v == "" {
		v = "0.0.1"
	}
	return sdk.Info{Name: "tplug", Types: []string{"file"}, Version: v}
}

func (a *testAgent) MetaData(t string) (sdk.MetaData, error) {
	if t != "file" {
		return sdk.MetaData{}, fmt.Errorf("no agent type %q", t)
	}
	return sdk.MetaData{Type: "file", Version: "0.0.1", ShortDesc: "a file",
		Params:  []sdk.ParamSpec{{Name: "dir", Type: "string", Required: true, Description: "where"}},
		Actions: []sdk.ActionSpec{{Name: "start", Timeout: time.Second}, {Name: "stop", Timeout: time.Second}, {Name: "monitor", Timeout: time.Second, Interval: time.Second}},
	}, nil
}

func (a *testAgent) Validate(_ context.Context, req sdk.ValidateRequest) sdk.Result {
	if req.Params["dir"] == "" {
		return sdk.Resultf(sdk.ErrArgs, "param dir is required (tplug)")
	}
	return sdk.Result{}
}

func oplog(dir, format string, args ...any) {
	f, err := os.OpenFile(filepath.Join(dir, "ops.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, format+"\n", args...)
}

func (a *testAgent) Start(_ context.Context, req sdk.Request) sdk.Result {
	dir := req.Params["dir"]
	oplog(dir, "start %s", req.ResourceID)
	if err := os.WriteFile(filepath.Join(dir, req.ResourceID), []byte("on"), 0o644); err != nil {
		return sdk.Resultf(sdk.ErrGeneric, "%v", err)
	}
	return sdk.Result{}
}

func (a *testAgent) Stop(_ context.Context, req sdk.Request) sdk.Result {
	dir := req.Params["dir"]
	oplog(dir, "stop %s", req.ResourceID)
	if err := os.Remove(filepath.Join(dir, req.ResourceID)); err != nil && !os.IsNotExist(err) {
		return sdk.Resultf(sdk.ErrGeneric, "%v", err)
	}
	return sdk.Result{}
}

func (a *testAgent) Monitor(ctx context.Context, req sdk.Request) sdk.Result {
	dir := req.Params["dir"]
	switch req.Params["crash"] {
	case "always":
		os.Exit(3)
	case "once":
		marker := filepath.Join(dir, "crashed-"+req.ResourceID)
		if _, err := os.Stat(marker); err != nil {
			_ = os.WriteFile(marker, nil, 0o644)
			os.Exit(3)
		}
	}
	if req.Params["hang"] != "" {
		select {} // ignores its context, as a stuck agent would
	}
	if n, _ := strconv.Atoi(req.Params["barrier"]); n > 0 {
		// Answer only once n monitors are in the agent at the same time:
		// monitors that blocked each other would all time out here.
		a.mu.Lock()
		if a.arrived == nil {
			a.arrived = make(chan struct{})
		}
		a.waiting++
		if a.waiting == n {
			close(a.arrived)
		}
		arrived := a.arrived
		a.mu.Unlock()
		select {
		case <-arrived:
		case <-ctx.Done():
			return sdk.Resultf(sdk.ErrGeneric, "only %d monitors arrived together", a.waiting)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, req.ResourceID)); err != nil {
		return sdk.Result{Code: sdk.NotRunning}
	}
	return sdk.Result{}
}

func (a *testAgent) Hold(_ context.Context, req sdk.HoldRequest) sdk.Result {
	if req.Params["hold"] == "unimplemented" {
		oplog(req.Params["dir"], "hold refused %s", req.ResourceID)
		return sdk.Resultf(sdk.ErrUnimplemented, "this agent does not implement hold")
	}
	oplog(req.Params["dir"], "hold %s", req.ResourceID)
	return sdk.Result{}
}
