package example_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/sdk/example"
	"github.com/tandem-ha/tandem/plugins/sdk/sdktest"
)

func resource(t *testing.T) sdktest.Resource {
	r := sdktest.Resource{
		ID:        "sleeper",
		AgentType: "process",
		Params:    map[string]string{"command": "/bin/sleep", "args": "600", "state_dir": t.TempDir(), "stop_grace": "2s"},
	}
	// A fault: the program is killed behind the agent's back (and gone,
	// reaped by the agent, when Break returns).
	r.Break = func(sdk.Request) error {
		pid := readPid(t, filepath.Join(r.Params["state_dir"], "sleeper.pid"))
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			return err
		}
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			if syscall.Kill(pid, 0) != nil {
				return nil
			}
		}
		return fmt.Errorf("pid %d still there 10 s after SIGKILL", pid)
	}
	return r
}

// The agent through the real gRPC path, in process.
func TestConformanceInProcess(t *testing.T) {
	sdktest.Conformance(t, sdktest.Serve(t, example.New()), resource(t))
}

// The built plugin binary, launched the way tandem launches it.
func TestConformancePluginBinary(t *testing.T) {
	bin := sdktest.Build(t, "github.com/tandem-ha/tandem/plugins/sdk/example/cmd/tandem-plugin-example")
	sdktest.Conformance(t, sdktest.LaunchBinary(t, bin), resource(t))
}

func TestValidateRefusals(t *testing.T) {
	c := sdktest.Serve(t, example.New())
	cases := []struct {
		params map[string]string
		code   sdk.Code
		msg    string
	}{
		{map[string]string{}, sdk.ErrArgs, "command is required: absolute path of the program to run"},
		{map[string]string{"command": "sleep"}, sdk.ErrArgs, `command "sleep": must be an absolute path`},
		{map[string]string{"command": "/nonexistent/prog"}, sdk.ErrNotInstalled, "command /nonexistent/prog does not exist on this node"},
		{map[string]string{"command": "/bin"}, sdk.ErrNotInstalled, "is not an executable file"},
		{map[string]string{"command": "/bin/sleep", "stop_grace": "soon"}, sdk.ErrArgs, `stop_grace "soon": not a duration (e.g. 5s, 500ms or 1m30s; a bare number is seconds)`},
		{map[string]string{"command": "/bin/sleep", "stop_grace": "-1s"}, sdk.ErrArgs, `stop_grace "-1s": must not be negative`},
		{map[string]string{"command": "sleep", "logfile": "out.log", "stop-grace": "1s"}, sdk.ErrArgs,
			`unknown parameter "stop-grace": did you mean stop_grace? (example:process takes command, args, state_dir, logfile, stop_grace, promotion_score); command "sleep": must be an absolute path; logfile "out.log": must be an absolute path`},
		{map[string]string{"command": "/bin/sleep"}, sdk.OK, ""},
	}
	for _, tc := range cases {
		res, err := c.Validate(context.Background(), sdk.ValidateRequest{AgentType: "process", Params: tc.params})
		if err != nil || res.Code != tc.code || !strings.Contains(res.Message, tc.msg) {
			t.Errorf("validate %v: %v %q, %v; want %v %q", tc.params, res.Code, res.Message, err, tc.code, tc.msg)
		}
	}
}

// A program that dies behind the agent's back is a failure, not a clean
// stop; and a plugin process that dies leaves the program running.
func TestMonitorSeesDeathAndPluginDeathLeavesProgram(t *testing.T) {
	bin := sdktest.Build(t, "github.com/tandem-ha/tandem/plugins/sdk/example/cmd/tandem-plugin-example")
	r := resource(t)
	req := sdk.Request{ResourceID: r.ID, AgentType: "process", Params: r.Params, Instance: sdk.Instance{CloneIndex: 1}}
	ctx := context.Background()

	p1 := sdktest.Launch(t, bin)
	if res, err := p1.Start(ctx, req); err != nil || res.Code != sdk.OK {
		t.Fatalf("start: %+v %v", res, err)
	}
	t.Cleanup(func() { _, _ = p1.Stop(ctx, req) })
	pidBefore := readPid(t, filepath.Join(r.Params["state_dir"], "sleeper:1.pid"))

	p1.Kill()
	p2 := sdktest.Launch(t, bin)
	res, err := p2.Monitor(ctx, req)
	if err != nil || res.Code != sdk.OK {
		t.Fatalf("monitor by a new plugin process: %+v %v", res, err)
	}
	if pid := readPid(t, filepath.Join(r.Params["state_dir"], "sleeper:1.pid")); pid != pidBefore || syscall.Kill(pid, 0) != nil {
		t.Fatalf("program pid %d before the plugin died, %d after", pidBefore, pid)
	}

	if err := syscall.Kill(pidBefore, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err = p2.Monitor(ctx, req)
		if err != nil || res.Code != sdk.OK || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || res.Code != sdk.ErrGeneric || !strings.Contains(res.Message, "exited without a stop") {
		t.Fatalf("monitor after the program was killed: %+v %v", res, err)
	}
	if res, err := p2.Stop(ctx, req); err != nil || res.Code != sdk.OK {
		t.Fatalf("stop after the program died: %+v %v", res, err)
	}
	if res, _ := p2.Monitor(ctx, req); res.Code != sdk.NotRunning {
		t.Fatalf("monitor after stop: %+v", res)
	}
}

func TestStartFailsForProgramThatExitsAtOnce(t *testing.T) {
	c := sdktest.Serve(t, example.New())
	req := sdk.Request{ResourceID: "false", AgentType: "process", Params: map[string]string{"command": "/bin/false", "state_dir": t.TempDir()}, Instance: sdk.Instance{CloneIndex: -1}}
	res, err := c.Start(context.Background(), req)
	if err != nil || res.Code != sdk.ErrGeneric || !strings.Contains(res.Message, "exited right after start") {
		t.Fatalf("start /bin/false: %+v %v", res, err)
	}
	if res, _ := c.Monitor(context.Background(), req); res.Code != sdk.NotRunning {
		t.Fatalf("monitor after a failed start: %+v", res)
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	for _, c := range strings.Fields(string(b))[0] {
		pid = pid*10 + int(c-'0')
	}
	return pid
}

// As a promotable clone: monitor reports promotion_score, says
// RunningPromoted once promoted, FailedPromoted when the primary's program
// died, and a stop ends the primary role.
func TestPrimaryReplica(t *testing.T) {
	c := sdktest.Serve(t, example.New())
	ctx := context.Background()
	r := resource(t)
	r.Params["promotion_score"] = "7"
	req := sdk.Request{ResourceID: "db", AgentType: "process", Params: r.Params, Instance: sdk.Instance{Node: "holly", CloneIndex: 1},
		Deadline: time.Now().Add(10 * time.Second), Cluster: &sdk.ClusterView{Nodes: []sdk.NodeView{{Name: "holly", Online: true}}}}
	t.Cleanup(func() { c.Stop(ctx, req) })
	if res, err := c.Promote(ctx, req); err != nil || res.Code != sdk.ErrGeneric {
		t.Fatalf("promote before start: %+v, %v; want a refusal", res, err)
	}
	if res, err := c.Start(ctx, req); err != nil || res.Code != sdk.OK {
		t.Fatalf("start: %+v, %v", res, err)
	}
	res, err := c.Monitor(ctx, req)
	if err != nil || res.Code != sdk.OK || res.PromotionScore == nil || *res.PromotionScore != 7 {
		t.Fatalf("monitor of the replica: %+v, %v; want OK with promotion score 7", res, err)
	}
	if res, err := c.Promote(ctx, req); err != nil || res.Code != sdk.OK {
		t.Fatalf("promote: %+v, %v", res, err)
	}
	if res, err := c.Monitor(ctx, req); err != nil || res.Code != sdk.RunningPromoted {
		t.Fatalf("monitor of the primary: %+v, %v", res, err)
	}
	// The primary's program dies: FailedPromoted.
	data, err := os.ReadFile(filepath.Join(r.Params["state_dir"], "db:1.pid"))
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Sscan(string(data), &pid); err != nil {
		t.Fatalf("pid file %q: %v", data, err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll := time.Now().Add(10 * time.Second)
	for {
		res, err := c.Monitor(ctx, req)
		if err == nil && res.Code == sdk.FailedPromoted {
			break
		}
		if time.Now().After(poll) {
			t.Fatalf("monitor after the primary died: %+v, %v; want FailedPromoted", res, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if res, err := c.Stop(ctx, req); err != nil || res.Code != sdk.OK {
		t.Fatalf("stop: %+v, %v", res, err)
	}
	if res, err := c.Monitor(ctx, req); err != nil || res.Code != sdk.NotRunning {
		t.Fatalf("monitor after stop: %+v, %v", res, err)
	}
}

// A clone notification is written to the instance's notify file (through
// the gRPC wire: every list arrives); the cluster-view one is not for this
// agent.
func TestNotifyFile(t *testing.T) {
	c := sdktest.Serve(t, example.New())
	ctx := context.Background()
	r := resource(t)
	req := sdk.Request{ResourceID: "db", AgentType: "process", Params: r.Params, Instance: sdk.Instance{Node: "holly", CloneIndex: 1},
		Deadline: time.Now().Add(10 * time.Second)}
	if res, err := c.Notify(ctx, req); err != nil || res.Code != sdk.ErrUnimplemented {
		t.Fatalf("cluster-view notify: %+v, %v; want unimplemented", res, err)
	}
	req.Notification = &sdk.Notification{Type: sdk.NotifyPost, Operation: "promote",
		Active: []sdk.NotifyEntry{{Instance: 0, Node: "benji"}, {Instance: 1, Node: "holly"}}, Inactive: []sdk.NotifyEntry{{Instance: 2}},
		Unpromoted: []sdk.NotifyEntry{{Instance: 0, Node: "benji"}, {Instance: 1, Node: "holly"}}, Promote: []sdk.NotifyEntry{{Instance: 1, Node: "holly"}}}
	if res, err := c.Notify(ctx, req); err != nil || res.Code != sdk.OK {
		t.Fatalf("notify: %+v, %v", res, err)
	}
	b, err := os.ReadFile(example.NotifyFile(filepath.Join(r.Params["state_dir"], "db:1.pid")))
	if err != nil {
		t.Fatal(err)
	}
	want := "type post\noperation promote\nactive 0@benji 1@holly\ninactive 2\npromoted\nunpromoted 0@benji 1@holly\nstart\nstop\npromote 1@holly\ndemote\n"
	if string(b) != want {
		t.Errorf("notify file:\n%s\nwant:\n%s", b, want)
	}
}
