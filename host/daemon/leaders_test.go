package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
	"github.com/tandem-ha/tandem/e2e/poll"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/daemon/daemontest"
	"github.com/tandem-ha/tandem/host/status"
)

// Three nodes and no witness.
var threeNodes = daemontest.Shape{Nodes: []string{"holly", "benji", "carol"}}

const singleton = `
[[resource]]
id = "sleeper"
agent = "example:process"
params = { command = "/bin/sleep", args = "3600", state_dir = "STATE/{node}" }
[[resource.op]]
name = "monitor"
interval = "1s"
`

// handOvers records the members' "handed a bus leader over" log records.
type handOvers struct {
	mu   sync.Mutex
	seen []string // "member group to"
}

func (h *handOvers) logger(member string) *slog.Logger {
	base := bustest.Logger().With("test-member", member)
	return slog.New(&recordingHandler{Handler: base.Handler(), record: func(r slog.Record) {
		if r.Message != "handed a bus leader over: this node holds singleton leases" {
			return
		}
		var group, to string
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "group":
				group = a.Value.String()
			case "to":
				to = a.Value.String()
			}
			return true
		})
		h.mu.Lock()
		h.seen = append(h.seen, member+" "+group+" "+to)
		h.mu.Unlock()
	}})
}

func (h *handOvers) list() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.seen...)
}

type recordingHandler struct {
	slog.Handler
	record func(slog.Record)
}

func (r *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (r *recordingHandler) Handle(ctx context.Context, rec slog.Record) error {
	r.record(rec)
	if r.Handler.Enabled(ctx, rec.Level) {
		return r.Handler.Handle(ctx, rec)
	}
	return nil
}

func (r *recordingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &recordingHandler{Handler: r.Handler.WithAttrs(as), record: r.record}
}

func (r *recordingHandler) WithGroup(g string) slog.Handler {
	return &recordingHandler{Handler: r.Handler.WithGroup(g), record: r.record}
}

// busLeaders reads, from the members' status answers, who leads each of
// the bus's groups; every group must have a leader.
func busLeaders(c *bus.Conn, tc *daemontest.Cluster) (status.Report, error) {
	answers, err := bus.GatherMembers(c, len(tc.Shape.Members()), 2*time.Second)
	if err != nil {
		return status.Report{}, err
	}
	f, err := config.Load(tc.Conf)
	if err != nil {
		return status.Report{}, err
	}
	r := status.Build(f.Topology, 1, answers, time.Now())
	for _, g := range []string{"meta", "leases", "config", "state"} {
		if r.BusLeaders[g] == "" {
			return r, fmt.Errorf("no member says it leads %s (leaders %v)", g, r.BusLeaders)
		}
	}
	return r, nil
}

// Without a witness, the bus's leaders keep away from the node holding the
// singleton's lease: they are moved off it when they land there, so its
// death never waits for a Raft election before the singleton moves.
func TestLeadersKeepAwayFromSingletonsWithoutWitness(t *testing.T) {
	tc := daemontest.NewShape(t, threeNodes, singleton)
	var h handOvers
	tc.Logger = h.logger
	tc.StartAll()
	c := tc.Connect()
	var holder string
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
		w := tc.Where("sleeper")
		if len(w) != 1 {
			return fmt.Errorf("sleeper on %v", w)
		}
		holder = w[0]
		return tc.Reported(c, map[string]string{holder + "/sleeper": bus.StateStarted})
	})
	awayFromHolder := func() error {
		r, err := busLeaders(c, tc)
		if err != nil {
			return err
		}
		for g, m := range r.BusLeaders {
			if m == holder {
				return fmt.Errorf("%s is led by %s, which holds the sleeper's lease", g, holder)
			}
		}
		if len(r.ExposedLeaders) > 0 {
			return fmt.Errorf("status reports exposed leaders: %+v", r.ExposedLeaders)
		}
		return nil
	}
	poll.Until(t, 30*time.Second, 100*time.Millisecond, awayFromHolder)

	// Put the lease bucket's leader on the holder: it hands it back.
	leases := bus.StreamOfBucket(bus.BucketLeases)
	poll.Until(t, 30*time.Second, 200*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		g, err := c.StreamState(ctx, leases)
		if err != nil || g.Leader == holder {
			return err
		}
		return c.MoveStreamLeader(ctx, leases, holder)
	})
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		for _, s := range h.list() {
			if strings.HasPrefix(s, holder+" tandem-leases ") {
				return nil
			}
		}
		return fmt.Errorf("%s has not handed the lease bucket's leader over (hand-overs: %v)", holder, h.list())
	})
	poll.Until(t, 30*time.Second, 100*time.Millisecond, awayFromHolder)
	for _, s := range h.list() {
		if !strings.HasPrefix(s, holder+" ") {
			t.Errorf("a node holding no singleton handed a leader over: %s", s)
		}
	}
}

// When every voter holds a singleton, no place is better than another:
// the leaders stay where they are, and status says what that costs.
func TestStatusSaysWhenEveryVoterHoldsSingletons(t *testing.T) {
	var model strings.Builder
	for _, n := range threeNodes.Nodes {
		fmt.Fprintf(&model, `
[[resource]]
id = "s-%[1]s"
agent = "example:process"
params = { command = "/bin/sleep", args = "3600", state_dir = "STATE/{node}" }
[[location]]
rsc = "s-%[1]s"
node = "%[1]s"
score = "INFINITY"
`, n)
	}
	tc := daemontest.NewShape(t, threeNodes, model.String())
	tc.StartAll()
	c := tc.Connect()
	var r status.Report
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
		want := map[string]string{}
		for _, n := range threeNodes.Nodes {
			want[n+"/s-"+n] = bus.StateStarted
		}
		if err := tc.Reported(c, want); err != nil {
			return err
		}
		var err error
		if r, err = busLeaders(c, tc); err != nil {
			return err
		}
		if len(r.ExposedLeaders) == 0 {
			return fmt.Errorf("no exposed leaders reported (leaders %v)", r.BusLeaders)
		}
		return nil
	})
	var out bytes.Buffer
	status.WriteText(&out, r)
	e := r.ExposedLeaders[0]
	want := fmt.Sprintf("are on %s, which holds 1 singleton lease(s): if %s fails, they move only after a Raft election", e.Member, e.Member)
	if !strings.Contains(out.String(), want) {
		t.Errorf("status does not warn %q:\n%s", want, out.String())
	}

	// With no better place, the leaders' holders do not ask their groups'
	// state 4 times a second to find one (the old code: 21 requests per
	// stream in 5 s). Over 10 s, what asks for the lease and state streams
	// is the meta leader's replica check (every 5 s), and now and then a
	// bucket opened for a write or a read (the coordinator's status, a
	// member's status answer): fewer than one request a second.
	var mu sync.Mutex
	infos := map[string]int{}
	sub, err := c.NC.Subscribe("$JS.API.STREAM.INFO.>", func(m *nats.Msg) {
		mu.Lock()
		infos[strings.TrimPrefix(m.Subject, "$JS.API.STREAM.INFO.")]++
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	begin := time.Now()
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		if time.Since(begin) < 10*time.Second {
			return errors.New("counting for 10 s")
		}
		return nil
	})
	_ = sub.Unsubscribe()
	mu.Lock()
	defer mu.Unlock()
	for _, b := range []string{bus.BucketLeases, bus.BucketState} {
		if n := infos[bus.StreamOfBucket(b)]; n >= 10 {
			t.Errorf("%d stream info requests for %s in 10 s (all %v), want fewer than one a second", n, b, infos)
		}
	}
}

// Five nodes, three of them voters: the two plain members run resources
// and hold leases through the voters, and the loss of a member, and of a
// voter that runs no singleton, leaves the resources where they are.
func TestFiveNodesThreeVoters(t *testing.T) {
	shape := daemontest.Shape{Nodes: []string{"holly", "benji", "carol", "dave", "erin"}}
	tc := daemontest.NewShape(t, shape, singleton+`
[[location]]
rsc = "sleeper"
node = "dave"
score = "100"

[[resource]]
id = "worker"
agent = "example:process"
params = { command = "/bin/sleep", args = "3600", state_dir = "STATE/{node}" }
[resource.clone]
`)
	begin := time.Now()
	tc.StartAll()
	c := tc.Connect()
	want := map[string]string{"dave/sleeper": bus.StateStarted}
	for _, n := range shape.Nodes {
		want[n+"/worker"] = bus.StateStarted
	}
	poll.Until(t, 90*time.Second, 100*time.Millisecond, func() error {
		if w := tc.Where("sleeper"); len(w) != 1 || w[0] != "dave" {
			return fmt.Errorf("sleeper on %v, want dave (a member that does not vote)", w)
		}
		return tc.Reported(c, want)
	})
	t.Logf("cold start of 5 members to every resource running: %s", time.Since(begin).Round(time.Millisecond))
	r, err := busLeaders(c, tc)
	if err != nil {
		t.Fatal(err)
	}
	for g, m := range r.BusLeaders {
		if m != "holly" && m != "benji" && m != "carol" {
			t.Errorf("%s is led by %s, which is not a voter", g, m)
		}
	}
	if strings.Join(r.NonVoters, " ") != "dave erin" || r.Voters != 3 {
		t.Errorf("status: %d voters, non-voters %v; want 3 and dave erin", r.Voters, r.NonVoters)
	}
	// A member that does not vote leaves: quorum stays, and its
	// clone instance is gone; the sleeper stays on dave.
	begin = time.Now()
	tc.Stop("erin")
	t.Logf("erin stopped in %s", time.Since(begin).Round(time.Millisecond))
	delete(want, "erin/worker")
	// A voter that holds no singleton leaves: two of three voters remain.
	begin = time.Now()
	tc.Stop("carol")
	t.Logf("carol stopped in %s", time.Since(begin).Round(time.Millisecond))
	delete(want, "carol/worker")
	poll.Until(t, 60*time.Second, 100*time.Millisecond, func() error {
		if w := tc.Where("worker"); len(w) != 3 {
			return fmt.Errorf("worker on %v, want holly benji dave", w)
		}
		return tc.Reported(c, want)
	})
	t.Logf("resources settled after the stops: %s", time.Since(begin).Round(time.Millisecond))
	// The bus still takes writes.
	kv, err := c.KV(context.Background(), bus.BucketState)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := kv.Put(ctx, "test.write", []byte("ok")); err != nil {
		t.Fatalf("write with 2 of 3 voters: %v", err)
	}
	// Stop the members while the voters still have quorum (a member
	// stopping without quorum waits for it to hand its resources over).
	for _, n := range []string{"dave", "holly", "benji"} {
		begin = time.Now()
		tc.Stop(n)
		t.Logf("%s stopped in %s", n, time.Since(begin).Round(time.Millisecond))
	}
}
