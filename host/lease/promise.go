package lease

// Promises: while the bus takes no writes, a holder keeps its lease only on
// every other node's time-bounded promise not to acquire it (docs/leases.md).

import (
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/tandem-ha/tandem/bus"
)

type promiseRequest struct {
	Key      string        `json:"key"`
	From     string        `json:"from"`
	Duration time.Duration `json:"duration"`
}

type promiseReply struct {
	Granted bool   `json:"granted"`
	Reason  string `json:"reason,omitempty"`
}

// answerPromise grants a peer's request not to acquire a lease for a while,
// unless this node holds it itself.
func (m *Manager) answerPromise(msg *nats.Msg) {
	var req promiseRequest
	if json.Unmarshal(msg.Data, &req) != nil || req.Duration <= 0 || req.Duration > 10*m.cfg.TTL {
		return
	}
	m.mu.Lock()
	reply := promiseReply{Granted: true}
	if l := m.held[req.Key]; l != nil && !l.isDone() {
		reply = promiseReply{Reason: "I hold it"}
	} else if m.creating[req.Key] > 0 {
		reply = promiseReply{Reason: "I am acquiring it"}
	} else {
		until := m.cfg.Now().Add(req.Duration)
		if until.After(m.promised[req.Key]) {
			m.promised[req.Key] = until
		}
	}
	m.mu.Unlock()
	data, _ := json.Marshal(reply)
	_ = msg.Respond(data)
}

// askPromises asks every peer, in parallel, not to acquire key for one TTL.
// Each peer records its promise after it receives the request, so it lasts
// at least until (our send time + TTL) on our clock; the holder keeps its
// deadline Margin before that.
func (m *Manager) askPromises(key string) (time.Time, bool) {
	peers := m.cfg.Peers()
	sent := m.cfg.Now()
	data, _ := json.Marshal(promiseRequest{Key: key, From: m.cfg.Node, Duration: m.cfg.TTL})
	type answer struct {
		peer string
		ok   bool
	}
	answers := make(chan answer, len(peers))
	for _, p := range peers {
		go func() {
			// The deadline counts from sent, so a late answer is as safe as
			// a quick one; allow a busy peer a quarter of the TTL.
			msg, err := m.cfg.Conn.NC.Request(bus.SubjectLeasePromise(p), data, m.cfg.TTL/4)
			var r promiseReply
			ok := err == nil && json.Unmarshal(msg.Data, &r) == nil && r.Granted
			answers <- answer{p, ok}
		}()
	}
	all := true
	for range peers {
		a := <-answers
		if !a.ok {
			all = false
			m.log.Info("no promise", "key", key, "peer", a.peer)
		}
	}
	if !all {
		return time.Time{}, false
	}
	return sent.Add(m.cfg.TTL - m.cfg.Margin), true
}
