package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// StreamOfBucket is the JetStream stream behind a KV bucket.
func StreamOfBucket(bucket string) string { return "KV_" + bucket }

// PreferStreamLeader moves the leadership of stream to member, if member is
// a caught-up replica that does not lead it yet. It reports whether it asked
// for a move. Keeping the lease bucket's leader on the witness means a
// node's hard failure never costs a leader election (4-9 s in nats-server)
// before a lease can move.
func (c *Conn) PreferStreamLeader(ctx context.Context, stream, member string) (bool, error) {
	g, err := c.StreamState(ctx, stream)
	if err != nil {
		return false, err
	}
	if g.Leader == "" || g.Leader == member || !g.Current[member] {
		return false, nil
	}
	if err := c.MoveStreamLeader(ctx, stream, member); err != nil {
		return false, err
	}
	return true, nil
}

// stepDown asks a Raft group's leader (named by the API subject) to hand
// over to member, and reads the answer.
func stepDown(ctx context.Context, nc *nats.Conn, subject, member string) error {
	req, _ := json.Marshal(map[string]any{"placement": map[string]string{"preferred": member}})
	msg, err := nc.RequestWithContext(ctx, subject, req)
	if err != nil {
		return err
	}
	var resp apiResult
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return err
	}
	if !resp.Success {
		desc := "refused"
		if resp.Error != nil {
			desc = resp.Error.Description
		}
		return fmt.Errorf("to %s: %s", member, desc)
	}
	return nil
}

// StreamLeader names the member leading stream ("" when none).
func (c *Conn) StreamLeader(ctx context.Context, stream string) (string, error) {
	st, err := c.JS.Stream(ctx, stream)
	if err != nil {
		return "", fmt.Errorf("stream %s: %w", stream, c.explain(err))
	}
	if ci := st.CachedInfo().Cluster; ci != nil {
		return ci.Leader, nil
	}
	return "", nil
}

// PreferMetaLeader moves the JetStream meta leader (stream and consumer
// placement: every KV listing and watch creates a consumer) to this server's
// member when it is a caught-up peer that does not lead yet. It reports
// whether it asked for a move.
func (s *Server) PreferMetaLeader(ctx context.Context) (bool, error) {
	if s.ns.JetStreamIsLeader() || !s.ns.JetStreamIsCurrent() {
		return false, nil
	}
	if err := s.MoveMetaLeader(ctx, s.member.Name); err != nil {
		return false, err
	}
	return true, nil
}

// MoveMetaLeader asks the JetStream meta leader to hand over to member.
// The request needs the system account, so it goes over an in-process
// connection of the server's own.
func (s *Server) MoveMetaLeader(ctx context.Context, member string) error {
	nc, err := nats.Connect("", nats.InProcessServer(s.ns), nats.UserInfo(localSysUser, string(s.local)), nats.Name("tandem-meta"), nats.NoReconnect())
	if err != nil {
		return fmt.Errorf("meta leader stepdown: system connection: %w", err)
	}
	defer nc.Close()
	if err := stepDown(ctx, nc, subjectMetaLeaderStepdown, member); err != nil {
		return fmt.Errorf("meta leader stepdown: %w", err)
	}
	return nil
}

// MoveStreamLeader asks the leader of stream to hand over to member.
func (c *Conn) MoveStreamLeader(ctx context.Context, stream, member string) error {
	if err := stepDown(ctx, c.NC, subjectStreamLeaderStepdown+stream, member); err != nil {
		return fmt.Errorf("stepdown of %s: %w", stream, c.explain(err))
	}
	return nil
}

// GroupState is a Raft group's leader and the state of its peers.
type GroupState struct {
	Leader string
	// Current names the peers that are caught up and online (the leader
	// included).
	Current map[string]bool
}

// StreamState reads stream's Raft group from its leader.
func (c *Conn) StreamState(ctx context.Context, stream string) (GroupState, error) {
	st, err := c.JS.Stream(ctx, stream)
	if err != nil {
		return GroupState{}, fmt.Errorf("stream %s: %w", stream, c.explain(err))
	}
	g := GroupState{Current: map[string]bool{}}
	if ci := st.CachedInfo().Cluster; ci != nil {
		g.Leader = ci.Leader
		if ci.Leader != "" {
			g.Current[ci.Leader] = true
		}
		for _, r := range ci.Replicas {
			if r.Current && !r.Offline {
				g.Current[r.Name] = true
			}
		}
	}
	return g, nil
}

// MetaState is the JetStream meta group as this server sees it.
func (s *Server) MetaState() (GroupState, error) {
	jsz, err := s.ns.Jsz(&server.JSzOptions{})
	if err != nil {
		return GroupState{}, fmt.Errorf("meta group: %w", err)
	}
	g := GroupState{Current: map[string]bool{}}
	if mc := jsz.Meta; mc != nil {
		g.Leader = mc.Leader
		if mc.Leader != "" {
			g.Current[mc.Leader] = true
		}
		for _, r := range mc.Replicas {
			if r.Current && !r.Offline {
				g.Current[r.Name] = true
			}
		}
	}
	return g, nil
}

// LeadsMeta says whether this server leads the JetStream meta group.
func (s *Server) LeadsMeta() bool { return s.ns.JetStreamIsLeader() }

// LeadsStream says whether this server leads stream.
func (s *Server) LeadsStream(stream string) bool {
	return s.ns.JetStreamIsStreamLeader(s.ns.GlobalAccount().Name, stream)
}

// Settled reports, as an error naming what is not, whether the bus is at
// rest: every bucket's stream has a leader (where placed accepts it: see
// LedBy and NotLedBy; nil accepts any), and every replica is current. A
// fault of a node while the bus is not settled can cost a Raft election
// (seconds) instead of a lease's TTL: right after a partition heals, the
// rejoining node disturbs the leaders and its replicas catch up.
func (c *Conn) Settled(ctx context.Context, placed func(leader string) error) error {
	var problems []string
	for _, b := range Buckets() {
		st, err := c.JS.Stream(ctx, StreamOfBucket(b))
		if err != nil {
			return fmt.Errorf("bucket %s: %w", b, c.explain(err))
		}
		ci := st.CachedInfo().Cluster
		switch {
		case ci == nil:
			continue
		case ci.Leader == "":
			problems = append(problems, b+": no leader")
			continue
		case placed != nil:
			if err := placed(ci.Leader); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", b, err))
			}
		}
		for _, r := range ci.Replicas {
			if !r.Current || r.Offline {
				problems = append(problems, fmt.Sprintf("%s: replica on %s not current", b, r.Name))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("bus not settled: %s", strings.Join(problems, "; "))
	}
	return nil
}

// LedBy accepts member as a leader (for Settled: the witness).
func LedBy(member string) func(string) error {
	return func(leader string) error {
		if leader != member {
			return fmt.Errorf("led by %s, not %s", leader, member)
		}
		return nil
	}
}

// NotLedBy accepts any leader but the given members (for Settled: the
// holders of singletons, in a cluster without a witness).
func NotLedBy(members ...string) func(string) error {
	return func(leader string) error {
		for _, m := range members {
			if leader == m {
				return fmt.Errorf("led by %s, which holds a singleton", leader)
			}
		}
		return nil
	}
}
