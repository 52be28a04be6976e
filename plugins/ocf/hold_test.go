package ocf_test

import (
	"os"
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
