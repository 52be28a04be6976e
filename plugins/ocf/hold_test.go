package ocf_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// The bridge keeps a singleton's lease hold for an agent that knows
// nothing of holds: when the deadline passes without a newer Hold, the
// plugin runs the agent's stop by itself.
func TestHoldLapseStopsTheResource(t *testing.T) {
	p := plugin(t, testRoot(t))
	state := filepath.Join(t.TempDir(), "s")
	params := map[string]string{"state": state}
	ctx, cancel, req := request("w", "tandem:Well", params, 10*time.Second)
	defer cancel()
	hold := func(until time.Duration) sdk.Result {
		t.Helper()
		res, err := p.Hold(ctx, sdk.HoldRequest{ResourceID: "w", AgentType: "tandem:Well", Params: params, Until: until})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	gone := func(what string) {
		t.Helper()
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(state); os.IsNotExist(err) {
				return
			}
			if time.Now().After(end) {
				t.Fatalf("%s: the state file is still there 10 s later", what)
			}
		}
	}
	start := func() {
		t.Helper()
		if res, err := p.Start(ctx, req); err != nil || res.Code != sdk.OK {
			t.Fatalf("start: %v %v", res, err)
		}
	}

	start()
	// Deadlines of a second or more: a hold that arrives after its
	// deadline is another case (below), however loaded the machine.
	until := sdk.MonotonicNow() + time.Second
	if res := hold(until); res.Code != sdk.OK || !strings.Contains(res.Message, "w held for") {
		t.Fatalf("hold: %v", res)
	}
	gone("a hold of 1 s")
	t.Logf("stopped %s after the hold's deadline", (sdk.MonotonicNow() - until).Round(time.Millisecond))
	if res, _ := p.Monitor(ctx, req); res.Code != sdk.NotRunning {
		t.Errorf("monitor after the lapse: %v", res)
	}

	// A newer hold replaces the deadline, earlier or later.
	start()
	hold(sdk.MonotonicNow() + time.Hour)
	if res := hold(sdk.MonotonicNow() + time.Second); res.Code != sdk.OK {
		t.Fatalf("hold: %v", res)
	}
	gone("a hold of an hour replaced by one of 1 s")

	// A hold already past stops the resource before it answers.
	start()
	if res := hold(sdk.MonotonicNow() - time.Second); res.Code != sdk.ErrGeneric || !strings.Contains(res.Message, "hold on w arrived 1") || !strings.Contains(res.Message, "s after its deadline: w stopped in") {
		t.Errorf("a late hold: %v", res)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("the late hold answered before the stop: %v", err)
	}
	// Until 0 cancels.
	if res := hold(0); res.Code != sdk.OK || !strings.Contains(res.Message, "cancelled") {
		t.Errorf("cancel: %v", res)
	}
}

// A start under way when the hold lapses is cut off (its process group
// killed) and the stop runs.
func TestHoldLapseCutsOffAStart(t *testing.T) {
	p := plugin(t, testRoot(t))
	pids := filepath.Join(t.TempDir(), "pids")
	params := map[string]string{"pids": pids}
	ctx, cancel, req := request("h", "tandem:Hanging", params, time.Minute)
	defer cancel()
	done := make(chan sdk.Result, 1)
	go func() {
		res, _ := p.Start(ctx, req)
		done <- res
	}()
	var fields []string
	for end := time.Now().Add(10 * time.Second); len(fields) != 2; time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(pids)
		fields = strings.Fields(string(b))
		if time.Now().After(end) {
			t.Fatal("the agent did not start")
		}
	}
	if res, err := p.Hold(ctx, sdk.HoldRequest{ResourceID: "h", AgentType: "tandem:Hanging", Params: params, Until: sdk.MonotonicNow() + time.Second}); err != nil || res.Code != sdk.OK {
		t.Fatalf("hold: %v %v", res, err)
	}
	res := <-done
	if res.Code != sdk.ErrGeneric || !strings.Contains(res.Message, "ocf:tandem:Hanging start cut off after") || !strings.Contains(res.Message, "the lease hold lapsed") {
		t.Errorf("start: %v", res)
	}
	for _, f := range fields {
		pid, _ := strconv.Atoi(f)
		for end := time.Now().Add(10 * time.Second); !dead(pid); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("pid %d still alive", pid)
			}
		}
	}
}

// envFakeHost makes the test binary a tandem host that launches the plugin
// (path in envFakeHost), starts resource "w" of ocf:tandem:Well with state
// file $OCF_TEST_STATE, holds it for an hour, says "ready" and waits to be
// killed.
const envFakeHost = "OCF_TEST_FAKE_HOST"

func fakeHost() {
	fail := func(err error) { fmt.Println("error:", err); os.Exit(1) }
	ctx := context.Background()
	p, err := sdk.Launch(ctx, sdk.LaunchConfig{Path: os.Getenv(envFakeHost), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fail(err)
	}
	params := map[string]string{"state": os.Getenv("OCF_TEST_STATE")}
	res, err := p.Start(ctx, sdk.Request{ResourceID: "w", AgentType: "tandem:Well", Params: params,
		Instance: sdk.Instance{Node: "node1", CloneIndex: -1}, Deadline: time.Now().Add(30 * time.Second)})
	if err != nil || res.Code != sdk.OK {
		fail(fmt.Errorf("start: %v %v", res, err))
	}
	res, err = p.Hold(ctx, sdk.HoldRequest{ResourceID: "w", AgentType: "tandem:Well", Params: params, Until: sdk.MonotonicNow() + time.Hour})
	if err != nil || res.Code != sdk.OK {
		fail(fmt.Errorf("hold: %v %v", res, err))
	}
	fmt.Println("ready")
	select {}
}

// When the host dies, the plugin stops the OCF resources it holds before
// it exits (sdk.Serve's release, through the bridge's Stop): an hour's
// hold does not keep them.
func TestHostDeathStopsHeldResources(t *testing.T) {
	bin := pluginBin(t)
	state := filepath.Join(t.TempDir(), "s")
	host := exec.Command(os.Args[0], "-test.run=^$")
	host.Env = append(os.Environ(), envFakeHost+"="+bin, "OCF_ROOT="+testRoot(t), "OCF_TEST_STATE="+state)
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = host.Process.Kill(); _ = host.Wait() }()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("fake host: %q", line)
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("not started: %v", err)
	}
	if err := host.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()
	killed := time.Now()
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(state); os.IsNotExist(err) {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the held resource is still running 10 s after its host died")
		}
	}
	t.Logf("held resource stopped %s after its host was killed", time.Since(killed).Round(time.Millisecond))
}
