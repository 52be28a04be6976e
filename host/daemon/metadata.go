package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// On bus.SubjectMetaData every node answers "what does this agent
// declare?" with its plugin's meta-data: `tandem resource describe` prints
// it, and `resource create` and `update` take default operations,
// required and unique parameters and reloadability from it.

// MetaDataRequest is the question on bus.SubjectMetaData.
type MetaDataRequest struct {
	Agent string `json:"agent"`
}

// MetaDataAnswer is one node's answer: the meta-data, or why there is none
// (Known false: the node has no plugin providing the agent).
type MetaDataAnswer struct {
	Node     string        `json:"node"`
	Known    bool          `json:"known"`
	MetaData *sdk.MetaData `json:"meta_data,omitempty"`
	Error    string        `json:"error,omitempty"`
}

// metaDataTimeout bounds one meta-data call on a node (it may launch the
// plugin); askers wait a little longer.
const metaDataTimeout = 3 * time.Second

func (m *Member) serveMetaData(ctx context.Context, sup *supervisor.Supervisor) (stop func(), err error) {
	return m.serveQuestions(bus.SubjectMetaData, func(data []byte) any {
		var req MetaDataRequest
		if json.Unmarshal(data, &req) != nil || req.Agent == "" {
			return nil
		}
		a := MetaDataAnswer{Node: m.name, Known: true}
		if _, _, err := sup.Lookup(req.Agent); err != nil {
			a.Known, a.Error = false, err.Error()
		} else if md, err := sup.MetaData(ctx, req.Agent, metaDataTimeout); err != nil {
			a.Error = err.Error()
		} else {
			a.MetaData = &md
		}
		return a
	})
}

// AskMetaData asks the nodes for agent's meta-data and returns the answers
// that came within timeout (at most expect of them).
func AskMetaData(conn *bus.Conn, agent string, expect int, timeout time.Duration) ([]MetaDataAnswer, error) {
	data, err := json.Marshal(MetaDataRequest{Agent: agent})
	if err != nil {
		return nil, err
	}
	var out []MetaDataAnswer
	err = bus.Gather(conn, bus.SubjectMetaData, data, expect, timeout, func(b []byte) bool {
		var a MetaDataAnswer
		if json.Unmarshal(b, &a) != nil || a.Node == "" {
			return false
		}
		out = append(out, a)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("asking the nodes for the meta-data of %s: %w", agent, err)
	}
	return out, nil
}
