package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/daemon"
)

// `tandem cluster remove-voter NAME`: a voter gone for good leaves the
// JetStream meta group, and every bucket's replicas end up on the voters
// left (docs/topology.md, "Removing a voter", "Replacing a dead voter").

func newClusterRemoveVoterCmd() *cobra.Command {
	var cfgPath string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "remove-voter NAME",
		Short: "Take a voter that is gone for good out of the bus's JetStream group",
		Long: `remove-voter takes the voter NAME, stopped for good, out of the JetStream meta
group that the voters keep (the bus's Raft group of groups), and waits
until every bucket (leases, live configuration, state) has its replicas on
the voters left, all current. It is a step of removing a voter and of
replacing a dead voter by a node of another name (docs/topology.md): start
the replacement as a voter first, so that 3 voters are left.

A voter's daemon does the removal (it needs the bus's system account, which
only the members' own servers hold), asked over that voter's own subject,
which only admin identities may publish: first the member this command is
connected to, then the others of the cluster file in order, never NAME
itself (a voter killed a moment ago may still look subscribed).

Refused, changing nothing: a voter that is still online (its bus server is
routed to the voters: stop it for good first), a name that is no voter, and
a removal that would leave fewer than 3 voters or fewer online than their
quorum.

Exit codes: 0 done (also when the buckets can be made whole only once
other voters that are offline are removed too: it names them); 2 refused (online, not a voter, too few voters left);
1 no voter answered, the removal failed, or the buckets' replicas were not
all current on the voters left within --wait.`,
		Example: `  tandem cluster remove-voter carol
  tandem cluster remove-voter carol --wait 5m`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return removeVoter(cmd, cfgPath, args[0], wait)
		},
	}
	configFlag(cmd, &cfgPath)
	cmd.Flags().DurationVar(&wait, "wait", 2*time.Minute, "how long to wait for every bucket's replicas to be current on the voters left")
	return cmd
}

func removeVoter(cmd *cobra.Command, cfgPath, name string, wait time.Duration) error {
	if wait <= 0 {
		return badInput("--wait %s: want a duration above 0", wait)
	}
	file, err := config.Load(cfgPath)
	if err != nil {
		return &ExitError{Code: ExitConfig, Err: err}
	}
	w, ew := cmd.OutOrStdout(), cmd.ErrOrStderr()
	s, err := openSession(cfgPath)
	if err != nil {
		return err
	}
	defer s.close()
	var askable []string
	for _, m := range file.Topology.Members {
		askable = append(askable, m.Name)
	}
	a, err := daemon.AskRemoveVoter(s.conn, daemon.RemoveVoterRequest{Voter: name, By: cliBy(s.conn)}, askable, 40*time.Second)
	switch {
	case err != nil:
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("remove-voter %s: %w", name, err)}
	case a.Refused != "":
		return &ExitError{Code: ExitConfig, Err: fmt.Errorf("remove-voter %s refused by %s: %s", name, a.By, a.Error)}
	case a.Error != "":
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("remove-voter %s (asked of %s): %s", name, a.By, a.Error)}
	}
	fmt.Fprintf(w, "%s: removed from the JetStream meta group (by %s; its peers were %s)\n", name, a.By, strings.Join(a.Voters, ", "))
	if m, ok := file.Topology.Member(name); ok && !m.NonVoter {
		fmt.Fprintf(ew, "Warning: %s still lists %s as a voter: take it out ([bus] voters, its [[node]] table) before the members restart (docs/topology.md)\n", cfgPath, name)
	}
	var voters []string
	for _, m := range file.Topology.Voters() {
		if m.Name != name {
			voters = append(voters, m.Name)
		}
	}
	if err := waitReplaced(cmd.Context(), s.conn, w, name, voters, len(file.Topology.Members), wait); err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	return nil
}

// waitReplaced waits until no bucket's stream keeps a replica on name and
// each has all its replicas, current. The meta leader re-places them on
// removal; a stream that still lists name after a while is asked to drop it.
// A bucket that still has a replica on another voter that is offline (of
// two voters gone for good, the one not removed yet) cannot be made whole
// before that one is removed too: once that is all that is left for
// blockedFor, it says so and returns. A replica is offline when the
// stream's info says so, or when it is on one of voters (the cluster
// file's, name excepted) that does not answer a ping: a stream that lost
// its quorum to voters that are down has no leader, and its info, answered
// without one, marks no replica offline.
func waitReplaced(ctx context.Context, conn *bus.Conn, w io.Writer, name string, voters []string, members int, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	nudgeAt := time.Now().Add(10 * time.Second)
	nudged := map[string]bool{}
	var blockedSince time.Time
	for {
		var problems, done []string
		var votersOffline []string // asked once a round, only when a bucket is not whole
		asked := false
		// blocked: every problem is a replica missing or behind while
		// the bucket has a replica on a voter that is offline.
		blocked := true
		offlineAll := map[string]bool{}
		for _, cfg := range bus.BucketConfigs(3) {
			stream := bus.StreamOfBucket(cfg.Bucket)
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			peers, current, replicas, err := conn.StreamPeers(rctx, stream)
			if err == nil && slices.Contains(peers, name) && time.Now().After(nudgeAt) && !nudged[stream] {
				nudged[stream] = true
				if perr := conn.RemoveStreamPeer(rctx, stream, name); perr != nil {
					problems = append(problems, perr.Error())
					blocked = false
				}
			}
			var streamOffline []string
			if err == nil {
				streamOffline, err = conn.OfflinePeers(rctx, stream)
			}
			cancel()
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", cfg.Bucket, err))
				blocked = false
				continue
			}
			b := replicaState(cfg.Bucket, name, peers, current, replicas, streamOffline, votersOffline)
			if b.problem != "" && !b.blocked && !asked {
				asked = true
				votersOffline = notAnswering(conn, voters, members)
				b = replicaState(cfg.Bucket, name, peers, current, replicas, streamOffline, votersOffline)
			}
			for _, p := range b.offline {
				offlineAll[p] = true
			}
			if b.problem == "" {
				done = append(done, fmt.Sprintf("%s: replicas on %s, current", cfg.Bucket, strings.Join(peers, ", ")))
				continue
			}
			problems = append(problems, b.problem)
			if !b.blocked {
				blocked = false
			}
		}
		if len(problems) == 0 {
			for _, d := range done {
				fmt.Fprintln(w, d)
			}
			return nil
		}
		switch {
		case !blocked || len(offlineAll) == 0:
			blockedSince = time.Time{}
		case blockedSince.IsZero():
			blockedSince = time.Now()
		case time.Since(blockedSince) >= blockedFor:
			for _, d := range done {
				fmt.Fprintln(w, d)
			}
			for _, p := range problems {
				fmt.Fprintln(w, p)
			}
			fmt.Fprintf(w, "%s is out; the rest waits for the voters that are offline (%s): remove each that is gone for good with remove-voter (a voter that comes back catches up by itself)\n",
				name, strings.Join(slices.Sorted(maps.Keys(offlineAll)), ", "))
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s was removed, but after %s not every bucket has its replicas current on the voters left: %s", name, wait, strings.Join(problems, "; "))
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// notAnswering names the voters whose daemon does not answer a ping within
// pingTimeout (of the cluster's members, every one answers).
func notAnswering(conn *bus.Conn, voters []string, members int) []string {
	answered, _ := bus.GatherMembers(conn, members, pingTimeout)
	var out []string
	for _, v := range voters {
		if !slices.ContainsFunc(answered, func(m bus.MemberStatus) bool { return m.Name == v }) {
			out = append(out, v)
		}
	}
	return out
}

// pingTimeout bounds the wait for the voters' answers to a ping.
const pingTimeout = time.Second

// bucketReplicas is what keeps one bucket's stream from being whole after
// a voter's removal.
type bucketReplicas struct {
	problem string   // "" when its replicas are all placed and current
	blocked bool     // every problem is a replica missing or behind while a replica is on a voter that is offline
	offline []string // its replicas on voters that are offline
}

// replicaState says what keeps bucket's stream (peers, which are current,
// how many replicas it wants) from being whole once removed is out. Its
// replicas offline are those its info marks offline and those on voters
// that do not answer (votersOffline): a stream that lost its
// quorum to them has no leader to mark them.
func replicaState(bucket, removed string, peers []string, current map[string]bool, replicas int, streamOffline, votersOffline []string) bucketReplicas {
	var b bucketReplicas
	for _, p := range peers {
		if p != removed && (slices.Contains(streamOffline, p) || slices.Contains(votersOffline, p)) {
			b.offline = append(b.offline, p)
		}
	}
	switch {
	case slices.Contains(peers, removed):
		b.problem = fmt.Sprintf("%s: still has a replica on %s", bucket, removed)
		return b
	case len(peers) < replicas:
		b.problem = fmt.Sprintf("%s: %d of %d replicas placed (%s)", bucket, len(peers), replicas, strings.Join(peers, ", "))
		b.blocked = len(b.offline) > 0
		return b
	}
	var behind []string
	b.blocked = true
	for _, p := range peers {
		if !current[p] {
			behind = append(behind, p)
			if !slices.Contains(b.offline, p) {
				b.blocked = false
			}
		}
	}
	if len(behind) > 0 {
		b.problem = fmt.Sprintf("%s: the replicas on %s are not current yet", bucket, strings.Join(behind, ", "))
	}
	return b
}

// blockedFor is how long remove-voter waits while only replicas on other
// voters that are offline keep a bucket from being whole (the meta leader
// re-places the removed voter's replicas within a second or two).
const blockedFor = 5 * time.Second
