package daemon

import (
	"fmt"
	"testing"
)

// What the coordinator's heartbeats carry of its view: whole on a change
// or a new tenure, whatever the heartbeat; otherwise every fourth heartbeat
// (once a second) whole while some online member does not take stamps,
// and while all do, whole every sixteenth (4 s) and a stamp the three
// seconds between.
func TestViewToSend(t *testing.T) {
	carried := func(takeStamps bool, changeAt uint64) string {
		out := ""
		token, version := uint64(7), uint64(3)
		sentToken, sentVersion := token, version
		for seq := uint64(1); seq <= 32; seq++ {
			if seq == changeAt {
				version++
			}
			whole, stamp := viewToSend(seq, token, version, sentToken, sentVersion, func() bool { return takeStamps })
			sentToken, sentVersion = token, version
			switch {
			case whole && stamp:
				t.Fatalf("heartbeat %d: both whole and stamp", seq)
			case whole:
				out += fmt.Sprintf(" %d:view", seq)
			case stamp:
				out += fmt.Sprintf(" %d:stamp", seq)
			}
		}
		return out
	}
	for _, c := range []struct {
		name       string
		takeStamps bool
		changeAt   uint64
		want       string
	}{
		{"an older member online", false, 0, " 4:view 8:view 12:view 16:view 20:view 24:view 28:view 32:view"},
		{"every member takes stamps", true, 0, " 4:stamp 8:stamp 12:stamp 16:view 20:stamp 24:stamp 28:stamp 32:view"},
		{"a change between", true, 10, " 4:stamp 8:stamp 10:view 12:stamp 16:view 20:stamp 24:stamp 28:stamp 32:view"},
		{"a change on a stamp's heartbeat", true, 20, " 4:stamp 8:stamp 12:stamp 16:view 20:view 24:stamp 28:stamp 32:view"},
	} {
		if got := carried(c.takeStamps, c.changeAt); got != c.want {
			t.Errorf("%s:\n got%s\nwant%s", c.name, got, c.want)
		}
	}
	// A new tenure with the same version (another coordinator) is a change.
	if whole, _ := viewToSend(5, 8, 3, 7, 3, func() bool { return true }); !whole {
		t.Error("a new tenure's first heartbeat does not carry the view whole")
	}
}
