// Package bustest starts real Tandem bus clusters in-process for tests:
// members on loopback with their own ports and data directories, stopped and
// restarted at will, torn down with the test.
package bustest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/config"
)

// CheckFor polls f every interval until it returns nil, failing t after total.
func CheckFor(t testing.TB, total, interval time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", total, err)
		}
		time.Sleep(interval)
	}
}

// FreePorts finds n distinct free TCP ports on loopback.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
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

// Config is a cluster of the named nodes (and witness, if not empty) on
// loopback, each member with its own ports.
func Config(t testing.TB, nodes []string, witness string) *config.Config {
	t.Helper()
	n := len(nodes)
	if witness != "" {
		n++
	}
	ports := FreePorts(t, 2*n)
	c := &config.Config{Cluster: config.Cluster{Name: "t"}}
	for i, name := range nodes {
		c.Nodes = append(c.Nodes, config.Node{Name: name, Address: "127.0.0.1", ClientPort: ports[2*i], ClusterPort: ports[2*i+1]})
	}
	if witness != "" {
		c.Witness = &config.Witness{Name: witness, Address: "127.0.0.1", ClientPort: ports[2*n-2], ClusterPort: ports[2*n-1]}
	}
	return c
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
	T       testing.TB
	Cfg     *config.Config
	Secret  bus.Secret
	DataDir string
	Servers map[string]*bus.Server
}

// Start starts every member of cfg and stops them when the test ends.
func Start(t testing.TB, cfg *config.Config) *Cluster {
	t.Helper()
	secret, err := bus.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{T: t, Cfg: cfg, Secret: secret, DataDir: t.TempDir(), Servers: map[string]*bus.Server{}}
	t.Cleanup(func() {
		for _, s := range c.Servers {
			s.Shutdown()
		}
	})
	for _, m := range cfg.Members() {
		c.StartMember(m.Name)
	}
	return c
}

// StartMember (re)starts one member.
func (c *Cluster) StartMember(name string) *bus.Server {
	c.T.Helper()
	s, err := bus.StartServer(bus.ServerOptions{Config: c.Cfg, Member: name, Secret: c.Secret, DataDir: c.DataDir, Logger: Logger()})
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

// Connect connects in-process to a member's server, closed with the test.
func (c *Cluster) Connect(member, as string) *bus.Conn {
	c.T.Helper()
	conn, err := bus.Connect(bus.ConnectOptions{Config: c.Cfg, Secret: c.Secret, Name: as, Server: c.Servers[member]})
	if err != nil {
		c.T.Fatal(err)
	}
	c.T.Cleanup(conn.Close)
	return conn
}

// Ready connects to member and waits for quorum and the buckets.
func (c *Cluster) Ready(member string) *bus.Conn {
	c.T.Helper()
	conn := c.Connect(member, member)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
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
