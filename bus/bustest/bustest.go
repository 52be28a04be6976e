// Package bustest starts real Tandem bus clusters in-process for tests:
// members on loopback with their own ports and data directories, stopped and
// restarted at will, torn down with the test.
package bustest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
)

// FreePorts finds n distinct free TCP ports on loopback: any the system
// gives, or, where $TANDEM_TEST_PORTS is LOW-HIGH (e.g. 25600-25899, for
// a machine shared by several test runs, each given its own range), ports
// of that range only. A port the system gives is not handed out twice in
// one process: handed out and closed, it is not bound until its member
// starts, and the system may give it again meanwhile (a test's metrics
// port was once a member's client port).
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	lo, hi, ranged := portRange(t)
	var ls []net.Listener
	var ports []int
	for range n {
		var l net.Listener
		var err error
		if !ranged {
			l, err = listenNew()
		} else {
			l, err = listenInRange(lo, hi)
		}
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// given is every port listenNew handed out in this process.
var given struct {
	sync.Mutex
	ports map[int]bool
}

// listenNew listens on a loopback port the system gives that was not
// handed out before in this process (bounded: 100 tries).
func listenNew() (net.Listener, error) {
	given.Lock()
	defer given.Unlock()
	if given.ports == nil {
		given.ports = map[int]bool{}
	}
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		if !given.ports[p] {
			given.ports[p] = true
			return l, nil
		}
		held = append(held, l) // kept open until a new one is found, so the system gives another
	}
	return nil, fmt.Errorf("no loopback port not handed out before in 100 tries")
}

// rangeCursor is where the next search of $TANDEM_TEST_PORTS starts: the
// ports go round the range, so a port handed out and closed again (a
// member not started yet, a status page's port) is not handed out again
// until the range has gone round, as the system's ephemeral ports are not.
var rangeCursor struct {
	sync.Mutex
	next int
}

// listenInRange listens on the next free port of lo-hi after the cursor,
// every other port only: some tests listen on a port of theirs plus one,
// which must not be another member's.
func listenInRange(lo, hi int) (net.Listener, error) {
	rangeCursor.Lock()
	defer rangeCursor.Unlock()
	span := (hi-lo)/2 + 1
	for range span {
		p := rangeCursor.next
		if p < lo || p > hi {
			p = lo
		}
		rangeCursor.next = p + 2
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no free port left in TANDEM_TEST_PORTS=%s", os.Getenv("TANDEM_TEST_PORTS"))
}

// portRange reads $TANDEM_TEST_PORTS (LOW-HIGH).
func portRange(t testing.TB) (lo, hi int, ok bool) {
	v := os.Getenv("TANDEM_TEST_PORTS")
	if v == "" {
		return 0, 0, false
	}
	if _, err := fmt.Sscanf(v, "%d-%d", &lo, &hi); err != nil || lo <= 0 || hi < lo || hi > 65535 {
		t.Fatalf("TANDEM_TEST_PORTS=%q: want LOW-HIGH, e.g. 25600-25899", v)
	}
	return lo, hi, true
}

// Topology is a cluster of the named nodes (and witness, if not empty) on
// loopback, each member with its own ports, its data under a temporary
// directory of the test.
func Topology(t testing.TB, nodes []string, witness string) *bus.Topology {
	t.Helper()
	n := len(nodes)
	if witness != "" {
		n++
	}
	ports := FreePorts(t, 2*n)
	top := &bus.Topology{Cluster: "t", DataDir: t.TempDir()}
	for i, name := range nodes {
		top.Members = append(top.Members, bus.Member{Name: name, Address: "127.0.0.1", ClientPort: ports[2*i], ClusterPort: ports[2*i+1]})
	}
	if witness != "" {
		top.Members = append(top.Members, bus.Member{Name: witness, Address: "127.0.0.1", ClientPort: ports[2*n-2], ClusterPort: ports[2*n-1], Witness: true})
	}
	if len(top.Members) > 1 {
		top.TLS = &bus.TLS{Dir: PKI(t, top)}
	}
	return top
}

// Monitor is the read-only identity PKI issues besides the members' and
// the admin's.
const Monitor = "monitor"

// PKI makes a cluster CA in a temporary directory of the test and issues a
// certificate for every member of top, the admin and a monitor, as
// `tandem pki init` does. It returns the directory.
func PKI(t testing.TB, top *bus.Topology) string {
	t.Helper()
	dir := t.TempDir()
	if err := bus.InitCA(dir, top.Cluster); err != nil {
		t.Fatal(err)
	}
	ids := []bus.Identity{{Role: bus.RoleAdmin, Name: bus.AdminIdentity}, {Role: bus.RoleMonitor, Name: Monitor}}
	for _, m := range top.Members {
		role := bus.RoleMember
		if m.Witness {
			role = bus.RoleWitness
		}
		ids = append(ids, bus.Identity{Role: role, Name: m.Name})
	}
	for _, id := range ids {
		if err := bus.Issue(dir, id); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Logger discards the bus's log unless BUS_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("BUS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: testLogLevel()}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Cluster is a running in-process bus.
type Cluster struct {
	T        testing.TB
	Topology *bus.Topology
	Secret   bus.Secret
	Servers  map[string]*bus.Server
}

// Start starts every member of top and stops them when the test ends.
func Start(t testing.TB, top *bus.Topology) *Cluster {
	t.Helper()
	secret, err := bus.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{T: t, Topology: top, Secret: secret, Servers: map[string]*bus.Server{}}
	t.Cleanup(func() {
		for _, s := range c.Servers {
			s.Shutdown()
		}
	})
	for _, m := range top.Members {
		c.StartMember(m.Name)
	}
	return c
}

// StartMember (re)starts one member.
func (c *Cluster) StartMember(name string) *bus.Server {
	c.T.Helper()
	s, err := bus.StartServer(bus.ServerOptions{Topology: c.Topology, Member: name, Secret: c.Secret, Logger: Logger()})
	if err != nil {
		c.T.Fatalf("starting %s: %v", name, err)
	}
	c.Servers[name] = s
	return s
}

// StopMember shuts one member down gracefully.
func (c *Cluster) StopMember(name string) {
	if s := c.Servers[name]; s != nil {
		s.Shutdown()
		delete(c.Servers, name)
	}
}

// ConnectAs connects over the network to member's client port with the
// certificate of identity (a member name, bus.AdminIdentity, Monitor),
// closed with the test.
func (c *Cluster) ConnectAs(member, identity string) (*bus.Conn, error) {
	m, _ := c.Topology.Member(member)
	conn, err := bus.Connect(bus.ConnectOptions{Topology: c.Topology, Secret: c.Secret, Identity: identity, Name: identity,
		URLs: []string{m.ClientURL()}, Timeout: 2 * time.Second})
	if err == nil {
		c.T.Cleanup(conn.Close)
	}
	return conn, err
}

// Connect connects in-process to a member's server, closed with the test.
func (c *Cluster) Connect(member, as string) *bus.Conn {
	c.T.Helper()
	conn, err := bus.Connect(bus.ConnectOptions{Topology: c.Topology, Secret: c.Secret, Name: as, Server: c.Servers[member]})
	if err != nil {
		c.T.Fatal(err)
	}
	c.T.Cleanup(conn.Close)
	return conn
}

// Ready connects to member and waits for quorum and the buckets.
func (c *Cluster) Ready(member string) *bus.Conn {
	c.T.Helper()
	return c.ReadyWithin(member, 60*time.Second)
}

// ReadyWithin is Ready with a deadline of its own: for a member just
// restarted, whose JetStream catches up with the others' first.
func (c *Cluster) ReadyWithin(member string, wait time.Duration) *bus.Conn {
	c.T.Helper()
	conn := c.Connect(member, member)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := conn.WaitQuorum(ctx); err != nil {
		c.T.Fatal(err)
	}
	if err := c.Servers[member].EnsureBuckets(ctx, conn); err != nil {
		c.T.Fatal(err)
	}
	return conn
}

// testLogLevel is debug when BUS_TEST_LOG=debug.
func testLogLevel() slog.Level {
	if os.Getenv("BUS_TEST_LOG") == "debug" {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}
