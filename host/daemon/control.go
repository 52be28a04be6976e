package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/tandem-ha/tandem/bus"
)

// `tandem cluster stop NODE` and `start NODE` ask the node's daemon on
// bus.SubjectControl(NODE). A stopped node keeps its bus member (its vote, quorum,
// remote control and status), but its resources are stopped: the flag rides
// on its heartbeat, and the coordinator plans the node as standby, so its
// singletons move away and its clone instances stop through ordinary
// transitions (constraints respected). `cluster start` clears the flag.
//
// The flag survives a restart of the daemon but not a reboot, as a stopped
// Pacemaker stays stopped until the machine boots again: it is kept in the
// data directory with the kernel's boot id. See docs/cluster-stop.md.

// Control actions.
const (
	ControlStop  = "stop"
	ControlStart = "start"
)

// ControlRequest asks a node to stop or start its resources.
type ControlRequest struct {
	Action string `json:"action"`
	By     string `json:"by,omitempty"` // who asks, for the log
}

// ControlAnswer is the node's answer.
type ControlAnswer struct {
	Node    string `json:"node"`
	Stopped bool   `json:"stopped"` // the flag now
	Changed bool   `json:"changed"` // the request changed it
	Error   string `json:"error,omitempty"`
	Warning string `json:"warning,omitempty"`
}

// ErrNoAnswer means the node's daemon did not answer a control request.
var ErrNoAnswer = errors.New("no answer")

// AskControl sends a control request to node and waits for its answer.
func AskControl(conn *bus.Conn, node string, req ControlRequest, timeout time.Duration) (ControlAnswer, error) {
	var a ControlAnswer
	data, err := json.Marshal(req)
	if err != nil {
		return a, err
	}
	msg, err := conn.NC.Request(bus.SubjectControl(node), data, timeout)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout) {
			return a, fmt.Errorf("%w from %s's tandem daemon: %v", ErrNoAnswer, node, err)
		}
		return a, err
	}
	if err := json.Unmarshal(msg.Data, &a); err != nil {
		return a, fmt.Errorf("%s's answer: %w", node, err)
	}
	if a.Error != "" {
		return a, fmt.Errorf("%s: %s", node, a.Error)
	}
	return a, nil
}

// stopMarker is the file that keeps a node stopped across daemon restarts.
type stopMarker struct {
	BootID string    `json:"boot_id"`
	Since  time.Time `json:"since"`
	By     string    `json:"by,omitempty"`
}

// stopMarkerPath is where the member named name keeps its marker: beside
// its bus data (the data directory the bus server uses).
func stopMarkerPath(top *bus.Topology, name string) string {
	return filepath.Join(top.DataDir, name, "cluster-stopped.json")
}

// bootID identifies this boot of the machine ("" if unknown).
func bootID() string {
	data, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// loadStopped says whether the marker at path was written during this boot.
// A marker of an earlier boot is removed.
func loadStopped(path string) (stopMarker, bool) {
	var mk stopMarker
	data, err := os.ReadFile(path)
	if err != nil {
		return mk, false
	}
	if json.Unmarshal(data, &mk) != nil || mk.BootID == "" || mk.BootID != bootID() {
		_ = os.Remove(path)
		return mk, false
	}
	return mk, true
}

// saveStopped writes or removes the marker.
func saveStopped(path string, stopped bool, by string) error {
	if !stopped {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	data, err := json.Marshal(stopMarker{BootID: bootID(), Since: time.Now().UTC(), By: by})
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// serveControl answers control requests for this node.
func (m *Member) serveControl() error {
	_, err := m.conn.NC.Subscribe(bus.SubjectControl(m.name), func(msg *nats.Msg) {
		var req ControlRequest
		a := ControlAnswer{Node: m.name}
		switch {
		case json.Unmarshal(msg.Data, &req) != nil:
			a.Error = "malformed control request"
		case req.Action != ControlStop && req.Action != ControlStart:
			a.Error = fmt.Sprintf("unknown control action %q", req.Action)
		default:
			a.Changed, a.Warning = m.setStopped(req.Action == ControlStop, req.By)
		}
		a.Stopped = m.stopped.Load()
		if data, err := json.Marshal(a); err == nil {
			_ = msg.Respond(data)
		}
	})
	return err
}

// setStopped sets the node's stopped flag, keeps it in the marker and tells
// the cluster at once (a heartbeat, a node event). It returns whether the
// flag changed and a warning when the marker could not be written.
func (m *Member) setStopped(stopped bool, by string) (changed bool, warning string) {
	m.stopMu.Lock()
	defer m.stopMu.Unlock()
	if err := saveStopped(m.stopMarker, stopped, by); err != nil {
		warning = fmt.Sprintf("the stopped state is not kept across a restart of the daemon: %v", err)
		m.log.Warn("stop marker not written", "path", m.stopMarker, "err", err)
	}
	if m.stopped.Swap(stopped) == stopped {
		return false, warning
	}
	action, event, what := ControlStart, "started", "resources may run here again (tandem cluster start)"
	if stopped {
		action, event, what = ControlStop, "stopped", "resources stopped: the coordinator moves them away (tandem cluster stop)"
	}
	m.log.Info(what, "by", by)
	m.heartbeat()
	_ = m.conn.Publish(bus.NodeEvent{Node: m.name, Event: event, Reason: "tandem cluster " + action + " by " + by})
	return true, warning
}

// liveConfigMarkerPath is where a member notes that it ran a live
// configuration: beside its bus data, so that a bus whose configuration
// stream was lost (deleted, corrupted, a single voter's disk replaced) is
// not silently re-seeded from the cluster file (liveconfig.ErrGone).
func liveConfigMarkerPath(top *bus.Topology, name string) string {
	return filepath.Join(top.DataDir, name, "live-config-seen")
}

// ranLiveConfig says whether this member ran a live configuration before.
func (m *Member) ranLiveConfig() bool {
	_, err := os.Stat(liveConfigMarkerPath(m.top, m.name))
	return err == nil
}

// rememberLiveConfig notes that this member runs a live configuration
// (best effort: the bucket keeps a marker too).
func (m *Member) rememberLiveConfig(rev uint64) {
	path := liveConfigMarkerPath(m.top, m.name)
	if _, err := os.Stat(path); err == nil {
		return
	}
	if err := os.WriteFile(path, []byte(fmt.Sprintf("%d\n", rev)), 0o600); err != nil {
		m.log.Warn("could not note that this member runs a live configuration", "path", path, "err", err)
	}
}
