package daemon_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
)

const clonedGroup = `
[[resource]]
id = "mount"
agent = "example:process"
params = { command = "/bin/sleep", args = "3600", state_dir = "STATE/{node}" }
[[resource.op]]
name = "monitor"
interval = "500ms"
[[resource]]
id = "app"
agent = "example:process"
params = { command = "/bin/sleep", args = "3600", state_dir = "STATE/{node}" }
[[resource.op]]
name = "monitor"
interval = "500ms"
[[group]]
id = "stack"
resources = ["mount", "app"]
[group.clone]
`

// A cloned group runs on every node: its members are clone instances, not
// singletons (no lease keeps the second node from running them), and a
// member killed on one node is recovered there with the member after it
// restarted, while the other node's copy is left alone.
func TestClonedGroupRunsEverywhere(t *testing.T) {
	tc := daemontest.New(t, clonedGroup)
	tc.StartAll()
	c := tc.Connect()
	poll.Until(t, 60*time.Second, 50*time.Millisecond, func() error {
		if m, a := tc.Where("mount"), tc.Where("app"); len(m) != 2 || len(a) != 2 {
			return fmt.Errorf("mount on %v, app on %v", m, a)
		}
		return daemontest.Reported(c, map[string]string{"holly/mount": bus.StateStarted, "benji/mount": bus.StateStarted,
			"holly/app": bus.StateStarted, "benji/app": bus.StateStarted})
	})
	pids := tc.Pids("")
	if err := syscall.Kill(pids["holly/mount"], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, 50*time.Millisecond, func() error {
		now := tc.Pids("")
		switch {
		case now["holly/mount"] == 0 || now["holly/mount"] == pids["holly/mount"]:
			return fmt.Errorf("mount not recovered on holly")
		case now["holly/app"] == 0 || now["holly/app"] == pids["holly/app"]:
			return fmt.Errorf("app not restarted on holly after mount")
		}
		return daemontest.Reported(c, map[string]string{"holly/mount": bus.StateStarted, "holly/app": bus.StateStarted})
	})
	now := tc.Pids("")
	if now["benji/mount"] != pids["benji/mount"] || now["benji/app"] != pids["benji/app"] {
		t.Errorf("benji's copy of the group was restarted: pids %v, then %v", pids, now)
	}
}
