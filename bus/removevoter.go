package bus

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Removing a voter that is gone for good (`tandem cluster remove-voter`):
// its server leaves the JetStream meta group ($JS.API.SERVER.REMOVE, a
// request of the system account, so a member's server sends it over its
// own in-process system connection), and the meta leader then re-places
// every stream replica it held on another voter. See docs/topology.md.

// Why RemoveVoter refuses (nothing was changed).
var (
	ErrVoterOnline  = errors.New("still online")
	ErrNotVoter     = errors.New("not a voter")
	ErrTooFewVoters = errors.New("too few voters would be left")
	ErrNoMetaQuorum = errors.New("the JetStream meta group has no leader")
)

// subjectRemovePeer is the meta leader's request to drop a server.
const subjectRemovePeer = "$JS.API.SERVER.REMOVE"

// jsServerNotMember is nats-server's error code for a removal of a server
// that is not in the meta group.
const jsServerNotMember = 10044

// jsMemberChangeInflight is its error code while another change of the
// group's peers is under way.
const jsMemberChangeInflight = 10202

// MinVoters is the fewest voters a cluster of more than one member keeps:
// fewer cannot keep a majority when one fails (CheckQuorum).
const MinVoters = 3

// apiResult is what a JetStream API answer says of its request: done, or
// the error.
type apiResult struct {
	Success bool `json:"success"`
	Error   *struct {
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
}

// removeResponse is the meta leader's answer to a removal.
type removeResponse = apiResult

func askRemove(ctx context.Context, nc *nats.Conn, req []byte) (removeResponse, error) {
	var resp removeResponse
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	msg, err := nc.RequestWithContext(rctx, subjectRemovePeer, req)
	if err != nil {
		return resp, err
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return resp, fmt.Errorf("the meta leader's answer: %w", err)
	}
	return resp, nil
}

// PeerID is the Raft peer id nats-server derives from a server's name (its
// getHash: the first 8 bytes of the name's SHA-256, each as a base-62
// digit). A voter keeps the peer id of its name, so a dead voter can be
// named even when no server running now has ever seen it.
func PeerID(name string) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	sum := sha256.Sum256([]byte(name))
	b := make([]byte, 8)
	for i := range b {
		b[i] = digits[int(sum[i]%62)]
	}
	return string(b)
}

// MetaPeers is the JetStream meta group as a voter sees it.
type MetaPeers struct {
	Leader string
	Size   int      // the group's peers, known by name or not
	Names  []string // the peers known by name, sorted
	// Unnamed are the peer ids of the peers this server knows no name of
	// (a voter that died before this server started: nats-server calls it
	// "Server name unknown at this time"), sorted.
	Unnamed []string
	Online  map[string]bool // the peers routed to this server (and this server)
}

// routed names the servers this server has a route to.
func (s *Server) routed() (map[string]bool, error) {
	rz, err := s.ns.Routez(&server.RoutezOptions{})
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	out := map[string]bool{}
	for _, r := range rz.Routes {
		if r.RemoteName != "" {
			out[r.RemoteName] = true
		}
	}
	return out, nil
}

// unknownName is the name nats-server reports for a peer whose server it
// has not heard of (jetstream_cluster.go, clusterInfo).
func unknownName(peer string) string {
	return fmt.Sprintf("Server name unknown at this time (peerID: %s)", peer)
}

// Meta reads the JetStream meta group's peers and which of them are online
// (routed to this server). It needs a voter's server.
func (s *Server) Meta() (MetaPeers, error) {
	var mp MetaPeers
	if s.member.NonVoter {
		return mp, fmt.Errorf("%s does not vote: it has no JetStream meta group to read", s.member.Name)
	}
	jsz, err := s.ns.Jsz(&server.JSzOptions{})
	if err != nil {
		return mp, fmt.Errorf("meta group: %w", err)
	}
	if jsz.Meta == nil {
		return mp, errors.New("meta group: JetStream runs without a cluster here")
	}
	routed, err := s.routed()
	if err != nil {
		return mp, err
	}
	mp.Leader, mp.Size, mp.Online = jsz.Meta.Leader, jsz.Meta.Size, map[string]bool{}
	names := map[string]bool{s.member.Name: true}
	if mp.Leader != "" {
		names[mp.Leader] = true
	}
	for _, r := range jsz.Meta.Replicas {
		if r.Peer != "" && r.Name == unknownName(r.Peer) {
			mp.Unnamed = append(mp.Unnamed, r.Peer)
			continue
		}
		names[r.Name] = true
	}
	sort.Strings(mp.Unnamed)
	for n := range names {
		mp.Names = append(mp.Names, n)
		if n == s.member.Name || routed[n] {
			mp.Online[n] = true
		}
	}
	sort.Strings(mp.Names)
	return mp, nil
}

// RemoveVoter takes the voter name, which must be gone for good, out of the
// JetStream meta group; the meta leader then re-places the stream replicas
// name held on the voters left. It refuses (ErrVoterOnline, ErrNotVoter,
// ErrTooFewVoters, ErrNoMetaQuorum, wrapped with the details) when name is
// routed to this server, is a member that does not vote, or when the group
// would be left with fewer than MinVoters peers or without a majority of
// them online. It returns the group as it was before.
func (s *Server) RemoveVoter(ctx context.Context, name string) (MetaPeers, error) {
	mp, err := s.Meta()
	if err != nil {
		return mp, err
	}
	// A peer is known by its name, or else by the id nats-server derives
	// from it (a voter this server has never seen).
	isPeer := slices.Contains(mp.Names, name) || slices.Contains(mp.Unnamed, PeerID(name))
	switch {
	case name == s.member.Name:
		return mp, fmt.Errorf("%s is %w: it is the member answering this request", name, ErrVoterOnline)
	case mp.Online[name]:
		return mp, fmt.Errorf("%s is %w (its bus server is routed to %s): stop it for good first (systemctl stop tandem there); a voter that comes back needs no removal", name, ErrVoterOnline, s.member.Name)
	}
	routed, err := s.routed()
	if err != nil {
		return mp, err
	}
	switch {
	case routed[name] && !isPeer:
		return mp, fmt.Errorf("%s is %w: it is a member that does not vote (the voters are %s)", name, ErrNotVoter, strings.Join(mp.Names, ", "))
	case !isPeer && len(mp.Names)+len(mp.Unnamed) >= mp.Size:
		// Every peer is known by name, and name is none of them (a peer
		// no server running has seen since it started is known only by
		// its id: the meta leader tells).
		return mp, fmt.Errorf("%s is %w: the voters are %s", name, ErrNotVoter, strings.Join(mp.Names, ", "))
	}
	if mp.Leader == "" {
		return mp, fmt.Errorf("%w: no quorum of voters online (%s), so its peers cannot change", ErrNoMetaQuorum, strings.Join(onlineNames(mp), ", "))
	}
	left := mp.Size - 1
	online := 0
	for n := range mp.Online {
		if n != name {
			online++
		}
	}
	switch {
	case left < MinVoters:
		return mp, fmt.Errorf("%w: removing %s would leave %d voters in the JetStream meta group, which survive no failure; "+
			"first start its replacement as a voter (docs/topology.md, \"Replacing a dead voter\")", ErrTooFewVoters, name, left)
	case online < left/2+1:
		return mp, fmt.Errorf("%w: removing %s would leave %d voters of which only %d are online (%s), fewer than their quorum of %d",
			ErrTooFewVoters, name, left, online, strings.Join(onlineNames(mp), ", "), left/2+1)
	}
	nc, err := nats.Connect("", nats.InProcessServer(s.ns), nats.UserInfo(localSysUser, string(s.local)), nats.Name("tandem-remove-voter"), nats.NoReconnect())
	if err != nil {
		return mp, fmt.Errorf("removing %s: system connection: %w", name, err)
	}
	defer nc.Close()
	req, _ := json.Marshal(map[string]string{"peer": name, "peer_id": PeerID(name)})
	var resp removeResponse
	for {
		resp, err = askRemove(ctx, nc, req)
		if err != nil {
			return mp, fmt.Errorf("removing %s from the JetStream meta group (leader %s): %w", name, mp.Leader, err)
		}
		if resp.Error == nil || resp.Error.ErrCode != jsMemberChangeInflight {
			break
		}
		// A voter that was just added (the replacement) is still being
		// taken into the group: one change at a time.
		select {
		case <-ctx.Done():
			return mp, fmt.Errorf("removing %s from the JetStream meta group: %s, until the request timed out", name, resp.Error.Description)
		case <-time.After(250 * time.Millisecond):
		}
	}
	switch {
	case resp.Error != nil && resp.Error.ErrCode == jsServerNotMember:
		return mp, fmt.Errorf("%s is %w: no such peer in the JetStream meta group (the voters are %s)", name, ErrNotVoter, strings.Join(mp.Names, ", "))
	case resp.Error != nil:
		return mp, fmt.Errorf("removing %s from the JetStream meta group: %s", name, resp.Error.Description)
	case !resp.Success:
		return mp, fmt.Errorf("removing %s from the JetStream meta group: refused", name)
	}
	s.log.Warn("voter removed from the JetStream meta group; its stream replicas are re-placed on the voters left", "voter", name, "peer", PeerID(name))
	return mp, nil
}

func onlineNames(mp MetaPeers) []string {
	var out []string
	for _, n := range mp.Names {
		if mp.Online[n] {
			out = append(out, n)
		}
	}
	return out
}

// RemoveStreamPeer asks stream's leader to drop name's replica (and place
// one on another voter): the fallback when the meta leader did not re-place
// it after RemoveVoter.
func (c *Conn) RemoveStreamPeer(ctx context.Context, stream, name string) error {
	req, _ := json.Marshal(map[string]string{"peer": name})
	msg, err := c.NC.RequestWithContext(ctx, "$JS.API.STREAM.PEER.REMOVE."+stream, req)
	if err != nil {
		return fmt.Errorf("peer remove of %s from %s: %w", name, stream, c.explain(err))
	}
	var resp apiResult
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return fmt.Errorf("peer remove of %s from %s: %w", name, stream, err)
	}
	if !resp.Success {
		desc := "refused"
		if resp.Error != nil {
			desc = resp.Error.Description
		}
		return fmt.Errorf("peer remove of %s from %s: %s", name, stream, desc)
	}
	return nil
}

// StreamPeers reads the peers of stream's Raft group: every replica's name
// (the leader's first), which are current, and how many the stream wants.
func (c *Conn) StreamPeers(ctx context.Context, stream string) (peers []string, current map[string]bool, replicas int, err error) {
	st, err := c.JS.Stream(ctx, stream)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("stream %s: %w", stream, c.explain(err))
	}
	current = map[string]bool{}
	replicas = st.CachedInfo().Config.Replicas
	ci := st.CachedInfo().Cluster
	if ci == nil {
		return nil, current, replicas, nil
	}
	if ci.Leader != "" {
		peers = append(peers, ci.Leader)
		current[ci.Leader] = true
	}
	for _, r := range ci.Replicas {
		peers = append(peers, r.Name)
		current[r.Name] = r.Current && !r.Offline
	}
	return peers, current, replicas, nil
}

// OfflinePeers names the replicas of stream that its leader sees offline
// (their server gone: a voter down, or gone for good and not removed yet).
func (c *Conn) OfflinePeers(ctx context.Context, stream string) ([]string, error) {
	st, err := c.JS.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, c.explain(err))
	}
	var out []string
	if ci := st.CachedInfo().Cluster; ci != nil {
		for _, r := range ci.Replicas {
			if r.Offline {
				out = append(out, r.Name)
			}
		}
	}
	return out, nil
}
