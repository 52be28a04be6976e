package alerts

import (
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Resource events are made from the results a node's resource manager
// gets, as Pacemaker's controller alerts on the executor's: every
// operation that ran, except a probe that found what was expected (the
// resource stopped) and a recurring monitor whose result did not change.

// ProbeTarget is the rc a probe expects (not running), as in Pacemaker.
const ProbeTarget = int(sdk.NotRunning)

// FromAction is the resource event of an action's result; ok is false
// when it is not alerted (it never ran, or a probe found it stopped).
func FromAction(r bus.ActionResult) (ev Event, ok bool) {
	if r.Cancelled {
		return Event{}, false
	}
	ev = Event{Kind: KindResource, Node: r.Node, Resource: r.Resource, Task: r.Op, RC: int(r.Code), ExecTime: r.Duration}
	if r.Op == bus.OpProbe {
		// Pacemaker's probe is a monitor with interval 0.
		ev.Task, ev.TargetRC = bus.OpMonitor, ProbeTarget
		if !r.TimedOut && (sdk.Code(r.Code) == sdk.NotRunning || sdk.Code(r.Code) == sdk.ErrNotInstalled) {
			return Event{}, false
		}
	}
	setResult(&ev, r.TimedOut)
	return ev, true
}

// FromMonitor is the resource event of a recurring monitor's result;
// promoted says the instance runs promoted (the monitor expects 8).
func FromMonitor(r bus.MonitorResult, promoted bool) (ev Event, ok bool) {
	if !r.Changed {
		return Event{}, false
	}
	ev = Event{Kind: KindResource, Node: r.Node, Resource: r.Resource, Task: bus.OpMonitor, Interval: r.Interval, RC: int(r.Code), ExecTime: r.Duration}
	if promoted {
		ev.TargetRC = int(sdk.RunningPromoted)
	}
	setResult(&ev, r.TimedOut)
	return ev, true
}

func setResult(ev *Event, timedOut bool) {
	if timedOut {
		ev.Status, ev.Desc = StatusTimedOut, "Timed out"
		return
	}
	ev.Status, ev.Desc = StatusDone, RCText(ev.RC)
}

// RCText is Pacemaker's text of an OCF return code (crm_exit_str), which
// alert scripts show as CRM_alert_desc.
func RCText(rc int) string {
	switch rc {
	case 0:
		return "OK"
	case 1:
		return "Error occurred"
	case 2:
		return "Invalid parameter"
	case 3:
		return "Unimplemented"
	case 4:
		return "Insufficient privileges"
	case 5:
		return "Not installed"
	case 6:
		return "Not configured"
	case 7:
		return "Not running"
	case 8:
		return "Promoted"
	case 9:
		return "Failed in promoted role"
	case 190:
		return "Service active but more likely to fail soon"
	case 191:
		return "Service promoted but more likely to fail soon"
	}
	return "Unknown exit status"
}

// NodeEvent is the node event of member joining (online) or leaving;
// id is its CRM_alert_nodeid.
func NodeEvent(member string, id int, online bool) Event {
	desc := "member"
	if !online {
		desc = "lost"
	}
	return Event{Kind: KindNode, Node: member, NodeID: id, Desc: desc}
}
