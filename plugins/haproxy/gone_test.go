package haproxy

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A controller whose HAProxy is in a given state.
type stateCtl struct{ st procStatus }

func (c stateCtl) start(context.Context) error  { return nil }
func (c stateCtl) reload(context.Context) error { return nil }
func (c stateCtl) stop(context.Context) error   { return nil }
func (c stateCtl) status(context.Context) (procStatus, error) {
	return c.st, nil
}

// A start waiting for HAProxy's stats fails as soon as its service has
// failed for good (systemd gave up on it), not at the start's deadline;
// while the service is only restarting, the wait goes on.
func TestStartWaitEndsWhenTheServiceFailed(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock") // nothing answers
	failed := &instance{sock: sock, ctl: stateCtl{procStatus{failed: true, detail: "haproxy.service failed: systemd gave up restarting HAProxy"}}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := waitAnswer(ctx, failed)
	if err == nil || !strings.Contains(err.Error(), "HAProxy failed while the cluster waited") || !strings.Contains(err.Error(), "systemd gave up") {
		t.Fatalf("waitAnswer on a failed service: %v, want the service's failure", err)
	}
	if ctx.Err() != nil {
		t.Fatal("waitAnswer returned at the deadline, not when it saw the failure")
	}
	a := &Agent{}
	if _, err := a.ready(ctx, failed); err == nil || !strings.Contains(err.Error(), "HAProxy failed while the cluster waited") {
		t.Fatalf("ready on a failed service: %v, want the service's failure", err)
	}

	// Restarting (neither running nor failed): only the deadline ends it.
	restarting := &instance{sock: sock, ctl: stateCtl{procStatus{detail: "activating (auto-restart)"}}}
	short, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	if err := waitAnswer(short, restarting); err == nil || !strings.Contains(err.Error(), "before the deadline") {
		t.Fatalf("waitAnswer on a restarting service: %v, want it to wait until the deadline", err)
	}
}
