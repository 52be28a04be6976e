package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/supervisor"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// On bus.SubjectValidate every node answers "would this agent accept these
// parameters here?" with its plugin's validate: `tandem resource create` and
// `update` ask before they change the live configuration.

// ValidateRequest is the question on bus.SubjectValidate.
type ValidateRequest struct {
	Agent  string            `json:"agent"`
	Params map[string]string `json:"params,omitempty"`
}

// ValidateAnswer is one node's answer.
type ValidateAnswer struct {
	Node string `json:"node"`
	// Known: the node has a plugin providing the agent. When false, Message
	// says which plugins it has.
	Known   bool     `json:"known"`
	Code    sdk.Code `json:"code"`
	Message string   `json:"message,omitempty"`
	// TimedOut: the agent did not answer within ValidateTimeout (a busy
	// node): the parameters were neither accepted nor refused there.
	TimedOut bool `json:"timed_out,omitempty"`
}

// ValidateTimeout bounds one validation on a node (validate is meant to be
// quick, but a node busy starting plugins may take seconds); askers wait
// a little longer.
const ValidateTimeout = 4 * time.Second

// serveValidate answers validation requests with sup; the function it
// returns stops answering and waits for the answers under way.
func (m *Member) serveValidate(ctx context.Context, sup *supervisor.Supervisor) (stop func(), err error) {
	return m.serveQuestions(bus.SubjectValidate, func(data []byte) any {
		var req ValidateRequest
		if json.Unmarshal(data, &req) != nil || req.Agent == "" {
			return nil
		}
		a := ValidateAnswer{Node: m.name, Known: true}
		if _, _, err := sup.Lookup(req.Agent); err != nil {
			a.Known, a.Code, a.Message = false, sdk.ErrNotInstalled, err.Error()
		} else {
			out := sup.Validate(ctx, req.Agent, req.Params, ValidateTimeout)
			a.Code, a.Message, a.TimedOut = out.Code, out.Message, out.TimedOut
		}
		return a
	})
}

// serveQuestions answers the requests on subject with answer's result (no
// answer when it returns nil), each in a goroutine of its own: a plugin
// call may take a while, and other requests need not wait. The function it
// returns stops answering and waits for the answers under way.
func (m *Member) serveQuestions(subject string, answer func(data []byte) any) (stop func(), err error) {
	var (
		mu       sync.Mutex
		stopped  bool
		underway sync.WaitGroup
	)
	sub, err := m.conn.NC.Subscribe(subject, func(msg *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		underway.Add(1)
		go func() {
			defer underway.Done()
			a := answer(msg.Data)
			if a == nil {
				return
			}
			if data, err := json.Marshal(a); err == nil {
				_ = msg.Respond(data)
			}
		}()
	})
	if err != nil {
		return nil, err
	}
	return func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		_ = sub.Unsubscribe()
		underway.Wait()
	}, nil
}

// AskValidate asks the nodes whether agent accepts params; it returns the
// answers that came within timeout (at most expect of them).
func AskValidate(conn *bus.Conn, agent string, params map[string]string, expect int, timeout time.Duration) ([]ValidateAnswer, error) {
	data, err := json.Marshal(ValidateRequest{Agent: agent, Params: params})
	if err != nil {
		return nil, err
	}
	var out []ValidateAnswer
	err = bus.Gather(conn, bus.SubjectValidate, data, expect, timeout, func(b []byte) bool {
		var a ValidateAnswer
		if json.Unmarshal(b, &a) != nil || a.Node == "" {
			return false
		}
		out = append(out, a)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("asking the nodes to validate %s: %w", agent, err)
	}
	return out, nil
}
