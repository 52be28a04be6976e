package executor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/sdk/sdktest"
)

// The executor and monitors against real plugin processes: the SDK's
// example plugin runs programs as resources.
func TestWithExamplePlugin(t *testing.T) {
	bin := sdktest.Build(t, "github.com/tandem-ha/tandem/plugins/sdk/example/cmd/tandem-plugin-example")
	sup, err := supervisor.New(supervisor.Config{Dir: filepath.Dir(bin), Logger: sdktest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sup.Close)
	if err := sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	params := map[string]string{"command": "/bin/sleep", "args": "600", "state_dir": state, "stop_grace": "1s"}
	locks := NewLocks()
	pub := &collector{}
	e, err := NewExecutor(ExecutorConfig{Node: "holly", Runner: sup, Publisher: pub, Locks: locks, Logger: sdktest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	action := func(id, op, res string, deps ...string) Action {
		return Action{ID: id, Resource: res, CloneIndex: -1, Node: "holly", Agent: "example:process", Op: op, Params: params, Timeout: 10 * time.Second, DependsOn: deps}
	}
	stopAll := Transition{ID: "t-stop", Actions: []Action{action("s1", bus.OpStop, "second"), action("s2", bus.OpStop, "first", "s1")}}
	t.Cleanup(func() { _, _ = e.Execute(context.Background(), stopAll) })

	rep, err := e.Execute(context.Background(), Transition{ID: "t-start", Actions: []Action{
		action("p1", bus.OpProbe, "first"),
		action("a1", bus.OpStart, "first", "p1"),
		action("a2", bus.OpStart, "second", "a1"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep {
		want := sdk.OK
		if r.Action.Op == bus.OpProbe {
			want = sdk.NotRunning
		}
		if !r.Ran || sdk.Code(r.Result.Code) != want {
			t.Fatalf("%s: %+v", r.Action.ID, r)
		}
	}
	if a1, a2 := rep[1].Result, rep[2].Result; !a2.Started.After(a1.Started.Add(a1.Duration)) {
		t.Fatalf("second started at %v, before first finished (%v + %v)", a2.Started, a1.Started, a1.Duration)
	}

	m := NewMonitors(MonitorsConfig{Node: "holly", Runner: sup, Publisher: pub, Locks: locks, Logger: sdktest.Logger(t)})
	defer m.Close()
	m.Set([]MonitorSpec{
		{Resource: "first", CloneIndex: -1, Agent: "example:process", Params: params, Interval: 50 * time.Millisecond},
		{Resource: "second", CloneIndex: -1, Agent: "example:process", Params: params, Interval: 50 * time.Millisecond},
	})
	poll.Until(t, 10*time.Second, 10*time.Millisecond, func() error {
		if r, ok := m.Last("second", -1); !ok || r.Code != 0 {
			return fmt.Errorf("monitor of second: %+v", r)
		}
		return nil
	})

	// The program dies behind the cluster's back: the monitor says so,
	// once, as a change.
	b, err := os.ReadFile(filepath.Join(state, "second.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.Fields(string(b))[0])
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, 10*time.Millisecond, func() error {
		for _, ev := range pub.monitors() {
			if ev.Resource == "second" && sdk.Code(ev.Code) == sdk.ErrGeneric && ev.Changed && strings.Contains(ev.Message, "exited without a stop") {
				return nil
			}
		}
		return fmt.Errorf("no failed monitor of second yet")
	})
	m.Close()
	failures := 0
	for _, ev := range pub.monitors() {
		if ev.Resource == "second" && sdk.Code(ev.Code) == sdk.ErrGeneric && ev.Changed {
			failures++
		}
	}
	if failures != 1 {
		t.Fatalf("%d monitor results flagged the failure as a change, want 1", failures)
	}
}
