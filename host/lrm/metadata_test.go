package lrm

import (
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/policies/cib"
)

// An operation's timeout is the configured one, else the agent's declared
// one (a probe takes the monitor's), else DefaultTimeout.
func TestOpTimeoutFromMetaData(t *testing.T) {
	l := &LRM{metas: map[string]sdk.MetaData{"ex": {Actions: []sdk.ActionSpec{
		{Name: "stop", Timeout: 7 * time.Second}, {Name: "monitor", Timeout: 3 * time.Second, Interval: 10 * time.Second}}}}}
	r := cib.Resource{ID: "r", Agent: "ex", Ops: []cib.Op{{Name: "start", Timeout: 40 * time.Second}}}
	for op, want := range map[string]time.Duration{bus.OpStart: 40 * time.Second, bus.OpStop: 7 * time.Second,
		bus.OpMonitor: 3 * time.Second, bus.OpProbe: 3 * time.Second, bus.OpReload: DefaultTimeout} {
		if got := l.opTimeout(r, op); got != want {
			t.Errorf("%s: %s, want %s", op, got, want)
		}
	}
	r.Agent = "unknown"
	if got := l.opTimeout(r, bus.OpStop); got != DefaultTimeout {
		t.Errorf("stop of an agent without meta-data: %s, want %s", got, DefaultTimeout)
	}
}
