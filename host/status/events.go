package status

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/bus"
)

// EventText is one bus event in a readable line (without its time, source
// and kind), as `tandem events` prints it and the status page lists recent
// events; ok is false for events left out: heartbeats unless heartbeats,
// unchanged monitor results unless all, and kinds it does not know.
func EventText(env bus.Envelope, heartbeats, all bool) (string, bool) {
	raw, _ := json.Marshal(env)
	switch env.Kind {
	case bus.Heartbeat{}.Kind():
		h, _, err := bus.Decode[bus.Heartbeat](raw)
		if err != nil || !heartbeats {
			return "", false
		}
		return fmt.Sprintf("%s alive (seq %d, %s)", h.Node, h.Seq, strings.Join(h.Plugins, ", ")), true
	case bus.ActionResult{}.Kind():
		a, _, err := bus.Decode[bus.ActionResult](raw)
		if err != nil {
			return "", false
		}
		res := "ok"
		switch {
		case a.Cancelled:
			res = "cancelled"
		case a.TimedOut:
			res = "TIMED OUT"
		case a.Code != 0:
			res = fmt.Sprintf("FAILED (code %d)", a.Code)
		}
		s := fmt.Sprintf("%s %s on %s: %s in %s", a.Op, instanceName(a.Resource, a.Clone, a.Instance), a.Node, res, a.Duration.Round(time.Millisecond))
		if a.Message != "" {
			s += ": " + a.Message
		}
		return s, true
	case bus.MonitorResult{}.Kind():
		m, _, err := bus.Decode[bus.MonitorResult](raw)
		if err != nil || (!m.Changed && !all) {
			return "", false
		}
		s := fmt.Sprintf("monitor %s on %s every %s: code %d", instanceName(m.Resource, m.Clone, m.Instance), m.Node, m.Interval, m.Code)
		if m.Message != "" {
			s += ": " + m.Message
		}
		return s, true
	case bus.TransitionEvent{}.Kind():
		tr, _, err := bus.Decode[bus.TransitionEvent](raw)
		if err != nil {
			return "", false
		}
		var plan struct {
			Actions []struct {
				ID string `json:"id"`
			} `json:"actions"`
		}
		_ = json.Unmarshal(tr.Plan, &plan)
		var ids []string
		for _, a := range plan.Actions {
			ids = append(ids, a.ID)
		}
		return fmt.Sprintf("%s by %s (config rev %d, %s): %s", tr.ID, tr.Coordinator, tr.ConfigRev, tr.Reason, strings.Join(ids, " ")), true
	case bus.TransitionAbort{}.Kind():
		ab, _, err := bus.Decode[bus.TransitionAbort](raw)
		if err != nil {
			return "", false
		}
		return fmt.Sprintf("abort %s by %s: %s", ab.ID, ab.Coordinator, ab.Reason), true
	case bus.NodeResources{}.Kind():
		nr, _, err := bus.Decode[bus.NodeResources](raw)
		if err != nil {
			return "", false
		}
		var parts []string
		for _, rs := range nr.Resources {
			parts = append(parts, instanceName(rs.Resource, rs.Clone, rs.Instance)+" "+rs.State)
		}
		s := fmt.Sprintf("%s (config rev %d): %s", nr.Node, nr.ConfigRev, strings.Join(parts, ", "))
		if len(nr.Busy) > 0 {
			s += "; running " + strings.Join(nr.Busy, " ")
		}
		return s, true
	case bus.ConfigChanged{}.Kind():
		c, _, err := bus.Decode[bus.ConfigChanged](raw)
		if err != nil {
			return "", false
		}
		return fmt.Sprintf("revision %d by %s: %s", c.Revision, c.By, c.Summary), true
	case bus.NodeEvent{}.Kind():
		n, _, err := bus.Decode[bus.NodeEvent](raw)
		if err != nil {
			return "", false
		}
		s := n.Node + " " + n.Event
		if n.Reason != "" {
			s += ": " + n.Reason
		}
		return s, true
	case bus.LogEvent{}.Kind():
		l, _, err := bus.Decode[bus.LogEvent](raw)
		if err != nil {
			return "", false
		}
		return fmt.Sprintf("%s %s: %s", l.Level, l.Node, l.Message), true
	case bus.Refresh{}.Kind():
		r, _, err := bus.Decode[bus.Refresh](raw)
		if err != nil {
			return "", false
		}
		return "replan requested: " + r.Reason, true
	}
	return "", false
}

func instanceName(resource, clone string, instance int) string {
	if clone == "" {
		return resource
	}
	return fmt.Sprintf("%s#%d", resource, instance)
}
