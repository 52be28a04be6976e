package daemon

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/alerts"
)

// On bus.SubjectAlertCheck every node says whether it can run an alert
// agent (the file exists and is executable there): `tandem alert create`
// and `update` ask, since the configuration is the cluster's but the agent
// is each host's.

// AlertCheckRequest is the question.
type AlertCheckRequest struct {
	Alert string `json:"alert"`
	Path  string `json:"path"`
}

// AlertCheckAnswer is one node's answer; Problem is "" when it can.
type AlertCheckAnswer struct {
	Node    string `json:"node"`
	Problem string `json:"problem,omitempty"`
}

func (m *Member) serveAlertCheck() (stop func(), err error) {
	return m.serveQuestions(bus.SubjectAlertCheck, func(data []byte) any {
		var req AlertCheckRequest
		if json.Unmarshal(data, &req) != nil || req.Path == "" {
			return nil
		}
		a := AlertCheckAnswer{Node: m.name}
		if err := alerts.CheckPath(req.Alert, req.Path); err != nil {
			a.Problem = err.Error()
		}
		return a
	})
}

// AskAlertCheck asks the nodes whether they can run alert's agent at path;
// it returns the answers that came within timeout (at most expect).
func AskAlertCheck(conn *bus.Conn, alert, path string, expect int, timeout time.Duration) ([]AlertCheckAnswer, error) {
	data, err := json.Marshal(AlertCheckRequest{Alert: alert, Path: path})
	if err != nil {
		return nil, err
	}
	var out []AlertCheckAnswer
	err = bus.Gather(conn, bus.SubjectAlertCheck, data, expect, timeout, func(b []byte) bool {
		var a AlertCheckAnswer
		if json.Unmarshal(b, &a) != nil || a.Node == "" {
			return false
		}
		out = append(out, a)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("asking the nodes whether they can run %s: %w", path, err)
	}
	return out, nil
}
