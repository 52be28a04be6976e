package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/tandem-ha/tandem/bus"
)

// `tandem cluster remove-voter NAME` asks one voter's daemon (on that
// voter's bus.SubjectRemoveVoter, which only admin identities may publish)
// to take a voter that is gone for good out of the JetStream meta group:
// the request needs the system account, which only the members' own
// servers hold. See docs/topology.md.

// RemoveVoterRequest names the voter to remove.
type RemoveVoterRequest struct {
	Voter string `json:"voter"`
	By    string `json:"by,omitempty"` // who asks, for the log
}

// Kinds of refusal in a RemoveVoterAnswer (nothing was changed).
const (
	RefusedOnline   = "online"
	RefusedNotVoter = "not-voter"
	RefusedTooFew   = "too-few"
)

// RemoveVoterAnswer is the answering voter's answer.
type RemoveVoterAnswer struct {
	By      string   `json:"by"`               // the voter that answered
	Voters  []string `json:"voters,omitempty"` // the meta group's peers before, by name
	Error   string   `json:"error,omitempty"`
	Refused string   `json:"refused,omitempty"` // why nothing was changed (Refused*), with Error
}

// removeVoterTimeout bounds the removal itself (a Raft membership change, after the one under way).
const removeVoterTimeout = 30 * time.Second

// AskRemoveVoter sends a removal request to the daemon of one voter of
// askable (the member names to try, never req.Voter) and returns the first
// answer: the member whose server conn is connected to first (it is
// alive), then the others in order. A member that does not vote has no
// daemon on its subject (no responders: the next is asked at once); one
// that does not answer within timeout is given up for the next.
func AskRemoveVoter(conn *bus.Conn, req RemoveVoterRequest, askable []string, timeout time.Duration) (RemoveVoterAnswer, error) {
	var a RemoveVoterAnswer
	data, err := json.Marshal(req)
	if err != nil {
		return a, err
	}
	var order []string
	if c := conn.NC.ConnectedServerName(); slices.Contains(askable, c) {
		order = append(order, c)
	}
	for _, m := range askable {
		if m != req.Voter && !slices.Contains(order, m) {
			order = append(order, m)
		}
	}
	var tried []string
	for _, m := range order {
		msg, err := conn.NC.Request(bus.SubjectRemoveVoter(m), data, timeout)
		switch {
		case errors.Is(err, nats.ErrNoResponders):
			continue // not a voter, or its daemon is not running
		case errors.Is(err, nats.ErrTimeout):
			tried = append(tried, m+" (no answer in "+timeout.String()+")")
			continue
		case err != nil:
			return a, err
		}
		if err := json.Unmarshal(msg.Data, &a); err != nil {
			return a, fmt.Errorf("%s's answer: %w", m, err)
		}
		return a, nil
	}
	if len(tried) == 0 {
		return a, fmt.Errorf("%w from any voter's tandem daemon: none of %v runs one (is tandem running on the voters?)", ErrNoAnswer, order)
	}
	return a, fmt.Errorf("%w from any voter's tandem daemon: asked %v", ErrNoAnswer, tried)
}

// serveRemoveVoter answers removal requests on a voter.
func (m *Member) serveRemoveVoter() error {
	if m.server.Member().NonVoter {
		return nil
	}
	_, err := m.conn.NC.Subscribe(bus.SubjectRemoveVoter(m.name), func(msg *nats.Msg) {
		var req RemoveVoterRequest
		a := RemoveVoterAnswer{By: m.name}
		if json.Unmarshal(msg.Data, &req) != nil || req.Voter == "" {
			a.Error = "malformed remove-voter request"
		} else {
			m.log.Warn("removing a voter from the JetStream meta group", "voter", req.Voter, "by", req.By)
			ctx, cancel := context.WithTimeout(context.Background(), removeVoterTimeout)
			mp, err := m.server.RemoveVoter(ctx, req.Voter)
			cancel()
			a.Voters = peerNames(mp, req.Voter)
			if err == nil {
				go m.fitAfterRemoval(mp.Size - 1)
			}
			if err != nil {
				a.Error = err.Error()
				switch {
				case errors.Is(err, bus.ErrVoterOnline):
					a.Refused = RefusedOnline
				case errors.Is(err, bus.ErrNotVoter):
					a.Refused = RefusedNotVoter
				case errors.Is(err, bus.ErrTooFewVoters), errors.Is(err, bus.ErrNoMetaQuorum):
					a.Refused = RefusedTooFew
				}
				m.log.Warn("voter not removed", "voter", req.Voter, "err", err)
			}
		}
		if data, err := json.Marshal(a); err == nil {
			_ = msg.Respond(data)
		}
	})
	return err
}

// peerNames names the meta group's peers: by their names, and a peer this
// server knows only by its id (a voter dead since before it started) by
// voter's name when it is voter's id, else as "peer ID".
func peerNames(mp bus.MetaPeers, voter string) []string {
	out := slices.Clone(mp.Names)
	for _, id := range mp.Unnamed {
		if id == bus.PeerID(voter) {
			out = append(out, voter)
		} else {
			out = append(out, "peer "+id)
		}
	}
	sort.Strings(out)
	return out
}

// fitAfterRemoval shrinks the buckets with the meta group once the removal
// has left it peers peers (five voters down to four keep 3 replicas, on
// the voters online), instead of at the meta leader's next check: a removed
// voter's replica cannot be placed again when no voter is left to take it.
// It gives up after removeVoterTimeout; the meta leader's check goes on.
func (m *Member) fitAfterRemoval(peers int) {
	ctx, cancel := context.WithTimeout(context.Background(), removeVoterTimeout)
	defer cancel()
	for {
		var err error
		if mp, merr := m.server.Meta(); merr != nil {
			err = merr
		} else if mp.Size <= peers {
			var changed []string
			var pending bool
			changed, pending, err = m.server.FitBuckets(ctx, m.conn, true)
			for _, c := range changed {
				m.log.Info("bucket replicas changed with the voters left", "change", c)
			}
			if err == nil && len(changed) == 0 && !pending {
				return
			}
		}
		select {
		case <-ctx.Done():
			m.log.Warn("bucket replicas not fitted to the voters left yet (the meta leader checks every few seconds)", "err", err)
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}
