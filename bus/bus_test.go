package bus_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/e2e/poll"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	. "github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/bus/bustest"
)

var (
	freePorts    = bustest.FreePorts
	testTopology = bustest.Topology
	quietLogger  = bustest.Logger
)

type testCluster struct{ *bustest.Cluster }

func startCluster(t *testing.T, cfg *Topology) *testCluster {
	return &testCluster{bustest.Start(t, cfg)}
}

func (tc *testCluster) start(name string)         { tc.StartMember(name) }
func (tc *testCluster) stop(name string)          { tc.StopMember(name) }
func (tc *testCluster) connect(name string) *Conn { return tc.Connect(name, "test") }
func (tc *testCluster) ready(name string) *Conn   { return tc.Ready(name) }

func TestThreeVotersFormClusterAndSurviveOne(t *testing.T) {
	tc := startCluster(t, testTopology(t, []string{"holly", "benji"}, "director"))
	c := tc.ready("holly")
	ctx := context.Background()

	info, err := c.JS.Stream(ctx, "KV_"+BucketConfig)
	if err != nil {
		t.Fatal(err)
	}
	if r := info.CachedInfo().Config.Replicas; r != 3 {
		t.Errorf("config bucket has %d replicas, want 3", r)
	}
	kv, err := c.KV(ctx, BucketConfig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "before", []byte("written before benji stopped")); err != nil {
		t.Fatal(err)
	}

	tc.stop("benji")
	d := tc.connect("director")
	var dkv *KV
	// Leadership moves off benji: the bucket answers again within a few seconds.
	poll.Until(t, 20*time.Second, 100*time.Millisecond, func() (err error) {
		dkv, err = d.KV(ctx, BucketConfig)
		return err
	})
	poll.Until(t, 20*time.Second, 100*time.Millisecond, func() error {
		e, err := dkv.Get(ctx, "before")
		if err != nil {
			return err
		}
		if string(e.Value()) != "written before benji stopped" {
			return fmt.Errorf("key before: got %q, want %q", e.Value(), "written before benji stopped")
		}
		return nil
	})
	// With one of three stopped, writes still succeed.
	poll.Until(t, 20*time.Second, 100*time.Millisecond, func() error {
		_, err := dkv.Put(ctx, "after", []byte("x"))
		return err
	})

	// benji comes back and catches up.
	tc.start("benji")
	b := tc.connect("benji")
	var bkv *KV
	poll.Until(t, 20*time.Second, 100*time.Millisecond, func() (err error) {
		bkv, err = b.KV(ctx, BucketConfig)
		return err
	})
	poll.Until(t, 30*time.Second, 200*time.Millisecond, func() error {
		_, err := bkv.Get(ctx, "after")
		return err
	})
}

func TestWriteWithoutQuorumFailsClearly(t *testing.T) {
	tc := startCluster(t, testTopology(t, []string{"holly", "benji"}, "director"))
	c := tc.ready("holly")
	ctx := context.Background()
	kv, err := c.KV(ctx, BucketConfig)
	if err != nil {
		t.Fatal(err)
	}
	tc.stop("benji")
	tc.stop("director")
	start := time.Now()
	var werr error
	// The first write after the loss may still be in flight at the leader;
	// poll until the loss is visible, each attempt bounded.
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, werr = kv.Put(wctx, "k", []byte("v"))
		if werr == nil {
			return errors.New("write without quorum: got success, want an error")
		}
		return nil
	})
	if !errors.Is(werr, ErrNoQuorum) {
		t.Errorf("write without quorum: got error %v, want %v", werr, ErrNoQuorum)
	}
	if !strings.Contains(werr.Error(), "at least 2 are up") {
		t.Errorf("write without quorum: got error %q, want it to say how many voters are needed (%q)", werr, "at least 2 are up")
	}
	t.Logf("write without quorum failed after %s: %v", time.Since(start).Round(time.Millisecond), werr)
}

func TestSingleNodeDevelopmentCluster(t *testing.T) {
	tc := startCluster(t, testTopology(t, []string{"solo"}, ""))
	c := tc.ready("solo")
	info, err := c.JS.Stream(context.Background(), "KV_"+BucketLeases)
	if err != nil {
		t.Fatal(err)
	}
	if r := info.CachedInfo().Config.Replicas; r != 1 {
		t.Errorf("lease bucket has %d replicas, want 1", r)
	}
}

func TestClientsNeedCredentials(t *testing.T) {
	tc := startCluster(t, testTopology(t, []string{"solo"}, ""))
	url := tc.Topology.ClientURLs()[0]
	if nc, err := nats.Connect(url, nats.MaxReconnects(0), nats.Timeout(time.Second)); err == nil {
		nc.Close()
		t.Fatal("a client without credentials was accepted")
	} else if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Errorf("refusal of a client without credentials: got %q, want it to mention %q", err, "authorization")
	}
	wrong, _ := GenerateSecret()
	if c, err := Connect(ConnectOptions{Topology: tc.Topology, Secret: wrong, Name: "intruder"}); err == nil {
		c.Close()
		t.Fatal("a client with another cluster's key was accepted")
	}
	c, err := Connect(ConnectOptions{Topology: tc.Topology, Secret: tc.Secret, Name: "cli"})
	if err != nil {
		t.Fatalf("a client with the right key was refused: %v", err)
	}
	c.Close()
}

func TestRoutesNeedCredentials(t *testing.T) {
	cfg := testTopology(t, []string{"holly", "benji"}, "director")
	tc := startCluster(t, cfg)
	holly := tc.ready("holly")
	// A server with another secret, pointed at the members' cluster ports,
	// must not join. The intruder itself may count a route for the instant
	// between a member's INFO and the refusal of its CONNECT, so this is
	// judged from the cluster's side: no member ever routes to the intruder,
	// and nothing published through the intruder reaches a member.
	other := *cfg
	other.DataDir = t.TempDir()
	// One call for both ports: under TANDEM_TEST_PORTS two calls give the
	// same lowest free port.
	ports := freePorts(t, 2)
	other.Members = append(append([]Member{}, cfg.Nodes()...), Member{Name: "intruder", Address: "127.0.0.1", ClientPort: ports[0], ClusterPort: ports[1], Witness: true})
	wrong, _ := GenerateSecret()
	other.TLS = &TLS{Dir: bustest.PKI(t, &other)} // another CA
	s, err := StartServer(ServerOptions{Topology: &other, Member: "intruder", Secret: wrong, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	in, err := Connect(ConnectOptions{Topology: &other, Secret: wrong, Name: "intruder", Server: s})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	got := make(chan *nats.Msg, 16)
	sub, err := holly.NC.ChanSubscribe("intrusion.probe", got)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := holly.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	// The intruder retries its routes about once a second; watch three
	// seconds of attempts (bounded: 30 samples).
	for i := 0; i < 30; i++ {
		for _, name := range []string{"holly", "benji", "director"} {
			rz, err := tc.Servers[name].NATS().Routez(nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rz.Routes {
				if r.RemoteName == "intruder" || r.RemoteID == s.NATS().ID() {
					t.Fatalf("%s routes: got one to the intruder (remote %s, id %s), want none", name, r.RemoteName, r.RemoteID)
				}
			}
		}
		if err := in.NC.Publish("intrusion.probe", []byte("hello")); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got:
			t.Fatalf("holly: got %q published through the intruder, want nothing", m.Data)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if n := s.NATS().NumRoutes(); n > 0 {
		t.Logf("intruder counts %d route(s) in the instant before a refusal", n)
	}
}

func TestStartRefusals(t *testing.T) {
	secret, _ := GenerateSecret()
	two := testTopology(t, []string{"holly", "benji"}, "")
	_, err := StartServer(ServerOptions{Topology: two, Member: "holly", Secret: secret, Logger: quietLogger()})
	if !errors.Is(err, ErrTwoNodesNoWitness) || !strings.Contains(err.Error(), "add a [witness]") {
		t.Errorf("two nodes without witness: got %v, want %v saying %q", err, ErrTwoNodesNoWitness, "add a [witness]")
	}

	cfg := testTopology(t, []string{"solo"}, "")
	_, err = StartServer(ServerOptions{Topology: cfg, Member: "nobody", Secret: secret, Logger: quietLogger()})
	if !errors.Is(err, ErrUnknownMember) || !strings.Contains(err.Error(), "solo") {
		t.Errorf("unknown member: got %v, want %v naming %q", err, ErrUnknownMember, "solo")
	}

	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", cfg.Members[0].ClientPort))
	if err != nil {
		t.Fatal(err)
	}
	_, err = StartServer(ServerOptions{Topology: cfg, Member: "solo", Secret: secret, Logger: quietLogger()})
	l.Close()
	if !errors.Is(err, ErrPortInUse) || !strings.Contains(err.Error(), fmt.Sprint(cfg.Members[0].ClientPort)) {
		t.Errorf("port in use: got %v, want %v naming port %d", err, ErrPortInUse, cfg.Members[0].ClientPort)
	}

	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	cfg.DataDir = file
	_, err = StartServer(ServerOptions{Topology: cfg, Member: "solo", Secret: secret, Logger: quietLogger()})
	if !errors.Is(err, ErrDataDir) || !strings.Contains(err.Error(), "data_dir") {
		t.Errorf("unusable data dir: got %v, want %v naming %q", err, ErrDataDir, "data_dir")
	}
}

func TestCredentialsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "etc", "cluster.key")
	if _, err := LoadSecret(path); !errors.Is(err, ErrNoCredentials) || !strings.Contains(err.Error(), "tandem keygen --out "+path) {
		t.Errorf("missing file: got %v, want %v saying %q", err, ErrNoCredentials, "tandem keygen --out "+path)
	}
	s, _ := GenerateSecret()
	if err := WriteSecret(path, s, false); err != nil {
		t.Fatal(err)
	}
	if err := WriteSecret(path, s, false); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("overwrite without force: got %v, want an error saying %q", err, "already exists")
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	got, err := LoadSecret(path)
	if err != nil || string(got) != string(s) {
		t.Errorf("round trip: got %x (err %v), want %x", got, err, s)
	}
	os.WriteFile(path, []byte("not a key\n"), 0o600)
	if _, err := LoadSecret(path); err == nil || !strings.Contains(err.Error(), "not a tandem key") {
		t.Errorf("garbage: got %v, want an error saying %q", err, "not a tandem key")
	}
}

func TestEventsAndMembers(t *testing.T) {
	tc := startCluster(t, testTopology(t, []string{"holly", "benji"}, "director"))
	a := tc.connect("holly")
	b := tc.connect("benji")
	got := make(chan ActionResult, 1)
	sub, err := Subscribe(b, SubjectActions, func(ev ActionResult, env Envelope) {
		if env.Source == "test" {
			got <- ev
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	b.NC.Flush()
	want := ActionResult{Resource: "VIP-10.10.10.23", Node: "holly", Op: OpStart, Code: 0, Duration: 12 * time.Millisecond}
	// Routes may still be forming: publish until benji sees it.
	poll.Until(t, 10*time.Second, 100*time.Millisecond, func() error {
		if err := a.Publish(want); err != nil {
			return err
		}
		select {
		case ev := <-got:
			if ev.Resource != want.Resource || ev.Duration != want.Duration {
				t.Errorf("event: got %+v, want resource %q, duration %v", ev, want.Resource, want.Duration)
			}
			return nil
		case <-time.After(100 * time.Millisecond):
			return fmt.Errorf("event on benji: got none within 100ms, want %+v", want)
		}
	})

	for name := range tc.Servers {
		c := tc.connect(name)
		n := name
		if _, err := ServeMembers(c, func() MemberStatus { return MemberStatus{Name: n} }); err != nil {
			t.Fatal(err)
		}
		c.NC.Flush()
	}
	poll.Until(t, 10*time.Second, 100*time.Millisecond, func() error {
		ms, err := GatherMembers(a, 3, time.Second)
		if err != nil {
			return err
		}
		if len(ms) != 3 || ms[0].Name != "benji" || ms[1].Name != "director" || ms[2].Name != "holly" {
			return fmt.Errorf("members: got %+v, want benji, director, holly", ms)
		}
		return nil
	})
}

func TestSubjectToken(t *testing.T) {
	if got := SubjectToken("VIP-10.10.10.23"); got != "VIP-10_10_10_23" {
		t.Errorf("SubjectToken(\"VIP-10.10.10.23\"): got %q, want %q", got, "VIP-10_10_10_23")
	}
	if got := (MonitorResult{Node: "holly", Resource: "a.b*"}).Subject(); got != "tandem.monitor.holly.a_b_" {
		t.Errorf("MonitorResult subject: got %q, want %q", got, "tandem.monitor.holly.a_b_")
	}
}

func TestPreferStreamLeader(t *testing.T) {
	tc := startCluster(t, testTopology(t, []string{"holly", "benji"}, "director"))
	c := tc.ready("holly")
	ctx := context.Background()
	stream := StreamOfBucket(BucketLeases)
	poll.Until(t, 20*time.Second, 100*time.Millisecond, func() error {
		if _, err := c.PreferStreamLeader(ctx, stream, "director"); err != nil {
			return err
		}
		leader, err := c.StreamLeader(ctx, stream)
		if err != nil {
			return err
		}
		if leader != "director" {
			return fmt.Errorf("stream leader: got %q, want %q", leader, "director")
		}
		return nil
	})
	if moved, err := c.PreferStreamLeader(ctx, stream, "director"); moved || err != nil {
		t.Errorf("second call: got moved %v, err %v; want not moved, no error", moved, err)
	}
}

func TestPreferMetaLeader(t *testing.T) {
	tc := startCluster(t, testTopology(t, []string{"holly", "benji"}, "director"))
	tc.ready("holly")
	d := tc.Servers["director"]
	ctx := context.Background()
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		// Bounded, as the daemon's calls are: a stepdown request the
		// meta leader never answers (one sent during an election) hung
		// the test until go test's 10 minutes ran out.
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, err := d.PreferMetaLeader(cctx); err != nil {
			return err
		}
		if !d.NATS().JetStreamIsLeader() {
			return errors.New("meta group: got director not leading it yet, want director as its leader")
		}
		return nil
	})
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if moved, err := d.PreferMetaLeader(cctx); moved || err != nil {
		t.Errorf("second call: got moved %v, err %v; want not moved, no error", moved, err)
	}
	// The client account still works, and cannot use the system account's
	// stepdown API.
	c := tc.connect("holly")
	if _, err := c.KV(ctx, BucketConfig); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, err := c.NC.RequestWithContext(rctx, "$JS.API.META.LEADER.STEPDOWN", nil); err == nil {
		t.Errorf("a client's meta stepdown request: got an answer, want an error (no answer)")
	}
}

func TestSettled(t *testing.T) {
	tc := startCluster(t, testTopology(t, []string{"holly", "benji"}, "director"))
	c := tc.ready("holly")
	ctx := context.Background()
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		for _, b := range []string{BucketLeases, BucketConfig, BucketState} {
			if _, err := c.PreferStreamLeader(ctx, StreamOfBucket(b), "director"); err != nil {
				return err
			}
		}
		return c.Settled(ctx, LedBy("director"))
	})
	// A stopped member's replicas are not current: not settled, and the
	// error says which.
	tc.stop("benji")
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		err := c.Settled(ctx, LedBy("director"))
		if err == nil || !strings.Contains(err.Error(), "replica on benji not current") {
			return fmt.Errorf("Settled with benji stopped: got %v, want an error saying %q", err, "replica on benji not current")
		}
		return nil
	})
	if err := c.Settled(ctx, LedBy("holly")); err == nil || !strings.Contains(err.Error(), "led by director, not holly") {
		t.Errorf("asked for holly as leader: got %v, want an error saying %q", err, "led by director, not holly")
	}
}

// Every pair of members keeps two routes: one for the cluster's account
// and one nats-server pins to the system account (JetStream's Raft
// traffic). The default pool would make it four per pair: at 64 members,
// 252 TLS connections per server to open and ping.
func TestTwoRoutesPerPeer(t *testing.T) {
	tc := startCluster(t, testTopology(t, []string{"holly", "benji"}, "director"))
	tc.ready("holly")
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		return routesArePerPeer(tc.Servers, func(string, string) int { return 2 })
	})
}

// routesArePerPeer checks that each server has routes to every other
// server of servers, want(server, peer) of them to each.
func routesArePerPeer(servers map[string]*Server, want func(server, peer string) int) error {
	for name, s := range servers {
		rz, err := s.NATS().Routez(&server.RoutezOptions{})
		if err != nil {
			return err
		}
		per := map[string]int{}
		for _, r := range rz.Routes {
			per[r.RemoteName]++
		}
		if len(per) != len(servers)-1 {
			return fmt.Errorf("%s has routes to %v, want the %d others", name, per, len(servers)-1)
		}
		for peer, n := range per {
			if n != want(name, peer) {
				return fmt.Errorf("%s has %d routes to %s, want %d (all: %v)", name, n, peer, want(name, peer), per)
			}
		}
	}
	return nil
}

// lostFirstAnswer is a JetStream context whose first KeyValue lookup is
// never answered (as a request sent by a member that just restarted,
// before its route to the stream's leader was up): it waits until its
// context ends.
type lostFirstAnswer struct {
	jetstream.JetStream
	calls atomic.Int32
}

func (l *lostFirstAnswer) KeyValue(ctx context.Context, bucket string) (jetstream.KeyValue, error) {
	if l.calls.Add(1) == 1 {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return l.JetStream.KeyValue(ctx, bucket)
}

// EnsureBuckets asks again when an answer is lost, within its context,
// instead of waiting for that one answer until the context ends (a
// restarted member's Ready did so for minutes in make test's race suite).
func TestEnsureBucketsAsksAgainWhenAnAnswerIsLost(t *testing.T) {
	tc := startCluster(t, testTopology(t, []string{"holly", "benji"}, "director"))
	tc.ready("holly")
	c := tc.connect("benji")
	lost := &lostFirstAnswer{JetStream: c.JS}
	c.JS = lost
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := tc.Servers["benji"].EnsureBuckets(ctx, c); err != nil {
		t.Fatalf("after a lost answer: %v", err)
	}
	if n := lost.calls.Load(); n < 2 {
		t.Fatalf("%d lookups, want the lost one asked again", n)
	}
}
